"""The pure decision: which Workloads, which branches, and what GitHub's answer means."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sweeper.core import (
    Candidate,
    Decision,
    Open,
    Policy,
    Pull,
    Refresh,
    Withdraw,
    merged_records,
    settles,
)
from sweeper.eligibility import plan_workload, triage
from sweeper.model import SETTLED_ANNOTATION, fingerprint, parse_workload
from sweeper.outcomes import Outcome, Reason, WorkloadSkip
from sweeper.records import RECORD_ANNOTATION
from sweeper.remote import decide_remote
from tests.fixtures.foreman import (
    issue_pipeline,
    pipeline_step,
    result,
    sha,
    task,
    workload,
)

POLICY = Policy(min_age=timedelta(minutes=10))
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BRANCH = "foreman/wl/issue-1"
FINAL = sha("wl-1-final")


def plans(wl_obj: dict, tasks: list[dict], policy: Policy = POLICY) -> list:
    return plan_workload(parse_workload(wl_obj), tasks, policy)


def only(wl_obj: dict, tasks: list[dict], policy: Policy = POLICY):
    found = plans(wl_obj, tasks, policy)
    assert len(found) == 1, found
    return found[0]


def outcome_of(plan) -> tuple[str, str]:
    if isinstance(plan, Candidate):
        return ("candidate", "")
    return (str(plan.outcome), str(plan.reason))


# ---------------------------------------------------------------- triage


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            workload("wl", phase="Dispatched"), WorkloadSkip.NOT_COMPLETED, id="dispatched"
        ),
        pytest.param(workload("wl", phase="Failed"), WorkloadSkip.NOT_COMPLETED, id="failed"),
        pytest.param(
            workload("wl", completed_at="2026-11-24T11:55:00Z"), WorkloadSkip.TOO_YOUNG, id="young"
        ),
        pytest.param(workload("wl", completed_at="2026-11-24T11:49:00Z"), None, id="old-enough"),
    ],
)
def test_triage(obj: dict, expected: WorkloadSkip | None) -> None:
    """Only Completed Workloads older than --min-age are read task by task."""
    assert triage(parse_workload(obj), NOW, POLICY) == expected


def test_triage_settled_workload_is_skipped_until_it_changes() -> None:
    """A settled mark equal to the current fingerprint skips the Workload; a change revives it."""
    obj = workload("wl")
    obj["metadata"].setdefault("annotations", {})[SETTLED_ANNOTATION] = fingerprint(obj)
    assert triage(parse_workload(obj), NOW, POLICY) is WorkloadSkip.SETTLED
    obj["status"]["succeededTasks"] = 99
    assert triage(parse_workload(obj), NOW, POLICY) is None


def test_triage_without_completion_time_proceeds() -> None:
    """Older Foreman versions set no Completed condition: the age check cannot apply."""
    obj = workload("wl")
    obj["status"]["conditions"] = []
    assert triage(parse_workload(obj), NOW, POLICY) is None


# ---------------------------------------------------------------- plan: one branch


@pytest.mark.parametrize(
    ("kwargs", "wl_kwargs", "expected"),
    [
        pytest.param({}, {}, ("candidate", ""), id="happy"),
        pytest.param({"reviewers": 0}, {}, ("candidate", ""), id="no-reviewers"),
        pytest.param({"verify": False}, {}, ("candidate", ""), id="no-verifier"),
        pytest.param({"rounds": 2}, {}, ("candidate", ""), id="fix-iterations"),
        pytest.param(
            {"outcome": "already-resolved"}, {}, ("skipped", "already-resolved"), id="resolved"
        ),
        pytest.param({"outcome": "gate-failed"}, {}, ("skipped", "gate-not-passed"), id="gate"),
        pytest.param(
            {"outcome": "request-changes"}, {}, ("skipped", "review-not-go"), id="request-changes"
        ),
        pytest.param(
            {"outcome": "coder-failed"}, {}, ("skipped", "coder-not-on-target"), id="coder-failed"
        ),
        pytest.param({}, {"open_pull_request": False}, ("skipped", "opted-out"), id="opted-out"),
        pytest.param({}, {"open_pull_request": True}, ("candidate", ""), id="opted-in"),
        pytest.param(
            {"pull_request_url": "https://github.com/acme/widgets/pull/7"},
            {},
            ("candidate", ""),
            id="foreman-opened-is-checked-with-github",
        ),
        pytest.param(
            {"pull_request_error": "422 Validation Failed"}, {}, ("candidate", ""), id="pr-error"
        ),
    ],
)
def test_plan_one_branch(kwargs: dict, wl_kwargs: dict, expected: tuple[str, str]) -> None:
    """Each final-round shape of an issue maps to a candidate or a named skip."""
    assert (
        outcome_of(only(workload("wl", **wl_kwargs), issue_pipeline("wl", 1, **kwargs))) == expected
    )


def test_candidate_carries_the_final_rounds_reviewed_sha() -> None:
    """The reviewed SHA is the final coder's commit, not an earlier round's."""
    plan = only(workload("wl"), issue_pipeline("wl", 1, rounds=2))
    assert isinstance(plan, Candidate)
    assert plan.branch.reviewed_sha == FINAL
    assert plan.branch.coder.round == 2
    assert all(r.round == 2 for r in plan.branch.reviewers)
    assert plan.head == f"acme:{BRANCH}"


def test_foreman_opened_pr_is_a_candidate_carrying_its_number() -> None:
    """A pullRequestURL on a final-round review is no record yet: GitHub must list it."""
    plan = only(
        workload("wl"),
        issue_pipeline("wl", 1, pull_request_url="https://github.com/acme/widgets/pull/7"),
    )
    assert isinstance(plan, Candidate) and plan.foreman_pr == 7


def test_pull_request_error_is_noted_on_the_candidate() -> None:
    """Foreman's failed PR call leaves a candidate whose note says so."""
    plan = only(workload("wl"), issue_pipeline("wl", 1, pull_request_error="boom"))
    assert isinstance(plan, Candidate)
    assert "PR call failed" in plan.note


