"""End to end: only what the Workload owns and asked for counts; titles keep the coder's words;
a record written by hand with the real kubectl is read."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.harness import World, readme_block
from tests.fixtures.foreman import issue_pipeline, pipeline_step, workload
from tests.real.tools import kubectl_or_skip

pytestmark = pytest.mark.e2e
BRANCH = "foreman/wl/issue-1"


def test_a_forged_no_go_from_another_owner_is_left_out(world: World) -> None:
    """A NO-GO review with the label but another owner: the PR opens, the line says why."""
    world.simple()
    forged = next(
        t
        for t in issue_pipeline("wl", 1, outcome="request-changes")
        if t["status"].get("verdict") == "NO-GO"
    )
    forged["metadata"]["name"] = "wl-review-1-9"
    forged["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    world.kube.seed(forged)
    run = world.sweep()
    assert run.outcome(BRANCH) == ("opened", "missing-pr")
    detail = run.decisions[0]["detail"]
    assert "1 labelled tasks left out: 1 owned by another Workload (uid someone-else)" in detail


def test_tasks_without_owner_open_nothing(world: World) -> None:
    """Tasks carrying the label but no ownerReference are not Foreman's: invalid-input."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 1)
    for t in tasks:
        del t["metadata"]["ownerReferences"]
    world.kube.seed(workload("wl"))
    for t in tasks:
        world.kube.seed(t)
    run = world.sweep()
    [d] = run.decisions
    assert (d["outcome"], d["reason"]) == ("skipped", "invalid-input")
    assert "no controller ownerReference" in d["detail"]
    assert world.pulls() == []


def test_a_task_for_another_repository_opens_nothing(world: World) -> None:
    """spec.repo is acme/widgets; tasks aimed at acme/other get no PR with our token."""
    world.ensure_repo("acme/widgets")
    world.ensure_repo("acme/other")
    tasks, _ = world.add_issue("wl", 1, repo="acme/other")
    world.seed(workload("wl", repo="acme/widgets"), tasks)
    run = world.sweep()
    d = run.decisions[0]
    assert (d["outcome"], d["reason"]) == ("skipped", "invalid-input")
    assert "spec.repo is acme/widgets" in d["detail"]
    assert world.pulls("acme/other") == [] and world.pulls() == []


def test_an_issue_outside_spec_issues_opens_nothing(world: World) -> None:
    """A branch for issue 9 in a Workload that asked for issue 1: no `Fixes #9` PR."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 9)
    world.seed(workload("wl", issues=[1]), tasks)
    run = world.sweep()
    assert run.outcome("foreman/wl/issue-9") == ("skipped", "invalid-input")
    assert "issue 9 is not in spec.issues" in run.decisions[0]["detail"]
    assert world.pulls() == []


def test_a_pipeline_branch_that_is_no_step_opens_nothing(world: World) -> None:
    """Explicit pipeline: its own branch opens, a stray branch is invalid-input."""
    world.ensure_repo("acme/widgets")
    own, _ = world.add_issue("wl", 1, open_pull_request=True)
    stray, _ = world.add_issue("wl", 2, open_pull_request=True)
    steps = [
        pipeline_step("code-1", "issue-fix"),
        pipeline_step("review-1-1", "review", open_pull_request=True),
    ]
    world.seed(workload("wl", pipeline=steps, repo=None), own + stray)
    run = world.sweep()
    assert run.outcome(BRANCH) == ("opened", "missing-pr")
    assert run.outcome("foreman/wl/issue-2") == ("skipped", "invalid-input")
    assert [p["head"]["ref"] for p in world.pulls()] == [BRANCH]


def test_titles_keep_the_own_keyword_and_break_the_others(world: World) -> None:
    """The coder's subject as written: its own issue's keyword stays, another's is broken."""
    world.ensure_repo("acme/widgets")
    own, _ = world.add_issue("wl", 28, message="fix: resolve #28 with the escalation coder")
    other, _ = world.add_issue("wl", 29, message="Fixes #12 while here, thanks @alice")
    world.seed(workload("wl", issues=[28, 29]), own + other)
    assert world.sweep().code == 0
    titles = {p["head"]["ref"]: p["title"] for p in world.pulls()}
    assert titles["foreman/wl/issue-28"] == "fix: resolve #28 with the escalation coder"
    assert titles["foreman/wl/issue-29"] == "F\u200bixes #12 while here, thanks @\u200balice"


def test_a_record_written_by_hand_with_kubectl_is_read(world: World) -> None:
    """The README's `kubectl annotate`, run verbatim: the branch is already-recorded."""
    kubectl_or_skip()
    command = readme_block("mark-by-hand")
    sha = re.search(r'"sha": "([0-9a-f]{40})"', command)
    assert sha
    world.ensure_repo("acme/widgets")
    tasks = issue_pipeline("nightly-fixes", 101, namespace="team-a", commit_sha=sha.group(1))
    world.seed(workload("nightly-fixes", "team-a", issues=[101]), tasks)
    home = Path(world.tmp)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        env={"PATH": os.environ["PATH"], "HOME": str(home), "KUBECONFIG": str(world.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    world.github.reset_calls()
    run = world.sweep()
    assert run.code == 0
    [d] = run.decisions
    assert (d["outcome"], d["reason"]) == ("skipped", "already-recorded")
    assert d["pr_url"] == "https://github.com/acme/widgets/pull/7"
    assert [c.path for c in world.github.calls] == ["/rate_limit"]
    assert world.sweep().summary["workloads"] == {"settled": 1}
