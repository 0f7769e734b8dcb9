"""Log lines into runs: every line is data from any version, possibly cut off or hostile;
unknown fields are ignored, missing or mistyped ones tolerated, non-JSON lines counted."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sweeper.report.model import (
    Finished,
    LastProgress,
    LoggedDecision,
    Notice,
    ParsedLog,
    QuotaBucket,
    RecordFailure,
    Run,
)

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


def _buckets(value: Any) -> tuple[QuotaBucket, ...] | None:
    if not isinstance(value, Mapping):
        return None
    out = []
    for name, state in value.items():
        state = state if isinstance(state, Mapping) else {}
        out.append(
            QuotaBucket(
                str(name),
                _int(state.get("used")),
                _int(state.get("remaining")),
                _int(state.get("limit")),
                _str(state.get("resets_at")),
            )
        )
    return tuple(out)


def _decision(n: int, obj: Mapping[str, Any]) -> LoggedDecision:
    return LoggedDecision(
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


def _progress(n: int, obj: Mapping[str, Any]) -> LastProgress:
    keys = (
        "workloads_listed",
        "workloads_pending",
        "workloads_planned",
        "workloads_decided",
        "candidates",
        "candidates_learned",
    )
    numbers = {k: v for k in keys if (v := _int(obj.get(k))) is not None}
    return LastProgress(
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


def parse(lines: Iterable[str]) -> ParsedLog:
    """Lines of a log (each with or without its newline) into runs. Never raises on data."""
    log = ParsedLog()
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


def parse_text(text: str) -> ParsedLog:
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
