"""One tenant's object never stops the sweep, and the API server's manners cost no PR.

Each test seeds a hostile object next to ordinary Workloads and checks what a user sees:
the object at fault gets its own line naming what was wrong, every other PR opens, and
the run ends with `sweep.finished`.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from sweeper.cli import settings_from
from sweeper.github import GitHub
from sweeper.kube import connect
from sweeper.records import RECORD_ANNOTATION
from sweeper.runlog import configure
from sweeper.stopping import Stop
from sweeper.sweep import run_sweep
from tests.e2e.harness import World
from tests.fixtures.foreman import workload

pytestmark = pytest.mark.e2e


def skipped(run: Any, name: str) -> list[dict[str, Any]]:
    return [
        line
        for line in run.lines
        if line.get("workload") == name and line["event"] in ("workload.skipped", "pr.decision")
    ]


@pytest.fixture
def deep_recursion() -> Iterator[None]:
    """The stand-in (in this process) must encode objects 3,000 deep, as a real API server
    does; the sweeper in its subprocess keeps Python's default limit."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    yield
    sys.setrecursionlimit(before)


def test_a_record_annotation_nested_3000_deep_skips_only_its_workload(world: World) -> None:
    """Issue 20's attack: it used to end in a RecursionError traceback, no sweep.finished."""
    world.simple("good", issues=(1,))
    world.simple("evil", issues=(1,))
    obj = world.workload("evil")
    obj["metadata"]["annotations"] = {RECORD_ANNOTATION: "[" * 3000 + "]" * 3000}
    world.kube.seed_replace(obj)
    run = world.sweep()
    assert run.code == 0 and run.summary["counts"] == {"opened": 1}
    [line] = skipped(run, "evil")
    assert line["event"] == "workload.skipped" and line["reason"] == "invalid-input"
    assert "nested 3000 levels deep" in line["detail"] and RECORD_ANNOTATION in line["detail"]
    assert [p["head"]["ref"] for p in world.pulls()] == ["foreman/good/issue-1"]


def test_an_agent_result_deeper_than_the_clients_decoder_skips_only_its_workload(
    world: World, deep_recursion: None
) -> None:
    """A task whose status.result nests 3,000 deep (the client's own decoder would raise
    RecursionError): its Workload alone is invalid-input, named, never settled."""
    world.simple("good", issues=(1,))
    tasks, _ = world.add_issue("evil", 1)
    deep: Any = "leaf"
    for _ in range(3000):
        deep = {"x": deep}
    tasks[0]["status"]["result"]["deep"] = deep
    world.seed(workload("evil", issues=[1]), tasks)
    for attempt in range(2):  # not settled: the next run looks again (a fixed task is seen)
        run = world.sweep()
        assert run.code == 0, run.stdout
        assert run.summary["counts"] == (
            {"opened": 1, "skipped": 1} if not attempt else {"skipped": 1}
        )
        [line] = skipped(run, "evil")
        assert (line["outcome"], line["reason"]) == ("skipped", "invalid-input")
        assert f"agentictasks default/{tasks[0]['metadata']['name']}" in line["detail"]
        assert "nested 300" in line["detail"]  # 3,000 levels and then some
        annotations = world.workload("evil")["metadata"].get("annotations") or {}
        assert annotations == {}
    assert [p["head"]["ref"] for p in world.pulls()] == ["foreman/good/issue-1"]


@pytest.mark.parametrize(
    ("issues", "detail"),
    [
        pytest.param(200_000, "bytes, more than the 1,048,576-byte cap", id="over-the-size-cap"),
        pytest.param(5_000, "spec.issues lists 5,000 issues, more than 1,000", id="over-issues"),
    ],
)
def test_a_workload_over_the_size_caps_is_invalid_input_by_name(
    world: World, issues: int, detail: str
) -> None:
    """Valid for the CRD (no maxItems), but over a cap: skipped with the cap in its detail,
    before it is built into Python structures; everyone else's PRs open."""
    world.simple("good", issues=(1,))
    world.kube.seed(workload("huge", "tenant-a", issues=list(range(1, issues + 1))))
    run = world.sweep()
    assert run.code == 0 and run.summary["counts"] == {"opened": 1}
    [line] = skipped(run, "huge")
    assert line["namespace"] == "tenant-a" and line["reason"] == "invalid-input"
    assert detail in line["detail"]
    assert run.summary["workloads"]["invalid-input"] == 1


def test_an_expired_continue_on_a_later_page_of_the_task_listing_counts_no_task_twice(
    world: World,
) -> None:
    """410 on page 3 of the task listing: restarted and deduped by uid, so no "2 coder tasks
    in round 0" (which was invalid-input, a permanent silent settle): the PR opens."""
    world.simple("wl", issues=(1, 2))  # 8 tasks: pages of 3
    world.kube.expire_on_page("agentictasks", 3)
    env = world.env()
    settings, kubeconfig = settings_from([], env)
    settings = replace(settings, tunables=replace(settings.tunables, task_page_size=3))
    out = io.StringIO()
    github = GitHub(settings.github_api_url, settings.github_token, settings.tunables, 0)
    try:
        kube = connect(kubeconfig, settings.tunables)
        summary = run_sweep(settings, kube, github, configure("json", stream=out))
    finally:
        github.close()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert any(c.status == 410 and c.resource == "agentictasks" for c in world.kube.calls)
    assert summary.exit_code == 0 and dict(summary.counts) == {"opened": 2}, lines
    assert sorted(p["head"]["ref"] for p in world.pulls()) == [
        "foreman/wl/issue-1",
        "foreman/wl/issue-2",
    ]


@pytest.mark.parametrize(
    ("method", "path", "args"),
    [
        pytest.param("POST", r"/leases$", [], id="lease"),
        pytest.param("GET", r"/workloads$", ["--no-lock"], id="listing"),
    ],
)
def test_sigterm_during_a_throttled_wait_ends_the_run_at_once_as_terminated(
    world: World, method: str, path: str, args: list[str]
) -> None:
    """Retry-After: 30, and SIGTERM a moment later: the wait is cut short and the run ends
    `terminated` within seconds, never `aborted` or a config error."""
    world.simple("wl", issues=(1,))
    env = world.env()
    settings, kubeconfig = settings_from(args, env)
    stop = Stop()
    github = GitHub(settings.github_api_url, settings.github_token, settings.tunables, 0)
    out = io.StringIO()
    try:
        kube = connect(kubeconfig, settings.tunables, stop)
        kube.check(settings.namespaces)
        world.kube.throttle(method, path, times=5, retry_after=30)
        threading.Timer(0.3, stop.request, ("SIGTERM",)).start()
        started = time.monotonic()
        summary = run_sweep(settings, kube, github, configure("json", stream=out), stop=stop)
    finally:
        github.close()
    assert time.monotonic() - started < 5
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert summary.result == "terminated" and summary.exit_code == 143, lines
    assert [line["event"] for line in lines][-2:] == ["sweep.terminated", "sweep.finished"]
    assert world.pulls() == []
