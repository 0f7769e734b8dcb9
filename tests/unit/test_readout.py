"""`foreman-pr-sweeper report`: recorded logs against golden renderings, and the edge cases.

The logs in tests/fixtures/logs/ were recorded by running the real CLI against the
stand-ins (`python -m tests.fixtures.logs.record`); the reports in tests/fixtures/reports/
pin their layout. After a deliberate change of the layout (or a new recording):

    python -m tests.unit.test_readout --update
    UPDATE_GOLDEN=1 python -m pytest tests/unit/test_readout.py       # writes, then fails
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sweeper.report.cli import main, render
from sweeper.report.model import ParsedLog
from sweeper.report.parse import parse, parse_text
from sweeper.report.steps import next_step
from sweeper.report.text import visible

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "tests" / "fixtures" / "logs"
REPORTS = ROOT / "tests" / "fixtures" / "reports"
FORMATS = {"txt": "text", "md": "markdown"}
UPDATE = "python -m tests.unit.test_readout --update"


def recorded() -> list[Path]:
    return sorted(LOGS.glob("*.jsonl"))


def rendered(log: Path, fmt: str) -> str:
    with log.open(encoding="utf-8") as f:
        return render(parse(f), fmt)


def golden(log: Path, ext: str) -> Path:
    return REPORTS / f"{log.stem}.{ext}"


def update() -> None:
    REPORTS.mkdir(exist_ok=True)
    for log in recorded():
        for ext, fmt in FORMATS.items():
            golden(log, ext).write_text(rendered(log, fmt), encoding="utf-8")
            print(f"wrote {golden(log, ext).relative_to(ROOT)}")


# ---------------------------------------------------------------- golden renderings


@pytest.mark.parametrize("ext", sorted(FORMATS))
@pytest.mark.parametrize("log", recorded(), ids=lambda p: p.stem)
def test_recorded_log_renders_as_its_golden_report(log: Path, ext: str) -> None:
    path = golden(log, ext)
    if os.environ.get("UPDATE_GOLDEN"):  # a rewritten golden proves nothing: never a pass
        path.write_text(rendered(log, FORMATS[ext]), encoding="utf-8")
        pytest.fail(f"wrote {path.name}: review the diff, then run again without UPDATE_GOLDEN")
    assert path.exists(), f"no golden report {path.name}: run `{UPDATE}`"
    expected = path.read_text(encoding="utf-8")
    got = rendered(log, FORMATS[ext])
    assert got == expected, (
        f"{path.relative_to(ROOT)} differs from the rendering of {log.name}; if the change is "
        f"meant, regenerate with `{UPDATE}` (or UPDATE_GOLDEN=1) and review the diff"
    )


def test_every_recorded_log_and_its_reports_exist() -> None:
    names = {p.stem for p in recorded()}
    assert {"dry-run", "backfill", "several-runs", "cut-off", "mixed", "older"} <= names
    assert {p.name for p in REPORTS.iterdir()} == {
        f"{n}.{ext}" for n in names for ext in FORMATS
    }, f"stale or missing golden reports: run `{UPDATE}`"


def test_text_reports_fit_a_terminal() -> None:
    """100 columns, but for data that cannot be broken (a long URL or word)."""
    for path in REPORTS.glob("*.txt"):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert len(line) <= 100 or " " not in line.strip()[-40:], (path.name, line)


def test_the_backfill_report_shows_what_an_operator_needs() -> None:
    text = rendered(LOGS / "backfill.jsonl", "text")
    assert "RUN 1 of 1: finished, exit 1" in text
    for expected in (
        "opened   default/nightly-fixes",
        "https://github.example/acme/widgets/pull/",
        "updated  default/refresh-me",
        "adopted  default/old-merged",
        "permission-denied (2)",
        "github-error (1)",
        "budget-exhausted (1): next step: raise --max-create (this run: 4)",
        "labels failed",
        "core",
        "graphql",
    ):
        assert expected in text, expected
    md = rendered(LOGS / "backfill.jsonl", "markdown")
    assert "## Run 1 of 1: finished, exit 1" in md and "### Pull requests (6)" in md


# ---------------------------------------------------------------- parsing edge cases


def report(log: ParsedLog, fmt: str = "text") -> str:
    """The rendering; text with its line wrapping undone, so phrases can be looked for."""
    out = render(log, fmt)
    return " ".join(out.split()) if fmt == "text" else out


def lines(*objs: Any) -> list[str]:
    return [(o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs]


STARTED = {
    "event": "sweep.started",
    "version": "0.1.0",
    "ts": "2026-01-01T00:00:00.000001Z",
    "settings": {"max_create": 7, "rate_reserve": "20%", "dry_run": False},
}


def decision(**fields: Any) -> dict[str, Any]:
    base = {
        "event": "pr.decision",
        "namespace": "ns",
        "workload": "wl",
        "repo": "acme/widgets",
        "branch": "foreman/wl/issue-1",
        "outcome": "opened",
        "reason": "missing-pr",
        "detail": "no PR for this head",
        "pr_url": "https://github.example/acme/widgets/pull/1",
    }
    return {**base, **fields}


def finished(**fields: Any) -> dict[str, Any]:
    return {"event": "sweep.finished", "counts": {"opened": 1}, "exit_code": 0, **fields}


def test_a_cut_off_run_did_not_finish_and_shows_its_last_progress() -> None:
    progress = {
        "event": "sweep.progress",
        "phase": "act",
        "workloads_listed": 40,
        "workloads_pending": 12,
        "candidates": 9,
        "counts": {"opened": 1},
        "elapsed_s": 31.5,
        "ts": "2026-01-01T00:00:40Z",
    }
    log = parse(lines(STARTED, decision(), progress))
    [run] = log.runs
    assert run.exit_code is None and not run.ended
    text = report(log)
    assert "DID NOT FINISH" in text and "activeDeadlineSeconds" in text
    assert "last progress (act) at 31.5 s: 40 Workloads listed, 12 pending" in text
    assert "ran at least 40 s" in text
    assert "40 listed so far" in text


def test_non_json_lines_are_counted_and_skipped() -> None:
    log = parse(
        lines(
            'Defaulted container "sweeper" out of: sweeper, istio-proxy',
            STARTED,
            "Traceback (most recent call last):",
            "",
            decision(),
            finished(),
        )
    )
    assert log.not_json == [1, 3] and len(log.runs) == 1 and not log.cut_last_line
    assert "skipped 2 lines that are not sweeper log lines (2 not JSON; lines 1, 3)" in report(log)


def test_a_trailing_partial_line_is_said_to_be_cut_off() -> None:
    text = "".join(lines(STARTED, decision())) + '{"event": "sweep.fini'
    log = parse_text(text)
    assert log.cut_last_line and log.not_json == [3]
    assert "the last line is cut off" in report(log)
    assert not parse_text("".join(lines(STARTED)) + "garbage\n").cut_last_line


def test_non_dict_json_and_foreign_objects_are_skipped() -> None:
    log = parse(lines(3, [], '"a string"', None, True, {"no": "event"}, {"event": 7}, STARTED))
    assert log.not_object == [1, 2, 3, 4, 5] and log.foreign == [6, 7]
    assert len(log.runs) == 1


def test_unknown_fields_are_ignored_and_missing_ones_tolerated() -> None:
    log = parse(
        lines(
            {"event": "sweep.started"},
            {"event": "pr.decision", "future": {"x": [1]}},
            {"event": "pr.decision", "outcome": "failed"},
            {"event": "sweep.finished", "new_field": 1},
        )
    )
    [run] = log.runs
    assert [d.outcome for d in run.decisions] == ["(no outcome)", "failed"]
    assert run.exit_code == 1  # no exit_code: from the failures
    for fmt in FORMATS.values():
        assert "(no detail)" in report(log, fmt)


WEIRD: list[Any] = [None, 3, -1, 2.5, True, "", "x", [], ["a", 1], {}, {"a": "b"}, [[[]]]]
FIELDS = (
    "event", "ts", "level", "version", "settings", "warning", "namespace", "workload", "repo",
    "branch", "outcome", "reason", "detail", "pr_url", "draft", "warnings", "dry_run", "counts",
    "workloads", "workloads_seen", "record_failures", "lock_held_by", "github_calls",
    "github_rate", "kube_calls", "exit_code", "duration_s", "holder", "phase", "elapsed_s",
    "workloads_listed",
)  # fmt: skip
EVENTS = (
    "sweep.started", "pr.decision", "sweep.progress", "sweep.finished", "lock.held",
    "sweep.config_error", "sweep.aborted", "record.failed", "workload.skipped",
    "github.graphql_unavailable", "metrics.push_failed",
)  # fmt: skip


def weird_lines() -> Iterator[dict[str, Any]]:
    for event in EVENTS:
        for i, value in enumerate(WEIRD):
            obj: dict[str, Any] = {k: WEIRD[(i + j) % len(WEIRD)] for j, k in enumerate(FIELDS)}
            obj["event"] = event
            yield obj
            yield {"event": event, "github_rate": {"core": value, "x": {"used": value}}}
            yield {"event": event, "settings": {"k": value}, "counts": {"opened": value}}


def test_no_object_of_any_shape_breaks_parsing_or_rendering() -> None:
    log = parse(lines(*weird_lines()))
    assert log.runs
    for fmt in FORMATS.values():
        assert report(log, fmt)


def test_a_config_error_without_a_start_is_a_run_of_its_own() -> None:
    error = {
        "event": "sweep.config_error",
        "reason": "config",
        "detail": "--min-age 'x' is not a duration",
        "level": "error",
    }
    log = parse(lines(error))
    [run] = log.runs
    assert run.exit_code == 2 and not run.started
    text = report(log)
    assert "configuration error, exit 2" in text and "--min-age 'x' is not a duration" in text
    assert "no sweep.started" not in text and "branches" not in text


def test_lines_before_any_start_make_a_run_whose_start_is_unknown() -> None:
    log = parse(lines(decision(), finished(), STARTED, finished(counts={})))
    assert len(log.runs) == 2 and not log.runs[0].started and log.runs[1].started
    assert "no sweep.started line for this run" in report(log)


def test_several_runs_and_what_belongs_to_which() -> None:
    held = {"event": "lock.held", "holder": "pod-1"}
    warning = {"event": "metrics.push_failed", "level": "warning", "detail": "refused"}
    log = parse(
        lines(STARTED, held, finished(counts={}, lock_held_by="pod-1"), warning, decision())
    )
    first, second = log.runs
    assert first.lock_held_by == "pod-1" and [n.event for n in first.notices] == [
        "metrics.push_failed"
    ]
    assert len(second.decisions) == 1 and not second.ended  # a run whose start was lost
    text = report(log)
    assert "RUN 1 of 2: lock held, exit 0" in text and "(pod-1): nothing was done" in text


def test_a_started_run_without_an_end_before_the_next_start() -> None:
    log = parse(lines(STARTED, decision(), STARTED, decision(), finished()))
    assert [r.ended for r in log.runs] == [False, True]
    assert "a later run starts in this log" in report(log)


def test_counts_are_cross_checked_with_sweep_finished() -> None:
    log = parse(lines(STARTED, decision(), finished(counts={"opened": 2})))
    assert "cross-check: sweep.finished counts 2 opened" in report(log)
    assert "cross-check" not in report(parse(lines(STARTED, decision(), finished())))


@pytest.mark.parametrize(
    ("backlog", "text"),
    [
        pytest.param(
            {
                "oldest_pending_age_s": 3 * 86400 + 7200.5,
                "waiting": {"too-young": 2, "deferred/rate-reserve": 1},
            },
            "backlog: oldest waiting for 3 d 2 h; deferred/rate-reserve 1, too-young 2",
            id="waiting",
        ),
        pytest.param(
            {"oldest_pending_age_s": 0, "waiting": {}}, "backlog: nothing waits", id="none"
        ),
    ],
)
def test_the_backlog_is_shown_as_the_metric_has_it(backlog: dict[str, Any], text: str) -> None:
    """The report gives the oldest waiting Workload's age and why they wait, in both formats."""
    log = parse(lines(STARTED, decision(), finished(backlog=backlog)))
    assert text in report(log)
    assert "**Backlog:** " + text.removeprefix("backlog: ").split(";")[0] in report(log, "markdown")


