"""A good guest on a shared token: the rate reserve, the head check at creation, progress.

The sweeper shares its token's quota with Foreman's agents, the branch it opens a PR for
with Foreman's coders, and a long backfill's log with whoever watches it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import World, owned_by
from tests.fixtures.foreman import issue_pipeline

pytestmark = pytest.mark.e2e
BRANCH = "foreman/wl/issue-1"


def open_pulls(world: World, repo: str = "acme/widgets") -> list[dict[str, Any]]:
    return [p for p in world.pulls(repo) if p["state"] == "open"]


# ---------------------------------------------------------------- the rate reserve


def test_the_rest_reserve_is_never_crossed_and_zero_turns_it_off(world: World) -> None:
    """At 1,006 of 5,000 with the default 20 %, six creates, then rate-reserve; 0 drains it."""
    world.simple(issues=tuple(range(1, 11)))
    world.github.rate_limit_remaining = 1006
    run = world.sweep()
    assert run.code == 0, run.stdout
    assert run.summary["counts"] == {"deferred": 4, "opened": 6}
    assert world.github.rate_limit_remaining == 1000
    deferred = [d for d in run.decisions if d["outcome"] == "deferred"]
    assert {d["reason"] for d in deferred} == {"rate-reserve"}
    detail = deferred[0]["detail"]
    assert "core bucket" in detail and "1000 of 5000 left" in detail and "resets at" in detail
    core = run.summary["github_rate"]["core"]
    assert (core["used"], core["remaining"], core["limit"]) == (6, 1000, 5000)
    assert run.summary["github_rate"]["graphql"]["used"] == 1

    drained = world.sweep("--rate-reserve", "0")
    assert drained.summary["counts"] == {"opened": 4, "skipped": 6}  # 6 already recorded
    assert world.github.rate_limit_remaining == 996
    assert len(open_pulls(world)) == 10


def test_a_refilled_bucket_is_spent_again(world: World) -> None:
    """A bucket whose reset time has passed counts as full: the reserve no longer holds."""
    world.simple(issues=(1, 2))
    world.github.rate_limit_remaining = 1000
    assert world.sweep().summary["counts"] == {"deferred": 2}
    world.github.rate_limit_reset = 1  # the hour is over: GitHub refills the bucket
    assert world.sweep().summary["counts"] == {"opened": 2}


def test_the_graphql_reserve_defers_the_batches_it_cannot_afford(world: World) -> None:
    """At 1,001 points: one query of 100 branches, the rest deferred; progress all along."""
    for n in range(101):
        world.simple(f"wl{n:03d}")
    world.github.graphql.remaining = 1001
    run = world.sweep("--dry-run", "--max-create", "500")
    assert run.code == 0, run.stdout
    assert run.summary["counts"] == {"deferred": 1, "would-open": 100}
    [deferred] = [d for d in run.decisions if d["outcome"] == "deferred"]
    assert deferred["reason"] == "rate-reserve" and "graphql bucket" in deferred["detail"]
    assert world.github.graphql.remaining == 1000
    assert run.summary["github_rate"]["graphql"]["remaining"] == 1000
    progress = [line for line in run.lines if line["event"] == "sweep.progress"]
    assert len(progress) >= 3  # after each of the two batches, and after the window
    assert progress[-1]["counts"] == {"deferred": 1, "would-open": 100}
    assert [p["candidates_learned"] for p in progress if p["phase"] == "learn"] == [100, 101]
    assert all(p["workloads_listed"] == 101 for p in progress)

    drained = world.sweep("--dry-run", "--max-create", "500", "--rate-reserve", "0")
    assert drained.summary["counts"] == {"would-open": 101}
    assert world.github.graphql.remaining == 998


def test_a_bad_reserve_is_a_configuration_error(world: World) -> None:
    """--rate-reserve must be a share or a count."""
    for value in ("lots", "120%", "-5", "1.5"):
        run = world.sweep("--rate-reserve", value)
        assert run.code == 2 and run.lines[-1]["event"] == "sweep.config_error", value


def test_the_reserve_comes_from_the_environment_too(world: World) -> None:
    """SWEEPER_RATE_RESERVE=1005 leaves 1005 calls."""
    world.simple(issues=(1, 2, 3))
    world.github.rate_limit_remaining = 1007
    run = world.sweep(SWEEPER_RATE_RESERVE="1005")
    assert run.summary["counts"] == {"deferred": 1, "opened": 2}
    assert world.github.rate_limit_remaining == 1005


# ---------------------------------------------------------------- the head check


def push_during_the_create(world: World, branch: str = BRANCH) -> dict[str, str]:
    """Foreman pushes to the branch just as the sweeper's create arrives."""
    pushed: dict[str, str] = {}

    def hook(method: str, path: str, body: object) -> None:
        if method == "POST" and path.endswith("/pulls") and not pushed:
            pushed["sha"] = world.github.push("acme/widgets", branch, message="wip: more")

    world.github.on_request(hook)
    return pushed


