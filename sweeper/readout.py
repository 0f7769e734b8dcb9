"""`foreman-pr-sweeper report`: a run's JSON lines, read back as what an operator reads.

Functional core, thin shell. `parse` turns log lines into plain dataclasses (a `Run` per
run, between `sweep.started` and `sweep.finished`); `readout` derives what a run's
section shows (result, counts, PRs, failures and deferrals with the operator's next step,
skips, warnings, quota); `render_text` and `render_markdown` lay the same readout out for
a terminal or a GitHub issue; `main` reads a file or standard input and prints.

Everything in a log is data, never markup: any line may come from an older or newer
version, be cut off, or carry text an agent or a Workload's author wrote. Unknown fields
are ignored, missing or mistyped ones tolerated, non-JSON lines counted and skipped. Text
from the log reaches the output only as a `Val`: control characters made visible in a
terminal, and in markdown a code span (pipes escaped in tables) that no backtick, pipe or
newline in it can leave. Standard library and the sweeper's vocabulary (`sweeper.outcomes`)
only: no cluster, no token, no adapter.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn, TextIO

from sweeper.outcomes import Outcome, Reason, WorkloadSkip

PROG = "foreman-pr-sweeper report"
WIDTH = 100
DEFERRED_SHOWN = 10  # per reason; a backfill defers hundreds
ADOPTED_SHOWN = 20  # a first run on a long-lived cluster adopts its whole history
NOTICES_SHOWN = 20
MORE_HINT = """jq -c 'select(.outcome == "deferred") | {workload, branch, reason, detail}'"""

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
# Events of the sweeper that belong to a run: one after a finished run begins the next
# (a log of several runs whose `sweep.started` was lost). Other events (warnings such as
# `metrics.push_failed`) stay with the run before them.
RUN_EVENTS = frozenset(
    {
        "pr.decision",
        "sweep.progress",
        "sweep.finished",
        "sweep.config_error",
        "sweep.aborted",
        "sweep.terminated",
        "lock.held",
        "record.failed",
        "workload.skipped",
    }
)
SWEEPER_PREFIXES = (
    *("sweep.", "pr.", "lock.", "record.", "workload.", "github.", "event."),
    *("metrics.", "kube.", "notify.", "agents."),
)

SKIP_MEANINGS: dict[str, str] = {
    Reason.ALREADY_RECORDED: "the annotation already lists the branch at the reviewed SHA",
    Reason.OPTED_OUT: "the Workload or its review step does not want a PR",
    Reason.ALREADY_RESOLVED: "the coder found the issue already fixed",
    Reason.CODER_NOT_ON_TARGET: "the final coder is not Succeeded + GO",
    Reason.NO_COMMIT_SHA: "the final coder recorded no commitSHA: nothing was vouched for",
    Reason.GATE_NOT_PASSED: "a verify task is not GATE-PASS",
    Reason.NOT_REVIEWED: (
        "the final round lacks a reviewer or gate the spec or earlier rounds ask for, "
        "or ran neither"
    ),
    Reason.NO_TASKS: "the spec asks for it but no task covers it; looked at again next run",
    Reason.REVIEW_NOT_GO: "a reviewer of the final round did not say GO",
    Reason.DRAFT_UNSUPPORTED: "GitHub refuses draft PRs on the repository's plan",
    Reason.CLOSED_BY_HUMAN: "a PR at the reviewed SHA was closed unmerged: respected",
    Reason.BRANCH_MISSING: "the branch is not on the head repository",
    Reason.HEAD_MOVED: "the branch head is not the reviewed SHA",
    Reason.NO_DIFF: "no commits between base and head",
    Reason.REPO_NOT_ALLOWED: "the repository is outside --allow-repo",
    Reason.INVALID_INPUT: "a Workload or task field is missing, mistyped or unsafe (see detail)",
}
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
SETTINGS_SHOWN_FIRST = ("namespaces", "selector", "allow_repos", "max_create", "rate_reserve")


class Val(str):
    """Text from the log: escaped for the terminal, a code span in markdown."""

    __slots__ = ()


class Url(Val):
    """A PR's URL from the log: a link in markdown when it is a plain https URL."""

    __slots__ = ()


Msg = tuple[str, ...]  # parts of one message: `str` is the report's own text, `Val` the log's


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class Decision:
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
class Progress:
    """The last `sweep.progress` line: how far a run got."""

    line: int
    phase: str
    elapsed_s: float | None
    counts: dict[str, int]
    numbers: dict[str, int]  # workloads_listed, workloads_pending, ..., candidates_learned


@dataclass(frozen=True)
class Bucket:
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
    github_rate: tuple[Bucket, ...] | None
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
    decisions: list[Decision] = field(default_factory=list)
    record_failures: list[RecordFailure] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    workload_skips: Counter[str] = field(default_factory=Counter)
    progress: Progress | None = None
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
        return "" if value is None else _setting_text(value)


@dataclass
class Log:
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


# ---------------------------------------------------------------- parsing


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _counts(value: Any) -> dict[str, int] | None:
    if not isinstance(value, Mapping):
        return None
    return {str(k): v for k, v in value.items() if _int(v) is not None}


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(s for s in (_str(v) for v in value) if s)
    return ()


