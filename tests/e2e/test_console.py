"""End to end: the console log format, what an operator running the CLI by hand reads."""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.harness import World

pytestmark = pytest.mark.e2e

# An OSC 8 hyperlink and a screen clear, written by whoever may write the run lock's Lease.
HOSTILE = "run-1\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\x1b[2J"


def test_a_lease_holder_with_terminal_escapes_prints_them_as_text(world: World) -> None:
    """`--log-format console` shows `lock.held`'s holder escaped: no escape reaches the
    terminal, and the operator still reads what was there."""
    world.simple(issues=[1])
    world.hold_lock(HOSTILE)
    proc = subprocess.run(
        world.command(["--log-format", "console"]),
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=world.tmp,
    )
    assert proc.returncode == 0, proc.stderr
    assert "lock.held" in proc.stdout and "sweep.finished" in proc.stdout
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert "holder='run-1\\x1b]8;;https://evil.example\\x07click" in proc.stdout
