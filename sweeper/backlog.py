"""The backlog: Completed Workloads still waiting for their PR after this run, and why.

Its oldest member's age is the one number that says whether the sweeper keeps up
(`oldest_pending_age_seconds`). A Workload waits when it is too young, when a branch was
deferred or failed, or when the run ended before reaching it; it stops waiting once every
branch reached an outcome that settles it. An operator's opt-out is no wait.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sweeper.core import Decision
from sweeper.model import Workload
from sweeper.outcomes import Outcome

TOO_YOUNG = "too-young"
DEFERRED = "deferred"
FAILED = "failed"
NOT_REACHED = "not-reached"  # the run stopped (signal, abort) before deciding it
UNSETTLED = "unsettled"  # decided, but by an outcome a later run looks at again

# In a dry run these stand for what the real run would settle.
_WOULD = frozenset({Outcome.WOULD_OPEN, Outcome.WOULD_UPDATE})


def waits_for(
    decisions: Sequence[Decision], complete: bool, dry_run: bool
) -> tuple[str, str] | None:
    """Why a decided Workload still waits after this run, as (why, reason); None: it is done."""
    for outcome, why in ((Outcome.FAILED, FAILED), (Outcome.DEFERRED, DEFERRED)):
        hit = next((d for d in decisions if d.outcome is outcome), None)
        if hit is not None:
            return why, str(hit.reason)
    if not complete:
        return NOT_REACHED, ""
    open_ = next(
        (d for d in decisions if not (d.settles or (dry_run and d.outcome in _WOULD))), None
    )
    return None if open_ is None else (UNSETTLED, str(open_.reason))


@dataclass
class Backlog:
    waiting: dict[tuple[str, str], tuple[datetime | None, str, str]] = field(default_factory=dict)

    def wait(self, wl: Workload, why: str, reason: str = "") -> None:
        self.waiting[(wl.namespace, wl.name)] = (wl.completed_at, why, reason)

    def done(self, wl: Workload) -> None:
        self.waiting.pop((wl.namespace, wl.name), None)

    def oldest_age_s(self, now: datetime) -> float:
        """Seconds since the oldest waiting Workload completed; 0 when none waits."""
        stamps = [at for at, _, _ in self.waiting.values() if at is not None]
        return max(0.0, round((now - min(stamps)).total_seconds(), 3)) if stamps else 0.0

    def counts(self) -> Counter[tuple[str, str]]:
        return Counter((why, reason) for _, why, reason in self.waiting.values())
