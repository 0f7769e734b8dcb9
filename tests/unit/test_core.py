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
    decide_remote,
    merged_records,
    plan_workload,
    settles,
    triage,
)
from sweeper.model import RECORD_ANNOTATION, SETTLED_ANNOTATION, fingerprint, parse_workload
from sweeper.outcomes import Outcome, Reason, WorkloadSkip
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
            ("adopted", "foreman-opened"),
            id="foreman-opened",
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


def test_foreman_opened_pr_is_adopted_with_its_number() -> None:
    """A pullRequestURL on a final-round review is recorded without asking GitHub."""
    plan = only(
        workload("wl"),
        issue_pipeline("wl", 1, pull_request_url="https://github.com/acme/widgets/pull/7"),
    )
    assert isinstance(plan, Decision)
    assert (plan.pr_number, plan.pr_url, plan.sha) == (
        7,
        "https://github.com/acme/widgets/pull/7",
        FINAL,
    )
    assert plan.record


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


def test_missing_commit_sha_proceeds_with_a_note() -> None:
    """A coder with no commitSHA is trusted to the branch head, and the reason says so."""
    tasks = issue_pipeline("wl", 1)
    for t in tasks:
        t["status"].pop("commitSHA", None)
    plan = only(workload("wl"), tasks)
    assert isinstance(plan, Candidate)
    assert plan.branch.reviewed_sha is None
    assert "no commitSHA" in plan.note


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


def _candidate(reviewed: str | None = FINAL) -> Candidate:
    tasks = issue_pipeline("wl", 1)
    if reviewed is None:
        for t in tasks:
            t["status"].pop("commitSHA", None)
    plan = only(workload("wl"), tasks)
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


def test_decide_remote_without_reviewed_sha_trusts_the_head() -> None:
    """With no reviewed SHA the branch head is used and the note is carried."""
    step = decide_remote(_candidate(None), sha("head"), [])
    assert isinstance(step, Open)
    assert "no commitSHA" in step.detail


def test_adopted_decision_records_the_pull() -> None:
    """An adopted PR's URL and number go into the decision and the annotation."""
    step = decide_remote(_candidate(), FINAL, [_pull(4, "open")])
    assert isinstance(step, Decision)
    records = merged_records({}, [step])
    assert records[BRANCH].number == 4
    assert records[BRANCH].url.endswith("/pull/4")


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
    assert set(both) == {BRANCH, "foreman/wl/issue-2"}
