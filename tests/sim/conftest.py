from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sim.world import Stands


@pytest.fixture(scope="module")
def stands(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stands]:
    """The two stand-ins, started once for a module's histories (each resets them)."""
    started = Stands(Path(tmp_path_factory.mktemp("sim")))
    yield started
    started.stop()
