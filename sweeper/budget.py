"""What this run may still ask of GitHub: PRs left to open, and which buckets said stop."""

from __future__ import annotations

from dataclasses import dataclass, field

from sweeper.outcomes import Reason

# A stop for every bucket: a secondary limit is about the token (as a GitHub App, about
# one installation: "all@OWNER"), not one bucket.
ALL = "all"


def scope_of(bucket: str) -> str:
    """The `@OWNER` part of a GitHub App's bucket name ("" for a token's)."""
    return bucket[bucket.index("@") :] if "@" in bucket else ""


@dataclass
class Budget:
    max_create: int
    creates: int = 0
    # Set once GitHub rate-limits a bucket or its reserve is reached: no call from that
    # bucket (REST's `core`, `graphql`, or `all`) for the rest of the run.
    stops: dict[str, tuple[Reason, str]] = field(default_factory=dict)

    def deferral(self, bucket: str, creating: bool = False) -> tuple[Reason, str] | None:
        """Why the next call from `bucket` must wait for another run, if it must."""
        stop = self.stops.get(bucket) or self.stops.get(ALL + scope_of(bucket))
        if stop:
            return stop[0], f"GitHub work stopped for this run: {stop[1]}"
        if creating and self.creates >= self.max_create:
            return Reason.BUDGET_EXHAUSTED, f"--max-create {self.max_create} reached this run"
        return None

    def stop(self, bucket: str, reason: Reason, why: str) -> None:
        self.stops.setdefault(bucket, (reason, why))
