"""The report for a terminal: plain, aligned, about 100 columns, log text made visible."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

from sweeper.report.compose import preamble, readout
from sweeper.report.model import (
    Msg,
    ParsedLog,
    Readout,
    Table,
    Val,
)
from sweeper.report.steps import MORE_HINT

WIDTH = 100

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


def render_text(log: ParsedLog) -> str:
    """The report for a terminal: plain, aligned, about 100 columns."""
    out = _prose("; ".join(_t(m) for m in preamble(log)), "foreman-pr-sweeper report: ", "  ")
    for i, run in enumerate(log.runs, start=1):
        out += ["", *_text_run(i, len(log.runs), readout(run, i < len(log.runs)))]
    return "\n".join(out) + "\n"
