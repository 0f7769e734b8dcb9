"""Whole sweeps of the real sweeper, in-process, with its real adapters, against the
stand-ins: what `foreman-pr-sweeper` does from its start-up checks to `sweep.finished`,
with the faults a history arms, and SIGTERM or SIGKILL at its k-th request.

SIGKILL: from the k-th request on, the stand-ins drop everything the run sends (nothing
is served, so no `finally` write lands and its Lease stays held), and the log is cut
there: a killed process prints nothing more. SIGTERM: a stop request at the k-th request,
as the signal handler makes it.
"""

from __future__ import annotations

import inspect
import io
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import urllib3.util.retry

from sweeper.cli import _refusal as refusal
from sweeper.errors import KubeError
from sweeper.github import GitHub, GitHubError
from sweeper.kube import connect
from sweeper.metrics import Metrics, RunFacts
from sweeper.runlog import Summary, configure
from sweeper.settings import Raw, Settings, Tunables, build
from sweeper.stopping import Stop
from sweeper.sweep import finish, run_sweep
from sweeper.values import Given as given
from tests.sim.faults import Armed, Fault
from tests.sim.foreman import Judgement, judge, looked_at
from tests.sim.world import TOKEN, Created, World

ENDS = ("done", "sigterm", "sigkill")
# What the histories exercised (printed with SIM_STATS=1): outcomes, ends, faults.
STATS: Counter[str] = Counter()
SETTLING = frozenset(
    {
        "already-recorded",
        "already-resolved",
        "opted-out",
        "coder-not-on-target",
        "no-commit-sha",
        "gate-not-passed",
        "not-reviewed",
        "review-not-go",
        "closed-by-human",
        "branch-missing",
        "head-moved",
        "no-diff",
        "draft-unsupported",
        "invalid-input",
    }
)


@dataclass
class Run:
    """One sweep as the oracle saw it."""

    index: int
    end: str
    at: int | str  # the signal's moment: the n-th request, or the first matching this
    dry: bool
    faults: tuple[Fault, ...]
    judgements: dict[str, list[Judgement]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)  # each Workload's, at the start
    pending: set[str] = field(default_factory=set)  # Workloads it had to decide
    lease_held: bool = False
    heads: dict[tuple[str, str], str] = field(default_factory=dict)
    before: dict[str, dict[str, str]] = field(default_factory=dict)  # annotations
    lines: list[dict[str, Any]] = field(default_factory=list)  # what a reader sees
    code: int | None = None  # None: killed
    killed: bool = False
    requests: int = 0
    cut: int | None = None
    pushed: set[tuple[str, str]] = field(default_factory=set)  # branches pushed meanwhile
    deleted: set[str] = field(default_factory=set)  # Workloads deleted meanwhile
    facts: list[RunFacts] = field(default_factory=list)
    github_writes: int = 0
    kube_writes: int = 0

    @property
    def decisions(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == "pr.decision"]

    def events(self) -> list[str]:
        return [str(line.get("event")) for line in self.lines]


class Gateway:
    """The Pushgateway as the run sees it: every push kept, nothing sent."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.url = "http://pushgateway.invalid:9091"

    def push(self, facts: RunFacts) -> None:
        self.run.facts.append(facts)


class FastTime:
    """The `time` module for the sweeper's waits: every sleep is noted, none is slept."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class FastStop(Stop):
    """The run's stop request, whose waits (the Kubernetes adapter's Retry-After and
    back-offs) are noted on the clock and not slept; a requested stop still ends them."""

    def __init__(self, clock: FastTime) -> None:
        super().__init__()
        self.clock = clock

    def sleep(self, seconds: float) -> None:
        if seconds > 0 and not self.requested:
            self.clock.waits.append(seconds)


@contextmanager
def no_waiting(clock: FastTime) -> Iterator[None]:
    """urllib3's own retries take no time in a simulation (the adapter's waits: FastStop)."""
    saved = urllib3.util.retry.time
    urllib3.util.retry.time = clock  # type: ignore[assignment]
    try:
        yield
    finally:
        urllib3.util.retry.time = saved


