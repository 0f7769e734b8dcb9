"""Histories the simulation found breaking a promise, kept as ordinary tests, each named
after its defect. Each is the shrunk history Hypothesis printed, replayed step by step
with every promise checked after each step (`Replay`), then quiet sweeps (`end()`).

A defect found while its fix is still elsewhere is marked xfail(strict=True) here and its
fault kind is listed in `KNOWN_OPEN` (tests/sim/faults.py), which keeps it out of the
random histories meanwhile; when the fix lands the case passes, the suite fails, and the
mark and the entry go.
"""

from __future__ import annotations

import pytest

from tests.sim.faults import Fault
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


def test_tasks_read_twice_after_an_expired_continue_settle_a_good_branch(
    stands: Stands,
) -> None:
    """A 410 on the second page of tasks restarts the listing; tasks counted twice make
    "2 coder tasks", invalid-input, and a settle with no PR."""
    state = Replay(stands)
    state.begin(config=Config(task_page=1), shapes=[Batch()])
    state.sweep(faults=(Fault("k-410-tasks"),), end="done", at=0)
    state.end()


def test_a_throttled_record_patch_is_waited_out_not_failed(stands: Stands) -> None:
    """One 429 with Retry-After on the annotation patch: wait and repeat it, never
    record.failed."""
    state = Replay(stands)
    state.begin(config=Config(), shapes=[Batch()])
    state.sweep(faults=(Fault("k-429-patch"),), end="done", at=0)
    state.end()


def test_a_throttled_event_is_waited_out_not_lost(stands: Stands) -> None:
    """One 429 on the Event of an opened PR: wait and repeat it."""
    state = Replay(stands)
    state.begin(config=Config(), shapes=[Batch()])
    state.sweep(faults=(Fault("k-429-event"),), end="done", at=0)
    state.end()


def test_a_throttled_lease_write_is_waited_out_not_a_config_error(stands: Stands) -> None:
    """429s on the run lock's Lease: wait and repeat, never exit 2."""
    state = Replay(stands)
    state.begin(config=Config(), shapes=[Batch()])
    state.sweep(faults=(Fault("k-429-lease", times=2),), end="done", at=0)
    state.end()
