"""The histories that broke a promise (issue 19), pinned at the level of the pure decision.

Each test names the history; each failed on the code before the fix for the reason its
docstring gives.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from sweeper.core import Candidate, Decision, Policy, settles
from sweeper.eligibility import plan_workload
from sweeper.model import parse_workload
from sweeper.outcomes import Outcome, Reason
from sweeper.records import RECORD_ANNOTATION, parse_records, render_records
from tests.fixtures.foreman import issue_pipeline, pipeline_step, result, sha, task, workload

POLICY = Policy(min_age=timedelta(minutes=10))
DRAFTS = Policy(min_age=timedelta(minutes=10), drafts=True)
BRANCH = "foreman/wl/issue-1"


def plans(wl: dict[str, Any], tasks: list[dict[str, Any]], policy: Policy = POLICY) -> list[Any]:
    return plan_workload(parse_workload(wl), tasks, policy)


def outcome_of(plan: Any) -> tuple[str, str]:
    if isinstance(plan, Candidate):
        return ("candidate", "")
    return (str(plan.outcome), str(plan.reason))


def by_branch(found: list[Any]) -> dict[str | None, tuple[str, str]]:
    return {(p.branch.name if isinstance(p, Candidate) else p.branch): outcome_of(p) for p in found}


def without_final_reviews(tasks: list[dict[str, Any]], final: str) -> list[dict[str, Any]]:
    return [
        t
        for t in tasks
        if not (t["spec"]["kind"] == "review" and t["metadata"]["name"].endswith(final))
    ]


# ---------------------------------------------------------------- no tasks at all


def test_a_completed_workload_without_tasks_gets_a_line_per_issue_and_no_settle() -> None:
    """Its task listing is empty although spec.issues asks for two: two no-tasks lines,
    and the Workload is not settled (before: no line at all, and settled for good)."""
    found = plans(workload("wl", issues=[1, 2]), [])
    assert by_branch(found) == {
        "foreman/wl/issue-1": ("skipped", "no-tasks"),
        "foreman/wl/issue-2": ("skipped", "no-tasks"),
    }
    assert not settles(found)


def test_an_issue_without_tasks_beside_one_with_them() -> None:
    """Issue 1 has its pipeline, issue 2 none: issue 1 is judged, issue 2 named."""
    found = plans(workload("wl", issues=[1, 2]), issue_pipeline("wl", 1))
    assert by_branch(found) == {
        BRANCH: ("candidate", ""),
        "foreman/wl/issue-2": ("skipped", "no-tasks"),
    }


def test_an_escalated_issue_is_covered_by_its_tiers() -> None:
    """The base tier and the -esc tier both cover issue 1: no no-tasks line."""
    found = plans(workload("wl", issues=[1]), issue_pipeline("wl", 1, escalation=True))
    assert "no-tasks" not in {reason for _, reason in by_branch(found).values()}


def test_a_pipeline_step_asking_for_a_pr_without_tasks() -> None:
    """An explicit pipeline's PR step with no task is named, not silently settled."""
    steps = [
        pipeline_step("code-1", "issue-fix"),
        pipeline_step("review-1-1", "review", open_pull_request=True),
    ]
    found = plans(workload("wl", pipeline=steps, repo=None), [])
    assert by_branch(found) == {BRANCH: ("skipped", "no-tasks")}
    assert not settles(found)


# ---------------------------------------------------------------- a PR nobody reviewed


@pytest.mark.parametrize(
    ("wl_kwargs", "pipeline_kwargs", "strip", "expected"),
    [
        pytest.param(
            {}, {"rounds": 1}, "-r1", ("skipped", "not-reviewed"), id="fix-round-unreviewed"
        ),
        pytest.param(
            {"reviewers": 2}, {}, "-1-1", ("skipped", "not-reviewed"), id="one-reviewer-missing"
        ),
        pytest.param(
            {"reviewers": 2},
            {"reviewers": 0},
            "",
            ("skipped", "not-reviewed"),
            id="spec-asks-none-ran",
        ),
        pytest.param({}, {"reviewers": 0}, "", ("candidate", ""), id="reviewer-less"),
        pytest.param(
            {"reviewers": 0}, {"reviewers": 0}, "", ("candidate", ""), id="reviewer-less-said"
        ),
        pytest.param({"reviewers": 2}, {"rounds": 1}, "", ("candidate", ""), id="fully-reviewed"),
    ],
)
def test_a_final_round_without_its_reviewers_is_not_reviewed(
    wl_kwargs: dict[str, Any],
    pipeline_kwargs: dict[str, Any],
    strip: str,
    expected: tuple[str, str],
) -> None:
    """Coder GO and gate PASS are not a review: a final round lacking the reviewers that
    earlier rounds or spec.reviewerAgentRefs ask for is skipped (before: a candidate)."""
    tasks = issue_pipeline("wl", 1, **pipeline_kwargs)
    if strip:
        tasks = without_final_reviews(tasks, strip)
    [plan] = plans(workload("wl", **wl_kwargs), tasks)
    assert outcome_of(plan) == expected


def test_a_pipeline_review_step_without_its_task_is_not_reviewed() -> None:
    """Explicit pipeline: every review step of the branch must have run."""
    steps = [
        pipeline_step("code-1", "issue-fix"),
        pipeline_step("review-1-1", "review", open_pull_request=True),
        pipeline_step("review-1-9", "review"),
    ]
    [plan] = plans(workload("wl", pipeline=steps, repo=None), issue_pipeline("wl", 1))
    assert outcome_of(plan) == ("skipped", "not-reviewed")
    assert "review-1-9" in plan.detail


