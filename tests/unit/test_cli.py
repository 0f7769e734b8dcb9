"""The command line's shell: one line for every refusal, in the chosen format; --help that
says what the code does; a closed stdout that loses the log, never the run."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sweeper.cli import Output, main
from sweeper.flags import refusal_format

ENV = {"GITHUB_TOKEN": "ghp_secret123", "SWEEPER_LOCK_NAMESPACE": "ops"}


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str]) -> dict:
    """Runs main, asserts exit 2 and exactly one JSON line, returns it."""
    assert main(argv, env) == 2
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1, out
    line: dict = json.loads(out[0])
    assert line["event"] == "sweep.config_error" and line["level"] == "error"
    return line


@pytest.mark.parametrize(
    ("argv", "source"),
    [
        pytest.param(["--max-create", "abc"], "flag --max-create", id="not-a-number"),
        pytest.param(["--max-create"], "flag --max-create", id="no-value"),
        pytest.param(["--no-such-flag"], "flag --no-such-flag", id="unknown-flag"),
        pytest.param(["--dry-run=yes"], "flag --dry-run", id="switch-with-a-value"),
        pytest.param(["surplus"], "command line", id="stray-word"),
    ],
)
def test_argparse_refusals_are_one_json_line_and_a_short_hint(
    capsys: pytest.CaptureFixture[str], argv: list[str], source: str
) -> None:
    """argparse printed 15 lines of usage and exited 2 with no JSON: now one config_error
    line naming the flag, and at most a two-line hint on stderr."""
    line = refused(capsys, [*argv, "--log-format", "json"], ENV)
    assert line["reason"] == "config" and line["source"] == source
    err = capsys.readouterr().err
    assert len(err.splitlines()) <= 2


def test_an_unknown_argument_is_named_but_its_value_is_not_shown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A token pasted after a mistyped flag is not repeated in the log."""
    line = refused(capsys, ["--github-token", "ghp_pasted_by_mistake", "--log-format=json"], ENV)
    assert line["source"] == "flag --github-token" and "--github-token" in line["detail"]
    assert "ghp_pasted_by_mistake" not in json.dumps(line)


def test_a_refusal_is_written_in_the_chosen_log_format(capsys: pytest.CaptureFixture[str]) -> None:
    """--log-format console applies to the refusal too (it used only SWEEPER_LOG_FORMAT)."""
    assert main(["--max-create", "abc", "--log-format", "console"], ENV) == 2
    [out] = capsys.readouterr().out.splitlines()
    assert "sweep.config_error" in out and not out.startswith("{")


@pytest.mark.parametrize(
    ("argv", "env", "chosen"),
    [
        ([], {}, "auto"),
        (["--log-format=console"], {}, "console"),
        (["--log-format", "json"], {"SWEEPER_LOG_FORMAT": "console"}, "json"),
        ([], {"SWEEPER_LOG_FORMAT": "console"}, "console"),
        pytest.param([], {"SWEEPER_LOG_FORMAT": "bogus"}, "auto", id="bad-variable"),
        pytest.param(
            ["--log-format", "bogus"], {"SWEEPER_LOG_FORMAT": "json"}, "auto", id="bad-flag-wins"
        ),
        pytest.param(["--log-format"], {"SWEEPER_LOG_FORMAT": "json"}, "json", id="no-value"),
    ],
)
def test_the_format_of_a_refusal(argv: list[str], env: dict[str, str], chosen: str) -> None:
    """The flag wins, then the variable; a value that is no format is never used."""
    assert refusal_format(argv, env) == chosen


def test_a_bad_log_format_variable_is_refused_not_used(capsys: pytest.CaptureFixture[str]) -> None:
    """SWEEPER_LOG_FORMAT=bogus was passed unchecked to the logger: now its own refusal."""
    line = refused(capsys, [], {**ENV, "SWEEPER_LOG_FORMAT": "bogus"})
    assert line["source"] == "variable SWEEPER_LOG_FORMAT"


def test_help_tells_what_the_code_does(capsys: pytest.CaptureFixture[str]) -> None:
    """--help: the report's usage line, POD_NAMESPACE, the ranges, --max-create 0, the
    signals' exit codes, and a --dry-run that admits its metrics push."""
    assert main(["--help"], {}) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "foreman-pr-sweeper report [FILE] [--format text|markdown]" in text
    assert "POD_NAMESPACE" in text and "130 SIGINT" in text and "143 SIGTERM" in text
    assert "0 to 60 (default 1.0)" in text and "1 to 5000 (default 500)" in text
    assert "0 opens none: existing PRs are still adopted and recorded" in text
    assert "write nothing anywhere" not in text and "metrics are still pushed" in text
    assert "--no-dry-run" in text and "--lock" in text and "--no-open-as-draft" in text


class Closed(io.StringIO):
    """A stdout whose reader went away."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_swallows_the_log_not_the_run() -> None:
    """Writes after the reader left are dropped quietly: no exception reaches the pass."""
    out = Output(Closed())
    assert out.write("one line\n") == len("one line\n")
    out.flush()
    assert out.gone and out.write("next\n") == len("next\n") and not out.isatty()


def test_report_on_a_terminal_says_how_to_use_it(capsys: pytest.CaptureFixture[str]) -> None:
    """`report` with no FILE and a terminal as input waited silently: now usage, exit 2."""
    from sweeper.report.cli import main as report

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert report([], Terminal(), io.StringIO()) == 2
    assert "usage: foreman-pr-sweeper report [FILE]" in capsys.readouterr().err


def test_report_reads_an_explicit_dash_even_from_a_terminal(tmp_path: Path) -> None:
    """`report -` is asked for: it reads standard input, terminal or not."""
    from sweeper.report.cli import main as report

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert report(["-"], Terminal(""), io.StringIO()) == 2  # read, and found no run
