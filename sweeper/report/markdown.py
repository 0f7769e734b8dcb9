"""The report for a GitHub issue: headings and tables, all log text inert code spans."""

from __future__ import annotations

import re

from sweeper.report.compose import preamble, readout
from sweeper.report.model import (
    Msg,
    ParsedLog,
    Readout,
    Table,
    Url,
    Val,
)
from sweeper.report.steps import MORE_HINT
from sweeper.report.text import visible

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


def render_markdown(log: ParsedLog) -> str:
    """The report for a GitHub issue: headings and tables; all log text inert."""
    out = ["# foreman-pr-sweeper report", "", "  \n".join(_m(m) for m in preamble(log)), ""]
    for i, run in enumerate(log.runs, start=1):
        out += _md_run(i, len(log.runs), readout(run, i < len(log.runs)))
    return "\n".join(out).rstrip("\n") + "\n"
