"""End to end: draft PRs for request-changes, refresh on re-run, review requests and labels."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import requests

from tests.e2e.harness import SETTLED, TOKEN, World, owned_by
from tests.fixtures.foreman import issue_pipeline, workload

pytestmark = pytest.mark.e2e
BRANCH = "foreman/wl/issue-1"
DRAFTS = "--draft-on-request-changes"
UNRESOLVED = {
    "message": "Could not resolve to a node with the global id of 'PR_kwDOAB'.",
    "documentation_url": "https://docs.github.com/rest",
}


def seed_issue(world: World, outcome: str, phase: str, **kwargs: Any) -> str:
    """One issue's Workload in `phase`, its final round shaped by `outcome`; the pushed SHA."""
    world.ensure_repo("acme/widgets", **kwargs)
    tasks, sha = world.add_issue("wl", 1, outcome=outcome)
    world.seed(workload("wl", phase=phase), tasks)
    return sha


def rerun(world: World, outcome: str, phase: str) -> str:
    """Foreman runs the Workload again: a new commit force-pushed, new verdicts, new status."""
    sha = world.github.push("acme/widgets", BRANCH, message="Fix the widget, take two")
    obj = copy.deepcopy(world.workload("wl"))
    for t in issue_pipeline("wl", 1, commit_sha=sha, outcome=outcome):
        world.kube.seed_replace(owned_by(t, obj["metadata"]["uid"]))
    obj["status"] = workload("wl", phase=phase, completed_at="2026-11-02T10:00:00Z")["status"]
    obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
    world.kube.seed_replace(obj)
    return sha


def decision(run: Any, branch: str = BRANCH) -> dict[str, Any]:
    [found] = [d for d in run.decisions if d["branch"] == branch]
    return found