def test_escalation_branch_is_its_own_candidate() -> None:
    """The escalation tier has its own branch; the failed base branch is skipped."""
    found = plans(workload("wl"), issue_pipeline("wl", 1, escalation=True))
    by_branch = {
        (p.branch.name if isinstance(p, Candidate) else p.branch): outcome_of(p) for p in found
    }
    assert by_branch == {
        BRANCH: ("skipped", "coder-not-on-target"),
        f"{BRANCH}-esc": ("candidate", ""),
    }


def test_missing_commit_sha_is_never_trusted_to_the_head() -> None:
    """A final coder with no commitSHA vouched for no commit: skipped, never a candidate."""
    tasks = issue_pipeline("wl", 1)
    for t in tasks:
        t["status"].pop("commitSHA", None)
    plan = only(workload("wl"), tasks)
    assert outcome_of(plan) == ("skipped", "no-commit-sha")
    assert "recorded no status.commitSHA" in plan.detail


def test_head_owner_makes_a_fork_head() -> None:
    """--head-owner turns the head into OWNER:branch on OWNER's fork."""
    plan = only(workload("wl"), issue_pipeline("wl", 1), Policy(timedelta(0), head_owner="bot"))
    assert isinstance(plan, Candidate)
    assert (plan.head, plan.head_repo) == (f"bot:{BRANCH}", "bot/widgets")


@pytest.mark.parametrize(
    ("allow", "expected"),
    [
        pytest.param((), ("candidate", ""), id="no-allowlist"),
        pytest.param(("acme/widgets",), ("candidate", ""), id="exact"),
        pytest.param(("ACME/*",), ("candidate", ""), id="owner-wildcard-any-case"),
        pytest.param(("acme/other",), ("skipped", "repo-not-allowed"), id="other-repo"),
        pytest.param(("evil/*",), ("skipped", "repo-not-allowed"), id="other-owner"),
    ],
)
def test_allowlist(allow: tuple[str, ...], expected: tuple[str, str]) -> None:
    """Candidates outside --allow-repo are skipped repo-not-allowed."""
    policy = Policy(timedelta(0), allow_repos=allow)
    assert outcome_of(only(workload("wl"), issue_pipeline("wl", 1), policy)) == expected