def _buckets(value: Any) -> tuple[Bucket, ...] | None:
    if not isinstance(value, Mapping):
        return None
    out = []
    for name, state in value.items():
        state = state if isinstance(state, Mapping) else {}
        out.append(
            Bucket(
                str(name),
                _int(state.get("used")),
                _int(state.get("remaining")),
                _int(state.get("limit")),
                _str(state.get("resets_at")),
            )
        )
    return tuple(out)


def _decision(n: int, obj: Mapping[str, Any]) -> Decision:
    return Decision(
        line=n,
        namespace=_str(obj.get("namespace")) or "?",
        workload=_str(obj.get("workload")) or "?",
        repo=_str(obj.get("repo")),
        branch=_str(obj.get("branch")),
        outcome=_str(obj.get("outcome")) or "(no outcome)",
        reason=_str(obj.get("reason")) or "(no reason)",
        detail=_str(obj.get("detail")),
        pr_url=_str(obj.get("pr_url")),
        draft=obj.get("draft") is True,
        warnings=_strings(obj.get("warnings")),
        level=_str(obj.get("level")),
        dry_run=_bool(obj.get("dry_run")),
    )


def _finished(n: int, obj: Mapping[str, Any]) -> Finished:
    return Finished(
        line=n,
        counts=_counts(obj.get("counts")),
        workloads=_counts(obj.get("workloads")),
        workloads_seen=_int(obj.get("workloads_seen")),
        record_failures=_int(obj.get("record_failures")),
        lock_held_by=_str(obj.get("lock_held_by")),
        github_calls=_counts(obj.get("github_calls")),
        github_rate=_buckets(obj.get("github_rate")),
        kube_calls=_counts(obj.get("kube_calls")),
        dry_run=_bool(obj.get("dry_run")),
        exit_code=_int(obj.get("exit_code")),
        duration_s=_float(obj.get("duration_s")),
        oldest_pending_age_s=_float(_mapping(obj.get("backlog")).get("oldest_pending_age_s")),
        waiting=_counts(_mapping(obj.get("backlog")).get("waiting")),
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _progress(n: int, obj: Mapping[str, Any]) -> Progress:
    keys = (
        "workloads_listed",
        "workloads_pending",
        "workloads_planned",
        "workloads_decided",
        "candidates",
        "candidates_learned",
    )
    numbers = {k: v for k in keys if (v := _int(obj.get(k))) is not None}
    return Progress(
        n,
        _str(obj.get("phase")),
        _float(obj.get("elapsed_s")),
        _counts(obj.get("counts")) or {},
        numbers,
    )


def _text_of(obj: Mapping[str, Any]) -> str:
    """What a notice line says: its detail, else its message, error or reason."""
    for key in ("detail", "message", "error", "warning", "reason"):
        text = _str(obj.get(key))
        if text:
            return text
    return ""


def _where(obj: Mapping[str, Any]) -> str:
    namespace, workload = _str(obj.get("namespace")), _str(obj.get("workload"))
    where = f"{namespace}/{workload}" if namespace or workload else ""
    branch = _str(obj.get("branch"))
    return f"{where} {branch}".strip() if branch else where


def _load(raw: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(raw)
    except (ValueError, RecursionError):
        return False, None


def parse(lines: Iterable[str]) -> Log:
    """Lines of a log (each with or without its newline) into runs. Never raises on data."""
    log = Log()
    run: Run | None = None
    last_raw, last_ok = "", True
    for n, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        log.lines += 1
        ok, obj = _load(text)
        last_raw, last_ok = raw, ok
        if not ok:
            log.not_json.append(n)
            continue
        if not isinstance(obj, dict):
            log.not_object.append(n)
            continue
        event = obj.get("event")
        if not isinstance(event, str) or not event.startswith(SWEEPER_PREFIXES):
            log.foreign.append(n)
            continue
        if event == "sweep.started" or run is None or (run.finished and event in RUN_EVENTS):
            run = Run(first_line=n)
            log.runs.append(run)
        _apply(run, n, event, obj)
    log.cut_last_line = not last_ok and not last_raw.endswith("\n")
    return log


def parse_text(text: str) -> Log:
    return parse(text.splitlines(keepends=True))


def _apply(run: Run, n: int, event: str, obj: Mapping[str, Any]) -> None:
    """One sweeper line into its run."""
    ts, level = _str(obj.get("ts")), _str(obj.get("level"))
    if ts:
        run.last_at = ts
    if event == "sweep.started":
        run.started_at = ts
        run.version = _str(obj.get("version"))
        settings = obj.get("settings")
        run.settings = dict(settings) if isinstance(settings, Mapping) else {}
        run.start_warning = _str(obj.get("warning"))
        if run.start_warning:
            run.notices.append(Notice(n, "warning", event, "", run.start_warning))
    elif event == "pr.decision":
        d = _decision(n, obj)
        run.decisions.append(d)
        run.notices += [Notice(n, "warning", event, f"{d.where} {d.branch}", w) for w in d.warnings]
    elif event == "record.failed":
        run.record_failures.append(
            RecordFailure(
                n,
                _str(obj.get("namespace")) or "?",
                _str(obj.get("workload")) or "?",
                _text_of(obj),
            )
        )
    elif event == "sweep.progress":
        run.progress = _progress(n, obj)
    elif event == "sweep.finished":
        run.finished = _finished(n, obj)
        if run.finished.lock_held_by and run.lock_held_by is None:
            run.lock_held_by = run.finished.lock_held_by
    elif event == "lock.held":
        run.lock_held_by = _str(obj.get("holder")) or "another run"
    elif event == "sweep.config_error":
        run.config_error = (_str(obj.get("reason")), _str(obj.get("detail")))
    elif event == "sweep.aborted":
        run.aborted = (_str(obj.get("reason")), _str(obj.get("detail")))
    elif event == "sweep.terminated":
        run.terminated = _str(obj.get("signal")) or "a signal"
    else:
        if event == "workload.skipped":
            run.workload_skips[_str(obj.get("reason")) or "(no reason)"] += 1
        if level in ("warning", "error", "critical"):
            run.notices.append(Notice(n, level, event, _where(obj), _text_of(obj)))


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


def _order(outcome: str) -> tuple[int, str]:
    return (OUTCOME_ORDER.index(outcome), "") if outcome in OUTCOME_ORDER else (99, outcome)


def _counts_msg(counts: Mapping[str, int], order: Sequence[str] = OUTCOME_ORDER) -> Msg:
    keys = sorted(counts, key=lambda k: (order.index(k), "") if k in order else (99, k))
    parts: list[str] = []
    for k in keys:
        parts += [", " if parts else "", str(counts[k]), " ", Val(k)]
    return tuple(parts) or ("none",)


def _iso_short(ts: str) -> str:
    """2026-12-02T00:33:08.356894Z as 2026-12-02T00:33:08Z; anything else as it is."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?", ts)
    return f"{m.group(1)}{m.group(2) or ''}" if m else ts


def _seconds_between(start: str, end: str) -> float | None:
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
        return (b - a).total_seconds()
    except (ValueError, TypeError):
        return None


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + " s" if value < 100 else f"{value:.0f} s"


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(_setting_text(v) for v in value)
    if isinstance(value, str | int | float):
        return str(value)
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (ValueError, TypeError, RecursionError):
        return "?"


def _settings(run: Run) -> tuple[Msg, ...]:
    """key=value for each setting that says something (not null, empty or off)."""
    settings = run.settings or {}
    keys = [k for k in SETTINGS_SHOWN_FIRST if k in settings]
    keys += [k for k in settings if k not in keys and k != "dry_run"]
    out = []
    for key in keys:
        value = settings[key]
        if value is None or value is False or value == [] or value == "":
            continue
        out.append((Val(f"{key}={_setting_text(value)}"),))
    return tuple(out)


def _verdict(run: Run) -> tuple[Msg, Msg]:
    """The run's title and what its ending means."""
    code = run.exit_code
    if run.config_error is not None:
        reason, detail = run.config_error
        return (
            ("configuration error, exit 2",),
            (
                "refused before the pass (",
                Val(reason or "no reason"),
                "): nothing was done. ",
                Val(detail or "(no detail)"),
            ),
        )
    if run.aborted is not None:
        reason, detail = run.aborted
        return (
            ("aborted, exit 1",),
            (
                "the pass stopped midway (",
                Val(reason or "no reason"),
                "); what it did stands and the next run continues. ",
                Val(detail or "(no detail)"),
            ),
        )
    if run.terminated is not None:
        return (
            (f"terminated by {run.terminated}, exit {'?' if code is None else code}",),
            (
                "stopped before its next write; what it did is recorded, the rest waits for "
                "the next run.",
            ),
        )
    if run.lock_held_by is not None and not run.decisions and code in (0, None):
        return (
            (f"lock held, exit {0 if code is None else code}",),
            ("another run held the lock (", Val(run.lock_held_by), "): nothing was done."),
        )
    if code is None:
        return (
            ("DID NOT FINISH",),
            (
                "no sweep.finished line: the run was killed (e.g. by activeDeadlineSeconds), "
                "crashed, or is still running; below is what it logged so far.",
            ),
        )
    if code == 0:
        return (("finished, exit 0",), ("nothing failed.",))
    if code == 1:
        return (
            ("finished, exit 1",),
            ("at least one branch failed or a record could not be written; the next run retries.",),
        )
    return ((f"finished, exit {code}",), ("configuration or cluster error: nothing was done.",))


def _facts(run: Run) -> tuple[Msg, ...]:
    facts: list[Msg] = []
    if run.started_at:
        facts.append(("started ", Val(_iso_short(run.started_at))))
    if run.finished is not None and run.finished.duration_s is not None:
        facts.append(("took ", _seconds(run.finished.duration_s)))
    elif not run.ended:
        elapsed = _seconds_between(run.started_at, run.last_at) if run.started_at else None
        if elapsed is not None and elapsed >= 0:
            facts.append(("ran at least ", _seconds(elapsed)))
        if run.last_at:
            facts.append(("last line at ", Val(_iso_short(run.last_at))))
    dry = run.dry_run
    if dry is not None:
        facts.append(("dry run: nothing written",) if dry else ("real run",))
    if run.version:
        facts.append(("sweeper ", Val(run.version)))
    return tuple(facts)


def _notes(run: Run, later: bool, counts: Counter[str]) -> tuple[Msg, ...]:
    notes: list[Msg] = []
    if not run.started and run.config_error is None:
        notes.append(
            (
                "no sweep.started line for this run: the log begins after it started "
                "(e.g. kubectl logs --tail), so its settings are unknown.",
            )
        )
    if not run.ended and run.progress is not None:
        p = run.progress
        parts: list[str] = ["last progress"]
        if p.phase:
            parts += [" (", Val(p.phase), ")"]
        if p.elapsed_s is not None:
            parts += [" at ", _seconds(p.elapsed_s)]
        parts.append(": ")
        names = {
            "workloads_listed": "Workloads listed",
            "workloads_pending": "pending",
            "workloads_planned": "planned",
            "workloads_decided": "decided",
            "candidates": "candidate branches",
            "candidates_learned": "learned",
        }
        parts.append(", ".join(f"{p.numbers[k]} {v}" for k, v in names.items() if k in p.numbers))
        parts += ["; counts: ", *_counts_msg(p.counts)]
        notes.append(tuple(parts))
    if not run.ended and later:
        notes.append(("a later run starts in this log: this one never logged its end.",))
    reported = run.finished.counts if run.finished is not None else None
    if reported is not None and dict(counts) != reported:
        notes.append(
            (
                "cross-check: sweep.finished counts ",
                *_counts_msg(reported),
                " but the log holds pr.decision lines for ",
                *_counts_msg(counts),
                " (lines lost, or another version).",
            )
        )
    f = run.finished
    if f is not None and f.record_failures and f.record_failures != len(run.record_failures):
        notes.append(
            (
                f"cross-check: sweep.finished counts {f.record_failures} record failures, "
                f"the log holds {len(run.record_failures)} record.failed lines.",
            )
        )
    return tuple(notes)


def _workloads(run: Run) -> Msg:
    f = run.finished
    if f is not None and f.workloads is not None:
        seen = f.workloads_seen if f.workloads_seen is not None else sum(f.workloads.values())
        return (f"{seen} listed: ", *_counts_msg(f.workloads, WORKLOAD_ORDER))
    if run.progress is not None and "workloads_listed" in run.progress.numbers:
        n = run.progress.numbers
        text = f"{n['workloads_listed']} listed" + ("" if run.ended else " so far")
        if "workloads_pending" in n:
            text += f", {n['workloads_pending']} pending"
        return (text, " (by the last progress line)")
    if run.workload_skips:
        return ("not reported; skipped: ", *_counts_msg(run.workload_skips, WORKLOAD_ORDER))
    return ("not reported",)


def _backlog(run: Run) -> Msg | None:
    """How long the oldest Completed Workload has waited for its PR, and why they wait."""
    f = run.finished
    if f is None or f.oldest_pending_age_s is None:
        return None
    if not f.waiting:
        return ("nothing waits for its PR",)
    age = f.oldest_pending_age_s
    parts = ", ".join(f"{why} {n}" for why, n in sorted(f.waiting.items()))
    return (f"oldest waiting for {_duration(age)}; ", Val(parts))


def _duration(seconds: float) -> str:
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


def _branch_cells(where: str, repo: str, branch: str) -> tuple[Msg, Msg, Msg]:
    return ((Val(where),), (Val(repo),) if repo else ("-",), (Val(branch),) if branch else ("-",))


def _pr_table(decisions: Sequence[Decision]) -> tuple[Table, int, tuple[Msg, ...]]:
    rows = []
    more: Counter[str] = Counter()
    shown: Counter[str] = Counter()
    for d in sorted(
        (d for d in decisions if d.outcome in PR_OUTCOMES), key=lambda d: _order(d.outcome)
    ):
        if d.outcome == "adopted" and shown[d.outcome] >= ADOPTED_SHOWN:
            more[d.outcome] += 1
            continue
        shown[d.outcome] += 1
        outcome: Msg = (Val(d.outcome), " (draft)") if d.draft else (Val(d.outcome),)
        url: Msg = (Url(d.pr_url),) if d.pr_url else ("(no PR yet)",)
        rows.append((outcome, *_branch_cells(d.where, d.repo, d.branch), url))
    notes = tuple(
        (
            f"... and {n} more ",
            Val(outcome),
            f": jq -r 'select(.outcome == \"{outcome}\") | .pr_url' lists them all.",
        )
        for outcome, n in sorted(more.items())
    )
    table = Table(("outcome", "Workload", "repository", "branch", "PR"), tuple(rows), wrap=4)
    return table, len(rows) + sum(more.values()), notes


def _owner(repo: str) -> str:
    return repo.split("/", 1)[0] if "/" in repo else repo


def _join(values: Iterable[str]) -> Msg:
    parts: list[str] = []
    for v in dict.fromkeys(values):
        parts += [", " if parts else "", Val(v)]
    return tuple(parts)


RESETS = re.compile(r"resets? at ([0-9][0-9T:.+-]*Z?)")


def _resets(items: Sequence[Decision], run: Run) -> Msg:
    """When the quota the deferrals wait for comes back: from their detail, else the bucket."""
    found = [m.group(1) for d in items if (m := RESETS.search(d.detail))]
    if not found and run.finished is not None and run.finished.github_rate:
        buckets = run.finished.github_rate
        named = [
            b
            for b in buckets
            if any(re.search(rf"\b{re.escape(b.name)}\b", d.detail) for d in items)
        ]
        low = (
            named
            or sorted(
                (b for b in buckets if b.remaining is not None and b.limit),
                key=lambda b: (b.remaining or 0) / (b.limit or 1),
            )[:1]
        )
        found = [b.resets_at for b in low if b.resets_at]
    return _join(_iso_short(t) for t in found) if found else ("its reset time (not in the log)",)


def next_step(outcome: str, reason: str, items: Sequence[Decision], run: Run) -> Msg:
    """What the operator does about failures or deferrals of one reason."""
    repos = [d.repo for d in items if d.repo]
    if reason == "budget-exhausted":
        now = run.setting("max_create")
        current: Msg = (" (this run: ", Val(now), ")") if now else ()
        return ("raise --max-create", *current, ", or let the next runs drain it")
    if reason == "rate-reserve":
        reserve = run.setting("rate_reserve")
        current = (" (this run: ", Val(reserve), ")") if reserve else ()
        return (
            "waits for the quota to reset at ",
            *_resets(items, run),
            "; lower --rate-reserve",
            *current,
            " only if the token is not shared",
        )
    if reason == "rate-limited":
        return (
            "waits for the quota to reset at ",
            *_resets(items, run),
            "; the next run continues (if it recurs: a lower --max-create or a longer "
            "--write-interval)",
        )
    if reason == "app-not-installed":
        return ("install the GitHub App on ", *_join(_owner(r) for r in repos), ", then rerun")
    if reason == "permission-denied":
        named = [m.group(1) for d in items if (m := re.search(r"permission (\S+: \w+)", d.detail))]
        if named:
            return ("grant ", *_join(named), " on ", *_join(_owner(r) for r in repos))
        return (
            "grant the token (or the App's installation) the permission the detail names on ",
            *_join(repos),
            ": Contents read, Pull requests read and write (Issues write for --label)",
        )
    if reason == "github-error":
        return (
            "the next run retries; if it persists, check that the repository exists and the "
            "token can see it",
        )
    if reason == "workload-error":
        return ("the next run retries; look at the Workload: kubectl get workload -n NS NAME",)
    if reason == "record-failed":
        return ("the PRs stand; the next run adopts and records them by head",)
    if outcome == "deferred":
        return ("the next run continues",)
    return ("the next run retries",)


def _group(outcome: str, reason: str, items: Sequence[Decision], run: Run, limit: int) -> Group:
    details = {d.detail for d in items}
    common = len(details) == 1 and len(items) > 1 and bool(items[0].detail)
    shown = items[:limit]
    rows: tuple[tuple[Msg, ...], ...] = tuple(
        (
            *_branch_cells(d.where, d.repo, d.branch),
            (Val(d.detail),) if d.detail else ("(no detail)",),
        )
        for d in shown
    )
    headers: tuple[str, ...] = ("Workload", "repository", "branch", "detail")
    if common:
        rows = tuple(r[:3] for r in rows)
        headers = headers[:3]
    return Group(
        outcome,
        reason,
        len(items),
        next_step(outcome, reason, items, run),
        (Val(items[0].detail),) if common else (),
        Table(headers, rows, wrap=3 if not common else None),
        len(items) - len(shown),
    )


def _groups(outcome: str, run: Run, limit: int) -> list[Group]:
    by_reason: dict[str, list[Decision]] = {}
    for d in run.decisions:
        if d.outcome == outcome:
            by_reason.setdefault(d.reason, []).append(d)
    return [_group(outcome, r, items, run, limit) for r, items in sorted(by_reason.items())]


def _record_group(run: Run) -> list[Group]:
    if not run.record_failures:
        return []
    items = [
        Decision(
            f.line,
            f.namespace,
            f.workload,
            "",
            "",
            "failed",
            "record-failed",
            f.detail,
            "",
            False,
            (),
            "error",
            None,
        )
        for f in run.record_failures
    ]
    group = _group("failed", "record-failed", items, run, len(items))
    rows = tuple((r[0], r[-1]) for r in group.table.rows)
    table = (
        Table(("Workload", "detail"), rows, wrap=1)
        if not group.common_detail
        else Table(("Workload",), tuple(r[:1] for r in rows))
    )
    return [
        Group(
            group.outcome, group.reason, group.count, group.next_step, group.common_detail, table, 0
        )
    ]


def _quota(run: Run) -> tuple[Table, tuple[tuple[str, Msg], ...]]:
    f = run.finished
    rows = []
    for b in (f.github_rate or ()) if f is not None else ():
        left = f"{100 * b.remaining // b.limit}%" if b.remaining is not None and b.limit else "-"
        rows.append(
            (
                (Val(b.name),),
                (str(b.used) if b.used is not None else "-",),
                (str(b.remaining) if b.remaining is not None else "-",),
                (str(b.limit) if b.limit is not None else "-",),
                (left,),
                (Val(_iso_short(b.resets_at)),) if b.resets_at else ("-",),
            )
        )
    table = Table(
        ("bucket", "used", "remaining", "limit", "left", "resets at"),
        tuple(rows),
        right=frozenset({1, 2, 3, 4}),
    )
    calls: list[tuple[str, Msg]] = []
    if f is not None and f.github_calls:
        calls.append(("GitHub calls", _pairs(f.github_calls)))
    if f is not None and f.kube_calls:
        calls.append(("Kubernetes calls", _pairs(f.kube_calls)))
    return table, tuple(calls)


def _pairs(counts: Mapping[str, int]) -> Msg:
    parts: list[str] = []
    for k in sorted(counts):
        parts += [", " if parts else "", Val(k), f" {counts[k]}"]
    return tuple(parts)


def readout(run: Run, later: bool = False) -> Readout:
    """What one run's section shows. `later`: another run follows it in the log."""
    counts = Counter(d.outcome for d in run.decisions)
    title, verdict = _verdict(run)
    by_reason = Counter((d.outcome, d.reason) for d in run.decisions)
    reasons = Table(
        ("outcome", "reason", "branches"),
        tuple(
            ((Val(o),), (Val(r),), (str(n),))
            for (o, r), n in sorted(by_reason.items(), key=lambda i: (_order(i[0][0]), i[0][1]))
        ),
        right=frozenset({2}),
    )
    prs, prs_total, prs_more = _pr_table(run.decisions)
    skips = Counter(d.reason for d in run.decisions if d.outcome == "skipped")
    skipped = Table(
        ("reason", "branches", "meaning"),
        tuple(
            ((Val(r),), (str(n),), (SKIP_MEANINGS.get(r, "-"),))
            for r, n in sorted(skips.items(), key=lambda i: (-i[1], i[0]))
        ),
        right=frozenset({1}),
    )
    notices = Table(
        ("level", "event", "where", "message"),
        tuple(
            (
                (Val(n.level),),
                (Val(n.event),),
                (Val(n.where),) if n.where else ("-",),
                (Val(n.text),) if n.text else ("-",),
            )
            for n in run.notices[:NOTICES_SHOWN]
        ),
        wrap=3,
    )
    quota, calls = _quota(run)
    total = sum(counts.values())
    return Readout(
        title=title,
        verdict=verdict,
        passed=run.config_error is None and not (run.lock_held_by and not run.decisions),
        facts=_facts(run),
        settings=_settings(run),
        notes=_notes(run, later, counts),
        branches=(f"{total} decided: ", *_counts_msg(counts)) if total else ("none decided",),
        by_reason=reasons,
        workloads=_workloads(run),
        backlog=_backlog(run),
        prs=prs,
        prs_total=prs_total,
        prs_more=prs_more,
        failures=tuple(_groups("failed", run, 10**9) + _record_group(run)),
        deferred=tuple(_groups("deferred", run, DEFERRED_SHOWN)),
        skipped=skipped,
        skipped_total=sum(skips.values()),
        notices=notices,
        notices_more=max(0, len(run.notices) - NOTICES_SHOWN),
        quota=quota,
        calls=calls,
    )


def _skipped_lines(log: Log) -> Msg:
    kinds = [
        (len(log.not_json), "not JSON"),
        (len(log.not_object), "JSON but not an object"),
        (len(log.foreign), "objects that are no sweeper event"),
    ]
    said = ", ".join(f"{n} {what}" for n, what in kinds if n)
    numbers = sorted(log.not_json + log.not_object + log.foreign)
    at = ", ".join(str(n) for n in numbers[:8]) + (", ..." if len(numbers) > 8 else "")
    plural = "s" if log.skipped != 1 else ""
    return (
        f"skipped {log.skipped} line{plural} that are not sweeper log lines "
        f"({said}; line{plural} {at})",
    )


def _preamble(log: Log) -> tuple[Msg, ...]:
    runs = len(log.runs)
    lines = f"{log.lines} line{'s' if log.lines != 1 else ''}"
    out: list[Msg] = [(f"{runs} run{'s' if runs != 1 else ''} in {lines}",)]
    if log.skipped:
        out.append(_skipped_lines(log))
    if log.cut_last_line:
        out.append(
            ("the last line is cut off (no newline, not JSON): the log was still being written",)
        )
    return tuple(out)


# ---------------------------------------------------------------- text


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def visible(text: str) -> str:
    """Text from the log, safe in a terminal: control and bidi characters escaped."""

    def escape(m: re.Match[str]) -> str:
        c = m.group(0)
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(c) or f"\\u{ord(c):04x}"

    return _CONTROL.sub(escape, text)


def _t(msg: Msg) -> str:
    return "".join(visible(p) if isinstance(p, Val) else p for p in msg)


def _prose(text: str, first: str, rest: str) -> list[str]:
    """`text` wrapped at WIDTH; words longer than a line (URLs) are kept whole."""
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]


def _text_table(table: Table, indent: str) -> list[str]:
    """Aligned columns; the `wrap` column on its own line under each row, indented."""
    cols = [i for i in range(len(table.headers)) if i != table.wrap]
    rows = [[_t(r[i]) for i in range(len(table.headers))] for r in table.rows]
    widths = {i: max([len(table.headers[i])] + [len(r[i]) for r in rows]) for i in cols}

    def line(cells: Sequence[str]) -> str:
        out = []
        for i in cols:
            cell = cells[i]
            out.append(cell.rjust(widths[i]) if i in table.right else cell.ljust(widths[i]))
        return (indent + "  ".join(out)).rstrip()

    under = indent + "    "
    out = [line([h.upper() for h in table.headers])]
    if table.wrap is not None:
        out.append(under + table.headers[table.wrap].upper())
    for r in rows:
        out.append(line(r))
        if table.wrap is not None:
            out += _prose(r[table.wrap], under, under + "  ")
    return out


def _text_run(n: int, total: int, r: Readout) -> list[str]:
    out = [f"RUN {n} of {total}: {_t(r.title)}"]
    out += _prose(_t(r.verdict), "  ", "  ")
    if r.facts:
        out += _prose(", ".join(_t(f) for f in r.facts), "  ", "  ")
    if r.settings:
        out += _prose("  ".join(_t(s) for s in r.settings), "  settings: ", " " * 12)
    for note in r.notes:
        out += _prose(_t(note), "  note: ", "        ")
    if r.passed:
        out += ["", f"  branches:  {_t(r.branches)}", f"  workloads: {_t(r.workloads)}"]
        if r.backlog is not None:
            out += _prose(_t(r.backlog), "  backlog:   ", "             ")
    if r.by_reason.rows:
        out += _text_table(r.by_reason, "    ")
    if r.prs.rows:
        out += ["", f"  PULL REQUESTS ({r.prs_total})", *_text_table(r.prs, "    ")]
        for m in r.prs_more:
            out += _prose(_t(m), "    ", "      ")
    for heading, groups in (("FAILED", r.failures), ("DEFERRED", r.deferred)):
        if not groups:
            continue
        out += ["", f"  {heading} ({sum(g.count for g in groups)})"]
        for g in groups:
            out += _prose(
                f"next step: {_t(g.next_step)}", f"    {visible(g.reason)} ({g.count}): ", "      "
            )
            if g.common_detail:
                out += _prose(_t(g.common_detail), "      detail: ", "        ")
            out += _text_table(g.table, "      ")
            if g.more:
                out += _prose(f"... and {g.more} more: {MORE_HINT}", "      ", "        ")
    if r.skipped.rows:
        out += ["", f"  SKIPPED ({r.skipped_total}): normal; counts by reason"]
        out += _text_table(r.skipped, "    ")
    if r.notices.rows:
        more = f", {r.notices_more} more not shown" if r.notices_more else ""
        out += ["", f"  WARNINGS ({len(r.notices.rows) + r.notices_more}{more})"]
        out += _text_table(r.notices, "    ")
    if r.quota.rows or r.calls:
        out += ["", "  QUOTA"]
        if r.quota.rows:
            out += _text_table(r.quota, "    ")
        for name, value in r.calls:
            out += _prose(_t(value), f"    {name}: ", "      ")
    return out


def render_text(log: Log) -> str:
    """The report for a terminal: plain, aligned, about 100 columns."""
    out = _prose("; ".join(_t(m) for m in _preamble(log)), "foreman-pr-sweeper report: ", "  ")
    for i, run in enumerate(log.runs, start=1):
        out += ["", *_text_run(i, len(log.runs), readout(run, i < len(log.runs)))]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- markdown


_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+%-]*")
_LINKABLE = re.compile(r"https://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[A-Za-z0-9._~%/-]*)?")