def test_a_log_without_a_backlog_shows_none() -> None:
    """Logs of earlier versions have no backlog: the report says nothing of it."""
    assert "backlog" not in report(parse(lines(STARTED, decision(), finished()))).lower()


def test_aborted_run() -> None:
    abort = {"event": "sweep.aborted", "reason": "cluster", "detail": "connection refused"}
    log = parse(lines(STARTED, decision(), abort))
    assert log.runs[0].exit_code == 1
    assert "aborted, exit 1" in report(log) and "connection refused" in report(log)


# ---------------------------------------------------------------- next steps


def run_of(*objs: Any) -> Any:
    return parse(lines(STARTED, *objs)).runs[0]


def step(outcome: str, reason: str, *objs: dict[str, Any]) -> str:
    run = run_of(*objs)
    items = [d for d in run.decisions if d.reason == reason]
    return "".join(next_step(outcome, reason, items, run))


def test_next_step_for_budget_exhausted_names_the_setting() -> None:
    d = decision(outcome="deferred", reason="budget-exhausted", detail="--max-create 7 reached")
    assert step("deferred", "budget-exhausted", d) == (
        "raise --max-create (this run: 7), or let the next runs drain it"
    )


def test_next_step_for_the_rate_reserve_says_when_the_quota_resets() -> None:
    detail = "core bucket: 1000 of 5000 left, reserve 1000, resets at 2026-01-01T01:00:00Z"
    d = decision(outcome="deferred", reason="rate-reserve", detail=detail)
    assert step("deferred", "rate-reserve", d) == (
        "waits for the quota to reset at 2026-01-01T01:00:00Z; lower --rate-reserve "
        "(this run: 20%) only if the token is not shared"
    )