# ---------------------------------------------------------------- plan: recorded


def _annotated(records: dict) -> dict:
    return workload("wl", annotations={RECORD_ANNOTATION: json.dumps(records)})


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        pytest.param(
            {
                "repo": "acme/widgets",
                "url": "https://github.com/acme/widgets/pull/3",
                "number": 3,
                "sha": FINAL,
                "outcome": "opened",
                "reason": "missing-pr",
            },
            ("skipped", "already-recorded"),
            id="same-sha",
        ),
        pytest.param(
            {
                "repo": "acme/widgets",
                "url": None,
                "number": 3,
                "sha": FINAL,
                "outcome": "skipped",
                "reason": "closed-by-human",
            },
            ("skipped", "already-recorded"),
            id="closed-by-human-recorded",
        ),
        pytest.param(
            {
                "repo": "acme/widgets",
                "url": "https://github.com/acme/widgets/pull/3",
                "number": 3,
                "sha": sha("older"),
                "outcome": "opened",
                "reason": "missing-pr",
            },
            ("candidate", ""),
            id="older-sha",
        ),
        pytest.param(
            {
                "repo": "acme/other",
                "url": "https://github.com/acme/other/pull/3",
                "number": 3,
                "sha": FINAL,
                "outcome": "opened",
                "reason": "missing-pr",
            },
            ("candidate", ""),
            id="other-repo",
        ),
    ],
)
def test_recorded_in_annotation(record: dict, expected: tuple[str, str]) -> None:
    """The annotation counts only for the same repo at the same reviewed SHA."""
    assert outcome_of(only(_annotated({BRANCH: record}), issue_pipeline("wl", 1))) == expected


def test_garbage_annotation_counts_as_absent() -> None:
    """An annotation that is not our JSON is ignored, never a crash."""
    obj = workload("wl", annotations={RECORD_ANNOTATION: "{not json"})
    assert outcome_of(only(obj, issue_pipeline("wl", 1))) == ("candidate", "")


# ---------------------------------------------------------------- plan: explicit pipelines


def _pipeline_tasks(open_pr: bool | None) -> list[dict]:
    coder = task("wl", "fix", kind="issue-fix", commit_sha=FINAL)
    review = task(
        "wl", "check", kind="review", open_pull_request=open_pr, result=result("review", "GO")
    )
    return [coder, review]


@pytest.mark.parametrize(
    ("open_pr", "expected"),
    [
        pytest.param(True, ("candidate", ""), id="review-asks-for-pr"),
        pytest.param(None, ("skipped", "opted-out"), id="review-silent"),
        pytest.param(False, ("skipped", "opted-out"), id="review-declines"),
    ],
)
def test_explicit_pipeline_opt_in(open_pr: bool | None, expected: tuple[str, str]) -> None:
    """In explicit pipelines only a review step with openPullRequest: true asks for a PR."""
    steps = [
        pipeline_step("fix", "issue-fix"),
        pipeline_step("check", "review", open_pull_request=open_pr),
    ]
    obj = workload("wl", issues=None, pipeline=steps)
    assert outcome_of(only(obj, _pipeline_tasks(open_pr))) == expected


# ---------------------------------------------------------------- plan: bad input


def test_a_broken_task_invalidates_only_its_branch() -> None:
    """A malformed task makes its branch invalid-input; other branches go on."""
    tasks = issue_pipeline("wl", 1) + issue_pipeline("wl", 2)
    tasks[-1]["status"]["result"] = "not an object"
    found = {outcome_of(p) for p in plans(workload("wl", issues=[1, 2]), tasks)}
    assert found == {("candidate", ""), ("skipped", "invalid-input")}