def code(text: str, in_table: bool = False) -> str:
    """A markdown code span that nothing in `text` can leave (nor, in a table, its cell)."""
    text = visible(text)
    if in_table:
        text = text.replace("|", "\\|")
    if not text:
        return "-"
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    if text[0] in "` " or text[-1] in "` ":
        text = f" {text} "
    return f"{fence}{text}{fence}"


def _md_val(text: str, in_table: bool) -> str:
    """Log text in markdown: plain when it is one plain word, number or time; else code."""
    if isinstance(text, Url) and _LINKABLE.fullmatch(text):
        return f"<{text}>"
    return text if _PLAIN.fullmatch(text) else code(text, in_table)


def _m(msg: Msg, in_table: bool = False) -> str:
    """A message in markdown: the report's own words as they are, the log's inert."""
    parts = (_md_val(p, in_table) if isinstance(p, Val) else _own(p, in_table) for p in msg)
    return "".join(parts)


def _own(text: str, in_table: bool) -> str:
    return text.replace("|", "\\|") if in_table else text


def _md_table(table: Table) -> list[str]:
    head = "| " + " | ".join(table.headers) + " |"
    rule = "|" + "|".join("--:" if i in table.right else "---" for i in range(len(table.headers)))
    rows = ["| " + " | ".join(_m(c, in_table=True) for c in r) + " |" for r in table.rows]
    return [head, rule + "|", *rows, ""]