def settings_for(world: World, dry: bool) -> Settings:
    c = world.config
    settings = build(
        Raw(
            github_api_url=given(world.github.url),
            github_token=given(TOKEN),
            dry_run=given(str(dry).lower()),
            min_age=given("0s"),
            head_owner=given(world.owner if c.fork else None),
            allow_repos=given(tuple(c.allow)),
            log_format=given("json"),
            write_interval=given("0"),
            max_create=given(str(c.max_create)),
            page_size=given(str(c.page_size)),
            lock_namespace=given("sweeper"),
            draft_on_request_changes=given(str(c.drafts).lower()),
            reviewers=given(("octocat",) if c.notify else ()),
            labels=given(("foreman",) if c.notify else ()),
        )
    )
    tunables = Tunables(
        read_retries=1,
        retry_backoff_s=0,
        max_rate_wait_s=5,
        secondary_wait_s=1,
        record_attempts=3,
        notify_retry_wait_s=0,
        plan_window=c.plan_window,
        task_batch=c.task_batch,
        lookup_batch=c.lookup_batch,
        progress_interval_s=3600,
        push_timeout_s=1,
    )
    return replace(settings, tunables=tunables, open_as_draft=c.as_draft)


class Runner:
    """Runs one sweep of a world, with its faults and its end."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.clock = FastTime()
        world.github.on_pull_created(self._created)
        self.run: Run | None = None
        self.buf = io.StringIO()
        self.stop: Stop = FastStop(self.clock)
        self.armed = Armed(world, ())
        self.in_flight: tuple[str, str, str] | None = None

    # ------------------------------------------------------------ one sweep

    def sweep(
        self,
        faults: tuple[Fault, ...] = (),
        end: str = "done",
        at: int | str = 0,
        dry: bool = False,
    ) -> Run:
        w = self.world
        run = Run(len(w.runs), end, at, dry, faults)
        c = w.config
        for m in w.live():
            run.versions[m.name] = m.version
            run.judgements[m.name] = judge(m, c.drafts, c.allow, GATE_REQUIRED)
            if looked_at(m, c.drafts) and not settled_now(w, m):
                run.pending.add(m.name)
        run.lease_held = w.lease_held()
        run.heads = w.heads()
        run.before = {m.name: w.annotations(m) for m in w.live()}
        self.run, self.buf, self.stop = run, io.StringIO(), FastStop(self.clock)
        w.github.reset_calls()
        w.kube.reset_calls()
        self.armed = Armed(w, faults)
        w.kube.on_request(partial(self._request, "kube"))
        w.github.on_request(partial(self._request, "github"))
        try:
            with no_waiting(self.clock):
                code = self._main(settings_for(w, dry))
        finally:
            w.kube.on_request(None)
            w.github.on_request(None)
            self.armed.disarm()
            self.run = None
        run.pushed, run.deleted = self.armed.pushed, self.armed.deleted
        run.code = None if run.killed else code
        text = self.buf.getvalue()
        run.lines = [json.loads(line) for line in text[: run.cut].splitlines() if line.strip()]
        run.github_writes = len(
            [c for c in w.github.calls if c.method != "GET" and not c.is_query and c.status]
        )
        run.kube_writes = len(
            [c for c in w.kube.calls if c.verb in ("create", "update", "patch") and c.status]
        )
        w.runs.append(run)
        _tally(run)
        return run

    def _main(self, settings: Settings) -> int:
        """What `sweeper.cli.main` does once its flags are read: the start-up checks, the
        pass, the metrics push and the closing line."""
        assert self.run is not None
        log = configure("json", secrets=[TOKEN], stream=self.buf)
        log.info("sweep.started", settings=settings.public())
        github = GitHub(
            settings.github_api_url,
            TOKEN,
            settings.tunables,
            settings.write_interval_s,
            sleep=self.clock.sleep,
            reserve=settings.rate_reserve,
            secrets=[TOKEN],
        )
        metrics = Metrics(Gateway(self.run), log)  # type: ignore[arg-type]
        kube = None
        try:
            try:
                kube = connect(str(self.world.stands.kubeconfig), settings.tunables, self.stop)
                small_pages(kube, self.world.config.task_page)
                kube.check(settings.namespaces)
                github.check_token()
            except (KubeError, GitHubError) as err:
                log.error("sweep.config_error", reason=refusal(err), detail=str(err))
                finish(settings, Summary(config_error=str(err)), github, kube, log, metrics, 0.0)
                return 2
            return run_sweep(settings, kube, github, log, metrics, self.stop).exit_code
        finally:
            github.close()
            pool = getattr(
                getattr(getattr(kube, "_custom", None), "api_client", None), "rest_client", None
            )
            if pool is not None:
                pool.pool_manager.clear()

    def _request(self, api: str, method: str, path: str, body: Any) -> None:
        """Before every request the run sends, in the stand-in's thread (the run waits)."""
        run = self.run
        if run is None:
            return
        run.requests += 1
        if run.killed:
            raise ConnectionAbortedError("the sweeper was killed")
        if run.end == "sigkill" and self._now(method, path):
            run.killed, run.cut = True, self.buf.tell()
            self.stop.request("SIGKILL")  # only so the dead run winds down quickly
            raise ConnectionAbortedError("the sweeper was killed")
        if run.end == "sigterm" and not self.stop.requested and self._now(method, path):
            self.stop.request("SIGTERM")
            self.in_flight = (method, path, json.dumps(body, sort_keys=True))
        elif self.stop.requested and api == "github":
            self._after_stop(method, path, body)
        if api == "kube":
            self.armed.kube(method, path)
        else:
            from tests.sim.oracle import check_write

            check_write(self.world, method, path, body)
            self.armed.github(method, path, body)

    def _after_stop(self, method: str, path: str, body: Any) -> None:
        """Stopped, the run writes nothing more to GitHub but the withdrawal of a PR at
        unreviewed code (and a repeat of the write in flight, after a rate-limit wait)."""
        if method == "GET" or (method, path, json.dumps(body, sort_keys=True)) == self.in_flight:
            self.in_flight = None
            return
        query = str(body.get("query") or "") if isinstance(body, dict) else ""
        if path == "/graphql" and not query.lstrip().startswith("mutation"):
            return
        if method == "PATCH" and isinstance(body, dict) and body.get("state") == "closed":
            return
        self.world.violations.append(
            f"run {len(self.world.runs)}: {method} {path} after the stop request"
        )

    def _now(self, method: str, path: str) -> bool:
        """The signal's moment: the `at`-th request, or the first matching `at` ("POST
        /events$": the first Event the run creates)."""
        run = self.run
        assert run is not None
        if isinstance(run.at, str):
            return re.search(run.at, f"{method} {path}") is not None
        return run.requests == run.at

    # ------------------------------------------------------------ GitHub made a PR

    def _created(self, pr: dict[str, Any]) -> None:
        """At the moment GitHub stores a PR: was it the sweeper's to make, here, like this?"""
        run = self.run
        if run is None:
            return  # a person, or Foreman's own opener
        from tests.sim.oracle import check_creation

        repo = pr["base"]["repo"]
        branch = pr["head"]["ref"]
        pushed = (repo, branch) in self.armed.pushed
        reviewed = check_creation(self.world, pr, pushed)
        self.world.created.append(
            Created(repo, pr["number"], branch, pr["head"]["sha"], run.index, reviewed, pushed)
        )
        if self.armed.take("push-after-create"):
            self.armed.push(repo, branch)


