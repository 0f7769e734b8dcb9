"""End to end: every run leaves its numbers on a real Prometheus Pushgateway."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.e2e.harness import Run, World
from tests.fixtures.foreman import workload
from tests.real.pushgateway import Pushgateway, free_port, pushgateway

pytestmark = pytest.mark.e2e
SWEEP = {"job": "foreman-pr-sweeper", "mode": "sweep"}
DRY = {"job": "foreman-pr-sweeper", "mode": "dry-run"}


@pytest.fixture
def gateway() -> Iterator[Pushgateway]:
    with pushgateway() as gw:
        yield gw


def events(run: Run) -> list[str]:
    return [line["event"] for line in run.lines]


def test_a_backfill_leaves_its_series(world: World, gateway: Pushgateway) -> None:
    world.simple(issues=[1, 2, 3])
    run = world.sweep("--pushgateway-url", gateway.url)
    assert run.code == 0
    assert events(run)[-2:] == ["metrics.pushed", "sweep.finished"]
    got = gateway.series(**SWEEP)
    finished = got["foreman_pr_sweeper_last_run_timestamp_seconds"]
    assert abs(finished - datetime.now(UTC).timestamp()) < 60
    assert got["foreman_pr_sweeper_last_success_timestamp_seconds"] == finished
    assert got["foreman_pr_sweeper_last_run_exit_code"] == 0
    assert 0 < got["foreman_pr_sweeper_last_run_duration_seconds"] < 60
    assert got['foreman_pr_sweeper_last_run_info{result="success",version="0.1.0"}'] == 1
    assert got['foreman_pr_sweeper_decisions{outcome="opened",reason="missing-pr"}'] == 3
    assert got['foreman_pr_sweeper_workloads{state="pending"}'] == 1
    assert got["foreman_pr_sweeper_record_failures"] == 0
    assert got['foreman_pr_sweeper_github_requests{kind="write"}'] == 3
    assert got['foreman_pr_sweeper_github_requests{kind="graphql"}'] == 1
    # A token has one quota per bucket: no installation label.
    assert got['foreman_pr_sweeper_github_quota_used{bucket="core"}'] == 3  # /rate_limit is free
    assert got['foreman_pr_sweeper_github_quota_used{bucket="graphql"}'] == 1
    assert got['foreman_pr_sweeper_github_quota_limit{bucket="core"}'] == 5000
    remaining = got['foreman_pr_sweeper_github_quota_remaining{bucket="core"}']
    assert remaining == world.github.quota("token")["core"]
    assert got['foreman_pr_sweeper_kubernetes_requests{verb="list"}'] >= 2
    names = {key.split("{")[0] for key in got}
    assert not any(n.endswith("_total") for n in names)  # gauges of one run, not counters
    labels = [set(s.labels) for s in gateway.scrape() if s.name.startswith("foreman_pr")]
    allowed = {"job", "mode", "instance", "result", "version", "outcome", "reason", "state"}
    allowed |= {"kind", "bucket", "installation", "verb", "why"}
    assert set().union(*labels) <= allowed  # never a branch, a Workload or a URL


def test_a_failed_run_keeps_the_last_success(world: World, gateway: Pushgateway) -> None:
    world.simple("first", issues=[1])
    assert world.sweep("--pushgateway-url", gateway.url).code == 0
    success = gateway.series(**SWEEP)["foreman_pr_sweeper_last_success_timestamp_seconds"]
    world.simple("second", issues=[2])
    world.github.inject("POST", r"^/repos/acme/widgets/pulls$", status=500, times=1)
    failed = world.sweep("--pushgateway-url", gateway.url)
    assert failed.code == 1
    got = gateway.series(**SWEEP)
    assert got["foreman_pr_sweeper_last_success_timestamp_seconds"] == success
    assert got["foreman_pr_sweeper_last_run_timestamp_seconds"] > success
    assert got["foreman_pr_sweeper_last_run_exit_code"] == 1
    assert got['foreman_pr_sweeper_last_run_info{result="failed",version="0.1.0"}'] == 1
    assert not any('result="success"' in key for key in got)  # the family was replaced
    assert got['foreman_pr_sweeper_decisions{outcome="failed",reason="github-error"}'] == 1
    assert 'foreman_pr_sweeper_decisions{outcome="opened",reason="missing-pr"}' not in got
    # A bad token is exit 2 before the pass: pushed too, the last success still kept.
    bad = world.sweep("--pushgateway-url", gateway.url, GITHUB_TOKEN="wrong")
    assert bad.code == 2
    assert events(bad)[-3:] == ["sweep.config_error", "metrics.pushed", "sweep.finished"]
    got = gateway.series(**SWEEP)
    assert got["foreman_pr_sweeper_last_run_exit_code"] == 2
    assert got['foreman_pr_sweeper_last_run_info{result="config-error",version="0.1.0"}'] == 1
    assert got["foreman_pr_sweeper_last_success_timestamp_seconds"] == success
    # The next success replaces the whole group again.
    assert world.sweep("--pushgateway-url", gateway.url).code == 0
    got = gateway.series(**SWEEP)
    assert got["foreman_pr_sweeper_last_success_timestamp_seconds"] > success
    assert got['foreman_pr_sweeper_decisions{outcome="opened",reason="missing-pr"}'] == 1
    assert not any("github-error" in key for key in got)


def test_dry_runs_and_lock_held_runs_are_labelled(world: World, gateway: Pushgateway) -> None:
    world.simple(issues=[1, 2])
    assert world.sweep("--pushgateway-url", gateway.url, "--dry-run").code == 0
    dry = gateway.series(**DRY)
    assert dry['foreman_pr_sweeper_decisions{outcome="would-open",reason="missing-pr"}'] == 2
    assert gateway.series(**SWEEP) == {}  # a rehearsal never overwrites the schedule's numbers
    world.hold_lock("other-run")
    held = world.sweep("--pushgateway-url", gateway.url)
    assert held.code == 0 and events(held)[-1] == "sweep.finished"
    got = gateway.series(**SWEEP)
    assert got['foreman_pr_sweeper_last_run_info{result="lock-held",version="0.1.0"}'] == 1
    assert got["foreman_pr_sweeper_last_run_exit_code"] == 0
    assert not any("decisions" in key for key in got)
    assert gateway.series(**DRY) == dry


def test_a_lock_held_run_hides_neither_a_failure_nor_its_age(
    world: World, gateway: Pushgateway
) -> None:
    """After a failed run, a run that finds the lock held (exit 0) sets no success time
    and leaves the failed run's decisions for the alert to see."""
    world.simple("first", issues=[1])
    world.github.inject("POST", r"^/repos/acme/widgets/pulls$", status=500, times=1)
    assert world.sweep("--pushgateway-url", gateway.url).code == 1
    failed = gateway.series(**SWEEP)
    assert "foreman_pr_sweeper_last_success_timestamp_seconds" not in failed
    world.hold_lock("a-stuck-run")
    held = world.sweep("--pushgateway-url", gateway.url)
    assert held.code == 0 and held.summary["result"] == "lock-held"
    got = gateway.series(**SWEEP)
    assert "foreman_pr_sweeper_last_success_timestamp_seconds" not in got
    assert got['foreman_pr_sweeper_last_run_info{result="lock-held",version="0.1.0"}'] == 1
    assert got['foreman_pr_sweeper_decisions{outcome="failed",reason="github-error"}'] == 1