def test_an_unplaceable_task_invalidates_every_branch() -> None:
    """A task without a usable branch might be any branch's NO-GO: no branch is judged."""
    tasks = issue_pipeline("wl", 1) + issue_pipeline("wl", 2)
    tasks[-1]["spec"]["payload"]["branch"] = 7
    found = plans(workload("wl", issues=[1, 2]), tasks)
    assert {outcome_of(p) for p in found} == {("skipped", "invalid-input")}
    assert len(found) == 2


def test_two_coders_in_the_final_round_is_invalid() -> None:
    """An ambiguous final round is never opened."""
    tasks = issue_pipeline("wl", 1)
    extra = task("wl", "code-1-dup", commit_sha=sha("x"))
    assert outcome_of(only(workload("wl"), [*tasks, extra])) == ("skipped", "invalid-input")


# ---------------------------------------------------------------- decide_remote


def _candidate(**kwargs: object) -> Candidate:
    plan = only(workload("wl"), issue_pipeline("wl", 1, **kwargs))  # type: ignore[arg-type]
    assert isinstance(plan, Candidate)
    return plan


def _pull(number: int, state: str, merged: bool = False, head: str | None = FINAL) -> Pull:
    return Pull(number, f"https://github.com/acme/widgets/pull/{number}", state, merged, head)


@pytest.mark.parametrize(
    ("head", "pulls", "expected"),
    [
        pytest.param(FINAL, [], ("open", "missing-pr"), id="nothing-yet"),
        pytest.param(FINAL, [_pull(4, "open")], ("adopted", "open-pr-exists"), id="open"),
        pytest.param(
            FINAL, [_pull(4, "closed", merged=True)], ("adopted", "merged-pr-exists"), id="merged"
        ),
        pytest.param(
            None,
            [_pull(4, "closed", merged=True)],
            ("adopted", "merged-pr-exists"),
            id="merged-branch-deleted",
        ),
        pytest.param(
            FINAL, [_pull(4, "closed")], ("skipped", "closed-by-human"), id="closed-by-human"
        ),
        pytest.param(
            FINAL,
            [_pull(4, "closed", head=sha("old"))],
            ("open", "new-work-after-close"),
            id="closed-at-older-sha",
        ),
        pytest.param(
            FINAL,
            [_pull(4, "closed", merged=True, head=sha("old"))],
            ("open", "new-work-after-merge"),
            id="merged-at-older-sha",
        ),
        pytest.param(
            None,
            [_pull(4, "closed", merged=True, head=sha("old"))],
            ("skipped", "branch-missing"),
            id="merged-at-older-sha-branch-deleted",
        ),
        pytest.param(
            FINAL,
            [_pull(5, "closed", merged=True), _pull(4, "closed", merged=True, head=sha("old"))],
            ("adopted", "merged-pr-exists"),
            id="merged-at-reviewed-after-an-older-merge",
        ),
        pytest.param(None, [], ("skipped", "branch-missing"), id="branch-missing"),
        pytest.param(sha("moved"), [], ("skipped", "head-moved"), id="head-moved"),
        pytest.param(
            FINAL,
            [_pull(4, "closed"), _pull(9, "open", head=sha("x"))],
            ("adopted", "open-pr-exists"),
            id="open-wins-over-closed",
        ),
    ],
)
def test_decide_remote(head: str | None, pulls: list[Pull], expected: tuple[str, str]) -> None:
    """GitHub's branch head and PRs for the head decide: adopt, skip, or open."""
    step = decide_remote(_candidate(), head, pulls)
    got = ("open", str(step.reason)) if isinstance(step, Open) else outcome_of(step)
    assert got == expected


