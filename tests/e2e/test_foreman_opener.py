"""End to end: the PR today's Foreman would have opened (issue 22). The reviewer Agent's
openPullRequestsAsDraft, the coder's description first, advisory escalation rows, and
reviewer-less Workloads, against the stand-ins now serving Agents."""

from __future__ import annotations

import copy
import re
from collections import Counter
from typing import Any

import pytest
import requests

from tests.e2e.harness import TOKEN, World, owned_by
from tests.fixtures.foreman import agent, issue_pipeline, result, task, workload

pytestmark = pytest.mark.e2e
BRANCH = "foreman/wl/issue-1"
DRAFTS = "--draft-on-request-changes"
CLOSING = re.compile(r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s*#\d+", re.I)
MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9_-]")


def decision(run: Any, branch: str = BRANCH) -> dict[str, Any]:
    [found] = [d for d in run.decisions if d["branch"] == branch]
    return found


def agent_lists(world: World) -> Counter[str | None]:
    return Counter(c.namespace for c in world.kube.calls if c.resource == "agents")


def unreadable(run: Any) -> list[dict[str, Any]]:
    return [line for line in run.lines if line["event"] == "agents.unreadable"]


def mark_ready_by_hand(world: World, node_id: str) -> None:
    """A human presses "Ready for review" (GitHub's web UI runs this GraphQL mutation)."""
    answer = requests.post(
        f"{world.github.url}/graphql",
        json={
            "query": "mutation($id: ID!) { markPullRequestReadyForReview("
            "input: {pullRequestId: $id}) { pullRequest { isDraft } } }",
            "variables": {"id": node_id},
        },
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "a-human",
        },
        timeout=10,
    )
    assert answer.status_code == 200 and "errors" not in answer.json(), answer.text


def fix_cycle(world: World, **pipeline: Any) -> str:
    """Foreman runs a fix round on the branch: a new commit and new verdicts (round 1)."""
    sha = world.github.push("acme/widgets", BRANCH, message="Fix the widget, take two")
    obj = copy.deepcopy(world.workload("wl"))
    for t in issue_pipeline("wl", 1, commit_sha=sha, rounds=1, **pipeline):
        world.kube.seed_replace(owned_by(t, obj["metadata"]["uid"]))
    obj["status"] = workload("wl", completed_at="2026-11-02T10:00:00Z")["status"]
    obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
    world.kube.seed_replace(obj)
    return sha


# ---------------------------------------------------------------- draft or ready


def test_a_reviewer_agent_asking_for_drafts_gets_a_draft_that_still_closes_the_issue(
    world: World,
) -> None:
    """openPullRequestsAsDraft: true on the reviewer Agent: a GitHub draft whose body says
    `Fixes #1` (the review passed), and one Agent list for the namespace."""
    world.kube.seed(agent("reviewer", draft=True))
    world.simple()
    run = world.sweep()
    assert run.code == 0, run.stdout
    d = decision(run)
    assert (d["outcome"], d["draft"], d["changes_requested"]) == ("opened", True, False)
    assert (
        "opened as a draft: the reviewer Agent reviewer sets openPullRequestsAsDraft"
        in (d["detail"])
    )
    [pr] = world.pulls()
    assert pr["draft"] and CLOSING.findall(pr["body"]) == ["Fixes #1"]
    assert "Refs #1" not in pr["body"]
    assert agent_lists(world) == Counter({"default": 1}) and unreadable(run) == []


@pytest.mark.parametrize(
    "agents",
    [
        pytest.param([agent("reviewer", draft=False)], id="agent-false"),
        pytest.param([agent("reviewer")], id="agent-unset"),
        pytest.param([agent("someone-else", draft=True)], id="agent-missing"),
    ],
)
def test_a_ready_pr_where_the_agent_says_so_or_cannot_say(
    world: World, agents: list[dict[str, Any]]
) -> None:
    """false: ready; unset or no such Agent: the setting (default ready) decides. No
    warning: the Agents were read."""
    for obj in agents:
        world.kube.seed(obj)
    world.simple()
    run = world.sweep()
    assert run.code == 0
    d = decision(run)
    assert (d["outcome"], d["draft"]) == ("opened", False)
    assert "draft" not in d["detail"]
    [pr] = world.pulls()
    assert not pr["draft"] and CLOSING.findall(pr["body"]) == ["Fixes #1"]
    assert unreadable(run) == []