def test_next_step_for_rate_limited_reads_the_reset_from_the_quota() -> None:
    d = decision(outcome="deferred", reason="rate-limited", detail="GraphQL: API rate limit")
    rate = {
        "core": {"used": 1, "remaining": 4000, "limit": 5000, "resets_at": "2026-01-01T01:00Z"},
        "graphql": {"used": 9, "remaining": 0, "limit": 5000, "resets_at": "2026-01-01T00:40Z"},
    }
    text = step("deferred", "rate-limited", d, finished(github_rate=rate))
    assert text.startswith("waits for the quota to reset at 2026-01-01T00:40Z; the next run")


def test_next_step_for_app_not_installed_names_the_owners() -> None:
    a = decision(outcome="failed", reason="app-not-installed", repo="acme/widgets")
    b = decision(outcome="failed", reason="app-not-installed", repo="other/thing")
    assert step("failed", "app-not-installed", a, b, a) == (
        "install the GitHub App on acme, other, then rerun"
    )


def test_next_step_for_permission_denied_names_the_permission() -> None:
    detail = "the GitHub App's installation on acme lacks the permission pull_requests: write"
    d = decision(outcome="failed", reason="permission-denied", detail=detail)
    assert step("failed", "permission-denied", d) == "grant pull_requests: write on acme"
    d = decision(outcome="failed", reason="permission-denied", detail="Resource not accessible")
    assert "the permission the detail names on acme/widgets" in step(
        "failed", "permission-denied", d
    )


