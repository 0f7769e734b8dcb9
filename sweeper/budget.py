"""What this run may still ask of GitHub: PRs left to open, and which buckets said stop."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sweeper.outcomes import Reason

CORE, GRAPHQL = "core", "graphql"
# A stop for every bucket: a secondary limit is about the token (as a GitHub App, about
# one installation), not one bucket.
ALL = "all"


@dataclass(frozen=True)
class Bucket:
    """A rate-limit bucket: REST's `core`, `graphql`, or `all` of them (a secondary limit).

    `installation`: as a GitHub App, the owner whose installation the bucket belongs to
    (each has a quota of its own); None for a token. `str()` is how logs spell it:
    `core`, `graphql@acme`.
    """

    kind: str
    installation: str | None = None

    def __str__(self) -> str:
        return self.kind if self.installation is None else f"{self.kind}@{self.installation}"

    @property
    def whole(self) -> Bucket:
        """Every bucket of the same token or installation, as a secondary limit stops them."""
        return replace(self, kind=ALL)


@dataclass
class Budget:
    max_create: int
    creates: int = 0
    # Set once GitHub rate-limits a bucket or its reserve is reached: no call from that
    # bucket (REST's `core`, `graphql`, or `all`) for the rest of the run.
    stops: dict[Bucket, tuple[Reason, str]] = field(default_factory=dict)

    def deferral(self, bucket: Bucket, creating: bool = False) -> tuple[Reason, str] | None:
        """Why the next call from `bucket` must wait for another run, if it must."""
        stop = self.stops.get(bucket) or self.stops.get(bucket.whole)
        if stop:
            return stop[0], f"GitHub work stopped for this run: {stop[1]}"
        if creating and self.creates >= self.max_create:
            return Reason.BUDGET_EXHAUSTED, f"--max-create {self.max_create} reached this run"
        return None

    def stop(self, bucket: Bucket, reason: Reason, why: str) -> None:
        self.stops.setdefault(bucket, (reason, why))
