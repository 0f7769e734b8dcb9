"""One sweep: list, plan, learn, act, record, report, in phases over windows.

The policy lives in `sweeper.core`; this module only moves data between the phases, each
a small module named for its act. Pending Workloads are taken oldest-completed first, a
window at a time: their tasks are read in batches (`planning`), GitHub's view of all
their candidate branches in batched queries (`learning`), then each Workload in turn is
decided and acted on one write at a time (`acting`), recorded (`recording`) and reported
(`report`). Memory is bounded by the window, and GitHub reads by its size, not by the
cluster's history.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from functools import partial

from sweeper import __version__
from sweeper.acting import Actor, Effects
from sweeper.budget import Budget
from sweeper.core import HAS_PR, Candidate, Policy
from sweeper.errors import KubeError
from sweeper.learning import Known, Learner
from sweeper.listing import pending
from sweeper.lock import LockHeld, RunLock
from sweeper.lookups import Lookup
from sweeper.metrics import Metrics, RunFacts
from sweeper.model import Workload
from sweeper.outcomes import Outcome
from sweeper.planning import Planned, plan_window
from sweeper.ports import GitHubPort, KubePort
from sweeper.recording import Recorder
from sweeper.report import Log, Progress, Summary, decision_line, workload_failed
from sweeper.settings import Settings

__all__ = ["KubePort", "Summary", "Sweep", "run_sweep"]


class Sweep:
    def __init__(self, settings: Settings, kube: KubePort, github: GitHubPort, log: Log) -> None:
        self.s, self.kube, self.github, self.log = settings, kube, github, log
        self.summary = Summary()
        self.policy = Policy(
            settings.min_age,
            settings.head_owner,
            settings.allow_repos,
            settings.draft_on_request_changes,
        )
        budget = Budget(settings.max_create)
        effects = Effects(github, kube, settings.dry_run)
        t = settings.tunables
        self.progress = Progress(log, self.summary, t.progress_interval_s)
        self.learner = Learner(github, budget, log, t.lookup_batch, self._learned)
        self.actor = Actor(settings, github, effects, budget)
        self.recorder = Recorder(
            effects, kube, settings.tunables.record_attempts, log, self.summary
        )
        self.lock: RunLock | None = None

    def run(self) -> Summary:
        if self.s.use_lock and not self.s.dry_run and not self._lock():
            return self.summary
        try:
            tick = partial(self.progress.tick, "list")
            todo = pending(self.kube, self.s, self.policy, self.log, self.summary, tick)
            self.progress.pending = len(todo)
            size = self.s.tunables.plan_window
            for start in range(0, len(todo), size):
                self.window(todo[start : start + size])
        finally:
            if self.lock:
                self.lock.release()
        return self.summary

    def _lock(self) -> bool:
        lock = RunLock(
            self.kube, self.s.lock_namespace, self.s.lock_name, self.s.tunables.lease_duration_s
        )
        try:
            lock.acquire()
        except LockHeld as held:
            self.summary.lock_held_by = held.holder
            self.log.info("lock.held", holder=held.holder, reason="lock-held")
            return False
        except KubeError as err:  # e.g. no RBAC for the Lease: nothing was done
            self.summary.config_error = str(err)
            self.log.error("sweep.config_error", reason="lock", detail=str(err))
            return False
        self.lock = lock
        return True

    def window(self, window: Sequence[Workload]) -> None:
        """Plan every Workload of the window, learn GitHub's view of them all, then act."""
        planned = plan_window(self.kube, window, self.policy, self.s.tunables.task_batch)
        candidates = [p for item in planned for p in item.plans if isinstance(p, Candidate)]
        self.progress.planned += len(planned)
        self.progress.candidates += len(candidates)
        known = self.learner.learn(candidates)
        for item in planned:
            self.finish(item, known)
            self.progress.decided += 1
            self.progress.tick("act")
            if self.lock:
                self.lock.renew_if_due()
        self.progress.tick("act", batch_done=True)

    def _learned(self, branches: int) -> None:
        self.progress.learned += branches
        self.progress.tick("learn", batch_done=True)

    def finish(self, item: Planned, known: Mapping[Lookup, Known]) -> None:
        """Decide and act on one Workload, record it, report it; its failures stay its own."""
        wl, dry = item.workload, self.s.dry_run
        if item.error is not None:
            workload_failed(self.log, self.summary, wl, item.error, dry)
            return
        try:
            decisions = [self.actor.resolve(wl, plan, known) for plan in item.plans]
        except Exception as err:  # a bug must not stop the other Workloads
            workload_failed(
                self.log, self.summary, wl, f"unexpected {type(err).__name__}: {err}", dry
            )
            return
        recorded = self.recorder.record(wl, decisions)
        for decision in decisions:
            if decision.outcome is Outcome.OPENED:
                decision = self.actor.notify(decision)
            decision_line(self.log, self.summary, wl, decision, recorded, dry)
            if recorded and decision.outcome in HAS_PR:
                self.recorder.event(wl, decision)


def run_facts(
    settings: Settings,
    summary: Summary,
    github: GitHubPort,
    kube: KubePort | None,
    duration_s: float,
) -> RunFacts:
    """The run's numbers for the Pushgateway, also for runs that ended before the pass."""
    return RunFacts(
        finished_at=time.time(),
        duration_s=duration_s,
        exit_code=summary.exit_code,
        result=summary.result,
        dry_run=settings.dry_run,
        version=__version__,
        decisions=dict(summary.reasons),
        workloads=dict(summary.workloads),
        record_failures=summary.record_failures,
        github_requests=dict(github.calls),
        github_rate=github.rate_buckets(),
        kube_requests=dict(kube.calls) if kube is not None else {},
    )


def run_sweep(
    settings: Settings,
    kube: KubePort,
    github: GitHubPort,
    log: Log,
    metrics: Metrics | None = None,
) -> Summary:
    """The pass, the metrics push, then `sweep.finished`: always the run's last line."""
    started = time.monotonic()
    sweep = Sweep(settings, kube, github, log)
    try:
        summary = sweep.run()
    except KubeError as err:  # the cluster went away mid-pass: what was done stays done
        summary = sweep.summary
        summary.aborted = str(err)
        log.error("sweep.aborted", reason="cluster", detail=str(err))
    finish(settings, summary, github, kube, log, metrics, round(time.monotonic() - started, 3))
    return summary


def finish(
    settings: Settings,
    summary: Summary,
    github: GitHubPort,
    kube: KubePort | None,
    log: Log,
    metrics: Metrics | None,
    duration_s: float,
) -> None:
    """The end of every run that started: the metrics push, then the closing line."""
    facts = run_facts(settings, summary, github, kube, duration_s)
    if metrics is not None:
        metrics.push(facts)
    log.info(
        "sweep.finished",
        counts={str(k): v for k, v in sorted(summary.counts.items())},
        workloads_seen=sum(summary.workloads.values()),
        workloads={k: v for k, v in sorted(summary.workloads.items())},
        record_failures=summary.record_failures,
        lock_held_by=summary.lock_held_by,
        github_calls=dict(sorted(github.calls.items())),
        github_rate=github.rate_report(),
        kube_calls=dict(sorted(facts.kube_requests.items())),
        dry_run=settings.dry_run,
        result=facts.result,
        exit_code=facts.exit_code,
        duration_s=duration_s,
    )
