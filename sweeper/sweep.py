"""One sweep: list, plan, learn, act, record, report, in phases over windows.

The policy lives in `sweeper.eligibility` and `sweeper.remote`; this module only moves
data between the phases, each a small module named for its act. Pending Workloads are
taken oldest-completed first, a window at a time: their tasks are read in batches
(`planning`), GitHub's view of all their candidate branches in batched queries
(`learning`), then each Workload in turn is decided and acted on one write at a time
(`acting`), recorded (`recording`) and reported (`report`). Memory is bounded by the
window, and GitHub reads by its size, not by the cluster's history.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial

from sweeper import __version__
from sweeper.acting import Actor
from sweeper.acts.writing import Effects
from sweeper.backlog import FAILED, waits_for
from sweeper.budget import Budget
from sweeper.core import Candidate, Decision, Policy
from sweeper.errors import KubeError, Unavailable
from sweeper.learning import Known, Learner
from sweeper.listing import pending
from sweeper.lock import LockHeld, LockLost, RunLock
from sweeper.lookups import Lookup
from sweeper.metrics import Metrics, RunFacts
from sweeper.model import Workload
from sweeper.outcomes import Outcome
from sweeper.planning import DraftPolicy, Planned, plan_window
from sweeper.ports import GitHubPort, KubePort
from sweeper.recording import Recorder
from sweeper.runlog import (
    Log,
    Progress,
    Summary,
    decision_line,
    workload_failed,
    workload_refused,
)
from sweeper.settings import Settings
from sweeper.stopping import Stop, Terminated

__all__ = ["KubePort", "Summary", "Sweep", "run_sweep"]


class Sweep:
    def __init__(
        self,
        settings: Settings,
        kube: KubePort,
        github: GitHubPort,
        log: Log,
        stop: Stop | None = None,
    ) -> None:
        self.s, self.kube, self.github, self.log = settings, kube, github, log
        self.stop = stop or Stop()
        self.summary = Summary()
        self.policy = Policy(
            settings.min_age,
            settings.head_owner,
            settings.allow_repos,
            settings.draft_on_request_changes,
        )
        budget = Budget(settings.max_create)
        effects = Effects(github, kube, settings.dry_run, self.stop)
        t = settings.tunables
        self.progress = Progress(log, self.summary, t.progress_interval_s, heartbeat=self.beat)
        self.drafts = DraftPolicy(kube, log, settings.open_as_draft)
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
            self.sweep()
        finally:
            self._release()
        return self.summary

    def sweep(self) -> None:
        """Every pending Workload, a window at a time."""
        tick = partial(self.progress.tick, "list")
        todo = pending(self.kube, self.s, self.policy, self.log, self.summary, tick)
        self.progress.pending = len(todo)
        size = self.s.tunables.plan_window
        for start in range(0, len(todo), size):
            self.window(todo[start : start + size])

    def beat(self) -> None:
        """Between steps: honour a stop request, and keep the Lease through long phases."""
        self.stop.check()
        if self.lock is None:
            return
        try:
            self.lock.renew_if_due()
        except LockLost:
            raise
        except KubeError as err:  # the next beat tries again; the Lease lasts 15 minutes
            self.log.warning("lock.renew_failed", reason="lock", detail=str(err))

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
        except Unavailable as err:  # throttled or down after every retry: no setting to fix
            self.stop.check()  # a stop cut the wait short: the signal ends the run
            self.summary.aborted = f"the run lock could not be taken: {err}"
            self.log.error("sweep.aborted", reason="cluster", detail=self.summary.aborted)
            return False
        except KubeError as err:  # e.g. no RBAC for the Lease: nothing was done
            self.summary.config_error = str(err)
            self.log.error("sweep.config_error", reason="lock", detail=str(err))
            return False
        self.lock = lock
        return True

    def _release(self) -> None:
        """Hand the Lease back; a failure here must never hide how the pass ended."""
        if self.lock is None:
            return
        try:
            self.lock.release()
        except Exception as err:  # the pass's own outcome matters more
            self.log.warning(
                "lock.release_failed",
                reason="lock",
                detail=f"{type(err).__name__}: {err}; the Lease lapses after "
                f"{self.s.tunables.lease_duration_s}s",
            )

    def window(self, window: Sequence[Workload]) -> None:
        """Plan every Workload of the window, learn GitHub's view of them all, then act."""
        plan_tick = partial(self.progress.tick, "plan")
        planned = plan_window(self.kube, window, self.policy, self.s.tunables.task_batch, plan_tick)
        planned = self.drafts.apply(planned)
        candidates = [p for item in planned for p in item.plans if isinstance(p, Candidate)]
        self.progress.planned += len(planned)
        self.progress.candidates += len(candidates)
        known = self.learner.learn(candidates)
        for item in planned:
            self.beat()
            self.act_on(item, known)
            self.progress.decided += 1
            self.progress.tick("act")
        self.progress.tick("act", batch_done=True)

    def _learned(self, branches: int) -> None:
        self.progress.learned += branches
        self.progress.tick("learn", batch_done=True)

    def act_on(self, item: Planned, known: Mapping[Lookup, Known]) -> None:
        """Decide and act on one Workload, record it, report it; its failures stay its own.

        A stop request during its writes ends it early: what was done is still recorded
        and reported (never settled), then the stop goes on up. Between the record (which
        may settle the Workload for good) and its decision lines there is no request: a
        run killed there must not leave a settle that no line explains.
        """
        wl, dry = item.workload, self.s.dry_run
        if item.error is not None:
            workload_failed(self.log, self.summary, wl, item.error, dry)
            return
        if item.refused is not None:
            workload_refused(self.log, self.summary, wl, item.refused, dry)
            return
        decisions: list[Decision] = []
        stopped: Terminated | None = None
        try:
            for plan in item.plans:
                decisions.append(self.actor.resolve(wl, plan, known))
        except Terminated as err:
            stopped = err
        except Exception as err:  # a bug must not stop the other Workloads
            workload_failed(
                self.log, self.summary, wl, f"unexpected {type(err).__name__}: {err}", dry
            )
            return
        decisions = [self.actor.notify(d) if d.outcome is Outcome.OPENED else d for d in decisions]
        recorded = self.recorder.record(wl, decisions, complete=stopped is None)
        waiting = waits_for(decisions, stopped is None, dry)
        if not recorded and not dry and self.recorder.gone(wl):
            waiting = None  # deleted during the run: nothing waits any more
        elif not recorded and not dry:
            waiting = (FAILED, "record-failed")
        if waiting is None:
            self.summary.backlog.done(wl)
        else:
            self.summary.backlog.wait(wl, *waiting)
        for decision in decisions:
            decision_line(self.log, self.summary, wl, decision, recorded, dry)
        for decision in decisions:
            if decision.changed and (recorded or not decision.record):
                self.recorder.event(wl, decision)
        if stopped is not None:
            raise stopped


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
        oldest_pending_age_s=summary.backlog.oldest_age_s(datetime.now(UTC)),
        waiting={k: v for k, v in sorted(summary.backlog.counts().items())},
        allow_repos_configured=bool(settings.allow_repos),
    )