@pytest.mark.parametrize(
    ("pulls", "expected", "detail"),
    [
        pytest.param(
            [_pull(7, "open")], ("adopted", "foreman-opened"), "Foreman", id="listed-open"
        ),
        pytest.param(
            [_pull(7, "closed", merged=True)],
            ("adopted", "foreman-opened"),
            "Foreman",
            id="listed-merged",
        ),
        pytest.param(
            [_pull(4, "open")], ("adopted", "open-pr-exists"), "names no PR", id="another-pr"
        ),
        pytest.param([], ("open", "missing-pr"), "names no PR for this head", id="unlisted"),
    ],
)
def test_foreman_pr_counts_only_when_github_lists_it(
    pulls: list[Pull], expected: tuple[str, str], detail: str
) -> None:
    """A planted or stale pullRequestURL adopts nothing: GitHub's answer for this head
    decides, and what is recorded is GitHub's URL."""
    candidate = _candidate(pull_request_url="https://github.com/acme/widgets/pull/7")
    step = decide_remote(candidate, FINAL, pulls)
    got = ("open", str(step.reason)) if isinstance(step, Open) else outcome_of(step)
    assert got == expected
    assert detail in step.detail
    if isinstance(step, Decision) and step.pr_url:
        assert step.pr_url == pulls[0].url


def test_adopted_decision_records_the_pull() -> None:
    """An adopted PR's URL and number go into the decision and the annotation."""
    step = decide_remote(_candidate(), FINAL, [_pull(4, "open")])
    assert isinstance(step, Decision)
    records = merged_records({}, [step])
    assert records[("acme/widgets", BRANCH)].number == 4
    assert records[("acme/widgets", BRANCH)].url.endswith("/pull/4")


# ---------------------------------------------------------------- settling


@pytest.mark.parametrize(
    ("outcome", "reason", "expected"),
    [
        (Outcome.OPENED, Reason.MISSING_PR, True),
        (Outcome.ADOPTED, Reason.OPEN_PR_EXISTS, True),
        (Outcome.SKIPPED, Reason.OPTED_OUT, True),
        (Outcome.SKIPPED, Reason.CLOSED_BY_HUMAN, True),
        (Outcome.SKIPPED, Reason.REPO_NOT_ALLOWED, False),
        (Outcome.WOULD_OPEN, Reason.MISSING_PR, False),
        (Outcome.DEFERRED, Reason.BUDGET_EXHAUSTED, False),
        (Outcome.FAILED, Reason.GITHUB_ERROR, False),
    ],
)
def test_settles(outcome: Outcome, reason: Reason, expected: bool) -> None:
    """Only outcomes that a later run could not change settle a Workload."""
    d = Decision("acme/widgets", BRANCH, 1, FINAL, outcome, reason, "")
    assert settles([d]) is expected


def test_merged_records_keep_other_branches() -> None:
    """Recording one branch keeps the entries an earlier run wrote for others."""
    first = merged_records({}, [decide_remote(_candidate(), FINAL, [_pull(4, "open")])])
    other = Decision(
        "acme/widgets",
        "foreman/wl/issue-2",
        2,
        sha("2"),
        Outcome.OPENED,
        Reason.MISSING_PR,
        "",
        "https://github.com/acme/widgets/pull/5",
        5,
    )
    both = merged_records(first, [other])
    assert set(both) == {("acme/widgets", BRANCH), ("acme/widgets", "foreman/wl/issue-2")}


# ---------------------------------------------------------------- drafts for request-changes

DRAFTS = Policy(min_age=timedelta(minutes=10), drafts=True)


@pytest.mark.parametrize(
    ("phase", "policy", "expected"),
    [
        pytest.param("Failed", POLICY, WorkloadSkip.NOT_COMPLETED, id="failed-without-flag"),
        pytest.param("Failed", DRAFTS, None, id="failed-with-flag"),
        pytest.param("Dispatched", DRAFTS, WorkloadSkip.NOT_COMPLETED, id="running-with-flag"),
        pytest.param("Completed", DRAFTS, None, id="completed-with-flag"),
    ],
)
def test_triage_reads_failed_workloads_only_with_drafts(
    phase: str, policy: Policy, expected: WorkloadSkip | None
) -> None:
    """--draft-on-request-changes also reads Failed Workloads; nothing else changes."""
    assert triage(parse_workload(workload("wl", phase=phase)), NOW, policy) == expected


