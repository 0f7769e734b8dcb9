"""Draft or ready, as the reviewer Agent says (Foreman #1703, #1707): the pure choice and
the planning phase that reads Agents once per namespace."""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from sweeper.core import Candidate, Decision, Open, Policy
from sweeper.eligibility import plan_workload
from sweeper.errors import Forbidden, Unavailable
from sweeper.model import Agent, parse_workload
from sweeper.outcomes import Outcome, Reason
from sweeper.planning import DraftPolicy, Planned
from sweeper.remote import decide_remote, refresh_plan
from sweeper.runlog import configure
from sweeper.verdicts import draft_choice
from tests.fixtures.foreman import issue_pipeline, workload

POLICY = Policy(min_age=timedelta(minutes=10))


def candidate(**kwargs: Any) -> Candidate:
    [plan] = plan_workload(
        parse_workload(workload("wl")), issue_pipeline("wl", 1, **kwargs), POLICY
    )
    assert isinstance(plan, Candidate)
    return plan


@pytest.mark.parametrize(
    ("agents", "default", "expected", "note"),
    [
        pytest.param(
            {"reviewer": Agent("reviewer", True)},
            False,
            True,
            "sets openPullRequestsAsDraft",
            id="agent-true",
        ),
        pytest.param(
            {"reviewer": Agent("reviewer", False)}, True, False, "", id="agent-false-beats-default"
        ),
        pytest.param(
            {"reviewer": Agent("reviewer", None)}, False, False, "", id="unset-default-ready"
        ),
        pytest.param(
            {"reviewer": Agent("reviewer", None)},
            True,
            True,
            "does not set",
            id="unset-default-draft",
        ),
        pytest.param({}, False, False, "", id="missing-default-ready"),
        pytest.param({}, True, True, "is missing", id="missing-default-draft"),
        pytest.param(None, True, True, "could not be read", id="unreadable-default-draft"),
        pytest.param(None, False, False, "", id="unreadable-default-ready"),
    ],
)
def test_the_reviewer_agent_decides_else_the_setting(
    agents: dict[str, Agent] | None, default: bool, expected: bool, note: str
) -> None:
    """openPullRequestsAsDraft true: a draft; false: ready; unset, missing or unreadable:
    --open-as-draft decides. The note says why whenever the PR is a draft."""
    got, why = draft_choice(candidate().branch, agents, default)
    assert got is expected
    assert (note in why) if note else why == ""


@pytest.mark.parametrize(("first", "last", "expected"), [(False, True, True), (True, False, False)])
def test_the_last_review_steps_agent_is_the_one_asked(
    first: bool, last: bool, expected: bool
) -> None:
    """Reviewers 1 and 2 run different Agents: Foreman asks the last review step's."""
    tasks = issue_pipeline("wl", 1)
    for t in tasks:
        if t["spec"]["kind"] == "review":
            t["spec"]["agentRef"]["name"] = t["metadata"]["labels"]["foreman.llmkube.dev/step"]
    [plan] = plan_workload(parse_workload(workload("wl")), tasks, POLICY)
    assert isinstance(plan, Candidate)
    agents = {"review-1-1": Agent("review-1-1", first), "review-1-2": Agent("review-1-2", last)}
    assert draft_choice(plan.branch, agents, not expected)[0] is expected


def test_a_reviewer_less_branch_follows_the_setting() -> None:
    """No reviewer ran, so no reviewer Agent can say: the setting decides."""
    branch = candidate(reviewers=0).branch
    assert draft_choice(branch, {}, False) == (False, "")
    assert draft_choice(branch, {}, True) == (
        True,
        "no reviewer ran, --open-as-draft is on",
    )


def test_a_policy_draft_opens_as_a_draft_that_is_no_request_changes_draft() -> None:
    """A draft the Agent asked for passed review: it opens as a GitHub draft, and the
    decision is not a request-changes draft (the body still closes the issue)."""
    c = candidate()
    drafted = replace(c, branch=replace(c.branch, as_draft=True))
    assert drafted.branch.opens_as_draft and not drafted.branch.draft
    assert isinstance(decide_remote(drafted, drafted.branch.reviewed_sha, []), Open)


class FakeKube:
    def __init__(self, answer: Any) -> None:
        self.answer, self.calls = answer, Counter[str]()

    def agents(self, namespace: str) -> dict[str, dict[str, Any]]:
        self.calls[namespace] += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def planned(*names: str, namespace: str = "default") -> list[Planned]:
    out = []
    for name in names:
        wl = parse_workload(workload(name, namespace))
        [plan] = plan_workload(wl, issue_pipeline(name, 1, namespace=namespace), POLICY)
        out.append(Planned(wl, (plan,)))
    return out


