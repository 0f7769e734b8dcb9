"""What the log writer prints: no secret at any depth, and nothing that drives a terminal."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from sweeper.runlog import configure

TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyz"
# An OSC 8 hyperlink: on a terminal, "click" becomes a live link to evil.example.
HYPERLINK = "https://github.com/acme/w/pull/1\x1b]8;;https://evil.example\x07click\x1b]8;;\x07"


class Terminal(io.StringIO):
    """A stream that says it is a TTY, as an operator's terminal does."""

    def isatty(self) -> bool:
        return True


def logged(
    log_format: str, secrets: list[str], stream: io.StringIO | None = None, **kw: Any
) -> str:
    out = stream if stream is not None else io.StringIO()
    configure(log_format, secrets=secrets, stream=out).info("test.event", **kw)
    return out.getvalue()


@pytest.mark.parametrize("log_format", ["json", "console"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(["a warning naming " + TOKEN], id="in-a-list"),
        pytest.param({"detail": "header " + TOKEN}, id="in-a-dict"),
        pytest.param({"a": [{"b": ("x", TOKEN)}]}, id="nested-deep"),
        pytest.param(("tuple", TOKEN), id="in-a-tuple"),
        pytest.param(ValueError("Bad credentials for " + TOKEN), id="in-an-exception"),
    ],
)
def test_a_secret_nested_in_a_value_is_redacted(log_format: str, value: Any) -> None:
    """`warnings` (a list) or a nested dict carrying the token prints it redacted."""
    out = logged(log_format, [TOKEN], warnings=value)
    assert TOKEN not in out and TOKEN[4:20] not in out
    assert "[redacted]" in out


def test_a_secret_in_a_key_is_redacted() -> None:
    """Keys are printed too."""
    out = logged("json", [TOKEN], **{f"k{TOKEN}": 1})
    assert TOKEN not in out


def test_redaction_keeps_the_lines_shape() -> None:
    """Lists stay lists and numbers numbers: only the secret changes."""
    [line] = [
        json.loads(x) for x in logged("json", [TOKEN], warnings=["a", TOKEN], n=3).split("\n") if x
    ]
    assert line["warnings"] == ["a", "[redacted]"] and line["n"] == 3


def test_a_one_character_token_does_not_mangle_the_output() -> None:
    """`GITHUB_TOKEN=x` redacts a value that is `x`, not every x in every line."""
    [line] = [
        json.loads(x)
        for x in logged("json", ["x"], detail="MaxRetryError: max retries exceeded", t="x").split(
            "\n"
        )
        if x
    ]
    assert line["detail"] == "MaxRetryError: max retries exceeded"
    assert line["t"] == "[redacted]"


@pytest.mark.parametrize(
    "stream",
    [pytest.param(io.StringIO(), id="console"), pytest.param(Terminal(), id="auto-on-a-tty")],
)
def test_a_hyperlink_escape_in_a_url_never_reaches_the_terminal(stream: io.StringIO) -> None:
    """`ESC ]8;;…` in a value prints as text (`\\x1b]8;;`), never as the escape itself."""
    log_format = "auto" if isinstance(stream, Terminal) else "console"
    out = logged(log_format, [], stream, pr_url=HYPERLINK)
    value = out[out.index("pr_url") :]
    assert "\x1b]" not in out and "\x07" not in out
    assert "\\x1b]8;;https://evil.example\\x07click" in value


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        pytest.param("\x1b", "\\x1b", id="c0-escape"),
        pytest.param("\r", "\\r", id="carriage-return-overwrites-the-line"),
        pytest.param("\n", "\\n", id="newline-forges-a-line"),
        pytest.param("\x7f", "\\x7f", id="del"),
        pytest.param("\x9b", "\\x9b", id="c1-control-sequence-introducer"),
        pytest.param("\u202e", "\\u202e", id="bidi-override"),
        pytest.param("\u2066", "\\u2066", id="bidi-isolate"),
    ],
)
def test_console_output_escapes_control_characters(char: str, shown: str) -> None:
    """Every control character, in a key or a value, prints as its escape."""
    out = logged("console", [], detail=f"a{char}b", **{f"k{char}": "v"})
    assert char not in out.rstrip("\n")
    assert f"a{shown}b" in out and f"k{shown}" in out


def test_console_colours_still_work_on_a_tty() -> None:
    """Only values are escaped: the renderer's own colours stay live on a terminal."""
    out = logged("auto", [], Terminal(), detail="plain")
    assert "\x1b[" in out


def test_json_output_keeps_the_value_exact() -> None:
    """JSON escapes controls itself: the value reads back exactly as it was."""
    [line] = [json.loads(x) for x in logged("json", [], pr_url=HYPERLINK).split("\n") if x]
    assert line["pr_url"] == HYPERLINK