def test_request_changes_becomes_a_draft_candidate() -> None:
    """Coder and gate on target, a reviewer NO-GO: a draft candidate with the findings."""
    plan = only(
        workload("wl", phase="Failed"), issue_pipeline("wl", 1, outcome="request-changes"), DRAFTS
    )
    assert isinstance(plan, Candidate)
    assert plan.branch.draft
    assert plan.branch.reviewed_sha == FINAL
    assert [r.verdict for r in plan.branch.reviewers] == ["NO-GO", "GO"]
    assert plan.branch.reviewers[0].findings[0].file == "pager.go"


def test_approved_branch_is_not_a_draft() -> None:
    plan = only(workload("wl"), issue_pipeline("wl", 1), DRAFTS)
    assert isinstance(plan, Candidate) and not plan.branch.draft


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda ts: ts[-2]["status"].update(phase="Failed", verdict="INCOMPLETE"),
            ("skipped", "review-not-go"),
            id="a-reviewer-gave-up",
        ),
        pytest.param(
            lambda ts: ts[-1]["status"].update(phase="Running", verdict=None),
            ("skipped", "review-not-go"),
            id="a-reviewer-unfinished",
        ),
        pytest.param(
            lambda ts: ts[-1]["status"].update(verdict="NO-GO"),
            ("candidate", ""),
            id="every-reviewer-no-go",
        ),
    ],
)
def test_only_a_finished_review_asking_for_changes_makes_a_draft(mutate, expected) -> None:
    """A reviewer that failed or never finished said nothing a human could act on."""
    tasks = issue_pipeline("wl", 1, outcome="request-changes")
    mutate(tasks)
    assert outcome_of(only(workload("wl", phase="Failed"), tasks, DRAFTS)) == expected


@pytest.mark.parametrize(
    "outcome", ["gate-failed", "coder-failed", "already-resolved"], ids=lambda o: o
)
def test_drafts_never_cover_a_failed_gate_or_coder(outcome: str) -> None:
    """Only review may have asked for changes: a failed gate or coder is still skipped."""
    plan = only(workload("wl", phase="Failed"), issue_pipeline("wl", 1, outcome=outcome), DRAFTS)
    assert isinstance(plan, Decision) and plan.outcome is Outcome.SKIPPED


def test_draft_respects_opt_out_and_allowlist() -> None:
    tasks = issue_pipeline("wl", 1, outcome="request-changes")
    opted = workload("wl", phase="Failed", open_pull_request=False)
    assert outcome_of(only(opted, tasks, DRAFTS)) == ("skipped", "opted-out")
    fenced = Policy(timedelta(0), allow_repos=("acme/other",), drafts=True)
    assert outcome_of(only(workload("wl", phase="Failed"), tasks, fenced)) == (
        "skipped",
        "repo-not-allowed",
    )


def _record(draft: bool, at: str = FINAL) -> dict:
    entry = {
        "repo": "acme/widgets",
        "url": "https://github.com/acme/widgets/pull/3",
        "number": 3,
        "sha": at,
        "outcome": "opened",
        "reason": "missing-pr",
    }
    return {**entry, "draft": True} if draft else entry


@pytest.mark.parametrize(
    ("recorded_draft", "outcome", "expected"),
    [
        pytest.param(True, "request-changes", ("skipped", "already-recorded"), id="same-draft"),
        pytest.param(False, "go", ("skipped", "already-recorded"), id="same-ready"),
        pytest.param(True, "go", ("candidate", ""), id="same-sha-now-approved"),
        pytest.param(False, "request-changes", ("candidate", ""), id="same-sha-now-changes"),
    ],
)
def test_record_counts_only_for_the_same_verdict(
    recorded_draft: bool, outcome: str, expected: tuple[str, str]
) -> None:
    """The same commit reviewed again with the other verdict must be looked at again."""
    obj = workload(
        "wl",
        phase="Failed",
        annotations={RECORD_ANNOTATION: json.dumps({BRANCH: _record(recorded_draft)})},
    )
    assert outcome_of(only(obj, issue_pipeline("wl", 1, outcome=outcome), DRAFTS)) == expected


