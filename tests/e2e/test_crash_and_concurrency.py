"""Killed mid-flight, or started twice at once: still exactly one PR per branch, recorded."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import World, parse_lines
from tests.real.pushgateway import Pushgateway, pushgateway

pytestmark = pytest.mark.e2e
BRANCH = "foreman/wl/issue-1"
COORD = "coordination.k8s.io"
SWEEP = {"job": "foreman-pr-sweeper", "mode": "sweep"}
SUCCESS = "foreman_pr_sweeper_last_success_timestamp_seconds"


@pytest.fixture
def gateway() -> Iterator[Pushgateway]:
    with pushgateway() as gw:
        yield gw


def lease_holder(world: World) -> Any:
    lease = world.kube.get("leases", "sweeper", "foreman-pr-sweeper", group=COORD)
    return (lease or {}).get("spec", {}).get("holderIdentity")


def test_a_killed_runs_lease_keeps_the_next_run_out_until_it_lapses(
    world: World, gateway: Pushgateway
) -> None:
    """SIGKILL once the Lease is taken: nothing releases it. The next run finds it held:
    exit 0, lock-held, nothing decided or written, and no success time pushed (the
    no-success alert still sees the failure); once the Lease lapses, a run takes it over."""
    world.simple()
    box: dict[str, int] = {}

    def kill_at_the_lookup(method: str, path: str, _: object) -> None:
        if method == "POST" and path == "/graphql" and "pid" in box:
            os.kill(box["pid"], signal.SIGKILL)
            raise ConnectionAbortedError("killed")

    world.github.on_request(kill_at_the_lookup)
    proc = world.start("--pushgateway-url", gateway.url)
    box["pid"] = proc.pid
    proc.communicate(timeout=60)
    world.github.on_request(None)
    assert proc.returncode == -signal.SIGKILL
    holder = lease_holder(world)
    assert holder, "a killed run never hands its Lease back"
    assert gateway.series(**SWEEP) == {}

    held = world.sweep("--pushgateway-url", gateway.url)
    assert held.code == 0 and held.summary["result"] == "lock-held", held.stdout
    assert held.summary["lock_held_by"] == holder and held.decisions == []
    assert world.pulls() == [] and world.records("wl") == {}
    got = gateway.series(**SWEEP)
    assert got['foreman_pr_sweeper_last_run_info{result="lock-held",version="0.1.0"}'] == 1
    assert SUCCESS not in got

    lease = world.kube.get("leases", "sweeper", "foreman-pr-sweeper", group=COORD)
    assert lease is not None
    lease["spec"]["renewTime"] = "2020-01-01T00:00:00.000000Z"  # leaseDurationSeconds pass
    world.kube.seed_replace(lease)
    taken = world.sweep("--pushgateway-url", gateway.url)
    assert taken.code == 0 and taken.outcome(BRANCH) == ("opened", "missing-pr")
    assert SUCCESS in gateway.series(**SWEEP)
    assert lease_holder(world) is None


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
