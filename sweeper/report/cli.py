"""The `report` subcommand's shell: read a file or standard input, render, print."""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from sweeper.report.markdown import render_markdown
from sweeper.report.model import (
    ParsedLog,
)
from sweeper.report.parse import parse
from sweeper.report.text import render_text, visible

PROG = "foreman-pr-sweeper report"


def render(log: ParsedLog, fmt: str = "text") -> str:
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
