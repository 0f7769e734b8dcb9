"""Histories the simulation found breaking a promise, kept as ordinary tests, each named
after its defect. Each is the shrunk history Hypothesis printed, replayed step by step
with every promise checked after each step (`Replay`), then quiet sweeps (`end()`).

A case marked xfail is a defect in code another branch is fixing; its fault is left out
of the random histories meanwhile (`KNOWN_OPEN` in tests/sim/runs.py). When such a case
starts passing (strict xfail: the suite fails), drop the mark and its KNOWN_OPEN entry.
"""

from __future__ import annotations

import pytest

from tests.sim.faults import KNOWN_OPEN, Fault
from tests.sim.foreman import Batch, Issue, Round
from tests.sim.machine import Replay
from tests.sim.world import Config, Stands

pytestmark = pytest.mark.sim

REVIEWER_LESS = Round(reviews=())


def test_a_kill_at_an_event_never_leaves_a_settle_without_its_lines(stands: Stands) -> None:
    """Killed at the Event of the PR it opened, a run has already reported every branch of
    the Workload it settled (the gate-failed branch's line came after that Event)."""
    state = Replay(stands)
    state.begin(
        config=Config(drafts=True),
        shapes=[
            Batch(
                issues=(Issue(final=REVIEWER_LESS), Issue(final=Round(gate="fail", reviews=()))),
                reviewers=None,
            )
        ],
    )
    state.sweep(faults=(), end="sigkill", at=r"^POST .*/events$")
    state.end()


@pytest.mark.xfail(reason=f"{KNOWN_OPEN['k-410-tasks']}", strict=True)
def test_tasks_read_twice_after_an_expired_continue_settle_a_good_branch(
    stands: Stands,
) -> None:
    """A 410 on the second page of tasks restarts the listing; tasks counted twice make
    "2 coder tasks", invalid-input, and a settle with no PR (fixed on wt/kube)."""
    state = Replay(stands)
    state.begin(config=Config(task_page=1), shapes=[Batch()])
    state.sweep(faults=(Fault("k-410-tasks"),), end="done", at=0)
    state.end()


@pytest.mark.xfail(reason=f"{KNOWN_OPEN['k-429-patch']}", strict=True)
def test_a_throttled_record_patch_is_waited_out_not_failed(stands: Stands) -> None:
    """One 429 with Retry-After on the annotation patch: wait and repeat it, never
    record.failed (fixed on wt/kube)."""
    state = Replay(stands)
    state.begin(config=Config(), shapes=[Batch()])
    state.sweep(faults=(Fault("k-429-patch"),), end="done", at=0)
    state.end()


@pytest.mark.xfail(reason=f"{KNOWN_OPEN['k-429-event']}", strict=True)
def test_a_throttled_event_is_waited_out_not_lost(stands: Stands) -> None:
    """One 429 on the Event of an opened PR: wait and repeat it (fixed on wt/kube)."""
    state = Replay(stands)
    state.begin(config=Config(), shapes=[Batch()])
    state.sweep(faults=(Fault("k-429-event"),), end="done", at=0)
    state.end()


@pytest.mark.xfail(reason=f"{KNOWN_OPEN['k-429-lease']}", strict=True)
def test_a_throttled_lease_write_is_waited_out_not_a_config_error(stands: Stands) -> None:
    """429s on the run lock's Lease: wait and repeat, never exit 2 (fixed on wt/kube)."""
    state = Replay(stands)
    state.begin(config=Config(), shapes=[Batch()])
    state.sweep(faults=(Fault("k-429-lease", times=2),), end="done", at=0)
    state.end()
