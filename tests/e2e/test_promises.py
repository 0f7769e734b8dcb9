"""Histories that broke the README's promises, end to end (issues 19, 20, 21 and 23).

Each test runs the real CLI against the stand-ins and checks what a user would see: the
PRs on GitHub, the annotations and Events on the Workloads, and the log.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.harness import SETTLED, World, owned_by
from tests.fixtures.foreman import issue_pipeline, sha, workload

pytestmark = pytest.mark.e2e
BRANCH = "foreman/wl/issue-1"
SKIP = "pr-sweeper.foreman.llmkube.dev/skip"


def settled(world: World, name: str = "wl") -> bool:
    return SETTLED in (world.workload(name)["metadata"].get("annotations") or {})


def open_pulls(world: World, repo: str = "acme/widgets") -> list[dict[str, Any]]:
    return [p for p in world.pulls(repo) if p["state"] == "open"]


# ---------------------------------------------------------------- no PR for unreviewed code


def test_a_fix_round_without_its_reviewers_gets_no_pr(world: World) -> None:
    """Round r1's coder is GO and its gate PASS, but its reviewers never ran: no PR."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 1, rounds=1)
    tasks = [t for t in tasks if not t["metadata"]["name"].startswith("wl-review-1-1-r1")]
    world.seed(workload("wl"), tasks)
    run = world.sweep()
    assert run.code == 0
    assert run.outcome(BRANCH) == ("skipped", "not-reviewed")
    assert world.pulls() == []


def test_a_coder_without_commit_sha_gets_no_pr_even_after_a_close(world: World) -> None:
    """No commitSHA: nothing vouched for the head, so no PR, and a PR a human closed is
    never reopened as new-work-after-close."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 1)
    for t in tasks:
        t["status"].pop("commitSHA", None)
    world.github.add_pull("acme/widgets", f"acme:{BRANCH}", state="closed", head_sha=sha("old"))
    world.seed(workload("wl"), tasks)
    run = world.sweep()
    assert run.outcome(BRANCH) == ("skipped", "no-commit-sha")
    assert open_pulls(world) == []


def test_a_lost_create_answer_at_a_moved_head_is_withdrawn_in_the_same_run(world: World) -> None:
    """Foreman pushes during the create and its answer is lost: the re-check finds the
    sweeper's own PR at unreviewed code and closes it at once (before: failed, left open)."""
    world.simple()
    pushed: dict[str, str] = {}

    def push(method: str, path: str, _: object) -> None:
        if method == "POST" and path.endswith("/pulls") and not pushed:
            pushed["sha"] = world.github.push("acme/widgets", BRANCH, message="wip: unreviewed")

    world.github.on_request(push)
    world.github.inject("POST", r"/pulls$", action="after")  # served, the answer dropped
    run = world.sweep()
    world.github.on_request(None)
    assert run.code == 0, run.stdout
    [decision] = run.decisions
    assert (decision["outcome"], decision["reason"]) == ("skipped", "head-moved")
    assert "withdrawn" in decision["detail"] and "answer lost" in decision["detail"]
    assert open_pulls(world) == []
    assert world.records("wl") == {}


def test_the_reserve_never_holds_back_a_withdrawal(world: World) -> None:
    """A sweeper PR left open at unreviewed code (its withdrawal failed) is withdrawn by
    the next run even after the rate reserve stopped that run's other REST work."""
    world.simple("wl")
    pushed: dict[str, str] = {}

    def push(method: str, path: str, _: object) -> None:
        if method == "POST" and path.endswith("/pulls") and not pushed:
            pushed["sha"] = world.github.push("acme/widgets", BRANCH, message="wip")

    world.github.on_request(push)
    world.github.inject("PATCH", r"/pulls/[0-9]+$", status=500, times=1)
    first = world.sweep()
    world.github.on_request(None)
    assert first.code == 1 and len(open_pulls(world)) == 1  # the withdrawal failed
    # Another Workload, completed earlier, is decided first; its create would cross the
    # reserve, which stops REST work for the rest of the run.
    tasks, _ = world.add_issue("early", 1)
    world.seed(workload("early", completed_at="2026-10-01T10:00:00Z"), tasks)
    world.github.rate_limit_remaining = 4000
    again = world.sweep("--rate-reserve", "4000")
    assert again.outcome("foreman/early/issue-1") == ("deferred", "rate-reserve")
    assert again.outcome(BRANCH) == ("skipped", "head-moved")
    assert open_pulls(world) == []


# ---------------------------------------------------------------- nothing settled silently