def test_deferrals_are_listed_up_to_a_limit() -> None:
    many = [
        decision(outcome="deferred", reason="budget-exhausted", branch=f"b{i}", detail="cap")
        for i in range(25)
    ]
    text = report(parse(lines(STARTED, *many)))
    assert "budget-exhausted (25)" in text and "... and 15 more" in text
    assert "detail: cap" in text  # shared by all: said once


# ---------------------------------------------------------------- hostile text

HOSTILE = "a | b\nc `x` ``y`` <!-- hidden --> @someone Fixes #1 \x1b[31mred\u202e"


def cells(row: str) -> list[str]:
    """The cells of a GFM table row: split on pipes no backslash escapes."""
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def test_markdown_keeps_a_hostile_detail_in_its_cell_and_code_span() -> None:
    d = decision(outcome="failed", reason="github-error", detail=HOSTILE, workload="w|l")
    md = report(parse(lines(STARTED, d)), "markdown")
    [row] = [line for line in md.splitlines() if "hidden" in line and line.startswith("|")]
    assert len(cells(row)) == 4
    detail = cells(row)[3].strip()
    fence = re.match(r"`+", detail)
    assert fence and detail.endswith(fence.group(0))
    inner = detail[len(fence.group(0)) : -len(fence.group(0))]
    assert fence.group(0) not in re.findall(r"`+", inner)  # no run as long as the fence
    assert "\n" not in row and "\x1b" not in md and "\u202e" not in md
    assert "\\n" in inner and "\\u001b" in inner
    assert "w\\|l" in row