def test_a_coder_without_commit_sha_is_skipped_and_a_closed_pr_stays_closed() -> None:
    """No task vouched for a commit: never a PR, so never a reopening after a close."""
    tasks = issue_pipeline("wl", 1)
    for t in tasks:
        t["status"].pop("commitSHA", None)
    [plan] = plans(workload("wl"), tasks)
    assert outcome_of(plan) == ("skipped", "no-commit-sha")


# ---------------------------------------------------------------- reviewer escalation


def escalate(verdict: str, index: int = 1) -> dict[str, Any]:
    return task(
        "wl",
        f"escalate-1-{index}",
        kind="review",
        verdict=verdict,
        result=result("review", verdict, "Escalation reviewer."),
    )


@pytest.mark.parametrize(
    ("outcome", "verdict", "policy", "expected"),
    [
        pytest.param(
            "request-changes", "GO", POLICY, ("skipped", "review-not-go"), id="go-clears-nothing"
        ),
        pytest.param("request-changes", "GO", DRAFTS, ("candidate", ""), id="draft-with-flag"),
        pytest.param("go", "NO-GO", POLICY, ("candidate", ""), id="no-go-blocks-nothing"),
    ],
)
def test_reviewer_escalation_is_advisory(
    outcome: str, verdict: str, policy: Policy, expected: tuple[str, str]
) -> None:
    """An escalate-N-j review never makes a branch a candidate and never clears a base
    NO-GO (Foreman: the Workload still fails so a human reviews both verdicts)."""
    wl = workload("wl", phase="Failed" if outcome != "go" else "Completed")
    [plan] = plans(wl, [*issue_pipeline("wl", 1, outcome=outcome), escalate(verdict)], policy)
    assert outcome_of(plan) == expected
    if isinstance(plan, Candidate):
        assert [t.step for t in plan.branch.advisory] == ["escalate-1-1"]
        assert all(t.step.startswith("review-") for t in plan.branch.reviewers)


# ---------------------------------------------------------------- only Foreman's branches


@pytest.mark.parametrize(
    ("branch", "expected"),
    [
        pytest.param(BRANCH, ("candidate", ""), id="foreman-name"),
        pytest.param("release/2.0", ("skipped", "invalid-input"), id="release-branch"),
        pytest.param("foreman/other/issue-1", ("skipped", "invalid-input"), id="another-workload"),
        pytest.param("foreman/wl/issue-2", ("skipped", "invalid-input"), id="another-issue"),
        pytest.param("main", ("skipped", "invalid-input"), id="main"),
    ],
)
def test_issue_batch_branches_must_be_foremans_own_name(
    branch: str, expected: tuple[str, str]
) -> None:
    """A task in issue-batch mode steering the PR to another branch opens nothing."""
    tasks = issue_pipeline("wl", 1)
    for t in tasks:
        t["spec"]["payload"]["branch"] = branch
    [plan] = plans(workload("wl"), tasks)
    assert outcome_of(plan) == expected


def test_the_escalation_branch_is_foremans_own_name() -> None:
    """`foreman/<workload>/issue-<n>-esc` is Foreman's too."""
    found = by_branch(plans(workload("wl"), issue_pipeline("wl", 1, escalation=True)))
    assert found[f"{BRANCH}-esc"] == ("candidate", "")


# ---------------------------------------------------------------- records of two repositories


def test_one_branch_name_in_two_repositories_keeps_both_records() -> None:
    """An explicit pipeline over two repositories with one branch name: both records are
    written and read back (before: keyed by branch alone, one overwrote the other)."""
    first = Decision(
        "acme/api",
        BRANCH,
        1,
        sha("a"),
        Outcome.OPENED,
        Reason.MISSING_PR,
        "",
        "https://github.com/acme/api/pull/3",
        3,
    )
    second = Decision(
        "acme/web",
        BRANCH,
        1,
        sha("b"),
        Outcome.OPENED,
        Reason.MISSING_PR,
        "",
        "https://github.com/acme/web/pull/8",
        8,
    )
    from sweeper.core import merged_records

    text = render_records(merged_records({}, [first, second]))
    assert set(json.loads(text)) == {f"acme/api:{BRANCH}", f"acme/web:{BRANCH}"}
    back = parse_records(text)
    assert {(r.repo, r.number) for r in back.values()} == {("acme/api", 3), ("acme/web", 8)}
    wl = parse_workload(workload("wl", annotations={RECORD_ANNOTATION: text}))
    assert wl.record_for("acme/web", BRANCH).number == 8  # type: ignore[union-attr]


def test_todays_annotations_keep_their_keys_and_are_read() -> None:
    """A branch name used once is still the key, byte for byte; old and hand-written
    entries (with or without a repo) are found."""
    legacy = {
        BRANCH: {
            "url": "https://github.com/acme/widgets/pull/7",
            "sha": sha("x"),
            "outcome": "opened",
        }
    }
    wl = parse_workload(workload("wl", annotations={RECORD_ANNOTATION: json.dumps(legacy)}))
    record = wl.record_for("acme/widgets", BRANCH)
    assert record is not None and record.number == 7
    assert list(json.loads(render_records(wl.records))) == [BRANCH]