def test_a_completed_workload_without_tasks_is_named_and_never_settled(world: World) -> None:
    """No AgenticTask answers the listing: a no-tasks line per issue, every run."""
    world.kube.seed(workload("wl", issues=[1, 2]))
    for _ in range(2):
        run = world.sweep()
        assert run.code == 0
        assert {d["branch"]: d["reason"] for d in run.decisions} == {
            BRANCH: "no-tasks",
            "foreman/wl/issue-2": "no-tasks",
        }
        assert not settled(world)


def test_a_pr_merged_at_an_older_sha_leaves_newer_reviewed_work_a_pr(world: World) -> None:
    """Merged at an older commit, the branch re-reviewed at a newer one: a new PR, as for
    a PR closed at an older SHA (one rule: the reviewed SHA decides)."""
    world.ensure_repo("acme/widgets")
    old = world.github.push("acme/widgets", BRANCH, message="first take")
    world.github.add_pull("acme/widgets", f"acme:{BRANCH}", merged=True, head_sha=old)
    tasks, new = world.add_issue("wl", 1)
    world.seed(workload("wl"), tasks)
    run = world.sweep()
    assert run.outcome(BRANCH) == ("opened", "new-work-after-merge")
    [pr] = open_pulls(world)
    assert pr["head"]["sha"] == new


# ---------------------------------------------------------------- a planted URL adopts nothing


def plant(tasks: list[dict[str, Any]], url: str, where: str) -> None:
    """Put a pullRequestURL on the first review task, at the top of extra or nested."""
    review = next(t for t in tasks if t["spec"]["kind"] == "review")
    extra = review["status"]["result"].setdefault("extra", {})
    if where == "modelExtra":
        extra.setdefault("modelExtra", {})["pullRequestURL"] = url
    else:
        extra["pullRequestURL"] = url


@pytest.mark.parametrize(
    ("where", "target"),
    [
        pytest.param("modelExtra", "real-pr", id="agent-written-modelExtra"),
        pytest.param("extra", "another-heads-pr", id="another-heads-pr"),
        pytest.param("extra", "another-repo", id="another-repository"),
    ],
)
def test_a_planted_pull_request_url_suppresses_no_pr(world: World, where: str, target: str) -> None:
    """A URL the agent wrote, or one naming a PR that is not this head's, adopts nothing:
    the PR is opened, and the planted URL reaches neither the record nor an Event."""
    world.ensure_repo("acme/widgets")
    world.ensure_repo("acme/gadgets")
    world.github.push("acme/widgets", "feature/x", message="someone else's work")
    other = world.github.add_pull("acme/widgets", "acme:feature/x")
    url = {
        "real-pr": other["html_url"],
        "another-heads-pr": other["html_url"],
        "another-repo": "https://github.example/acme/gadgets/pull/1",
    }[target]
    tasks, _ = world.add_issue("wl", 1)
    plant(tasks, url, where)
    world.seed(workload("wl"), tasks)
    run = world.sweep()
    assert run.code == 0, run.stdout
    assert run.outcome(BRANCH) == ("opened", "missing-pr")
    record = world.records("wl")[BRANCH]
    assert record["url"] != url and record["number"] != other["number"]
    assert url not in json.dumps(world.events()) and url not in run.stdout