def _md_run(n: int, total: int, r: Readout) -> list[str]:
    out = [f"## Run {n} of {total}: {_m(r.title)}", "", _m(r.verdict), ""]
    if r.facts:
        out += [" · ".join(_m(f) for f in r.facts), ""]
    if r.settings:
        out += ["Settings: " + " ".join(_m(s) for s in r.settings), ""]
    for note in r.notes:
        out += [f"> **Note:** {_m(note)}", ""]
    if r.passed:
        out += [f"**Branches:** {_m(r.branches)}  ", f"**Workloads:** {_m(r.workloads)}"]
        if r.backlog is not None:
            out[-1] += "  "
            out.append(f"**Backlog:** {_m(r.backlog)}")
        out.append("")
    if r.by_reason.rows:
        out += _md_table(r.by_reason)
    if r.prs.rows:
        out += [f"### Pull requests ({r.prs_total})", "", *_md_table(r.prs)]
        out += [line for m in r.prs_more for line in (_m(m), "")]
    for heading, groups in (("Failed", r.failures), ("Deferred", r.deferred)):
        if not groups:
            continue
        out += [f"### {heading} ({sum(g.count for g in groups)})", ""]
        for g in groups:
            reason = _md_val(Val(g.reason), False)
            out += [f"**{reason}** ({g.count}): next step: {_m(g.next_step)}", ""]
            if g.common_detail:
                out += [f"Detail: {_m(g.common_detail)}", ""]
            out += _md_table(g.table)
            if g.more:
                out += [f"... and {g.more} more: `{MORE_HINT}`", ""]
    if r.skipped.rows:
        out += [f"### Skipped ({r.skipped_total}): normal; counts by reason", ""]
        out += _md_table(r.skipped)
    if r.notices.rows:
        more = f", {r.notices_more} more not shown" if r.notices_more else ""
        out += [f"### Warnings ({len(r.notices.rows) + r.notices_more}{more})", ""]
        out += _md_table(r.notices)
    if r.quota.rows or r.calls:
        out += ["### Quota", ""]
        if r.quota.rows:
            out += _md_table(r.quota)
        out += [f"{name}: {_m(value)}  " for name, value in r.calls]
        out += [""] if r.calls else []
    return out


