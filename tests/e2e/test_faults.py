"""Faults and limits: whatever fails or kills the sweeper, no duplicate, no lost PR.

After every sequence settles (a clean run after the faulty one), the invariant holds:
exactly one PR per eligible branch, each recorded on its Workload, and exit codes told
the truth along the way.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.harness import Run, World
from tests.fixtures.foreman import workload

pytestmark = pytest.mark.e2e
COORD = "coordination.k8s.io"
ELIGIBLE = {f"foreman/{wl}/issue-{n}" for wl in ("alpha", "beta") for n in (1, 2)}


def seed_two_workloads(world: World) -> None:
    world.simple("alpha", issues=(1, 2))
    world.simple("beta", issues=(1, 2))


def assert_settled_invariant(world: World) -> None:
    """Exactly one PR per eligible branch, and each recorded on its Workload."""
    final = world.sweep()
    assert final.code == 0, final.stdout
    pulls = world.pulls()
    heads = [p["head"]["ref"] for p in pulls]
    assert sorted(heads) == sorted(ELIGIBLE), heads
    recorded = {}
    for wl in ("alpha", "beta"):
        recorded.update(world.records(wl))
    assert {b: r["number"] for b, r in recorded.items()} == {
        p["head"]["ref"]: p["number"] for p in pulls
    }


def truthful(run: Run) -> None:
    """The exit code, and what sweep.finished says, follow from the lines alone: computed
    anew from the decision and error lines, never from the run's own counts."""
    events = [line["event"] for line in run.lines]
    failed = (
        any(d["outcome"] == "failed" for d in run.decisions)
        or "record.failed" in events
        or "sweep.aborted" in events
    )
    if "sweep.config_error" in events:
        expected, result = 2, "config-error"
    elif "sweep.aborted" in events:
        expected, result = 1, "aborted"
    else:
        expected, result = (1, "failed") if failed else (0, "success")
    assert (run.code, run.summary["exit_code"], run.summary["result"]) == (
        expected,
        expected,
        result,
    ), run.stdout
    assert run.summary["counts"] == dict(Counter(d["outcome"] for d in run.decisions))
    assert run.summary["record_failures"] == events.count("record.failed")


GITHUB_CALLS = [
    ("POST", r"^/graphql$"),  # the batched read
    ("POST", r"/pulls$"),
]
# The reads of a token GraphQL refuses (the REST fallback).
REST_READS = [
    ("GET", r"/git/matching-refs/"),
    ("GET", r"/pulls$"),
    ("GET", r"^/repos/acme/widgets$"),
    ("GET", r"/commits/"),
]


def inject_twice(world: World, method: str, path: str, fault: int | str) -> None:
    """The next two matching GitHub requests fail: a status, or a reset connection."""
    if fault == "reset":
        world.github.inject(method, path, action="reset", times=2)
    else:
        world.github.inject(method, path, status=int(fault), times=2)


@pytest.mark.parametrize(("method", "path"), GITHUB_CALLS, ids=[p for _, p in GITHUB_CALLS])
@pytest.mark.parametrize("fault", [500, 502, 503, "reset"])
def test_github_faults_on_every_call(
    world: World, method: str, path: str, fault: int | str
) -> None:
    """A 5xx or a reset on any call: retried if it is a read, failed truthfully if not."""
    seed_two_workloads(world)
    inject_twice(world, method, path, fault)
    first = world.sweep()
    truthful(first)
    assert_settled_invariant(world)


@pytest.mark.parametrize(("method", "path"), REST_READS, ids=[p for _, p in REST_READS])
@pytest.mark.parametrize("fault", [500, "reset"])
def test_github_faults_on_every_rest_read(
    world: World, method: str, path: str, fault: int | str
) -> None:
    """Read by REST (GraphQL refused to the token), a 5xx or reset on any read is retried."""
    seed_two_workloads(world)
    world.github.inject("POST", r"^/graphql$", status=404, body={"message": "Not Found"}, times=9)
    inject_twice(world, method, path, fault)
    first = world.sweep()
    truthful(first)
    assert any(line["event"] == "github.graphql_unavailable" for line in first.lines)
    assert_settled_invariant(world)


def test_accepted_create_whose_answer_is_lost_is_found_by_head(world: World) -> None:
    """GitHub made the PR but the answer never came: re-checked by head, recorded, no retry."""
    seed_two_workloads(world)
    world.github.inject("POST", r"/pulls$", action="after", times=2)
    first = world.sweep()
    assert first.code == 0
    lost = [d for d in first.decisions if "answer lost" in d["detail"]]
    assert len(lost) == 2 and {d["outcome"] for d in lost} == {"opened"}
    assert world.github.count("POST", r"/pulls$") == 4
    assert_settled_invariant(world)


