"""Failures and deferrals grouped by reason, each with the operator's next step."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sweeper.report.model import (
    Group,
    LoggedDecision,
    Msg,
    Run,
    Table,
    Val,
)
from sweeper.report.phrases import (
    branch_cells,
    iso_short,
    join,
    owner,
)

MORE_HINT = """jq -c 'select(.outcome == "deferred") | {workload, branch, reason, detail}'"""

RESETS = re.compile(r"resets? at ([0-9][0-9T:.+-]*Z?)")


def _resets(items: Sequence[LoggedDecision], run: Run) -> Msg:
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
    return join(iso_short(t) for t in found) if found else ("its reset time (not in the log)",)


def next_step(outcome: str, reason: str, items: Sequence[LoggedDecision], run: Run) -> Msg:
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
        return ("install the GitHub App on ", *join(owner(r) for r in repos), ", then rerun")
    if reason == "permission-denied":
        named = [m.group(1) for d in items if (m := re.search(r"permission (\S+: \w+)", d.detail))]
        if named:
            return ("grant ", *join(named), " on ", *join(owner(r) for r in repos))
        return (
            "grant the token (or the App's installation) the permission the detail names on ",
            *join(repos),
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
    if reason == "cluster-error":
        return (
            "the next run retries; if it persists, `foreman-pr-sweeper check` names what the "
            "cluster refuses (RBAC, the Agent CRD)",
        )
    if outcome == "deferred":
        return ("the next run continues",)
    return ("the next run retries",)


def _group(
    outcome: str, reason: str, items: Sequence[LoggedDecision], run: Run, limit: int
) -> Group:
    details = {d.detail for d in items}
    common = len(details) == 1 and len(items) > 1 and bool(items[0].detail)
    shown = items[:limit]
    rows: tuple[tuple[Msg, ...], ...] = tuple(
        (
            *branch_cells(d.where, d.repo, d.branch),
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


def groups(outcome: str, run: Run, limit: int) -> list[Group]:
    by_reason: dict[str, list[LoggedDecision]] = {}
    for d in run.decisions:
        if d.outcome == outcome:
            by_reason.setdefault(d.reason, []).append(d)
    return [_group(outcome, r, items, run, limit) for r, items in sorted(by_reason.items())]


def record_group(run: Run) -> list[Group]:
    if not run.record_failures:
        return []
    items = [
        LoggedDecision(
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
