"""Hundreds of random histories of Foreman, people and faults, each swept whole by the
real sweeper with its real adapters; every promise is checked after every step.

A case you thought of is a test; the cases nobody thought of are what this is for.
`SIM_EXAMPLES` sets how many histories (CI: 200), `SIM_STEPS` how many steps each, and
`SIM_SEED` picks another series than CI's fixed one. The histories are dealt to
`SIM_SHARDS` tests (4), each with its own seed, so that pytest-xdist's workers share
them. A failure prints the history as a list of calls: keep it in
tests/sim/test_regressions.py, named after the defect.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.sim.machine import Simulation
from tests.sim.runs import STATS
from tests.sim.world import Stands

pytestmark = pytest.mark.sim

EXAMPLES = int(os.environ.get("SIM_EXAMPLES", "200"))
STEPS = int(os.environ.get("SIM_STEPS", "25"))
SEED = int(os.environ.get("SIM_SEED", "20261205"))
SHARDS = int(os.environ.get("SIM_SHARDS", "4"))
SHRINK = os.environ.get("SIM_SHRINK", "1") != "0"  # 0: report the first failure as found


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_promise_holds_on_random_histories(stands: Stands, shard: int) -> None:
    """Random histories of whole sweeps keep every promise, after every step."""
    machine = seed(SEED * 1000 + shard)(type("Simulated", (Simulation,), {"stands": stands}))
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=-(-EXAMPLES // SHARDS),
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=False,
            database=None,
            print_blob=True,
            phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if SHRINK else []),
            suppress_health_check=list(HealthCheck),
        ),
    )
    if os.environ.get("SIM_STATS"):
        print("\n".join(f"{n:7d} {what}" for what, n in sorted(STATS.items())))