def test_a_terminated_run_is_pushed_as_terminated(world: World, gateway: Pushgateway) -> None:
    """A SIGTERMed run still pushes its numbers: result terminated, no success time."""
    world.simple("alpha", issues=[1, 2])
    procs: list[subprocess.Popen[str]] = []
    world.github.on_pull_created(lambda _pr: procs[0].send_signal(signal.SIGTERM))
    proc = world.start("--pushgateway-url", gateway.url)
    procs.append(proc)
    stdout, _ = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert stdout.strip().splitlines()[-1].count('"sweep.finished"') == 1
    got = gateway.series(**SWEEP)
    assert got['foreman_pr_sweeper_last_run_info{result="terminated",version="0.1.0"}'] == 1
    assert got["foreman_pr_sweeper_last_run_exit_code"] == 143
    assert "foreman_pr_sweeper_last_success_timestamp_seconds" not in got


def test_the_backlog_is_scraped_with_its_age_and_why_it_waits(
    world: World, gateway: Pushgateway
) -> None:
    """The oldest Completed Workload still waiting for its PR, by why it waits, and 0
    once nothing waits."""
    world.simple("old", issues=[1])  # completed 2026-11-01
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("young", 1)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    world.seed(workload("young", completed_at=now), tasks)

    run = world.sweep("--pushgateway-url", gateway.url, "--max-create", "0")
    got = gateway.series(**SWEEP)
    month = datetime.now(UTC) - datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert abs(got["foreman_pr_sweeper_oldest_pending_age_seconds"] - month.total_seconds()) < 120
    assert (
        got['foreman_pr_sweeper_waiting_workloads{reason="budget-exhausted",why="deferred"}'] == 1
    )
    assert got['foreman_pr_sweeper_waiting_workloads{why="too-young"}'] == 1
    assert run.summary["backlog"]["waiting"] == {"deferred/budget-exhausted": 1, "too-young": 1}

    world.sweep("--pushgateway-url", gateway.url)  # old opens; young is still too young
    assert 0 < gateway.series(**SWEEP)["foreman_pr_sweeper_oldest_pending_age_seconds"] < 600

    done = world.sweep("--pushgateway-url", gateway.url, "--min-age", "0")
    got = gateway.series(**SWEEP)
    assert got["foreman_pr_sweeper_oldest_pending_age_seconds"] == 0
    assert not any(key.startswith("foreman_pr_sweeper_waiting_workloads{") for key in got)
    assert done.summary["backlog"] == {"oldest_pending_age_s": 0.0, "waiting": {}}