def rereview(world: World, new_sha: str, wl: str = "wl") -> None:
    """Foreman reviews the new head: a fix round (-r1) at that commit, and a new status."""
    obj = world.workload(wl)
    for t in issue_pipeline(wl, 1, rounds=1, commit_sha=new_sha):
        world.kube.seed_replace(owned_by(t, obj["metadata"]["uid"]))
    obj["status"]["succeededTasks"] = obj["status"].get("succeededTasks", 0) + 4
    world.kube.seed_replace(obj)


def test_a_branch_moved_during_the_create_leaves_no_open_pr_at_unreviewed_code(
    world: World,
) -> None:
    """The create's answer is the truth: at another head, the PR is withdrawn at once."""
    world.simple()
    pushed = push_during_the_create(world)
    run = world.sweep()
    world.github.on_request(None)
    assert run.code == 0, run.stdout
    [decision] = run.decisions
    assert (decision["outcome"], decision["reason"]) == ("skipped", "head-moved")
    assert decision["pr_url"] and "withdrawn" in decision["detail"]
    [pr] = world.pulls()
    assert pr["state"] == "closed" and pr["head"]["sha"] == pushed["sha"]
    assert pr["body"].startswith("> **Withdrawn by foreman-pr-sweeper.**")
    assert '"withdrawn": true' in pr["body"]
    assert len(pr["comments"]) == 1 and pushed["sha"] in pr["comments"][0]
    assert world.records("wl") == {}

    quiet = world.sweep()  # nothing changed on the Workload: settled, no GitHub look
    assert quiet.decisions == [] and quiet.summary["workloads"] == {"settled": 1}

    rereview(world, pushed["sha"])
    after = world.sweep()
    assert after.code == 0, after.stdout
    assert after.outcome(BRANCH) == ("opened", "new-work-after-close")
    assert "withdrawn by the sweeper" in after.decisions[0]["detail"]
    [reopened] = open_pulls(world)
    assert reopened["head"]["sha"] == pushed["sha"]
    record = world.records("wl")[BRANCH]
    assert (record["number"], record["sha"]) == (reopened["number"], pushed["sha"])
    assert all(d["reason"] != "closed-by-human" for d in after.decisions)


def test_a_withdrawal_that_fails_is_a_failure_and_the_next_run_withdraws(world: World) -> None:
    """If closing fails, exit 1 says so; the next run finds its own PR and closes it."""
    world.simple()
    push_during_the_create(world)
    world.github.inject("PATCH", r"/pulls/1$", status=500, times=1)
    run = world.sweep()
    world.github.on_request(None)
    assert run.code == 1
    assert run.outcome(BRANCH)[0] == "failed"
    assert "withdrawing it failed" in run.decisions[0]["detail"]
    assert len(open_pulls(world)) == 1
    again = world.sweep()
    assert again.outcome(BRANCH) == ("skipped", "head-moved")
    assert open_pulls(world) == []


def test_a_create_at_the_reviewed_head_is_opened_as_always(world: World) -> None:
    """No push in between: opened, one PR, no close, no comment."""
    world.simple()
    run = world.sweep()
    assert run.outcome(BRANCH) == ("opened", "missing-pr")
    [pr] = world.pulls()
    assert pr["state"] == "open" and pr["comments"] == []
