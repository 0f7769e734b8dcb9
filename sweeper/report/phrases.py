"""How the report words values: outcomes in the sweeper's order, counts, times and durations."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sweeper.outcomes import Outcome, WorkloadSkip
from sweeper.report.model import (
    Msg,
    Val,
)

# The sweeper's own vocabulary (sweeper.outcomes), in the order the report shows it; a
# word it does not know (a newer or older version's) is shown after these, as logged.
OUTCOME_ORDER: tuple[str, ...] = tuple(
    map(
        str,
        (
            Outcome.OPENED,
            Outcome.UPDATED,
            Outcome.ADOPTED,
            Outcome.WOULD_OPEN,
            Outcome.WOULD_UPDATE,
            Outcome.SKIPPED,
            Outcome.DEFERRED,
            Outcome.FAILED,
        ),
    )
)
# Decisions the PR table lists: a PR the run opened, refreshed or found, or would have.
PR_OUTCOMES = frozenset(OUTCOME_ORDER[:5])

WORKLOAD_ORDER: tuple[str, ...] = (
    "pending",
    *map(
        str,
        (
            WorkloadSkip.SETTLED,
            WorkloadSkip.NOT_COMPLETED,
            WorkloadSkip.TOO_YOUNG,
            WorkloadSkip.OPTED_OUT,
            WorkloadSkip.INVALID_INPUT,
        ),
    ),
)


def order(outcome: str) -> tuple[int, str]:
    return (OUTCOME_ORDER.index(outcome), "") if outcome in OUTCOME_ORDER else (99, outcome)


def counts_msg(counts: Mapping[str, int], order: Sequence[str] = OUTCOME_ORDER) -> Msg:
    keys = sorted(counts, key=lambda k: (order.index(k), "") if k in order else (99, k))
    parts: list[str] = []
    for k in keys:
        parts += [", " if parts else "", str(counts[k]), " ", Val(k)]
    return tuple(parts) or ("none",)


def iso_short(ts: str) -> str:
    """2026-12-02T00:33:08.356894Z as 2026-12-02T00:33:08Z; anything else as it is."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?", ts)
    return f"{m.group(1)}{m.group(2) or ''}" if m else ts


def seconds_between(start: str, end: str) -> float | None:
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
        return (b - a).total_seconds()
    except (ValueError, TypeError):
        return None


def as_seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + " s" if value < 100 else f"{value:.0f} s"


def duration(seconds: float) -> str:
    """A wait as an operator reads it: 3 d 4 h, 2 h 5 min, 40 s."""
    s = int(seconds)
    for unit, size, smaller, small_size in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "min", 60),
        ("min", 60, "s", 1),
    ):
        if s >= size:
            rest = (s % size) // small_size
            return f"{s // size} {unit}" + (f" {rest} {smaller}" if rest else "")
    return f"{s} s"


def branch_cells(where: str, repo: str, branch: str) -> tuple[Msg, Msg, Msg]:
    return ((Val(where),), (Val(repo),) if repo else ("-",), (Val(branch),) if branch else ("-",))


def owner(repo: str) -> str:
    return repo.split("/", 1)[0] if "/" in repo else repo


def join(values: Iterable[str]) -> Msg:
    parts: list[str] = []
    for v in dict.fromkeys(values):
        parts += [", " if parts else "", Val(v)]
    return tuple(parts)