@pytest.mark.parametrize(
    ("method", "path", "status", "reason"),
    [
        ("GET", r"/workloads$", 503, "ServiceUnavailable"),
        ("GET", r"/agentictasks$", 500, "InternalError"),
        ("PATCH", r"/workloads/alpha$", 409, "Conflict"),
        ("PATCH", r"/workloads/alpha$", 500, "InternalError"),
        ("POST", r"/events$", 500, "InternalError"),
    ],
)
def test_kubernetes_faults(world: World, method: str, path: str, status: int, reason: str) -> None:
    """A 5xx is retried, reads and writes alike (a merge patch carrying a resourceVersion is
    safe to repeat: a repeat of one that landed is a 409, which re-reads); 409 re-reads."""
    seed_two_workloads(world)
    world.kube.inject(method, path, status, reason, times=1)
    first = world.sweep()
    truthful(first)
    assert first.code == 0, first.stdout
    assert not any(line["event"] in ("record.failed", "event.failed") for line in first.lines)
    assert_settled_invariant(world)


def test_a_record_patch_that_keeps_failing_is_record_failed(world: World) -> None:
    """5xx on the record's patch beyond its retries: record.failed, exit 1; the next run
    adopts the PRs by head."""
    seed_two_workloads(world)
    world.kube.inject("PATCH", r"/workloads/alpha$", 500, "InternalError", times=3)
    first = world.sweep()
    truthful(first)
    assert first.code == 1 and any(line["event"] == "record.failed" for line in first.lines)
    assert_settled_invariant(world)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", r"/leases$"),
        ("PATCH", r"/workloads/alpha$"),
        ("POST", r"/events$"),
    ],
)
def test_api_priority_and_fairness_429s_are_waited_out(
    world: World, method: str, path: str
) -> None:
    """A 429 on a write (urllib3 retries no POST or PATCH) waits Retry-After and retries:
    no record.failed, no config error, no lost Event; exit 0. (Reads and PUTs: the
    adapter's tests, tests/standins/test_kube_adapter.py.)"""
    seed_two_workloads(world)
    world.kube.throttle(method, path, times=2, retry_after=0)
    first = world.sweep()
    assert first.code == 0, first.stdout
    bad = ("record.failed", "event.failed", "sweep.config_error", "lock.release_failed")
    assert not any(line["event"] in bad for line in first.lines)
    assert sum(1 for c in world.kube.calls if c.status == 429) == 2
    assert len(world.events()) == 4
    assert_settled_invariant(world)


def test_a_throttled_record_waits_at_least_retry_after(world: World) -> None:
    """Retry-After: 1 on the record's patch: the retry comes a second later, and lands."""
    seed_two_workloads(world)
    seen: list[float] = []
    world.kube.on_request(
        lambda method, path, _: seen.append(time.monotonic()) if method == "PATCH" else None
    )
    world.kube.throttle("PATCH", r"/workloads/alpha$", times=1, retry_after=1)
    first = world.sweep()
    world.kube.on_request(None)
    assert first.code == 0 and world.records("alpha")
    assert seen[1] - seen[0] >= 1.0


def test_a_lease_throttled_past_its_retries_aborts_without_a_config_error(world: World) -> None:
    """429 on the Lease until the retries are spent: the cluster is unavailable, not the
    configuration wrong: sweep.aborted (reason cluster), exit 1, nothing done."""
    seed_two_workloads(world)
    world.kube.throttle("POST", r"/leases$", times=11, retry_after=0)
    first = world.sweep()
    assert first.code == 1 and first.summary["result"] == "aborted"
    [aborted] = [line for line in first.lines if line["event"] == "sweep.aborted"]
    assert aborted["reason"] == "cluster" and "11 attempts" in aborted["detail"]
    assert not any(line["event"] == "sweep.config_error" for line in first.lines)
    assert world.pulls() == []
    assert_settled_invariant(world)


