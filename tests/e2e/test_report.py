"""`foreman-pr-sweeper report`, end to end: a real sweep's log piped into the report."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.harness import World

pytestmark = pytest.mark.e2e


def report(world: World, log: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sweeper", "report", *args],
        input=log,
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=world.tmp,
    )


def test_a_sweeps_log_piped_into_the_report_shows_its_prs(world: World) -> None:
    world.simple("nightly", issues=(1, 2))
    world.simple("later", issues=(3,))
    run = world.sweep("--max-create", "2")
    assert run.code == 0, run.stdout
    urls = [d["pr_url"] for d in run.decisions if d["outcome"] == "opened"]
    assert len(urls) == 2

    shown = report(world, run.stdout)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "RUN 1 of 1: finished, exit 0" in text
    assert "3 decided: 2 opened, 1 deferred" in text
    assert "2 listed: 2 pending" in text
    for url in urls:
        assert url in text
    assert "foreman/nightly/issue-1" in text and "foreman/nightly/issue-2" in text
    assert "budget-exhausted (1): next step: raise --max-create (this run: 2)" in text
    assert "PULL REQUESTS (2)" in text and "QUOTA" in text

    md = report(world, run.stdout, "--format", "markdown")
    assert md.returncode == 0, md.stderr
    assert "## Run 1 of 1: finished, exit 0" in md.stdout
    assert f"<{urls[0]}>" in md.stdout and "`foreman/nightly/issue-1`" in md.stdout


def test_the_report_of_nothing_fails(world: World) -> None:
    shown = report(world, "not a log\n")
    assert shown.returncode == 2 and shown.stdout == ""
    assert shown.stderr.count("\n") == 1 and "holds no sweeper run" in shown.stderr
