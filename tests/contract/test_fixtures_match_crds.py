"""Every fixture the tests, the demo and the benchmark build is a valid Foreman object."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.contract.crds import assert_valid, validate
from tests.fixtures.foreman import (
    ANNOTATION,
    agent,
    issue_pipeline,
    pipeline_step,
    result,
    task,
    workload,
)

OUTCOMES = ["go", "already-resolved", "gate-failed", "request-changes", "coder-failed"]


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("rounds", [0, 1, 3])
@pytest.mark.parametrize("escalation", [False, True])
def test_issue_pipelines_are_valid(outcome: str, rounds: int, escalation: bool) -> None:
    """Every shape of issue pipeline validates against the AgenticTask CRD."""
    for t in issue_pipeline(
        "wl",
        4,
        rounds=rounds,
        escalation=escalation,
        outcome=outcome,
        pull_request_url="https://github.com/a/b/pull/1",
        pull_request_error="x",
        base_branch="develop",
        open_pull_request=True,
        coder_pr_body="Coder's description.",
    ):
        assert_valid(t)


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param(workload("wl"), id="batch"),
        pytest.param(workload("wl", phase="Failed"), id="failed"),
        pytest.param(workload("wl", phase="Dispatched"), id="dispatched"),
        pytest.param(
            workload(
                "wl",
                open_pull_request=False,
                annotations={ANNOTATION: "{}"},
                labels={"team": "a"},
                task_names=["wl-code-1"],
            ),
            id="annotated",
        ),
        pytest.param(
            workload(
                "wl",
                issues=None,
                pipeline=[
                    pipeline_step("fix", "issue-fix"),
                    pipeline_step("rev", "review", open_pull_request=True),
                ],
            ),
            id="pipeline",
        ),
        pytest.param(workload("wl", reviewers=0, verifier="gate"), id="reviewer-less"),
        pytest.param(
            task(
                "wl",
                "x",
                kind="review",
                result=result(
                    "review",
                    "GO",
                    findings=[{"severity": "minor", "area": "docs", "message": "m"}],
                    model_extra={"prBody": "b"},
                ),
            ),
            id="review-task",
        ),
    ],
)
def test_workloads_and_tasks_are_valid(obj: dict[str, Any]) -> None:
    """Workload and task builders produce CRD-valid objects."""
    assert_valid(obj)


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param(agent("reviewer"), id="unset"),
        pytest.param(agent("reviewer", draft=True), id="draft"),
        pytest.param(agent("reviewer", draft=False), id="ready"),
        pytest.param(agent("coder", "team-a", role="coder"), id="coder"),
    ],
)
def test_agents_are_valid(obj: dict[str, Any]) -> None:
    """The Agent builder produces objects the vendored Agent CRD (with the later
    openPullRequestsAsDraft field) accepts."""
    assert_valid(obj)


def _broken(mutate: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    obj = copy.deepcopy(base or issue_pipeline("wl", 1)[0])
    mutate(obj)
    return obj


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param(_broken(lambda o: o["status"].__setitem__("phase", "Done")), id="bad-phase"),
        pytest.param(
            _broken(lambda o: o["status"].__setitem__("verdict", "MAYBE")), id="bad-verdict"
        ),
        pytest.param(
            _broken(lambda o: o["spec"]["payload"].__setitem__("issue", "1")), id="issue-str"
        ),
        pytest.param(_broken(lambda o: o["spec"].__setitem__("colour", "red")), id="unknown-field"),
        pytest.param(
            _broken(lambda o: o["metadata"]["labels"].__setitem__("a", "b c")), id="label"
        ),
        pytest.param(_broken(lambda o: o["status"].__setitem__("result", "GO")), id="result-str"),
        pytest.param(_broken(lambda o: o["spec"].pop("intent"), workload("wl")), id="no-intent"),
        pytest.param(_broken(lambda o: o["metadata"].__setitem__("name", "Bad_Name")), id="name"),
        pytest.param(
            _broken(lambda o: o["spec"].__setitem__("openPullRequestsAsDraft", "yes"), agent("r")),
            id="agent-draft-str",
        ),
        pytest.param(_broken(lambda o: o["spec"].pop("tools"), agent("r")), id="agent-no-tools"),
        pytest.param(
            _broken(lambda o: o["spec"].__setitem__("role", "boss"), agent("r")), id="agent-role"
        ),
    ],
)
def test_the_validator_rejects_what_a_server_would(obj: dict[str, Any]) -> None:
    """The validator is not a rubber stamp."""
    assert validate(obj)


def test_stand_in_seeds_are_valid_after_server_metadata() -> None:
    """Objects as the Kubernetes stand-in stores them still validate."""
    from tests.standins.kube import KubeStandIn

    kube = KubeStandIn()
    for t in issue_pipeline("wl", 1):
        assert_valid(kube.seed(t))
    assert_valid(kube.seed(workload("wl")))
    assert_valid(kube.seed(agent("reviewer", draft=False)))
