"""SIGTERM and SIGINT: what a Job's deadline, a node drain or `kubectl delete job` sends.

The sweeper stops before its next write, records what it already did, releases the
Lease, and closes with `sweep.finished` (`result: terminated`, exit 128 + the signal),
within seconds; the next run finishes the job without a duplicate.
"""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Any

import pytest

from tests.e2e.harness import Run, World, parse_lines

pytestmark = pytest.mark.e2e


def finish(proc: subprocess.Popen[str], timeout: float = 15) -> tuple[Run, float]:
    started = time.monotonic()
    stdout, stderr = proc.communicate(timeout=timeout)
    assert "Traceback" not in stderr + stdout, stderr
    return Run(proc.returncode, stdout, stderr, parse_lines(stdout)), time.monotonic() - started


def lease_holder(world: World) -> Any:
    lease = world.kube.get("leases", "sweeper", "foreman-pr-sweeper", group="coordination.k8s.io")
    assert lease is not None
    return lease["spec"].get("holderIdentity")


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
def test_a_signal_after_the_first_create_stops_before_the_next(
    world: World, sig: signal.Signals, code: int
) -> None:
    """Signalled while GitHub answers the first create: that PR is recorded, no other is
    opened, the Lease is handed back and the closing line says terminated."""
    world.simple("alpha", issues=(1,))
    world.simple("beta", issues=(1,))
    box: dict[str, subprocess.Popen[str]] = {}
    world.github.on_pull_created(lambda _pr: box["proc"].send_signal(sig))
    box["proc"] = world.start()
    run, _ = finish(box["proc"])

    assert run.code == code, run.stdout
    assert [line["event"] for line in run.lines][-2:] == ["sweep.terminated", "sweep.finished"]
    assert run.summary["result"] == "terminated" and run.summary["exit_code"] == code
    assert run.lines[-2]["signal"] == sig.name
    [pull] = world.pulls()
    opened = [d for d in run.decisions if d["outcome"] == "opened"]
    assert [d["pr_url"] for d in opened] == [pull["html_url"]]
    recorded = {**world.records("alpha"), **world.records("beta")}
    assert [r["url"] for r in recorded.values()] == [pull["html_url"]]
    assert lease_holder(world) is None  # released: the next run need not wait 15 minutes

    world.github.on_pull_created(None)
    again = world.sweep()
    assert again.code == 0, again.stdout
    assert sorted(p["head"]["ref"] for p in world.pulls()) == [
        "foreman/alpha/issue-1",
        "foreman/beta/issue-1",
    ]


def test_a_signal_during_a_long_rate_limit_wait_ends_the_run_within_seconds(
    world: World,
) -> None:
    """GitHub asks for a 60 s pause; a SIGTERM during it ends the run in a few seconds."""
    world.simple("alpha", issues=(1, 2))
    world.github.secondary_limit(times=1, retry_after=60)
    proc = world.start()
    deadline = time.monotonic() + 20
    while world.github.count("POST", r"/pulls$") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # now inside the 60 s wait
    proc.send_signal(signal.SIGTERM)
    run, took = finish(proc)
    assert took < 5, f"took {took:.1f}s after SIGTERM"
    assert run.code == 143 and run.summary["result"] == "terminated"
    assert len(world.pulls()) <= 1  # at most the write that was waiting went out
    assert lease_holder(world) is None