def render_markdown(log: Log) -> str:
    """The report for a GitHub issue: headings and tables; all log text inert."""
    out = ["# foreman-pr-sweeper report", "", "  \n".join(_m(m) for m in _preamble(log)), ""]
    for i, run in enumerate(log.runs, start=1):
        out += _md_run(i, len(log.runs), readout(run, i < len(log.runs)))
    return "\n".join(out).rstrip("\n") + "\n"


def render(log: Log, fmt: str = "text") -> str:
    """The report in `fmt`: "text" or "markdown"."""
    return render_markdown(log) if fmt == "markdown" else render_text(log)


# ---------------------------------------------------------------- the shell


DESCRIPTION = """\
Read a foreman-pr-sweeper log (one JSON object per line) and print what an operator
reads: per run, its settings and result (exit code, duration, dry run; lock held,
configuration error, aborted, or cut off before it finished), counts by outcome and
reason, the PRs opened, adopted and updated (would-open and would-update in a dry run),
every failure with its detail, what was deferred and the next step, skips by reason,
warnings, and the GitHub quota it used and left.
"""

EPILOG = """\
examples:
  kubectl logs job/backfill-1 | foreman-pr-sweeper report
  foreman-pr-sweeper --dry-run > plan.jsonl; foreman-pr-sweeper report plan.jsonl
  foreman-pr-sweeper report run.jsonl --format markdown   # paste into a GitHub issue

Lines that are not the sweeper's JSON (kubectl notices, tracebacks) are skipped and
counted; a log of several runs gets a section per run.

exit codes:
  0  at least one run was rendered
  2  FILE cannot be read, or holds no sweeper run, or no FILE with a terminal as input
"""