def agent_obj(name: str, draft: bool | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"role": "reviewer", "tools": ["read"]}
    if draft is not None:
        spec["openPullRequestsAsDraft"] = draft
    return {
        "apiVersion": "foreman.llmkube.dev/v1alpha1",
        "kind": "Agent",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_agents_are_read_once_per_namespace_per_run() -> None:
    """Three Workloads in one namespace, over two windows: one Agent list."""
    kube = FakeKube({"reviewer": agent_obj("reviewer", True)})
    policy = DraftPolicy(kube, configure("json", stream=io.StringIO()), False)  # type: ignore[arg-type]
    first = policy.apply(planned("a", "b"))
    second = policy.apply(planned("c"))
    assert kube.calls == Counter({"default": 1})
    assert all(p.plans[0].branch.as_draft for p in first + second)  # type: ignore[union-attr]


def test_forbidden_agents_warn_once_and_the_setting_decides() -> None:
    """Two namespaces refuse (403): one warning for the run, and --open-as-draft decides."""
    out = io.StringIO()
    kube = FakeKube(Forbidden("list agents: 403 Forbidden", 403, "Forbidden"))
    policy = DraftPolicy(kube, configure("json", stream=out), True)  # type: ignore[arg-type]
    got = policy.apply(planned("a", namespace="ns-1") + planned("b", namespace="ns-2"))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["event"], line["reason"]) for line in lines] == [
        ("agents.unreadable", "agents-forbidden")
    ]
    assert all(p.plans[0].branch.as_draft for p in got)  # type: ignore[union-attr]


@pytest.mark.parametrize("default", [True, False])
def test_agents_unavailable_after_retries_fail_the_branch_instead_of_guessing(
    default: bool,
) -> None:
    """Agents unreadable for a transient reason: the branch fails (cluster-error), unsettled."""
    out = io.StringIO()
    kube = FakeKube(Unavailable("list agents: 503 (gave up after 3 attempts)", 503))
    policy = DraftPolicy(kube, configure("json", stream=out), default)  # type: ignore[arg-type]
    got = policy.apply(planned("a", namespace="ns-1") + planned("b", namespace="ns-2"))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["event"], line["reason"]) for line in lines] == [
        ("agents.unreadable", "agents-error")
    ]
    decisions = [p.plans[0] for p in got]
    assert all(isinstance(d, Decision) for d in decisions)
    assert {(d.outcome, d.reason) for d in decisions} == {  # type: ignore[union-attr]
        (Outcome.FAILED, Reason.CLUSTER_ERROR)
    }
    assert not any(d.settles for d in decisions)  # type: ignore[union-attr]
    branches = {d.branch for d in decisions}  # type: ignore[union-attr]
    assert branches == {"foreman/a/issue-1", "foreman/b/issue-1"}


def test_no_candidate_no_agent_read() -> None:
    """A quiet run reads no Agent: only candidates with reviewers ask."""
    kube = FakeKube({})
    policy = DraftPolicy(kube, configure("json", stream=io.StringIO()), False)  # type: ignore[arg-type]
    wl = parse_workload(workload("wl"))
    policy.apply([Planned(wl, ())])
    assert kube.calls == Counter()


def test_refresh_never_marks_a_policy_draft_ready() -> None:
    """refresh_plan leaves a draft the Agent asked for as a draft."""
    from sweeper.body import BodyInput, render_body
    from sweeper.core import Pull

    c = candidate()
    b = c.branch
    body = render_body(
        BodyInput("default", "wl", 1, "0" * 40, b.coder, b.verifiers, b.reviewers, True)
    )
    drafted = replace(c, branch=replace(b, as_draft=True))
    pull = Pull(
        4,
        "https://github.example/acme/widgets/pull/4",
        "open",
        False,
        b.reviewed_sha,
        True,
        body,
        "n",
    )
    step = refresh_plan(drafted, pull)
    assert not isinstance(step, str) and step.mark_ready is False
    ready = refresh_plan(c, pull)
    assert not isinstance(ready, str) and ready.mark_ready is True


@pytest.mark.parametrize(
    ("outcome", "said"),
    [
        pytest.param("would-open", "would open as a draft: the reviewer Agent", id="dry-run"),
        pytest.param("opened", "; opened as a draft: the reviewer Agent", id="opened"),
        pytest.param("adopted", None, id="adopted"),
    ],
)
def test_the_detail_says_draft_in_the_mood_of_the_act(outcome: str, said: str | None) -> None:
    """A dry run says it *would* open a draft; an adopted PR was not opened by policy at
    all (before: every decision of the branch said "opened as a draft")."""
    from sweeper.acts.decisions import decision as _decision
    from sweeper.outcomes import Outcome, Reason

    kube = FakeKube({"reviewer": agent_obj("reviewer", True)})
    policy = DraftPolicy(kube, configure("json", stream=io.StringIO()), False)  # type: ignore[arg-type]
    [item] = policy.apply(planned("wl"))
    [c] = item.plans
    assert isinstance(c, Candidate)
    d = _decision(c, Outcome(outcome), Reason.MISSING_PR, "no PR for this head")
    if said is None:
        assert "draft" not in d.detail and not d.as_draft
    else:
        assert said in d.detail and d.as_draft
        assert "sets openPullRequestsAsDraft" in d.detail