def _tally(run: Run) -> None:
    STATS["runs"] += 1
    STATS[f"end {'killed' if run.killed else run.end}"] += 1
    STATS["dry runs"] += run.dry
    for f in run.faults:
        STATS[f"fault {f.kind}"] += 1
    for line in run.lines:
        if line.get("event") == "pr.decision":
            draft = " (changes requested)" if line.get("changes_requested") else ""
            STATS[f"decision {line['outcome']}/{line['reason']}{draft}"] += 1
        elif line.get("event") in (
            "lock.held",
            "record.failed",
            "record.gone",
            "sweep.aborted",
            "sweep.terminated",
            "sweep.config_error",
            "event.failed",
        ):
            STATS[f"line {line['event']}"] += 1


def small_pages(kube: Any, size: int) -> None:
    """The adapter's own page size for tasks and Agents is 500: a few objects would
    never page. Where it takes a `page_size`, the simulation asks for small pages."""
    for name in ("tasks_of", "agents"):
        method = getattr(kube, name, None)
        if method is not None and "page_size" in inspect.signature(method).parameters:
            setattr(kube, name, partial(method, page_size=size))


def settled_now(world: World, model: Any) -> bool:
    """The Workload carries a settled mark written since Foreman last changed it."""
    return model.settled_version == model.version and bool(
        world.annotations(model).get("pr-sweeper.foreman.llmkube.dev/settled")
    )


def _gate_required() -> bool:
    """Foreman's verifier rule (a reviewer-less branch needs its gate) is in the sweeper
    once its Workload model reads spec.verifierAgentRef."""
    from sweeper.model import Workload

    return "verifier_asked" in getattr(Workload, "__dataclass_fields__", {})


GATE_REQUIRED = _gate_required()