def test_an_unreachable_gateway_is_a_warning_never_a_failure(world: World) -> None:
    world.simple(issues=[1])
    url = f"http://127.0.0.1:{free_port()}"
    run = world.sweep("--pushgateway-url", url)
    assert run.code == 0
    assert events(run)[-2:] == ["metrics.push_failed", "sweep.finished"]
    warning = run.lines[-2]
    assert warning["level"] == "warning" and warning["reason"] == "pushgateway-unreachable"
    assert warning["url"] == url and "Connection refused" in warning["detail"]
    assert world.pulls()  # the run did its job


def test_a_run_aborted_by_the_cluster_is_pushed_and_closed(
    world: World, gateway: Pushgateway
) -> None:
    """The cluster fails after the start-up check: exit 1, result aborted, last line closes."""
    world.simple(issues=[1])
    seen = {"lists": 0}

    def fail_the_listing(method: str, path: str, _: object) -> None:
        if method == "GET" and path.endswith("/workloads"):
            seen["lists"] += 1
            if seen["lists"] == 2:  # the first is the start-up check
                world.kube.inject("GET", r"/workloads$", 503, "ServiceUnavailable", times=50)

    world.kube.on_request(fail_the_listing)
    run = world.sweep("--pushgateway-url", gateway.url)
    assert run.code == 1
    assert events(run)[-3:] == ["sweep.aborted", "metrics.pushed", "sweep.finished"]
    assert run.summary["result"] == "aborted" and run.summary["exit_code"] == 1
    got = gateway.series(**SWEEP)
    assert got['foreman_pr_sweeper_last_run_info{result="aborted",version="0.1.0"}'] == 1
    assert got["foreman_pr_sweeper_last_run_exit_code"] == 1
    assert "foreman_pr_sweeper_last_success_timestamp_seconds" not in got


def test_a_pod_without_an_allowlist_warns_first_and_the_alert_can_see_it(
    world: World, gateway: Pushgateway
) -> None:
    """In a pod (KUBERNETES_SERVICE_HOST set) without --allow-repo, the first line is a
    warning and the gauge the NoAllowlist alert reads is 0; with one it is info and 1."""
    world.simple(issues=[1])
    pod = {"KUBERNETES_SERVICE_HOST": "10.96.0.1"}
    bare = world.sweep("--pushgateway-url", gateway.url, "--dry-run", **pod)
    assert bare.code == 0
    first = bare.lines[0]
    assert (first["event"], first["level"]) == ("sweep.started", "warning")
    assert first["warning"] == "no --allow-repo: any repository may get PRs"
    assert gateway.series(**DRY)["foreman_pr_sweeper_allow_repos_configured"] == 0

    guarded = world.sweep("--pushgateway-url", gateway.url, "--allow-repo", "acme/*", **pod)
    assert guarded.code == 0 and world.pulls()
    assert (guarded.lines[0]["event"], guarded.lines[0]["level"]) == ("sweep.started", "info")
    assert "warning" not in guarded.lines[0]
    assert gateway.series(**SWEEP)["foreman_pr_sweeper_allow_repos_configured"] == 1


def test_a_local_run_without_an_allowlist_is_not_a_warning(world: World) -> None:
    """Outside a pod the permissive default is for local use: the first line stays info,
    and still says that any repository may get PRs."""
    world.simple(issues=[1])
    run = world.sweep("--dry-run")
    assert (run.lines[0]["event"], run.lines[0]["level"]) == ("sweep.started", "info")
    assert "warning" in run.lines[0]
