"""The README's first command: the no-cluster demo runs and shows the sweeper's work."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.harness import REPO_ROOT

pytestmark = pytest.mark.e2e


def test_the_demo_opens_prs_and_reads_its_report() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "demo" / "run.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "=> counts {'adopted': 1, 'opened': 5, 'skipped': 3}, exit code 0" in out
    assert "foreman-pr-sweeper report: 1 run" in out
    assert "branches:  9 decided: 5 opened, 1 adopted, 3 skipped" in out
    raw = next(line.strip() for line in out.splitlines() if '"event": "pr.decision"' in line)
    line = json.loads(raw)  # the tool's own line, verbatim
    assert (line["event"], line["outcome"]) == ("pr.decision", "opened")
    body = out.split("whose reviewer wrote", 1)[1]
    assert "F\u200bixes #7" in body and "@\u200balice" in body  # the PR it seeded, neutralised
    assert "Traceback" not in done.stderr