def test_foremans_url_counts_as_github_names_the_pr(world: World) -> None:
    """Foreman's executor's URL for this head's PR is adopted, and what is recorded is
    GitHub's URL for it, not the task's text."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 1)
    pr = world.github.add_pull("acme/widgets", f"acme:{BRANCH}")
    plant(tasks, f"https://elsewhere.example/acme/widgets/pull/{pr['number']}", "extra")
    world.seed(workload("wl"), tasks)
    run = world.sweep()
    assert run.outcome(BRANCH) == ("adopted", "foreman-opened")
    assert world.records("wl")[BRANCH]["url"] == pr["html_url"]
    assert len(world.pulls()) == 1


# ---------------------------------------------------------------- only Foreman's branches


def test_a_task_steering_the_pr_to_another_branch_opens_nothing(world: World) -> None:
    """Issue-batch mode: a branch that is not `foreman/<workload>/issue-<n>` is refused."""
    world.ensure_repo("acme/widgets")
    sha_ = world.github.push("acme/widgets", "release/2.0", message="not Foreman's")
    tasks = issue_pipeline("wl", 1, commit_sha=sha_)
    for t in tasks:
        t["spec"]["payload"]["branch"] = "release/2.0"
    world.seed(workload("wl"), tasks)
    run = world.sweep()
    assert run.outcome("release/2.0") == ("skipped", "invalid-input")
    assert "not Foreman's name" in run.decisions[0]["detail"]
    assert world.pulls() == []


# ---------------------------------------------------------------- an operator's opt-out


def test_the_skip_annotation_opts_one_workload_out_until_it_is_removed(world: World) -> None:
    """`pr-sweeper.foreman.llmkube.dev/skip: "true"`: a line naming who set it, no task
    read and no GitHub call for it, not settled; removed, the next run opens its PR."""
    world.simple()
    obj = world.workload("wl")
    obj["metadata"].setdefault("annotations", {})[SKIP] = "true"
    obj["metadata"]["managedFields"] = [
        {
            "manager": "kubectl-annotate",
            "operation": "Update",
            "apiVersion": "foreman.llmkube.dev/v1alpha1",
            "time": "2026-11-30T09:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:annotations": {f"f:{SKIP}": {}}}},
        }
    ]
    world.kube.seed_replace(obj)
    world.github.reset_calls()
    world.kube.reset_calls()
    run = world.sweep()
    assert run.code == 0 and run.decisions == []
    [line] = [x for x in run.lines if x["event"] == "workload.skipped"]
    assert line["reason"] == "opted-out" and "kubectl-annotate" in line["detail"]
    assert [c.path for c in world.github.calls] == ["/rate_limit"]
    assert not [c for c in world.kube.calls if c.resource == "agentictasks"]
    assert not settled(world) and world.pulls() == []

    obj = world.workload("wl")
    del obj["metadata"]["annotations"][SKIP]
    world.kube.seed_replace(obj)
    assert world.sweep().outcome(BRANCH) == ("opened", "missing-pr")


# ---------------------------------------------------------------- Events for changes only


def test_events_only_for_what_the_sweeper_changed(world: World) -> None:
    """Opened: an Event. Adopted, closed by a human, settled: the annotation and the log
    line only."""
    world.simple("opened", issues=(1,))
    world.simple("adopted", issues=(1,))
    world.github.add_pull("acme/widgets", "acme:foreman/adopted/issue-1")
    world.simple("closed", issues=(1,))
    world.github.add_pull("acme/widgets", "acme:foreman/closed/issue-1", state="closed")
    run = world.sweep()
    assert run.code == 0
    assert {d["workload"]: d["outcome"] for d in run.decisions} == {
        "opened": "opened",
        "adopted": "adopted",
        "closed": "skipped",
    }
    assert [(e["involvedObject"]["name"], e["reason"]) for e in world.events()] == [
        ("opened", "PullRequestOpened")
    ]


def test_a_withdrawal_is_a_warning_event(world: World) -> None:
    """The sweeper closed its own PR at unreviewed code: that is worth a Warning Event."""
    world.simple()

    def push(method: str, path: str, _: object) -> None:
        if method == "POST" and path.endswith("/pulls"):
            world.github.on_request(None)
            world.github.push("acme/widgets", BRANCH, message="wip")

    world.github.on_request(push)
    run = world.sweep()
    assert run.outcome(BRANCH) == ("skipped", "head-moved")
    [event] = world.events()
    assert (event["reason"], event["type"]) == ("PullRequestWithdrawn", "Warning")


def test_a_record_that_keeps_failing_is_a_warning_event(world: World) -> None:
    """Every attempt at the annotation fails: a RecordFailed Warning Event says so."""
    world.simple()
    world.kube.inject("PATCH", r"/workloads/wl$", 409, "Conflict", times=20)
    run = world.sweep()
    assert run.code == 1
    # The PR was opened but never recorded: only the failure is an Event (the next run
    # adopts the PR by head, recording it then).
    assert [(e["reason"], e["type"]) for e in world.events()] == [("RecordFailed", "Warning")]


def test_a_first_run_over_history_writes_one_patch_per_workload_and_no_event(
    world: World,
) -> None:
    """Adopting history costs one annotation patch per Workload, no Event."""
    for i in range(5):
        world.simple(f"old-{i}", issues=(1,))
        world.github.add_pull("acme/widgets", f"acme:foreman/old-{i}/issue-1", merged=True)
    world.kube.reset_calls()
    run = world.sweep()
    assert run.code == 0
    writes = [c for c in world.kube.calls if c.verb in ("create", "update", "patch")]
    assert sorted({(c.resource, c.verb) for c in writes}) == [
        ("leases", "create"),
        ("leases", "update"),
        ("workloads", "patch"),
    ]
    assert len([c for c in writes if c.resource == "workloads"]) == 5
    assert world.events() == []


def test_owned_by_is_used(world: World) -> None:
    """The harness' ownership helper keeps Foreman's controller reference (sanity)."""
    [t] = issue_pipeline("wl", 1, reviewers=0, verify=False)
    assert owned_by(t, "u")["metadata"]["ownerReferences"][0]["uid"] == "u"
