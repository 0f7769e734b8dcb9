"""The run's log: structlog configured once, one JSON object per line on stdout (secrets
redacted, text terminal-safe), the Summary tally and the Progress heartbeat."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import structlog

from sweeper.backlog import FAILED, UNSETTLED, Backlog
from sweeper.core import Decision
from sweeper.model import Workload
from sweeper.outcomes import Outcome, Reason
from sweeper.stopping import exit_code_of

Log = structlog.typing.FilteringBoundLogger


REDACTED = "[redacted]"
# A secret shorter than this is redacted only where a whole value is the secret: replacing
# every `x` of a one-letter test token would mangle every line (`Ma[redacted]RetryError`).
# Real credentials (tokens, JWTs, key lines) are far longer.
MIN_SECRET_LEN = 8
# Deeper than this, a value is logged as its text (still redacted): no log line recurses
# without bound.
_MAX_DEPTH = 32


def _scrub_text(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LEN:
            text = text.replace(secret, REDACTED)
        elif text == secret:
            return REDACTED
    return text


def _scrub(value: Any, secrets: Sequence[str], depth: int = 0) -> Any:
    """`value` with every secret in it redacted, however deep in lists, tuples or dicts."""
    if isinstance(value, str):
        return _scrub_text(value, secrets)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth < _MAX_DEPTH and isinstance(value, Mapping):
        return {
            _scrub(k, secrets, depth + 1): _scrub(v, secrets, depth + 1) for k, v in value.items()
        }
    if depth < _MAX_DEPTH and isinstance(value, list | tuple | set | frozenset):
        items = [_scrub(v, secrets, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    # Anything else is rendered by its repr (JSON's fallback and the console's alike).
    try:
        text = repr(value)
    except RecursionError:
        return "[too deep to log]"
    scrubbed = _scrub_text(text, secrets)
    return value if scrubbed == text else scrubbed


def _redactor(secrets: Sequence[str]) -> structlog.typing.Processor:
    """Defence in depth: no value that reaches the output may contain a secret.

    `secrets` is read at every line: tokens minted during the run join it.
    """

    def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        live = [s for s in secrets if s]
        if not live:
            return event
        return {_scrub_text(k, live): _scrub(v, live) for k, v in event.items()}

    return redact


class _Shown:
    """A string the console shows by its repr: every unprintable character as an escape."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return repr(self.text)

    __str__ = __repr__


def _terminal_safe(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Console output only: no string drives the terminal.

    The console renderer prints a plain top-level string raw (a URL carrying `ESC ]8;;`
    would become a live link, `ESC [2J` would clear the screen), and keys always. A string
    with anything unprintable (C0 and C1 controls, DEL, bidirectional overrides) is shown
    by its repr instead, as the renderer already shows strings with spaces and nested
    values. JSON escapes controls itself.
    """
    return {
        (k if k.isprintable() else repr(k)): (
            _Shown(v) if isinstance(v, str) and not v.isprintable() else v
        )
        for k, v in event.items()
    }


def configure(
    log_format: str = "auto", secrets: Sequence[str] = (), stream: TextIO | None = None
) -> Log:
    out = stream or sys.stdout
    as_json = log_format == "json" or (log_format == "auto" and not out.isatty())
    render: list[structlog.typing.Processor] = (
        [structlog.processors.JSONRenderer(sort_keys=False)]
        if as_json
        else [_terminal_safe, structlog.dev.ConsoleRenderer(colors=out.isatty())]
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            _redactor(secrets),
            *render,
        ],
        logger_factory=structlog.PrintLoggerFactory(file=out),
        wrapper_class=structlog.make_filtering_bound_logger(0),
        cache_logger_on_first_use=False,
    )
    logger: Log = structlog.get_logger()
    return logger


@dataclass
class Summary:
    """The run's tally: what `sweep.finished` reports and the exit code tells."""

    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)  # (outcome, reason)
    workloads: Counter[str] = field(default_factory=Counter)
    record_failures: int = 0
    lock_held_by: str | None = None
    # Refused before the pass (token, cluster, the run lock's Lease): nothing was done.
    config_error: str | None = None
    aborted: str | None = None  # the cluster failed mid-pass
    terminated: str | None = None  # the signal that ended the pass early (SIGTERM, SIGINT)
    backlog: Backlog = field(default_factory=Backlog)

    @property
    def exit_code(self) -> int:
        if self.config_error:
            return 2
        if self.terminated:
            return exit_code_of(self.terminated)
        failed = self.counts[Outcome.FAILED] or self.record_failures or self.aborted
        return 1 if failed else 0

    @property
    def result(self) -> str:
        """How the run ended, in a word: the metrics' `result` label."""
        if self.config_error:
            return "config-error"
        if self.terminated:
            return "terminated"
        if self.aborted:
            return "aborted"
        if self.lock_held_by:
            return "lock-held"
        return "failed" if self.exit_code else "success"


