"""What the report reads from a log and what it shows: the parsed runs (plain dataclasses,
tolerant of any version) and the readout both renderers lay out."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


class Val(str):
    """Text from the log: escaped for the terminal, a code span in markdown."""

    __slots__ = ()


class Url(Val):
    """A PR's URL from the log: a link in markdown when it is a plain https URL."""

    __slots__ = ()


Msg = tuple[str, ...]  # parts of one message: `str` is the report's own text, `Val` the log's


@dataclass(frozen=True)
class LoggedDecision:
    """One `pr.decision` line."""

    line: int
    namespace: str
    workload: str
    repo: str
    branch: str
    outcome: str
    reason: str
    detail: str
    pr_url: str
    draft: bool
    warnings: tuple[str, ...]
    level: str
    dry_run: bool | None

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.workload}"


@dataclass(frozen=True)
class RecordFailure:
    """One `record.failed` line: a Workload's annotation could not be written."""

    line: int
    namespace: str
    workload: str
    detail: str


@dataclass(frozen=True)
class Notice:
    """A warning- or error-level line that is not a decision, or a warning on one."""

    line: int
    level: str
    event: str
    where: str
    text: str


@dataclass(frozen=True)
class LastProgress:
    """The last `sweep.progress` line: how far a run got."""

    line: int
    phase: str
    elapsed_s: float | None
    counts: dict[str, int]
    numbers: dict[str, int]  # workloads_listed, workloads_pending, ..., candidates_learned


@dataclass(frozen=True)
class QuotaBucket:
    name: str
    used: int | None
    remaining: int | None
    limit: int | None
    resets_at: str


@dataclass(frozen=True)
class Finished:
    """The `sweep.finished` line."""

    line: int
    counts: dict[str, int] | None
    workloads: dict[str, int] | None
    workloads_seen: int | None
    record_failures: int | None
    lock_held_by: str
    github_calls: dict[str, int] | None
    github_rate: tuple[QuotaBucket, ...] | None
    kube_calls: dict[str, int] | None
    dry_run: bool | None
    exit_code: int | None
    duration_s: float | None
    # The backlog after the run (versions before 0.2 do not report it): None when absent.
    oldest_pending_age_s: float | None = None
    waiting: dict[str, int] | None = None


@dataclass
class Run:
    """One run of the sweeper, as its lines tell it."""

    first_line: int
    started_at: str = ""  # "" when the log holds no sweep.started for it
    last_at: str = ""
    version: str = ""
    settings: dict[str, Any] | None = None
    start_warning: str = ""
    decisions: list[LoggedDecision] = field(default_factory=list)
    record_failures: list[RecordFailure] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    workload_skips: Counter[str] = field(default_factory=Counter)
    progress: LastProgress | None = None
    lock_held_by: str | None = None
    config_error: tuple[str, str] | None = None  # reason, detail
    aborted: tuple[str, str] | None = None
    terminated: str | None = None  # the signal that ended the pass early
    finished: Finished | None = None

    @property
    def started(self) -> bool:
        return self.settings is not None or bool(self.started_at or self.version)

    @property
    def exit_code(self) -> int | None:
        """The run's exit code, from its last line (None: it did not finish)."""
        if self.finished is not None and self.finished.exit_code is not None:
            return self.finished.exit_code
        if self.config_error is not None:
            return 2
        if self.aborted is not None:
            return 1
        if self.finished is not None:  # an older sweep.finished without exit_code
            failed = any(d.outcome == "failed" for d in self.decisions)
            return 1 if failed or self.record_failures else 0
        return None

    @property
    def ended(self) -> bool:
        return self.exit_code is not None

    @property
    def dry_run(self) -> bool | None:
        if self.finished is not None and self.finished.dry_run is not None:
            return self.finished.dry_run
        if self.settings is not None and isinstance(self.settings.get("dry_run"), bool):
            return bool(self.settings["dry_run"])
        for d in self.decisions:
            if d.dry_run is not None:
                return d.dry_run
        return None

    def setting(self, key: str) -> str:
        value = (self.settings or {}).get(key)
        return "" if value is None else setting_text(value)


@dataclass
class ParsedLog:
    """A whole log: its runs, and what was not a sweeper line."""

    runs: list[Run] = field(default_factory=list)
    lines: int = 0  # non-empty lines read
    not_json: list[int] = field(default_factory=list)  # line numbers
    not_object: list[int] = field(default_factory=list)  # JSON, but not an object
    foreign: list[int] = field(default_factory=list)  # objects that are no sweeper event
    cut_last_line: bool = False  # the last line ended without a newline and was no JSON

    @property
    def skipped(self) -> int:
        return len(self.not_json) + len(self.not_object) + len(self.foreign)


def setting_text(value: Any) -> str:
    """A setting's value as the report shows it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(setting_text(v) for v in value)
    if isinstance(value, str | int | float):
        return str(value)
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (ValueError, TypeError, RecursionError):
        return "?"


# ---------------------------------------------------------------- what a run's section shows


@dataclass(frozen=True)
class Table:
    """Rows of cells; `wrap` names a column a terminal shows on its own line below the row."""

    headers: tuple[str, ...]
    rows: tuple[tuple[Msg, ...], ...]
    right: frozenset[int] = frozenset()  # right-aligned columns (numbers)
    wrap: int | None = None


@dataclass(frozen=True)
class Group:
    """Failures or deferrals of one reason, with the operator's next step."""

    outcome: str
    reason: str
    count: int
    next_step: Msg
    common_detail: Msg  # the detail every item shares (then not repeated per item)
    table: Table
    more: int  # items not listed


@dataclass(frozen=True)
class Readout:
    """Everything one run's section shows; both renderers lay out exactly this."""

    title: Msg
    verdict: Msg
    passed: bool  # the pass ran (not refused, not stopped at the lock)
    facts: tuple[Msg, ...]
    settings: tuple[Msg, ...]
    notes: tuple[Msg, ...]
    branches: Msg
    by_reason: Table
    workloads: Msg
    backlog: Msg | None  # None: the log does not say
    prs: Table
    prs_total: int
    prs_more: tuple[Msg, ...]
    failures: tuple[Group, ...]
    deferred: tuple[Group, ...]
    skipped: Table
    skipped_total: int
    notices: Table
    notices_more: int
    quota: Table
    calls: tuple[tuple[str, Msg], ...]
