"""GitHub's rate limits as the run knows them: buckets, the reserve, pacing and waits.

Every answer updates its bucket (REST's `x-ratelimit-*` headers, GraphQL's own
`rateLimit`, the start-up `GET /rate_limit`). Before a call, an exhausted bucket is
waited out if its reset is near, the reserve left to the token's other users is kept,
and writes are paced; after a rate-limited answer, one wait and one retry at most.
Nothing here sends a request: the caller does, and reports back.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sweeper.budget import CORE, GRAPHQL, Bucket
from sweeper.fields import as_mapping
from sweeper.github.transport import (
    RateLimited,
    ReserveReached,
    header_int,
    is_primary_limit,
    is_secondary_limit,
)
from sweeper.settings import Reserve, Tunables


@dataclass(frozen=True)
class Rate:
    """A rate-limit bucket as one answer reported it."""

    remaining: int
    limit: int
    reset_at: float  # epoch seconds
    cost: int | None = None


@dataclass
class Quota:
    """What one bucket holds, as the last answer about it said."""

    remaining: int | None = None
    limit: int | None = None
    reset_at: float | None = None


@dataclass
class Limits:
    """The run's view of every bucket it touched, and what it spent of each."""

    tunables: Tunables = field(default_factory=Tunables)
    reserve: Reserve | None = None
    write_interval_s: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    buckets: dict[Bucket, Quota] = field(default_factory=dict)
    used: Counter[Bucket] = field(default_factory=Counter)  # what this run spent, per bucket
    # Per installation (as a GitHub App; None for a token): GitHub counts them apart.
    secondary_hits: Counter[str | None] = field(default_factory=Counter)
    last_write: dict[str | None, float] = field(default_factory=dict)

    def quota(self, bucket: Bucket) -> Quota:
        return self.buckets.setdefault(bucket, Quota())

    # ------------------------------------------------------------ what GitHub said

    def seed(self, body: Any, installation: str | None) -> None:
        """What /rate_limit says is left in every bucket, before a token's first call."""
        resources = as_mapping(as_mapping(body).get("resources"))
        for name in (CORE, GRAPHQL):
            bucket = as_mapping(resources.get(name))
            remaining, limit, reset = (bucket.get(k) for k in ("remaining", "limit", "reset"))
            if all(isinstance(v, int) and not isinstance(v, bool) for v in (remaining, limit)):
                state = self.quota(Bucket(name, installation))
                state.remaining, state.limit = remaining, limit
                state.reset_at = reset if isinstance(reset, int) else None

    def note_headers(self, headers: Mapping[str, str], installation: str | None) -> None:
        remaining = header_int(headers, "x-ratelimit-remaining")
        if remaining is None:
            return
        kind = headers.get("x-ratelimit-resource") or CORE
        state = self.quota(Bucket(kind, installation))
        state.remaining = remaining
        state.limit = header_int(headers, "x-ratelimit-limit")
        state.reset_at = header_int(headers, "x-ratelimit-reset")

    def note_rate(self, bucket: Bucket, rate: Rate | None) -> int:
        """A GraphQL answer's own `rateLimit`, the freshest word on its bucket; its cost."""
        if rate is None:
            return 0
        state = self.quota(bucket)
        state.remaining, state.limit, state.reset_at = rate.remaining, rate.limit, rate.reset_at
        if rate.cost is None:
            return 0
        self.used[bucket] += rate.cost
        return rate.cost

    def report(self) -> dict[Bucket, dict[str, Any]]:
        """Per bucket: what this run used and what is left, for the closing line."""
        report = {}
        for bucket, state in sorted(self.buckets.items(), key=lambda item: str(item[0])):
            reset = state.reset_at
            report[bucket] = {
                "used": self.used[bucket],
                "remaining": state.remaining,
                "limit": state.limit,
                "resets_at": None if reset is None else iso(reset),
            }
        return report

    # ------------------------------------------------------------ before a call

    def before(self, bucket: Bucket, cost: int, reserve: bool, writing: bool) -> None:
        """Waits out a near reset, keeps the reserve, paces writes; raises to stop."""
        self.wait_for_primary_reset(bucket)
        if reserve:
            self.keep_reserve(bucket, cost)
        if writing:
            self.pace_write(bucket.installation)

    def refilled(self, bucket: Bucket) -> Quota:
        """The bucket, counted as full again once its reset time has passed."""
        state = self.quota(bucket)
        if state.reset_at is not None and state.reset_at <= self.clock():
            state.remaining, state.reset_at = state.limit, None
        return state

    def keep_reserve(self, bucket: Bucket, cost: int) -> None:
        """Never drive a bucket below the reserve: the token is shared with Foreman."""
        state = self.refilled(bucket)
        if self.reserve is None or not cost or state.remaining is None or not state.limit:
            return
        keep = self.reserve.of(state.limit)
        if keep and state.remaining - cost < keep:
            resets = "" if state.reset_at is None else f", resets at {iso(state.reset_at)}"
            raise ReserveReached(
                f"{bucket} bucket: {state.remaining} of {state.limit} left, reserve {keep}"
                f" (--rate-reserve {self.reserve}){resets}",
                bucket,
            )

    def until_reset(self, bucket: Bucket) -> float | None:
        reset_at = self.quota(bucket).reset_at
        return None if reset_at is None else max(0.0, reset_at - self.clock() + 1)

    def wait_for_primary_reset(self, bucket: Bucket) -> None:
        """Before a request: an exhausted quota is waited out if the reset is near, else fatal."""
        state = self.refilled(bucket)
        if state.remaining != 0:
            return
        wait = self.until_reset(bucket)
        if wait is None or wait > self.tunables.max_rate_wait_s:
            raise RateLimited(f"primary rate limit ({bucket}) exhausted until reset", None, bucket)
        self.sleep(wait)
        state.remaining = None

    def pace_write(self, installation: str | None) -> None:
        """At least `write_interval` between mutating requests of one token, as GitHub asks."""
        gap = self.clock() - self.last_write.get(installation, 0.0)
        if gap < self.write_interval_s:
            self.sleep(self.write_interval_s - gap)
        self.last_write[installation] = self.clock()

    # ------------------------------------------------------------ after a refusal

    def waited_out(
        self, status: int, headers: Mapping[str, str], body: Any, bucket: Bucket
    ) -> bool:
        """On a rate limit GitHub did nothing, so one wait and retry is safe, even for a POST."""
        if is_primary_limit(status, headers):
            wait = self.until_reset(bucket)
            if wait is None or wait > self.tunables.max_rate_wait_s:
                return False
            self.sleep(wait)
            return True
        if not is_secondary_limit(status, headers, body):
            return False
        self.secondary_hits[bucket.installation] += 1
        if self.secondary_hits[bucket.installation] > 1:
            return False  # repeated hits: stop, as GitHub asks, before the token is banned
        wait = header_int(headers, "retry-after") or self.tunables.secondary_wait_s
        if wait > self.tunables.max_rate_wait_s:
            return False
        self.sleep(wait)
        return True


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
