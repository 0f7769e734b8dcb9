from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import TOKEN, World
from tests.standins.github import GitHubStandIn
from tests.standins.kube import KubeStandIn


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with KubeStandIn() as kube, GitHubStandIn(token=TOKEN, validate=True) as github:
        yield World(kube, github, tmp_path)
        assert github.violations == [], "\n".join(github.violations)
