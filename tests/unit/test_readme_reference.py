"""The README's Reference against the code, both ways (issue 21): every flag, variable,
outcome, reason, log event and exit code the code has is in the Reference, and the
Reference names none that the code does not have.

The code side is read from the source of all of sweeper/ (recursively, with `ast`), not
from a module list, so it holds when modules move: log events are the calls whose first
argument is a string like "sweep.started" and that carry fields; reasons are the string
values given as `reason=`, assigned to a `reason`, returned by a `*_refusal` function,
passed right after an `Outcome.*`, or members of the Reason and WorkloadSkip enums.
"""

from __future__ import annotations

import ast
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest

from sweeper.flags import parser

ROOT = Path(__file__).resolve().parents[2]
SWEEPER = ROOT / "sweeper"
EVENT = re.compile(r"^[a-z]+\.[a-z_]+$")
REASON = re.compile(r"^[a-z]+(?:-[a-z]+)*$")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*[a-z](?![\w…-])")  # not `--no-…`
VARIABLE = re.compile(r"\b(?:SWEEPER|GITHUB)_[A-Z][A-Z_]*[A-Z]\b")
TICKED = re.compile(r"`([^`]+)`")


# -- the code --------------------------------------------------------------------------


@cache
def _trees() -> tuple[ast.Module, ...]:
    return tuple(ast.parse(p.read_text(), str(p)) for p in sorted(SWEEPER.rglob("*.py")))


def _nodes() -> Iterator[ast.AST]:
    for tree in _trees():
        yield from ast.walk(tree)