def edit_body(world: World, number: int, body: str) -> None:
    """A human edits the PR description through the API, as the web editor would."""
    answer = requests.patch(
        f"{world.github.url}/repos/acme/widgets/pulls/{number}",
        json={"body": body},
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "a-human",
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


# ---------------------------------------------------------------- drafts


def test_request_changes_yields_a_draft_a_human_can_act_on(world: World) -> None:
    """Gate passed, a reviewer said NO-GO: one draft PR with the findings, the issue not closed."""
    sha = seed_issue(world, "request-changes", "Failed")
    run = world.sweep(DRAFTS)
    assert run.code == 0, run.stdout
    d = decision(run)
    assert (d["outcome"], d["reason"], d["draft"], d["sha"]) == ("opened", "missing-pr", True, sha)
    [pr] = world.pulls()
    assert pr["draft"] and pr["state"] == "open"
    body = pr["body"]
    assert "Refs #1" in body and "Fixes #1" not in body
    assert "### Review requested changes" in body and "#### review-1-1 (NO-GO)" in body
    assert "`pager.go:42`: Off-by-one in the loop bound." in body
    assert "Suggestion: Use < instead of <=" in body
    record = world.records("wl")[BRANCH]
    assert (record["draft"], record["sha"], record["number"]) == (True, sha, pr["number"])
    assert world.workload("wl")["metadata"]["annotations"].get(SETTLED)

    world.github.reset_calls()
    again = world.sweep(DRAFTS)
    assert again.decisions == [] and [c.path for c in world.github.calls] == ["/rate_limit"]


def test_without_the_flag_a_failed_workload_is_not_read(world: World) -> None:
    seed_issue(world, "request-changes", "Failed")
    run = world.sweep()
    assert run.code == 0 and run.decisions == []
    assert run.summary["workloads"] == {"not-completed": 1}
    assert world.pulls() == []


def test_drafts_unsupported_skips_and_never_opens_a_ready_pr(world: World) -> None:
    """GitHub refuses drafts on the repository's plan: skip, settle, never a ready PR instead."""
    seed_issue(world, "request-changes", "Failed", drafts_supported=False)
    run = world.sweep(DRAFTS)
    assert run.code == 0
    d = decision(run)
    assert (d["outcome"], d["reason"]) == ("skipped", "draft-unsupported")
    assert "Draft pull requests are not supported" in d["detail"]
    assert world.pulls() == []
    assert len(world.github.writes) == 1
    assert world.workload("wl")["metadata"]["annotations"].get(SETTLED)


def test_dry_run_would_open_a_draft_and_writes_nothing(world: World) -> None:
    seed_issue(world, "request-changes", "Failed")
    run = world.sweep(DRAFTS, "--dry-run")
    d = decision(run)
    assert (d["outcome"], d["draft"]) == ("would-open", True)
    assert world.github.writes == [] and world.pulls() == []


# ---------------------------------------------------------------- refresh on re-run


def test_rerun_that_passes_review_refreshes_the_draft_and_marks_it_ready(world: World) -> None:
    """Same PR, new SHA in the body, ready for review: no duplicate."""
    first = seed_issue(world, "request-changes", "Failed")
    assert world.sweep(DRAFTS).code == 0
    second = rerun(world, "go", "Completed")
    run = world.sweep(DRAFTS)
    assert run.code == 0, run.stdout
    d = decision(run)
    assert (d["outcome"], d["reason"], d["draft"], d["sha"]) == (
        "updated",
        "new-review",
        False,
        second,
    )
    assert f"body refreshed from {first[:12]} (changes requested) to {second[:12]}" in d["detail"]
    assert "marked ready for review" in d["detail"]
    [pr] = world.pulls()
    assert not pr["draft"] and pr["head"]["sha"] == second
    assert "Fixes #1" in pr["body"] and "Refs #1" not in pr["body"] and second in pr["body"]
    assert "Review requested changes" not in pr["body"]
    record = world.records("wl")[BRANCH]
    assert (record["outcome"], record["sha"], record.get("draft")) == ("updated", second, None)
    assert sorted(e["reason"] for e in world.events()) == [
        "PullRequestOpened",
        "PullRequestUpdated",
    ]
    graphql = [c for c in world.github.writes if c.path == "/graphql"]
    assert len(graphql) == 1

    world.github.reset_calls()
    quiet = world.sweep(DRAFTS)
    assert quiet.decisions == [] and [c.path for c in world.github.calls] == ["/rate_limit"]


def test_rerun_after_force_push_refreshes_a_ready_pr(world: World) -> None:
    """Without any draft: a re-reviewed force-push updates the body the sweeper wrote."""
    world.simple()
    assert world.sweep().code == 0
    second = rerun(world, "go", "Completed")
    world.github.reset_calls()
    run = world.sweep()
    assert (decision(run)["outcome"], decision(run)["reason"]) == ("updated", "new-review")
    [pr] = world.pulls()
    assert second in pr["body"] and pr["body"].count("Fixes #1") == 1
    assert [c.path for c in world.github.writes] == ["/repos/acme/widgets/pulls/1"]
    assert world.github.writes[0].method == "PATCH"


def test_a_human_edited_body_is_never_overwritten(world: World) -> None:
    """The marker's digest shows the edit: the body stays, the PR is adopted at the new SHA."""
    world.simple()
    assert world.sweep().code == 0
    [pr] = world.pulls()
    edited = pr["body"].replace("Fixes #1", "Fixes #1\n\nI tested this by hand. -- a human")
    edit_body(world, pr["number"], edited)
    second = rerun(world, "go", "Completed")
    world.github.reset_calls()
    run = world.sweep()
    d = decision(run)
    assert (d["outcome"], d["reason"]) == ("adopted", "open-pr-exists")
    assert "edited since the sweeper wrote it" in d["detail"]
    assert world.pulls()[0]["body"] == edited
    assert world.github.writes == []
    assert world.records("wl")[BRANCH]["sha"] == second


def test_edited_draft_is_still_marked_ready_but_its_body_kept(world: World) -> None:
    seed_issue(world, "request-changes", "Failed")
    assert world.sweep(DRAFTS).code == 0
    [pr] = world.pulls()
    edit_body(world, pr["number"], pr["body"] + "\n\nWorking on the off-by-one. -- a human")
    rerun(world, "go", "Completed")
    run = world.sweep(DRAFTS)
    d = decision(run)
    assert (d["outcome"], d["reason"]) == ("updated", "new-review")
    [after] = world.pulls()
    assert not after["draft"] and after["body"].endswith("-- a human")


def test_rerun_that_still_requests_changes_refreshes_the_draft(world: World) -> None:
    seed_issue(world, "request-changes", "Failed")
    assert world.sweep(DRAFTS).code == 0
    second = rerun(world, "request-changes", "Failed")
    run = world.sweep(DRAFTS)
    d = decision(run)
    assert (d["outcome"], d["draft"]) == ("updated", True)
    [pr] = world.pulls()
    assert pr["draft"] and second in pr["body"] and "Refs #1" in pr["body"]
    assert not [c for c in world.github.writes if c.path == "/graphql"]


def test_dry_run_would_update_and_writes_nothing(world: World) -> None:
    seed_issue(world, "request-changes", "Failed")
    assert world.sweep(DRAFTS).code == 0
    rerun(world, "go", "Completed")
    world.github.reset_calls()
    run = world.sweep(DRAFTS, "--dry-run")
    assert decision(run)["outcome"] == "would-update"
    assert world.github.writes == [] and world.pulls()[0]["draft"]


def test_failed_ready_mutation_fails_the_item_and_the_next_run_finishes(world: World) -> None:
    """GraphQL fails: exit 1, nothing recorded at the new SHA; the next run does it all."""
    seed_issue(world, "request-changes", "Failed")
    assert world.sweep(DRAFTS).code == 0
    second = rerun(world, "go", "Completed")
    world.github.inject("POST", r"^/graphql$", status=502, body={"message": "Bad Gateway"})
    run = world.sweep(DRAFTS)
    assert run.code == 1
    assert (decision(run)["outcome"], decision(run)["reason"]) == ("failed", "github-error")
    assert world.records("wl")[BRANCH]["sha"] != second
    again = world.sweep(DRAFTS)
    assert again.code == 0 and decision(again)["outcome"] == "updated"
    [pr] = world.pulls()
    assert not pr["draft"] and second in pr["body"]


# ---------------------------------------------------------------- notify


def test_reviewers_teams_and_labels_are_applied_to_opened_prs(world: World) -> None:
    world.simple()
    run = world.sweep(
        "--reviewer",
        "alice",
        "--team-reviewer",
        "acme/core",
        "--team-reviewer",
        "elsewhere/core",
        "--label",
        "foreman",
        "--label",
        "needs review",
    )
    assert run.code == 0
    [pr] = world.pulls()
    assert pr["requested_reviewers"] == ["alice"]
    assert pr["requested_teams"] == ["core"]
    assert pr["labels"] == ["foreman", "needs review"]
    d = decision(run)
    assert d["outcome"] == "opened"
    assert d["warnings"] == ["team elsewhere/core is not in acme: not requested"]
    assert d["level"] == "warning"


def test_notify_from_the_environment(world: World) -> None:
    world.simple()
    run = world.sweep(SWEEPER_REVIEWERS="alice,bob", SWEEPER_LABELS="foreman")
    assert run.code == 0 and decision(run)["warnings"] == []
    [pr] = world.pulls()
    assert (pr["requested_reviewers"], pr["labels"]) == (["alice", "bob"], ["foreman"])


def test_unresolved_node_right_after_create_is_retried_once(world: World) -> None:
    world.simple()
    world.github.inject("POST", r"/requested_reviewers$", status=422, body=UNRESOLVED)
    run = world.sweep("--reviewer", "alice")
    assert run.code == 0 and decision(run)["warnings"] == []
    assert world.pulls()[0]["requested_reviewers"] == ["alice"]
    assert world.github.count("POST", r"/requested_reviewers$") == 2


@pytest.mark.parametrize(
    ("args", "fault", "warning"),
    [
        pytest.param(
            ("--reviewer", "alice"),
            ("POST", r"/requested_reviewers$", 422, UNRESOLVED, 2),
            "review request failed",
            id="unresolved-twice",
        ),
        pytest.param(
            ("--reviewer", "foreman-bot"), None, "Review cannot be requested", id="pr-author"
        ),
        pytest.param(
            ("--label", "x"),
            ("POST", r"/labels$", 403, {"message": "Resource not accessible by integration"}, 1),
            "labels failed",
            id="labels-forbidden",
        ),
    ],
)
def test_notify_failures_are_warnings_never_a_failed_pr(
    world: World, args: tuple[str, ...], fault: tuple | None, warning: str
) -> None:
    """The PR stands, is recorded and the run exits 0; the decision line carries the warning."""
    world.simple()
    if fault:
        method, path, status, body, times = fault
        world.github.inject(method, path, status=status, body=body, times=times)
    run = world.sweep(*args)
    assert run.code == 0, run.stdout
    d = decision(run)
    assert d["outcome"] == "opened" and d["level"] == "warning"
    assert any(warning in w for w in d["warnings"]), d["warnings"]
    assert world.records("wl")[BRANCH]["number"] == 1
    assert run.summary["counts"] == {"opened": 1}


def test_adopted_and_updated_prs_are_not_notified_again(world: World) -> None:
    world.simple()
    assert world.sweep("--reviewer", "alice").code == 0
    rerun(world, "go", "Completed")
    world.github.reset_calls()
    run = world.sweep("--reviewer", "alice", "--label", "x")
    assert decision(run)["outcome"] == "updated"
    assert world.github.count("POST", r"/(requested_reviewers|labels)$") == 0


def test_bad_notify_flags_are_a_config_error(world: World) -> None:
    for args in (("--reviewer", "not a login"), ("--team-reviewer", "nope"), ("--label", "")):
        run = world.sweep(*args)
        assert run.code == 2, args
        assert run.lines[-1]["event"] == "sweep.config_error"
    assert world.github.calls == []


def test_report_lines_stay_json_with_the_new_fields(world: World) -> None:
    seed_issue(world, "request-changes", "Failed")
    run = world.sweep(DRAFTS)
    for line in run.stdout.splitlines():
        json.loads(line)
    assert {"draft", "warnings"} <= set(decision(run))
    started = run.lines[0]
    assert started["settings"]["draft_on_request_changes"] is True


def test_secondary_limit_on_a_review_request_stops_github_work_for_the_run(world: World) -> None:
    """The PR stands with a warning; nothing more is sent to GitHub; the rest is deferred."""
    world.simple(issues=(1, 2))
    world.github.on_pull_created(lambda pr: world.github.secondary_limit(2, retry_after=1))
    run = world.sweep("--reviewer", "alice", "--label", "foreman")
    world.github.on_pull_created(None)
    assert run.code == 0, run.stdout
    first, second = sorted(run.decisions, key=lambda d: d["branch"])
    assert first["outcome"] == "opened"
    assert "secondary rate limit" in first["warnings"][0]
    assert first["warnings"][1].startswith("labels not sent: GitHub work stopped")
    assert (second["outcome"], second["reason"]) == ("deferred", "rate-limited")
    assert len(world.pulls()) == 1
    again = world.sweep("--reviewer", "alice")
    assert decision(again, "foreman/wl/issue-2")["outcome"] == "opened"
    assert world.pulls()[1]["requested_reviewers"] == ["alice"]


def test_enterprise_marks_ready_through_api_graphql(world: World) -> None:
    """On GitHub Enterprise Server GraphQL lives at /api/graphql, beside /api/v3."""
    from tests.standins.github import GitHubStandIn

    with GitHubStandIn(token=TOKEN, validate=True, prefix="/api/v3") as ghe:
        world.github = ghe
        world._repos = set()
        seed_issue(world, "request-changes", "Failed")
        assert world.sweep(DRAFTS).code == 0
        rerun(world, "go", "Completed")
        run = world.sweep(DRAFTS)
        assert decision(run)["outcome"] == "updated", run.stdout
        [pr] = ghe.pulls("acme/widgets")
        assert not pr["draft"]
        assert ghe.violations == []
