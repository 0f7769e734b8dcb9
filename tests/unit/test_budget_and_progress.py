"""What a run may still ask of GitHub, and the progress lines of a long run."""

from __future__ import annotations

from typing import Any

import pytest

from sweeper.budget import ALL, Bucket, Budget
from sweeper.outcomes import Reason
from sweeper.runlog import Progress, Summary


def test_a_stop_holds_its_bucket_only() -> None:
    """A spent GraphQL bucket stops reads, not REST writes; a secondary limit stops all."""
    budget = Budget(max_create=5)
    budget.stop(Bucket("graphql"), Reason.RATE_RESERVE, "graphql bucket: 1000 left")
    deferral = budget.deferral(Bucket("graphql"))
    assert deferral is not None and deferral[0] is Reason.RATE_RESERVE
    assert "graphql bucket" in deferral[1]
    assert budget.deferral(Bucket("core"), creating=True) is None
    budget.stop(Bucket(ALL), Reason.RATE_LIMITED, "secondary rate limit")
    core = budget.deferral(Bucket("core"))
    assert core is not None and core[0] is Reason.RATE_LIMITED


def test_the_first_stop_of_a_bucket_is_the_one_reported() -> None:
    """Later stops of the same bucket do not overwrite why it stopped."""
    budget = Budget(max_create=5)
    budget.stop(Bucket("core"), Reason.RATE_RESERVE, "first")
    budget.stop(Bucket("core"), Reason.RATE_LIMITED, "second")
    assert budget.deferral(Bucket("core")) == (
        Reason.RATE_RESERVE,
        "GitHub work stopped for this run: first",
    )


def test_max_create_defers_creates_only() -> None:
    """Once the budget is used up, a create waits; a read or an adoption does not."""
    budget = Budget(max_create=1, creates=1)
    assert budget.deferral(Bucket("core"), creating=True) == (
        Reason.BUDGET_EXHAUSTED,
        "--max-create 1 reached this run",
    )
    assert budget.deferral(Bucket("core")) is None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Lines:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, **fields})


def test_progress_is_logged_after_each_batch_and_every_interval() -> None:
    """Batches always log; between them, at most one line per interval."""
    clock, summary, log = Clock(), Summary(), Lines()
    summary.workloads["pending"] = 7
    summary.counts["opened"] = 2
    progress = Progress(log, summary, 30.0, clock)  # type: ignore[arg-type]
    progress.tick("act")  # too soon
    clock.now += 31
    progress.tick("act")  # the interval passed
    progress.tick("act")  # too soon again
    progress.tick("learn", batch_done=True)  # a batch: always
    lines = [line for line in log.lines if line["event"] == "sweep.progress"]
    assert [line["phase"] for line in lines] == ["act", "learn"]
    assert lines[0]["workloads_listed"] == 7 and lines[0]["counts"] == {"opened": 2}
    assert lines[0]["elapsed_s"] == 31.0


def test_a_secondary_limit_of_one_installation_stops_only_that_owner() -> None:
    """As a GitHub App, `all@acme` stops acme's buckets, not other's."""
    budget = Budget(max_create=5)
    budget.stop(Bucket("all", "acme"), Reason.RATE_LIMITED, "secondary rate limit")
    assert budget.deferral(Bucket("core", "acme")) is not None
    assert budget.deferral(Bucket("graphql", "acme")) is not None
    assert budget.deferral(Bucket("core", "other")) is None


@pytest.mark.parametrize(
    ("bucket", "spelled", "whole"),
    [
        pytest.param(Bucket("core"), "core", Bucket(ALL), id="token-core"),
        pytest.param(Bucket("graphql"), "graphql", Bucket(ALL), id="token-graphql"),
        pytest.param(Bucket("core", "acme"), "core@acme", Bucket(ALL, "acme"), id="app-core"),
        pytest.param(
            Bucket("graphql", "acme"), "graphql@acme", Bucket(ALL, "acme"), id="app-graphql"
        ),
        pytest.param(Bucket(ALL, "acme"), "all@acme", Bucket(ALL, "acme"), id="app-all"),
    ],
)
def test_a_bucket_is_a_value_spelled_as_the_log_spells_it(
    bucket: Bucket, spelled: str, whole: Bucket
) -> None:
    """str() gives the log's spelling; `whole` is every bucket of the same principal."""
    assert str(bucket) == spelled
    assert bucket.whole == whole
    assert {bucket: 1}[Bucket(bucket.kind, bucket.installation)] == 1  # keyed by value