def run_sweep(
    settings: Settings,
    kube: KubePort,
    github: GitHubPort,
    log: Log,
    metrics: Metrics | None = None,
    stop: Stop | None = None,
) -> Summary:
    """The pass, the metrics push, then `sweep.finished`: always the run's last line."""
    started = time.monotonic()
    sweep = Sweep(settings, kube, github, log, stop)
    try:
        summary = sweep.run()
    except Terminated as err:  # SIGTERM or SIGINT: what was done is recorded
        summary = sweep.summary
        summary.terminated = err.name
        log.warning("sweep.terminated", reason="signal", signal=err.name, detail=str(err))
    except KubeError as err:  # the cluster went away mid-pass: what was done stays done
        summary = sweep.summary
        if sweep.stop.requested:  # a stop cut a wait short: the signal ended the pass
            summary.terminated = sweep.stop.signal or "SIGTERM"
            log.warning(
                "sweep.terminated", reason="signal", signal=summary.terminated, detail=str(err)
            )
        else:
            summary.aborted = str(err)
            reason = "lock-lost" if isinstance(err, LockLost) else "cluster"
            log.error("sweep.aborted", reason=reason, detail=str(err))
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
        backlog={
            "oldest_pending_age_s": facts.oldest_pending_age_s,
            "waiting": {"/".join(filter(None, key)): n for key, n in facts.waiting.items()},
        },
        dry_run=settings.dry_run,
        result=facts.result,
        exit_code=facts.exit_code,
        duration_s=duration_s,
    )