def decision_line(
    log: Log, summary: Summary, wl: Workload, d: Decision, recorded: bool, dry_run: bool
) -> None:
    """The canonical line for one branch: its outcome, reason and detail."""
    summary.counts[d.outcome] += 1
    summary.reasons[str(d.outcome), str(d.reason)] += 1
    level = log.error if d.outcome is Outcome.FAILED else log.info
    if d.warnings and d.outcome is not Outcome.FAILED:
        level = log.warning
    level(
        "pr.decision",
        namespace=wl.namespace,
        workload=wl.name,
        repo=d.repo,
        issue=d.issue,
        branch=d.branch,
        sha=d.sha,
        outcome=str(d.outcome),
        reason=str(d.reason),
        detail=d.detail,
        pr_url=d.pr_url,
        draft=d.draft or d.as_draft,
        changes_requested=d.draft,
        warnings=list(d.warnings),
        recorded=recorded and not dry_run and d.record,
        dry_run=dry_run,
    )


def workload_failed(log: Log, summary: Summary, wl: Workload, detail: str, dry_run: bool) -> None:
    """A Workload that could not be judged at all: one failed line, the pass goes on."""
    summary.backlog.wait(wl, FAILED, "workload-error")
    _workload_line(log.error, summary, wl, Outcome.FAILED, "workload-error", detail, dry_run)


def workload_refused(log: Log, summary: Summary, wl: Workload, detail: str, dry_run: bool) -> None:
    """A Workload whose content was refused by the caps: one invalid-input line, nothing
    recorded or settled (a fixed object is looked at again), the exit code unchanged."""
    reason = str(Reason.INVALID_INPUT)
    summary.backlog.wait(wl, UNSETTLED, reason)
    _workload_line(log.warning, summary, wl, Outcome.SKIPPED, reason, detail, dry_run)


def _workload_line(
    level: Callable[..., Any],
    summary: Summary,
    wl: Workload,
    outcome: Outcome,
    reason: str,
    detail: str,
    dry_run: bool,
) -> None:
    summary.counts[outcome] += 1
    summary.reasons[str(outcome), reason] += 1
    level(
        "pr.decision",
        namespace=wl.namespace,
        workload=wl.name,
        repo=None,
        issue=None,
        branch=None,
        sha=None,
        outcome=str(outcome),
        reason=reason,
        detail=detail[:500],
        pr_url=None,
        draft=False,
        changes_requested=False,
        warnings=[],
        dry_run=dry_run,
    )


class Progress:
    """`sweep.progress` lines: after each batch, and at least every `interval_s` between,
    so `kubectl logs -f` tells a working run from a stuck one."""

    def __init__(
        self,
        log: Log,
        summary: Summary,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: Callable[[], None] = lambda: None,
    ) -> None:
        self.log, self.summary, self.interval, self.clock = log, summary, interval_s, clock
        # Called at every tick, so a long phase keeps the Lease and notices a stop request.
        self.heartbeat = heartbeat
        self.started = self.last = clock()
        self.pending = 0
        self.planned = 0
        self.candidates = 0
        self.learned = 0
        self.decided = 0

    def tick(self, phase: str, batch_done: bool = False) -> None:
        self.heartbeat()
        now = self.clock()
        if not batch_done and now - self.last < self.interval:
            return
        self.last = now
        self.log.info(
            "sweep.progress",
            phase=phase,
            workloads_listed=sum(self.summary.workloads.values()),
            workloads_pending=self.pending,
            workloads_planned=self.planned,
            workloads_decided=self.decided,
            candidates=self.candidates,
            candidates_learned=self.learned,
            counts={str(k): v for k, v in sorted(self.summary.counts.items())},
            elapsed_s=round(now - self.started, 1),
        )
