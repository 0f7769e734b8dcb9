"""Killed mid-flight, or started twice at once: still exactly one PR per branch, recorded."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from tests.e2e.harness import World, parse_lines

pytestmark = pytest.mark.e2e
BRANCH = "foreman/wl/issue-1"


def test_killed_after_github_accepted_the_post_then_rerun(world: World) -> None:
    """SIGKILL between the accepted POST and the annotation: the next run adopts, no duplicate."""
    world.simple()
    proc = world.start("--no-lock")
    killed = threading.Event()

    def kill_now(pr: dict) -> None:
        os.kill(proc.pid, signal.SIGKILL)
        killed.set()

    world.github.on_pull_created(kill_now)
    proc.communicate(timeout=60)
    assert killed.is_set() and proc.returncode == -signal.SIGKILL
    assert len(world.pulls()) == 1
    assert world.records("wl") == {}

    world.github.on_pull_created(lambda pr: None)
    run = world.sweep()
    assert run.code == 0
    assert run.outcome(BRANCH) == ("adopted", "open-pr-exists")
    [pr] = world.pulls()
    assert world.records("wl")[BRANCH]["number"] == pr["number"]


def test_killed_while_the_annotation_patch_is_in_flight(world: World) -> None:
    """SIGKILL as the record is being written: the next run adopts and records."""
    world.simple()
    proc = world.start("--no-lock")

    def kill_on_patch(method: str, path: str, body: object) -> None:
        if method == "PATCH" and "/workloads/" in path:
            os.kill(proc.pid, signal.SIGKILL)
            raise ConnectionAbortedError("client killed")

    world.kube.on_request(kill_on_patch)
    proc.communicate(timeout=60)
    world.kube.on_request(lambda *a: None)
    assert len(world.pulls()) == 1
    run = world.sweep()
    assert run.outcome(BRANCH) == ("adopted", "open-pr-exists")
    assert len(world.pulls()) == 1
    assert BRANCH in world.records("wl")


@pytest.mark.parametrize("lock", [True, False], ids=["with-lock", "without-lock"])
def test_two_sweeps_at_once_open_one_pr_per_branch(world: World, lock: bool) -> None:
    """Two runs started together never open a duplicate, lock or no lock."""
    world.simple(issues=(1, 2, 3))
    world.github.latency_s = 0.2
    args = () if lock else ("--no-lock",)
    procs = [world.start(*args) for _ in range(2)]
    outputs = [p.communicate(timeout=90) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    heads = sorted(pr["head"]["ref"] for pr in world.pulls())
    assert heads == [f"foreman/wl/issue-{n}" for n in (1, 2, 3)]
    if lock:
        reports = [parse_lines(out) for out, _ in outputs]
        held = [r for r in reports if any(line["event"] == "lock.held" for line in r)]
        assert len(held) == 1
    assert len(world.records("wl")) == 3