def test_agents_forbidden_warn_once_per_run_and_the_setting_decides(world: World) -> None:
    """The Agents list is refused in both namespaces: one warning for the run, and every PR
    opens as the setting says (ready by default), though the Agents ask for drafts."""
    for ns in ("team-a", "team-b"):
        world.kube.seed(agent("reviewer", ns, draft=True))
        world.simple(f"wl-{ns}", namespace=ns)
    world.kube.inject("GET", r"/agents$", 403, "Forbidden", times=10)
    run = world.sweep()
    assert run.code == 0, run.stdout
    [warning] = unreadable(run)
    assert (warning["level"], warning["reason"]) == ("warning", "agents-forbidden")
    assert "--open-as-draft (off)" in warning["detail"]
    assert [d["draft"] for d in run.decisions] == [False, False]
    assert [pr["draft"] for pr in world.pulls()] == [False, False]
    assert agent_lists(world) == Counter({"team-a": 1, "team-b": 1})


@pytest.mark.parametrize(
    ("agents", "forbidden", "expected"),
    [
        pytest.param([agent("reviewer")], False, True, id="unset"),
        pytest.param([], False, True, id="missing"),
        pytest.param([agent("reviewer", draft=True)], True, True, id="forbidden"),
        pytest.param([agent("reviewer", draft=False)], False, False, id="agent-false-wins"),
    ],
)
def test_open_as_draft_decides_where_the_agent_cannot(
    world: World, agents: list[dict[str, Any]], forbidden: bool, expected: bool
) -> None:
    """--open-as-draft on: a draft where the Agent's field is unset, the Agent is missing
    or unreadable; an Agent that says false still gets a ready PR."""
    for obj in agents:
        world.kube.seed(obj)
    if forbidden:
        world.kube.inject("GET", r"/agents$", 403, "Forbidden", times=10)
    world.simple()
    run = world.sweep("--open-as-draft")
    assert run.code == 0, run.stdout
    [pr] = world.pulls()
    assert (decision(run)["draft"], pr["draft"]) == (expected, expected)
    assert CLOSING.findall(pr["body"]) == ["Fixes #1"]
    assert len(unreadable(run)) == (1 if forbidden else 0)


@pytest.mark.parametrize(("draft", "said"), [(True, "would open as a draft: "), (False, None)])
def test_the_dry_run_says_whether_it_would_open_a_draft(
    world: World, draft: bool, said: str | None
) -> None:
    """The dry run's decision line says draft or ready, in the conditional (before: a dry
    run said "opened as a draft"), and nothing is written."""
    world.kube.seed(agent("reviewer", draft=draft))
    world.simple()
    run = world.sweep("--dry-run")
    d = decision(run)
    assert (d["outcome"], d["draft"]) == ("would-open", draft)
    assert "opened as a draft" not in d["detail"]
    if said:
        assert said + "the reviewer Agent reviewer sets openPullRequestsAsDraft" in d["detail"]
    else:
        assert "draft" not in d["detail"]
    assert world.github.writes == [] and world.pulls() == []


def test_a_pr_a_human_marked_ready_is_never_made_a_draft_again(world: World) -> None:
    """Opened as a draft because the Agent asks for drafts; a human marks it ready; a fix
    cycle brings a new review while the Agent still asks for drafts: the body is refreshed
    (the new coder's description first) and the PR stays ready."""
    world.kube.seed(agent("reviewer", draft=True))
    world.simple()
    assert world.sweep().code == 0
    [pr] = world.pulls()
    assert pr["draft"]
    mark_ready_by_hand(world, pr["node_id"])
    second = fix_cycle(world, coder_pr_body="Second take: bounds fixed.")
    world.github.reset_calls()
    run = world.sweep()
    assert run.code == 0, run.stdout
    d = decision(run)
    assert (d["outcome"], d["reason"], d["sha"]) == ("updated", "new-review", second)
    [after] = world.pulls()
    assert not after["draft"]
    assert after["body"].startswith("Second take: bounds fixed.") and second in after["body"]
    assert CLOSING.findall(after["body"]) == ["Fixes #1"]
    assert [(c.method, c.path) for c in world.github.writes] == [
        ("PATCH", "/repos/acme/widgets/pulls/1")
    ]


# ---------------------------------------------------------------- the body


def test_the_coders_description_leads_and_one_closing_reference_stays(world: World) -> None:
    """The coder's modelExtra.prBody leads the PR (before: the reviewer's), neutralised:
    its own "Fixes #1" and a mention are broken, the sweeper's `Fixes #1` is the one."""
    world.simple(coder_pr_body="Fixes #1: the pager's bound. Thanks @alice.")
    assert world.sweep().code == 0
    [pr] = world.pulls()
    body = pr["body"]
    assert "the pager's bound. Thanks" in body.split("\n", 1)[0]
    assert not MENTION.search(body)
    assert "Implements the fix, with tests." not in body  # the reviewer's prBody
    assert CLOSING.findall(body) == ["Fixes #1"]
    assert "| review-1-2 | GO |" in body and "after review." in body