TERMINAL_USAGE = f"""{PROG}: no FILE, and standard input is a terminal
usage: {PROG} [FILE] [--format text|markdown]
  e.g. {PROG} run.jsonl, or: kubectl logs job/NAME | {PROG}
"""


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse that writes help to the given stream and returns instead of exiting."""

    def __init__(self, stdout: TextIO) -> None:
        super().__init__(
            prog=PROG,
            description=DESCRIPTION,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        self.stdout = stdout

    def print_help(self, file: Any = None) -> None:
        super().print_help(file or self.stdout)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise _Exit(status)


def _parser(stdout: TextIO) -> _Parser:
    p = _Parser(stdout)
    p.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="the log to read; standard input when omitted or -",
    )
    p.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="text: aligned, for a terminal (default); markdown: headings and tables for a "
        "GitHub issue",
    )
    return p


def _fail(message: str) -> int:
    sys.stderr.write(f"{PROG}: {visible(message)}\n")
    return 2


def main(argv: Sequence[str], stdin: TextIO, stdout: TextIO) -> int:
    try:
        args = _parser(stdout).parse_args(list(argv))
    except _Exit as done:
        return done.code
    name = args.file or "-"
    if not args.file and stdin.isatty():  # no log piped in: say how, do not wait (`-` waits)
        sys.stderr.write(TERMINAL_USAGE)
        return 2
    try:
        if name == "-":
            buffer = getattr(stdin, "buffer", None)
            source: TextIO = (
                io.TextIOWrapper(buffer, encoding="utf-8", errors="replace")
                if buffer is not None
                else stdin
            )
            log = parse(source)
        else:
            with open(name, encoding="utf-8", errors="replace") as f:
                log = parse(f)
    except OSError as err:
        return _fail(f"cannot read {name}: {err.strerror or err}")
    if not log.runs:
        shown = "standard input" if name == "-" else name
        return _fail(
            f"{shown} holds no sweeper run ({log.lines} non-empty lines, none a sweeper line)"
        )
    stdout.write(render(log, args.format))
    return 0