def test_expired_continue_mid_listing_restarts_the_list(world: World) -> None:
    """A 410 on a continue token restarts the listing; every Workload is still swept once."""
    seed_two_workloads(world)
    lists = {"n": 0}

    def expire_on_second_page(method: str, path: str, body: object) -> None:
        if method == "GET" and path.endswith("/workloads"):
            lists["n"] += 1
            if lists["n"] == 3:  # the check, page 1, then page 2 with its continue token
                world.kube.expire_continue_tokens()

    world.kube.on_request(expire_on_second_page)
    first = world.sweep("--page-size", "1")
    world.kube.on_request(None)
    assert first.code == 0
    assert any(c.status == 410 for c in world.kube.calls)
    assert first.summary["counts"] == {"opened": 4}
    assert_settled_invariant(world)


def test_kubernetes_unreachable_mid_pass_is_not_a_crash(world: World) -> None:
    """Persistent 5xx listing tasks fails those Workloads, truthfully, and nothing else."""
    seed_two_workloads(world)
    # One listing reads both Workloads' tasks; all three of its attempts fail.
    world.kube.inject("GET", r"/agentictasks$", 503, "ServiceUnavailable", times=3)
    first = world.sweep()
    assert first.code == 1
    assert {d["reason"] for d in first.decisions if d["outcome"] == "failed"} == {"workload-error"}
    assert_settled_invariant(world)


@pytest.mark.parametrize("seed", range(50))
def test_sigkill_at_a_random_point(world: World, seed: int) -> None:
    """Killed before a random request (of either API), the next run converges: one PR each.
    A killed run that held the Lease leaves it held: the next run is lock-held (exit 0,
    nothing decided or written) until the Lease lapses, then it finishes the job."""
    seed_two_workloads(world)
    rng = random.Random(seed)
    kill_at = rng.randint(1, 20)  # a clean run of this seed makes about 20 requests
    seen = {"n": 0}
    proc_holder: dict[str, int] = {}

    def maybe_kill(*_: object) -> None:
        seen["n"] += 1
        if seen["n"] == kill_at and "pid" in proc_holder:
            os.kill(proc_holder["pid"], signal.SIGKILL)
            raise ConnectionAbortedError("killed")

    world.kube.on_request(maybe_kill)
    world.github.on_request(maybe_kill)
    args = ("--no-lock",) if seed % 2 else ()
    proc = world.start(*args)
    proc_holder["pid"] = proc.pid
    _, err = proc.communicate(timeout=60)
    world.kube.on_request(None)
    world.github.on_request(None)
    assert "Traceback" not in err
    if proc.returncode != -signal.SIGKILL:
        assert proc.returncode == 0, err
    lease = world.kube.get("leases", "sweeper", "foreman-pr-sweeper", group=COORD)
    holder = (lease or {}).get("spec", {}).get("holderIdentity")
    if holder and proc.returncode == -signal.SIGKILL:
        assert_held_until_it_lapses(world, holder)
    assert_settled_invariant(world)


def assert_held_until_it_lapses(world: World, holder: str) -> None:
    """The Lease a killed run left: the next run finds it held and does nothing, truthfully
    (exit 0, lock-held); once the Lease has lapsed, a run takes it over."""
    pulls = world.pulls()
    world.github.reset_calls()
    held = world.sweep()
    assert held.code == 0 and held.summary["result"] == "lock-held", held.stdout
    assert held.summary["lock_held_by"] == holder and held.decisions == []
    assert world.github.writes == [] and world.pulls() == pulls
    lease = world.kube.get("leases", "sweeper", "foreman-pr-sweeper", group=COORD)
    assert lease is not None
    lease["spec"]["renewTime"] = "2020-01-01T00:00:00.000000Z"  # leaseDurationSeconds pass
    world.kube.seed_replace(lease)


def test_secondary_limit_mid_backfill_defers_the_rest(world: World) -> None:
    """Repeated secondary limits stop creation cleanly: the rest is deferred, exit 0."""
    seed_two_workloads(world)
    created = {"n": 0}

    def after_first(pr: dict) -> None:
        created["n"] += 1
        if created["n"] == 1:
            world.github.secondary_limit(2, retry_after=1)

    world.github.on_pull_created(after_first)
    run = world.sweep()
    assert run.code == 0
    outcomes = sorted(d["outcome"] for d in run.decisions)
    assert outcomes.count("opened") == 1 and outcomes.count("deferred") == 3
    assert {d["reason"] for d in run.decisions if d["outcome"] == "deferred"} == {"rate-limited"}
    world.github.on_pull_created(None)
    assert_settled_invariant(world)