def _strings(node: ast.AST | None) -> set[str]:
    """The string constants a value can be: "a", or "a" if x else "b"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    return set()


def _enum(name: str) -> set[str]:
    """The values of the StrEnum class `name`, wherever in sweeper/ it is defined."""
    values: set[str] = set()
    for node in _nodes():
        if isinstance(node, ast.ClassDef) and node.name == name:
            for item in node.body:
                if isinstance(item, ast.Assign):
                    values |= _strings(item.value)
    assert values, f"no enum {name} in sweeper/"
    return values


def code_events() -> set[str]:
    events = set()
    for node in _nodes():
        if isinstance(node, ast.Call) and node.args and node.keywords:
            events |= {s for s in _strings(node.args[0]) if EVENT.match(s)}
    return events


def code_reasons() -> set[str]:
    reasons = _enum("Reason") | _enum("WorkloadSkip")
    for node in _nodes():
        if isinstance(node, ast.keyword) and node.arg == "reason":
            reasons |= _strings(node.value)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            named = {t.id if isinstance(t, ast.Name) else getattr(t, "attr", "") for t in targets}
            if "reason" in named:
                reasons |= _strings(node.value)
        elif isinstance(node, ast.FunctionDef) and node.name.endswith("refusal"):
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return):
                    reasons |= _strings(ret.value)
        elif isinstance(node, ast.Call):
            for before, arg in zip(node.args, node.args[1:], strict=False):
                if isinstance(before, ast.Attribute) and ast.unparse(before).startswith("Outcome."):
                    reasons |= _strings(arg)
    return {r for r in reasons if REASON.match(r)}


def code_exit_codes() -> set[int]:
    """EXIT_* constants, and 128 + each signal the sweeper handles."""
    codes: set[int] = set()
    for node in _nodes():
        if isinstance(node, ast.Assign):
            for target in node.targets:
                names = target.elts if isinstance(target, ast.Tuple) else [target]
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                for name, value in zip(names, values, strict=False):
                    if isinstance(name, ast.Name) and name.id.startswith("EXIT_"):
                        assert isinstance(value, ast.Constant) and isinstance(value.value, int)
                        codes.add(value.value)
        elif isinstance(node, ast.Attribute) and ast.unparse(node).startswith("signal.SIG"):
            number = getattr(signal, node.attr, None)
            if isinstance(number, signal.Signals):
                codes.add(128 + number.value)
    return codes


def sweep_flags() -> set[str]:
    return {s for a in parser()._actions for s in a.option_strings if s.startswith("--")}


@cache
def subcommand_flags(command: str) -> frozenset[str]:
    """The flags `report --help` or `check --help` prints, from the CLI itself."""
    out = subprocess.run(
        [sys.executable, "-m", "sweeper", command, "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return frozenset(FLAG.findall(out.split("options:", 1)[1]))


def variables() -> set[str]:
    return set(parser().variables.values())


# -- the README ------------------------------------------------------------------------


def reference() -> str:
    return reference_of((ROOT / "README.md").read_text())


def reference_of(text: str) -> str:
    match = re.search(r"^## Reference\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, "README has no '## Reference' section"
    return match.group(1)


def part(ref: str, title: str) -> str:
    match = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^### |\Z)", ref, re.S | re.M)
    assert match, f"the Reference has no '### {title}'"
    return match.group(1)


def rows(text: str) -> list[list[str]]:
    """The cells of every body row of the Markdown tables in `text`."""
    table = []
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        table.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return [r for r in table if r and r[0] not in ("flag", "outcome", "event", "code")]


def ticked(cell: str) -> set[str]:
    return set(TICKED.findall(cell))


def readme_flags(ref: str) -> set[str]:
    table = "\n".join(r[0] for r in rows(part(ref, "Flags and environment variables")))
    return set(FLAG.findall(table))


def readme_variables(ref: str) -> set[str]:
    table = rows(part(ref, "Flags and environment variables"))
    found = {v for r in table for v in VARIABLE.findall(r[1])}
    return found | {v for r in table for v in ticked(r[1]) if v.isupper() and "=" not in v}


def readme_outcomes(ref: str) -> tuple[set[str], set[str]]:
    table = rows(part(ref, "Outcomes and reasons"))
    outcomes = {t for r in table for t in ticked(r[0])}
    reasons = {t for r in table if not r[1].startswith("(") for t in ticked(r[1])}  # (as `opened`)
    return outcomes, reasons


def readme_events(ref: str) -> tuple[set[str], set[str]]:
    table = rows(part(ref, "Log events"))
    events = {t for r in table for t in ticked(r[0])}
    reasons = {t for r in table for t in ticked(r[2])}
    return events, reasons


def readme_exit_codes(ref: str) -> set[int]:
    return {int(n) for r in rows(part(ref, "Exit codes")) for n in re.findall(r"\d+", r[0])}


# -- both ways -------------------------------------------------------------------------


def test_the_discovery_finds_what_the_code_is_known_to_have() -> None:
    """The scans of sweeper/ find known members, so an empty scan cannot pass as agreement."""
    assert {"sweep.started", "pr.decision", "sweep.aborted", "event.failed"} <= code_events()
    assert {"metrics.push_failed", "sweep.finished", "record.failed"} <= code_events()
    assert {"missing-pr", "record-failed", "workload-error", "github-auth"} <= code_reasons()
    assert {0, 1, 2, 130, 143} <= code_exit_codes()
    assert {"--dry-run", "--no-dry-run", "--write-interval"} <= sweep_flags()
    assert "--format" in subcommand_flags("report") & subcommand_flags("check")


def test_every_flag_is_in_the_reference_and_no_other() -> None:
    """The flags table lists exactly the sweep's flags; report's and check's own are shown
    with them, and no flag the Reference names is unknown to the CLI."""
    ref = reference()
    assert readme_flags(ref) == sweep_flags()
    extra = (subcommand_flags("report") | subcommand_flags("check")) - sweep_flags()
    for flag in extra:
        assert f"`{flag}" in ref or f" {flag} " in ref, f"{flag} is not in the Reference"
    known = sweep_flags() | subcommand_flags("report") | subcommand_flags("check")
    assert set(FLAG.findall(ref)) <= known, set(FLAG.findall(ref)) - known


def test_every_variable_is_in_the_reference_and_no_other() -> None:
    """SWEEPER_*, GITHUB_*, KUBECONFIG and POD_NAMESPACE: the flags table names exactly the
    variables the CLI reads."""
    assert readme_variables(reference()) == variables()


def test_every_outcome_and_reason_is_in_the_reference_and_no_other() -> None:
    """The outcomes table has every Outcome and Reason, the log-events table every other
    reason the code logs, and each reason these tables name is one the code logs."""
    ref = reference()
    outcomes, decision_reasons = readme_outcomes(ref)
    assert outcomes == _enum("Outcome")
    _, event_reasons = readme_events(ref)
    named = decision_reasons | event_reasons
    assert named <= code_reasons(), named - code_reasons()
    assert _enum("Reason") <= decision_reasons, _enum("Reason") - decision_reasons
    tabled = code_reasons() - _enum("WorkloadSkip")  # those are sweep.finished's counts
    assert tabled <= named, tabled - named
    shown = ticked(ref)
    assert _enum("WorkloadSkip") <= shown, _enum("WorkloadSkip") - shown


def test_every_log_event_is_in_the_reference_and_no_other() -> None:
    """The log-events table lists exactly the event names the code logs."""
    events, _ = readme_events(reference())
    assert events == code_events()


def test_every_exit_code_is_in_the_reference_and_no_other() -> None:
    """The exit-codes table lists exactly EXIT_* and 128 + each signal handled."""
    assert readme_exit_codes(reference()) == code_exit_codes()


@pytest.mark.parametrize(
    "check, removed",
    [
        (test_every_log_event_is_in_the_reference_and_no_other, "| `sweep.aborted` |"),
        (test_every_flag_is_in_the_reference_and_no_other, "| `--page-size N` |"),
        (test_every_outcome_and_reason_is_in_the_reference_and_no_other, "| `skipped` | `no-diff`"),
        (test_every_exit_code_is_in_the_reference_and_no_other, "| 2 |"),
        (test_every_variable_is_in_the_reference_and_no_other, "| `POD_NAMESPACE` |"),
    ],
)
def test_a_reference_missing_a_row_fails(
    check: Callable[[], None], removed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each check fails on a README with one of its rows taken out."""
    text = (ROOT / "README.md").read_text()
    lines = [line for line in text.splitlines() if removed not in line]
    assert len(lines) < len(text.splitlines()), f"no row {removed!r} to take out"
    monkeypatch.setattr(sys.modules[__name__], "reference", lambda: reference_of("\n".join(lines)))
    with pytest.raises(AssertionError):
        check()


