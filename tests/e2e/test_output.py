"""Where the output goes: a reader that goes away (`| head`) loses the rest of the log,
never the run; `report` on a terminal with no file says how to use it instead of waiting."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import REPO_ROOT, World

pytestmark = pytest.mark.e2e


def test_a_closed_stdout_ends_the_run_quietly_with_its_usual_exit_code(world: World) -> None:
    """`foreman-pr-sweeper | head -1` ended in BrokenPipeError tracebacks and exit 120.
    The reader leaves after the first line; the run still opens and records the PR and
    exits 0, and stderr stays empty."""
    world.simple(issues=(1, 2))
    closed = threading.Event()

    def wait_for_the_reader_to_leave(_method: str, _path: str, _body: Any) -> None:
        closed.wait(30)  # the first Kubernetes call waits until stdout is closed

    world.kube.on_request(wait_for_the_reader_to_leave)
    proc = world.start()
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    assert '"event": "sweep.started"' in first
    proc.stdout.close()  # `head -1` exits
    closed.set()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, stderr
    world.kube.on_request(None)
    assert stderr == ""
    assert len(world.pulls()) == 2 and len(world.records("wl")) == 2


def closed_pipe() -> int:
    """The write end of a pipe nobody reads: every write to it is EPIPE."""
    read, write = os.pipe()
    os.close(read)
    return write


def run_into(args: list[str], stdout: int, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "SWEEPER_"))}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "sweeper", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        timeout=60,
        **kwargs,
    )


def test_a_report_into_a_closed_pipe_is_quiet() -> None:
    """`report FILE | head -1` ended in a BrokenPipeError traceback and exit 1: now exit 0,
    nothing on stderr. (argparse already swallows a closed pipe under --help.)"""
    pipe = closed_pipe()
    try:
        done = run_into(["report", str(REPO_ROOT / "tests/fixtures/logs/backfill.jsonl")], pipe)
    finally:
        os.close(pipe)
    assert (done.returncode, done.stderr) == (0, "")


def test_report_on_a_terminal_says_how_to_use_it(tmp_path: Path) -> None:
    """`report` alone on a terminal waited on stdin without a word: now the usage, exit 2."""
    controller, terminal = pty.openpty()
    try:
        done = run_into(["report"], subprocess.PIPE, stdin=terminal, cwd=tmp_path)
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode == 2
    assert "standard input is a terminal" in done.stderr
    assert "usage: foreman-pr-sweeper report [FILE] [--format text|markdown]" in done.stderr
