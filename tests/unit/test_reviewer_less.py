"""Reviewer-less Workloads (Foreman opens no PR for them; the sweeper does, once the coder
is GO and the gate PASS) and the gate a final round needs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sweeper.core import Candidate, Policy
from sweeper.eligibility import plan_workload
from sweeper.model import parse_workload
from tests.fixtures.foreman import issue_pipeline, pipeline_step, workload

POLICY = Policy(min_age=timedelta(minutes=10))


def _plan(wl: dict[str, Any], tasks: list[dict[str, Any]]) -> Any:
    [plan] = plan_workload(parse_workload(wl), tasks, POLICY)
    return plan


def _outcome(plan: Any) -> tuple[str, str]:
    if isinstance(plan, Candidate):
        return ("candidate", "")
    return (str(plan.outcome), str(plan.reason))


@pytest.mark.parametrize("reviewers_said", [None, 0], ids=["unset", "empty"])
def test_a_reviewer_less_branch_with_a_passed_gate_is_a_candidate(
    reviewers_said: int | None,
) -> None:
    """Coder GO and gate PASS, no reviewer asked: the sweeper opens the PR Foreman never does."""
    plan = _plan(
        workload("wl", reviewers=reviewers_said, verifier="gate"),
        issue_pipeline("wl", 1, reviewers=0),
    )
    assert _outcome(plan) == ("candidate", "")


def test_no_reviewer_and_no_gate_is_not_reviewed() -> None:
    """Nothing but the coder vouched for the commit: never a PR (before: a candidate)."""
    plan = _plan(workload("wl", reviewers=0), issue_pipeline("wl", 1, reviewers=0, verify=False))
    assert _outcome(plan) == ("skipped", "not-reviewed")
    assert "no reviewer and no gate" in plan.detail
    assert plan.sha is not None


def test_a_gate_the_spec_asks_for_must_have_run() -> None:
    """spec.verifierAgentRef asks for a gate and the final round has none: not a finished
    round, even with reviewers (before: a candidate)."""
    plan = _plan(workload("wl", verifier="gate"), issue_pipeline("wl", 1, verify=False))
    assert _outcome(plan) == ("skipped", "not-reviewed")
    assert "spec.verifierAgentRef" in plan.detail


def test_a_gate_earlier_rounds_had_must_have_run() -> None:
    """The fix round lost its verify task: not verified (before: a candidate)."""
    tasks = [
        t for t in issue_pipeline("wl", 1, rounds=1) if t["metadata"]["name"] != "wl-verify-1-r1"
    ]
    plan = _plan(workload("wl"), tasks)
    assert _outcome(plan) == ("skipped", "not-reviewed")
    assert "round 1 has no verify task, which earlier rounds had" in plan.detail


def test_reviewers_without_a_gate_are_enough_when_none_is_asked() -> None:
    """Foreman's code -> review pipeline (no spec.verifierAgentRef): the reviewers vouch."""
    plan = _plan(workload("wl"), issue_pipeline("wl", 1, verify=False))
    assert _outcome(plan) == ("candidate", "")


def test_an_explicit_pipeline_ignores_the_verifier_ref() -> None:
    """spec.verifierAgentRef is ignored in explicit pipeline mode, as Foreman ignores it."""
    steps = [
        pipeline_step("code-1", "issue-fix"),
        pipeline_step("review-1-1", "review", open_pull_request=True),
        pipeline_step("review-1-2", "review"),
    ]
    wl = workload("wl", pipeline=steps, repo=None, verifier="gate")
    plan = _plan(wl, issue_pipeline("wl", 1, verify=False))
    assert _outcome(plan) == ("candidate", "")