def test_budget_defers_and_the_oldest_go_first(world: World) -> None:
    """--max-create caps a run; the oldest-completed Workloads are served first."""
    world.ensure_repo("acme/widgets")
    for name, completed in (("young", "2026-11-10T00:00:00Z"), ("old", "2026-10-01T00:00:00Z")):
        tasks, _ = world.add_issue(name, 1)
        world.seed(workload(name, issues=[1], completed_at=completed), tasks)
    run = world.sweep("--max-create", "1")
    assert run.outcome("foreman/old/issue-1") == ("opened", "missing-pr")
    assert run.outcome("foreman/young/issue-1") == ("deferred", "budget-exhausted")
    assert run.code == 0
    assert world.sweep("--max-create", "1").outcome("foreman/young/issue-1")[0] == "opened"


def test_min_age_skips_young_workloads(world: World) -> None:
    """A Workload completed moments ago is left to Foreman's own opener."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("fresh", 1)
    now = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    world.seed(workload("fresh", issues=[1], completed_at=now), tasks)
    run = world.sweep()
    assert run.decisions == []
    [skip] = [line for line in run.lines if line["event"] == "workload.skipped"]
    assert skip["reason"] == "too-young"
    assert world.sweep("--min-age", "1m").outcome("foreman/fresh/issue-1")[0] == "opened"


def test_allowlist_and_the_first_line_warning(world: World) -> None:
    """Without --allow-repo the first line warns; with it, other repos are skipped."""
    world.simple("alpha", repo="acme/widgets")
    world.simple("beta", repo="other/thing")
    dry = world.sweep("--dry-run")
    assert dry.lines[0]["event"] == "sweep.started" and "warning" in dry.lines[0]
    run = world.sweep("--allow-repo", "acme/*")
    assert "warning" not in run.lines[0]
    assert run.outcome("foreman/alpha/issue-1")[0] == "opened"
    assert run.outcome("foreman/beta/issue-1") == ("skipped", "repo-not-allowed")
    assert world.pulls("other/thing") == []


def test_live_lock_is_respected_and_an_expired_one_taken_over(world: World) -> None:
    """Another live holder: lock-held, exit 0, nothing written; an expired holder is replaced."""
    seed_two_workloads(world)
    world.hold_lock("other-run")
    held = world.sweep()
    assert held.code == 0 and held.summary["lock_held_by"] == "other-run"
    assert world.pulls() == []
    lease = world.kube.get("leases", "sweeper", "foreman-pr-sweeper", group="coordination.k8s.io")
    assert lease is not None
    lease["spec"]["renewTime"] = "2020-01-01T00:00:00.000000Z"
    world.kube.seed_replace(lease)
    taken = world.sweep()
    assert taken.code == 0 and taken.summary["counts"] == {"opened": 4}
    released = world.kube.get(
        "leases", "sweeper", "foreman-pr-sweeper", group="coordination.k8s.io"
    )
    assert released is not None and not released["spec"].get("holderIdentity")


def test_no_access_to_the_lock_is_a_configuration_error(world: World) -> None:
    """If the Lease cannot be read (e.g. the Role is missing), nothing is done: exit 2."""
    seed_two_workloads(world)
    world.kube.inject("GET", r"/leases/foreman-pr-sweeper$", 403, "Forbidden", times=1)
    run = world.sweep()
    assert run.code == 2 and world.pulls() == []
    assert any(line.get("reason") == "lock" for line in run.lines)


def test_the_token_never_appears_on_any_failure_path(world: World) -> None:
    """Failing runs of every kind print no token, in stdout, stderr or Events."""
    token = "ghp_" + "Zq9" * 12
    seed_two_workloads(world)
    world.github.token = token
    outputs = []
    world.github.inject("POST", r"/pulls$", status=500, times=10)
    world.github.inject("GET", r"/commits/", action="reset", times=10)
    outputs.append(world.sweep(GITHUB_TOKEN=token))
    outputs.append(world.sweep(GITHUB_TOKEN="wrong-" + token))
    outputs.append(world.sweep("--min-age", "nonsense", GITHUB_TOKEN=token))
    outputs.append(world.sweep(GITHUB_TOKEN=token, GITHUB_API_URL="http://127.0.0.1:9"))
    token_file = world.tmp / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o400)
    outputs.append(world.sweep("--github-token-file", str(token_file), KUBECONFIG="/nonexistent"))
    assert oct(token_file.stat().st_mode & 0o777) == "0o400"
    for run in outputs:
        assert token not in run.stdout + run.stderr
    assert {run.code for run in outputs} >= {1, 2}
    assert token not in json.dumps(world.events())