def test_draft_decision_records_draft() -> None:
    step = decide_remote(_draft_candidate(), FINAL, [_pull(4, "open")])
    assert isinstance(step, Decision) and step.draft
    assert merged_records({}, [step])[("acme/widgets", BRANCH)].draft


# ---------------------------------------------------------------- refresh on re-run


def _draft_candidate() -> Candidate:
    plan = only(
        workload("wl", phase="Failed"), issue_pipeline("wl", 1, outcome="request-changes"), DRAFTS
    )
    assert isinstance(plan, Candidate)
    return plan


def _sweeper_body(at: str, draft: bool = False, issue: int = 1) -> str:
    from sweeper.body import BodyInput, render_body
    from sweeper.tasks import parse_task

    tasks = [
        parse_task(t)
        for t in issue_pipeline("wl", issue, outcome="request-changes" if draft else "go")
    ]
    coder = next(t for t in tasks if t.role.value == "coder")
    return render_body(
        BodyInput(
            "default",
            "wl",
            issue,
            at,
            coder,
            [],
            [t for t in tasks if t.role.value == "review"],
            draft,
        )
    )


def _open(body: str | None, head: str | None = FINAL, draft: bool = False) -> Pull:
    return Pull(
        4, "https://github.com/acme/widgets/pull/4", "open", False, head, draft, body, "PR_4"
    )


@pytest.mark.parametrize(
    ("candidate", "pull", "expected"),
    [
        pytest.param(
            "ready", _open(_sweeper_body(sha("old"))), ("refresh", True, False), id="new-sha"
        ),
        pytest.param(
            "ready",
            _open(_sweeper_body(sha("old"), draft=True), draft=True),
            ("refresh", True, True),
            id="draft-now-approved",
        ),
        pytest.param(
            "ready",
            _open(_sweeper_body(FINAL, draft=True), draft=True),
            ("refresh", True, True),
            id="same-sha-re-reviewed-go",
        ),
        pytest.param(
            "draft",
            _open(_sweeper_body(sha("old"), draft=True), draft=True),
            ("refresh", True, False),
            id="draft-new-sha-still-changes",
        ),
        pytest.param(
            "draft",
            _open(_sweeper_body(sha("old"))),
            ("refresh", True, False),
            id="ready-now-changes-stays-ready",
        ),
        pytest.param(
            "ready",
            _open(_sweeper_body(sha("old"), draft=True) + "\n\nhuman note", draft=True),
            ("refresh", False, True),
            id="edited-draft-only-marked-ready",
        ),
        pytest.param(
            "ready",
            _open(_sweeper_body(sha("old")).replace("Implements", "Human implements")),
            ("adopted", "edited"),
            id="edited-left-alone",
        ),
        pytest.param("ready", _open(_sweeper_body(FINAL)), ("adopted", ""), id="up-to-date"),
        pytest.param("ready", _open("A human wrote this PR"), ("adopted", ""), id="not-ours"),
        pytest.param("ready", _open(None), ("adopted", ""), id="no-body"),
        pytest.param(
            "ready", _open(_sweeper_body(sha("old"), issue=2)), ("adopted", ""), id="other-issue"
        ),
        pytest.param(
            "ready",
            _open(_sweeper_body(sha("old")), head=sha("unreviewed")),
            ("adopted", "not refreshed"),
            id="pr-head-not-reviewed",
        ),
        pytest.param(
            "ready",
            _open(_sweeper_body(sha("old")), draft=True),
            ("refresh", True, False),
            id="human-made-it-draft-stays-draft",
        ),
    ],
)
def test_refresh_plan(candidate: str, pull: Pull, expected: tuple) -> None:
    """An open PR the sweeper wrote for an older review is refreshed; others are adopted."""
    c = _draft_candidate() if candidate == "draft" else _candidate()
    step = decide_remote(c, FINAL, [pull])
    if expected[0] == "refresh":
        assert isinstance(step, Refresh), step
        assert (step.update_body, step.mark_ready) == expected[1:]
        assert step.pull.number == 4
    else:
        assert isinstance(step, Decision), step
        assert (step.outcome, step.reason) == (Outcome.ADOPTED, Reason.OPEN_PR_EXISTS)
        assert expected[1] in step.detail