def test_markdown_outside_tables_puts_log_text_in_code_spans() -> None:
    error = {"event": "sweep.config_error", "reason": "config", "detail": HOSTILE}
    md = report(parse(lines(error)), "markdown")
    [line] = [line for line in md.splitlines() if "hidden" in line]
    assert re.search(r"(`+)a \| b\\nc `x` ``y`` <!-- hidden -->.*\1", line)
    assert line.count("```") == 2  # the fence is longer than the longest run inside


def test_markdown_links_only_plain_https_urls() -> None:
    good = decision(pr_url="https://github.example/acme/widgets/pull/1")
    bad = decision(pr_url="https://x.example/a)[b](javascript:alert(1)")
    md = report(parse(lines(STARTED, good, bad)), "markdown")
    assert "<https://github.example/acme/widgets/pull/1>" in md
    assert "`https://x.example/a)[b](javascript:alert(1)`" in md


def test_text_escapes_control_and_bidi_characters() -> None:
    assert visible("a\nb\x1b[0m\u202ec\td") == "a\\nb\\u001b[0m\\u202ec\\td"
    text = report(parse(lines(STARTED, decision(outcome="failed", detail=HOSTILE))))
    assert "\x1b" not in text and "\u202e" not in text


# ---------------------------------------------------------------- main


def run_main(argv: list[str], stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, io.StringIO(stdin), out)
    return code, out.getvalue()


def test_main_reads_a_file() -> None:
    code, out = run_main([str(LOGS / "backfill.jsonl")])
    assert code == 0 and out == rendered(LOGS / "backfill.jsonl", "text")


def test_main_reads_standard_input() -> None:
    text = (LOGS / "dry-run.jsonl").read_text(encoding="utf-8")
    assert run_main([], text) == (0, rendered(LOGS / "dry-run.jsonl", "text"))
    assert run_main(["-"], text)[0] == 0


def test_main_renders_markdown() -> None:
    code, out = run_main([str(LOGS / "backfill.jsonl"), "--format", "markdown"])
    assert code == 0 and out == rendered(LOGS / "backfill.jsonl", "markdown")


def test_main_fails_on_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main([str(tmp_path / "nope.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and out == ""
    assert err.startswith("foreman-pr-sweeper report: cannot read") and err.count("\n") == 1


def test_main_fails_on_a_log_without_a_run(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main([], "hello\n{}\n")
    assert code == 2 and out == ""
    assert "holds no sweeper run" in capsys.readouterr().err


def test_main_help_and_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main(["--help"])
    assert code == 0 and "usage: foreman-pr-sweeper report" in out and "--format" in out
    assert run_main(["--format", "html"])[0] == 2
    assert "invalid choice" in capsys.readouterr().err


def test_a_log_object_is_a_plain_dataclass() -> None:
    assert isinstance(parse([]), ParsedLog) and parse([]).runs == []


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update()
    else:
        sys.exit(f"usage: {UPDATE}")


def test_next_step_for_a_cluster_error_points_at_check() -> None:
    """A branch failed by the cluster (an Agent the sweeper may not read) sends the
    operator to `check`, not only to the next run."""
    d = decision(outcome="failed", reason="cluster-error", detail="get agents: 403")
    assert step("failed", "cluster-error", d) == (
        "the next run retries; if it persists, `foreman-pr-sweeper check` names what the "
        "cluster refuses (RBAC, the Agent CRD)"
    )


def test_an_agents_line_is_the_sweepers_own_notice() -> None:
    """A warning from the Agent look-up (`agents.*`) is shown among the run's notices."""
    warn = {"event": "agents.unreadable", "level": "warning", "detail": "agent coder: 403"}
    log = parse(lines(STARTED, decision(), warn))
    assert [(n.level, n.event) for n in log.runs[0].notices] == [("warning", "agents.unreadable")]