def test_a_reference_naming_what_the_code_lacks_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row for an event, flag or reason the code does not have fails the check."""
    text = (ROOT / "README.md").read_text()
    bogus = {
        "| `metrics.pushed` |": "| `sweep.imagined` | info | | never |\n",
        "| `--page-size N` |": "| `--imagined` | `SWEEPER_IMAGINED` | | never |\n",
        "| `skipped` | `no-diff`": "| `skipped` | `imagined` | never |\n",
    }
    for anchor, row in bogus.items():
        at = text.index(anchor)
        text = text[:at] + row + text[at:]
    monkeypatch.setattr(sys.modules[__name__], "reference", lambda: reference_of(text))
    for check in (
        test_every_log_event_is_in_the_reference_and_no_other,
        test_every_flag_is_in_the_reference_and_no_other,
        test_every_variable_is_in_the_reference_and_no_other,
        test_every_outcome_and_reason_is_in_the_reference_and_no_other,
    ):
        with pytest.raises(AssertionError):
            check()


def test_help_and_readme_say_events_are_only_for_changes() -> None:
    """Issue 23's drift: --help and the README said every PR was recorded "as an Event";
    the code emits one only for a PR it opened, updated or withdrew, or a failed record."""
    out = subprocess.run(
        [sys.executable, "-m", "sweeper", "--help"], capture_output=True, text=True, cwd=ROOT
    ).stdout
    flat = " ".join(out.split())
    assert "as an Event" not in flat
    assert "only for a PR it opened, updated or withdrew" in flat
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "and emit an Event." not in readme
    for reason in ("PullRequestOpened", "PullRequestUpdated", "PullRequestWithdrawn"):
        assert f"`{reason}`" in reference()
    assert "`RecordFailed`" in reference()


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_within_the_readme_points_at_a_heading() -> None:
    """Sections moved: every `](#anchor)` still lands on a heading of the README."""
    text = (ROOT / "README.md").read_text()
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    anchors = {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", prose, re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", prose))
    assert links and links <= anchors, links - anchors
