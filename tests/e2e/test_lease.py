"""The run lock through long phases and failures, in process over the real adapters.

The Lease's duration is a tunable, not a flag, so these tests run `run_sweep` in this
process (with the real Kubernetes and GitHub adapters against the stand-ins) to make it
short enough to watch renewals happen.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import replace
from typing import Any

import pytest

from sweeper.cli import settings_from
from sweeper.github import GitHub
from sweeper.kube import connect
from sweeper.runlog import configure
from sweeper.sweep import run_sweep
from tests.e2e.harness import World

pytestmark = pytest.mark.e2e


def sweep_in_process(world: World, **tunables: Any) -> tuple[int, list[dict[str, Any]]]:
    env = world.env()
    settings, kubeconfig = settings_from(["--page-size", "1"], env)
    settings = replace(settings, tunables=replace(settings.tunables, **tunables))
    out = io.StringIO()
    log = configure("json", stream=out)
    github = GitHub(settings.github_api_url, settings.github_token, settings.tunables, 0)
    try:
        summary = run_sweep(settings, connect(kubeconfig), github, log)
    finally:
        github.close()
    return summary.exit_code, [json.loads(line) for line in out.getvalue().splitlines()]


def lease_writes(world: World) -> list[tuple[str, str]]:
    """The Lease writes and the first task listing, in the order the stand-in saw them."""
    seen = []
    for call in world.kube.calls:
        if call.resource == "leases" and call.verb in ("create", "update"):
            seen.append(("lease", call.verb))
        elif call.resource == "agentictasks":
            seen.append(("tasks", call.verb))
    return seen


def test_the_lease_is_renewed_while_a_long_listing_runs(world: World) -> None:
    """A listing longer than a third of the Lease renews it before planning starts."""
    for i in range(8):
        world.simple(f"wl-{i}", issues=(1,))

    def slow_listing(method: str, path: str, _: object) -> None:
        if method == "GET" and path.endswith("/workloads"):
            time.sleep(0.25)

    world.kube.on_request(slow_listing)
    world.kube.reset_calls()
    code, lines = sweep_in_process(world, lease_duration_s=1)
    assert code == 0, lines
    order = lease_writes(world)
    first_tasks = order.index(("tasks", "list"))
    renewals = [w for w in order[:first_tasks] if w == ("lease", "update")]
    assert order[0] == ("lease", "create")
    assert len(renewals) >= 2, order  # renewed during the ~2 s listing, not only after it
    assert lines[-1]["event"] == "sweep.finished"


def test_a_failed_release_never_hides_how_the_pass_ended(world: World) -> None:
    """The cluster fails mid-pass and the release fails too: the abort is what is told."""
    world.simple("alpha", issues=(1,))
    state = {"lists": 0}

    def break_the_cluster(method: str, path: str, _: object) -> None:
        if method == "GET" and path.endswith("/workloads"):
            state["lists"] += 1
            if state["lists"] == 1:
                world.kube.inject("GET", r"/workloads$", 503, "ServiceUnavailable", times=50)
                world.kube.inject("PUT", r"/leases/", 503, "ServiceUnavailable", times=50)

    world.kube.on_request(break_the_cluster)
    code, lines = sweep_in_process(world)
    events = [line["event"] for line in lines]
    assert code == 1
    assert events[-3:] == ["lock.release_failed", "sweep.aborted", "sweep.finished"]
    assert lines[-1]["result"] == "aborted"
    aborted = next(line for line in lines if line["event"] == "sweep.aborted")
    assert aborted["detail"].startswith("list workloads"), aborted  # the cause, not the release