def test_refresh_detail_says_what_changes() -> None:
    step = decide_remote(
        _candidate(), FINAL, [_open(_sweeper_body(sha("old"), draft=True), draft=True)]
    )
    assert isinstance(step, Refresh)
    assert (
        f"body refreshed from {sha('old')[:12]} (changes requested) to {FINAL[:12]}" in step.detail
    )
    assert "marked ready for review" in step.detail


def test_updated_records_and_settles() -> None:
    d = Decision("acme/widgets", BRANCH, 1, FINAL, Outcome.UPDATED, Reason.NEW_REVIEW, "", "u", 4)
    assert d.record and settles([d])
    would = Decision("acme/widgets", BRANCH, 1, FINAL, Outcome.WOULD_UPDATE, Reason.NEW_REVIEW, "")
    assert not would.record and not settles([would])
    unsupported = Decision(
        "acme/widgets", BRANCH, 1, FINAL, Outcome.SKIPPED, Reason.DRAFT_UNSUPPORTED, ""
    )
    assert settles([unsupported]) and not unsupported.record


# ---------------------------------------------------------------- withdrawn PRs


def _withdrawn(at: str, head: str, state: str = "closed", issue: int = 1) -> Pull:
    from sweeper.body import withdrawn_body

    body = withdrawn_body(_sweeper_body(at, issue=issue), "the branch moved")
    return Pull(4, "https://github.com/acme/widgets/pull/4", state, False, head, False, body)


def test_an_open_pr_of_this_review_at_another_head_is_withdrawn() -> None:
    """The sweeper's own unrecorded PR for this SHA stands at unreviewed code: withdraw it."""
    step = decide_remote(_candidate(), sha("pushed"), [_open(_sweeper_body(FINAL), sha("pushed"))])
    assert isinstance(step, Withdraw) and step.pull.number == 4
    assert sha("pushed")[:12] in step.detail and FINAL[:12] in step.detail


@pytest.mark.parametrize(
    "pull",
    [
        pytest.param(_open(_sweeper_body(FINAL)), id="at-the-reviewed-head"),
        pytest.param(_open("a human's PR", sha("pushed")), id="not-the-sweepers"),
        pytest.param(_open(_sweeper_body(FINAL, issue=2), sha("pushed")), id="other-issue"),
        pytest.param(_open(_sweeper_body(sha("old")), sha("pushed")), id="an-older-review"),
    ],
)
def test_other_open_prs_are_never_withdrawn(pull: Pull) -> None:
    """Only the sweeper's PR for exactly this review, at another head, is withdrawn."""
    assert not isinstance(decide_remote(_candidate(), FINAL, [pull]), Withdraw)


def test_the_sweepers_own_withdrawal_is_not_a_humans_close() -> None:
    """Re-reviewed at the head the withdrawn PR stood at: a new PR, never closed-by-human."""
    step = decide_remote(_candidate(), FINAL, [_withdrawn(sha("old"), FINAL)])
    assert isinstance(step, Open) and step.reason is Reason.NEW_WORK_AFTER_CLOSE
    assert "withdrawn by the sweeper" in step.detail


def test_a_humans_close_at_the_reviewed_head_is_still_respected() -> None:
    """Without the withdrawn marker, a close at the reviewed SHA is a human's no."""
    closed = Pull(4, "https://github.com/acme/widgets/pull/4", "closed", False, FINAL, False, "")
    step = decide_remote(_candidate(), FINAL, [closed])
    assert isinstance(step, Decision) and step.reason is Reason.CLOSED_BY_HUMAN