def test_a_refresh_after_a_fix_cycle_follows_the_same_order(world: World) -> None:
    """The refreshed body leads with the final round's coder description, not the first's."""
    world.simple(coder_pr_body="First take.")
    assert world.sweep().code == 0
    fix_cycle(world, coder_pr_body="Second take.")
    run = world.sweep()
    assert decision(run)["outcome"] == "updated"
    [pr] = world.pulls()
    assert pr["body"].startswith("Second take.") and "First take." not in pr["body"]


def test_a_request_changes_draft_lists_escalation_reviewers_as_advisory(world: World) -> None:
    """--draft-on-request-changes: the draft's verdict table lists escalate-1-1 after the
    base reviewers, marked advisory; its GO clears nothing (the PR is a Refs #1 draft)."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 1, outcome="request-changes")
    escalation = task(
        "wl",
        "escalate-1-1",
        kind="review",
        verdict="GO",
        result=result("review", "GO", "Escalation reviewer approves."),
    )
    world.seed(workload("wl", phase="Failed"), [*tasks, escalation])
    run = world.sweep(DRAFTS)
    assert run.code == 0, run.stdout
    assert (decision(run)["outcome"], decision(run)["changes_requested"]) == ("opened", True)
    [pr] = world.pulls()
    rows = [line for line in pr["body"].splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in rows[2:]] == [
        "code-1",
        "verify-1",
        "review-1-1",
        "review-1-2",
        "escalate-1-1",
    ]
    assert rows[-1].startswith("| escalate-1-1 | GO (advisory) | advisory, not counted;")
    assert pr["draft"] and "Refs #1" in pr["body"] and not CLOSING.search(pr["body"])


def test_a_reviewer_less_workload_gets_a_pr_that_says_no_reviewer_ran(world: World) -> None:
    """No reviewerAgentRefs, gate passed: the sweeper opens the PR Foreman never opens, and
    its body says no reviewer ran (before: "after review"); no Agent is read for it."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 1, reviewers=0)
    world.seed(workload("wl", reviewers=0, verifier="gate"), tasks)
    run = world.sweep()
    assert run.code == 0, run.stdout
    assert decision(run)["outcome"] == "opened"
    [pr] = world.pulls()
    assert "**No reviewer ran**" in pr["body"] and "after review" not in pr["body"]
    assert CLOSING.findall(pr["body"]) == ["Fixes #1"]
    assert agent_lists(world) == Counter()


def test_a_workload_with_neither_reviewer_nor_gate_gets_no_pr(world: World) -> None:
    """Nothing but the coder vouched for the commit: skipped not-reviewed, no PR."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 1, reviewers=0, verify=False)
    world.seed(workload("wl", reviewers=0), tasks)
    run = world.sweep()
    assert run.code == 0
    assert run.outcome(BRANCH) == ("skipped", "not-reviewed")
    assert world.pulls() == []


# ---------------------------------------------------------------- what it costs


def test_agents_cost_one_list_per_namespace_and_a_quiet_rerun_costs_nothing(
    world: World,
) -> None:
    """Five Workloads over two namespaces: one Agent list per namespace. The rerun after
    it reads no Agent, no task, and makes no repository-scoped GitHub call."""
    world.kube.seed(agent("reviewer", "team-a", draft=True))
    world.kube.seed(agent("reviewer", "team-b", draft=False))
    for name in ("a1", "a2", "a3"):
        world.simple(name, namespace="team-a")
    for name in ("b1", "b2"):
        world.simple(name, namespace="team-b")
    run = world.sweep()
    assert run.code == 0 and run.summary["counts"] == {"opened": 5}
    assert agent_lists(world) == Counter({"team-a": 1, "team-b": 1})
    drafts = {d["workload"]: d["draft"] for d in run.decisions}
    assert drafts == {"a1": True, "a2": True, "a3": True, "b1": False, "b2": False}

    world.github.reset_calls()
    world.kube.reset_calls()
    quiet = world.sweep()
    assert quiet.code == 0 and quiet.decisions == []
    assert [c.path for c in world.github.calls] == ["/rate_limit"]
    assert agent_lists(world) == Counter()
    assert not [c for c in world.kube.calls if c.resource == "agentictasks"]
