"""One sweep: list Workloads, decide, act, record, report.

The policy lives in `sweeper.core`; this module only moves data between it and the two
adapters. Every write goes through `Effects`, the single place that honours dry-run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sweeper.body import BodyInput, render_body, render_title
from sweeper.core import (
    HAS_PR,
    Candidate,
    Decision,
    Open,
    Plan,
    Policy,
    Refresh,
    decide_remote,
    merged_records,
    plan_workload,
    settles,
    triage,
)
from sweeper.errors import Conflict, KubeError
from sweeper.github import (
    GitHubError,
    PermissionDenied,
    RateLimited,
    Rejection,
    Transient,
    ValidationFailed,
)
from sweeper.lock import LockHeld, RunLock
from sweeper.model import (
    RECORD_ANNOTATION,
    SETTLED_ANNOTATION,
    InvalidInput,
    Workload,
    as_mapping,
    parse_workload,
    render_records,
)
from sweeper.outcomes import Outcome, Reason, WorkloadSkip
from sweeper.report import Log
from sweeper.settings import Settings


class KubePort(Protocol):
    calls: Counter[str]

    def workload_pages(
        self, namespaces: tuple[str, ...], selector: str | None, page_size: int
    ) -> Iterator[list[dict[str, Any]]]: ...
    def list_tasks(self, namespace: str, workload: str) -> list[dict[str, Any]]: ...
    def get_workload(self, namespace: str, name: str) -> dict[str, Any]: ...
    def patch_annotations(
        self, namespace: str, name: str, resource_version: str, annotations: dict[str, str | None]
    ) -> None: ...
    def create_event(self, workload: dict[str, str], reason: str, message: str) -> None: ...
    def read_lease(self, namespace: str, name: str) -> dict[str, Any] | None: ...
    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def replace_lease(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    workloads: Counter[str] = field(default_factory=Counter)
    record_failures: int = 0
    lock_held_by: str | None = None
    lock_error: str | None = None

    @property
    def exit_code(self) -> int:
        if self.lock_error:
            return 2
        return 1 if self.counts[Outcome.FAILED] or self.record_failures else 0


class Effects:
    """Every write the sweeper makes. In dry-run, none happens and callers are told so."""

    def __init__(self, github: Any, kube: KubePort, dry_run: bool) -> None:
        self.github, self.kube, self.dry_run = github, kube, dry_run

    def create_pull(
        self, repo: str, head: str, base: str, title: str, body: str, draft: bool
    ) -> Any:
        if self.dry_run:
            return None
        return self.github.create_pull(repo, head, base, title, body, draft)

    def update_body(self, repo: str, number: int, body: str) -> None:
        if not self.dry_run:
            self.github.update_body(repo, number, body)

    def mark_ready(self, node_id: str) -> None:
        if not self.dry_run:
            self.github.mark_ready(node_id)

    def request_reviewers(
        self, repo: str, number: int, reviewers: tuple[str, ...], teams: tuple[str, ...]
    ) -> None:
        if not self.dry_run:
            self.github.request_reviewers(repo, number, reviewers, teams)

    def add_labels(self, repo: str, number: int, labels: tuple[str, ...]) -> None:
        if not self.dry_run:
            self.github.add_labels(repo, number, labels)

    def annotate(self, wl: Workload, rv: str, annotations: dict[str, str | None]) -> None:
        if not self.dry_run:
            self.kube.patch_annotations(wl.namespace, wl.name, rv, annotations)

    def event(self, wl: Workload, decision: Decision) -> None:
        if self.dry_run:
            return
        verb = {Outcome.OPENED: "Opened", Outcome.UPDATED: "Updated"}.get(
            decision.outcome, "Adopted"
        )
        ref = {"namespace": wl.namespace, "name": wl.name, "uid": wl.uid}
        message = (
            f"{verb} {decision.pr_url} for {decision.repo} {decision.branch} ({decision.reason})"
        )
        self.kube.create_event(ref, f"PullRequest{verb}", message)


class Sweep:
    def __init__(self, settings: Settings, kube: KubePort, github: Any, log: Log) -> None:
        self.s, self.kube, self.github, self.log = settings, kube, github, log
        self.effects = Effects(github, kube, settings.dry_run)
        self.policy = Policy(
            settings.min_age,
            settings.head_owner,
            settings.allow_repos,
            settings.draft_on_request_changes,
        )
        self.summary = Summary()
        self.creates = 0
        self.github_stopped: str | None = None

    # ------------------------------------------------------------ the pipeline

    def run(self) -> Summary:
        lock = None
        if self.s.use_lock and not self.s.dry_run:
            lock = RunLock(
                self.kube, self.s.lock_namespace, self.s.lock_name, self.s.tunables.lease_duration_s
            )
            try:
                lock.acquire()
            except LockHeld as held:
                self.summary.lock_held_by = held.holder
                self.log.info("lock.held", holder=held.holder, reason="lock-held")
                return self.summary
            except KubeError as err:  # e.g. no RBAC for the Lease: nothing was done
                self.summary.lock_error = str(err)
                self.log.error("sweep.config_error", reason="lock", detail=str(err))
                return self.summary
        try:
            for wl in self.pending():
                self.sweep_workload(wl)
                if lock:
                    lock.renew_if_due()
        finally:
            if lock:
                lock.release()
        return self.summary

    def pending(self) -> list[Workload]:
        """Completed, unsettled, old enough: the oldest-completed first, for a fair backlog."""
        seen: set[tuple[str, str]] = set()
        pending: list[Workload] = []
        now = datetime.now(UTC)
        for page in self.kube.workload_pages(self.s.namespaces, self.s.selector, self.s.page_size):
            for obj in page:
                wl = self._parse(obj)
                if wl is None or (wl.namespace, wl.name) in seen:
                    continue
                seen.add((wl.namespace, wl.name))
                skip = triage(wl, now, self.policy)
                self.summary.workloads[str(skip or "pending")] += 1
                if skip is WorkloadSkip.TOO_YOUNG:
                    self.log.info(
                        "workload.skipped",
                        namespace=wl.namespace,
                        workload=wl.name,
                        reason=str(skip),
                        detail=f"completed less than {self.s.min_age} ago",
                    )
                elif skip is None:
                    pending.append(wl)
        oldest = datetime.min.replace(tzinfo=UTC)
        return sorted(pending, key=lambda w: (w.completed_at or oldest, w.namespace, w.name))

    def _parse(self, obj: dict[str, Any]) -> Workload | None:
        try:
            return parse_workload(obj)
        except InvalidInput as err:
            meta = as_mapping(obj.get("metadata"))
            self.summary.workloads[str(WorkloadSkip.INVALID_INPUT)] += 1
            self.log.warning(
                "workload.skipped",
                namespace=str(meta.get("namespace")),
                workload=str(meta.get("name")),
                reason=str(WorkloadSkip.INVALID_INPUT),
                detail=str(err),
            )
            return None

    def sweep_workload(self, wl: Workload) -> None:
        """One Workload, isolated: whatever goes wrong here, the pass goes on."""
        try:
            tasks = self.kube.list_tasks(wl.namespace, wl.name)
            decisions = [self.resolve(wl, plan) for plan in plan_workload(wl, tasks, self.policy)]
        except KubeError as err:
            self._workload_failed(wl, f"reading tasks failed: {err}")
            return
        except Exception as err:  # a bug must not stop the other Workloads
            self._workload_failed(wl, f"unexpected {type(err).__name__}: {err}")
            return
        recorded = self.record(wl, decisions)
        for decision in decisions:
            if decision.outcome is Outcome.OPENED:
                decision = self.notify(decision)
            self.report(wl, decision, recorded)
            if recorded and decision.outcome in HAS_PR:
                self._event(wl, decision)

    def _workload_failed(self, wl: Workload, detail: str) -> None:
        self.summary.counts[Outcome.FAILED] += 1
        self.log.error(
            "pr.decision",
            namespace=wl.namespace,
            workload=wl.name,
            repo=None,
            issue=None,
            branch=None,
            sha=None,
            outcome=str(Outcome.FAILED),
            reason="workload-error",
            detail=detail[:500],
            pr_url=None,
            draft=False,
            warnings=[],
            dry_run=self.s.dry_run,
        )

    # ------------------------------------------------------------ act

    def resolve(self, wl: Workload, plan: Plan) -> Decision:
        if isinstance(plan, Decision):
            return plan
        candidate = plan
        deferred = self._deferral()
        if deferred:
            return _decision(candidate, Outcome.DEFERRED, deferred[0], deferred[1])
        try:
            head_sha = self.github.branch_head(candidate.head_repo, candidate.branch.name)
            pulls = self.github.pulls_for_head(candidate.branch.repo, candidate.head)
            step = decide_remote(candidate, head_sha, pulls)
            if isinstance(step, Open):
                return self.open(wl, step, head_sha)
            if isinstance(step, Refresh):
                return self.refresh(wl, step)
            assert isinstance(step, Decision)
            return step
        except RateLimited as err:
            self.github_stopped = str(err)
            return _decision(candidate, Outcome.DEFERRED, Reason.RATE_LIMITED, str(err))
        except PermissionDenied as err:
            return _decision(candidate, Outcome.FAILED, Reason.PERMISSION_DENIED, str(err))
        except GitHubError as err:
            return _decision(candidate, Outcome.FAILED, Reason.GITHUB_ERROR, str(err))

    def _deferral(self) -> tuple[Reason, str] | None:
        if self.github_stopped:
            return Reason.RATE_LIMITED, f"GitHub asked us to stop: {self.github_stopped}"
        if self.creates >= self.s.max_create:
            return Reason.BUDGET_EXHAUSTED, f"--max-create {self.s.max_create} reached this run"
        return None

    def open(self, wl: Workload, step: Open, head_sha: str | None) -> Decision:
        c, b = step.candidate, step.candidate.branch
        base = b.base or self.github.default_branch(b.repo)
        sha = b.reviewed_sha or head_sha
        title = render_title(self.github.commit_message(c.head_repo, sha or b.name), b.issue)
        body = self.body(wl, c, sha)
        self.creates += 1
        try:
            pull = self.effects.create_pull(b.repo, c.head, base, title, body, b.draft)
        except ValidationFailed as err:
            return self._rejected(c, step, err)
        except RateLimited as err:
            self.github_stopped = str(err)
            return _decision(c, Outcome.DEFERRED, Reason.RATE_LIMITED, str(err), sha=sha)
        except (Transient, GitHubError) as err:
            return self._recheck(c, step, err, sha)
        if pull is None:
            return _decision(
                c, Outcome.WOULD_OPEN, step.reason, f"{step.detail}; title {title!r}", sha=sha
            )
        return _decision(c, Outcome.OPENED, step.reason, step.detail, pull.url, pull.number, sha)

    def body(self, wl: Workload, c: Candidate, sha: str | None) -> str:
        b = c.branch
        return render_body(
            BodyInput(
                wl.namespace, wl.name, b.issue, sha, b.coder, b.verifiers, b.reviewers, b.draft
            )
        )

    def refresh(self, wl: Workload, step: Refresh) -> Decision:
        """Ready first, then the body: a crash in between leaves the next run work to do."""
        c, pull = step.candidate, step.pull
        try:
            if step.mark_ready:
                if pull.node_id is None:
                    raise GitHubError(f"#{pull.number} was listed without a node_id")
                self.effects.mark_ready(pull.node_id)
            if step.update_body:
                body = self.body(wl, c, c.branch.reviewed_sha)
                self.effects.update_body(c.branch.repo, pull.number, body)
        except RateLimited as err:
            self.github_stopped = str(err)
            return _decision(c, Outcome.DEFERRED, Reason.RATE_LIMITED, str(err))
        except PermissionDenied as err:
            return _decision(c, Outcome.FAILED, Reason.PERMISSION_DENIED, f"{step.detail}; {err}")
        except GitHubError as err:
            return _decision(c, Outcome.FAILED, Reason.GITHUB_ERROR, f"{step.detail}; {err}")
        outcome = Outcome.WOULD_UPDATE if self.s.dry_run else Outcome.UPDATED
        return _decision(c, outcome, Reason.NEW_REVIEW, step.detail, pull.url, pull.number)

    # ------------------------------------------------------------ notify

    def notify(self, d: Decision) -> Decision:
        """Review requests and labels on a PR the sweeper opened: best effort, as warnings."""
        s = self.s
        if d.repo is None or d.pr_number is None:
            return d
        repo, number = d.repo, d.pr_number
        owner = repo.split("/", 1)[0].lower()
        teams: list[str] = []
        warnings: list[str] = []
        for team in s.team_reviewers:
            org, slug = team.split("/", 1)
            if org.lower() == owner:
                teams.append(slug)
            else:
                warnings.append(f"team {team} is not in {owner}: not requested")
        if s.reviewers or teams:
            warnings += self._best_effort(
                "review request",
                lambda: self.effects.request_reviewers(repo, number, s.reviewers, tuple(teams)),
            )
        if s.labels:
            warnings += self._best_effort(
                "labels", lambda: self.effects.add_labels(repo, number, s.labels)
            )
        return replace(d, warnings=d.warnings + tuple(warnings)) if warnings else d

    def _best_effort(self, what: str, call: Callable[[], None]) -> list[str]:
        """One call, retried once when GitHub does not know the brand-new PR yet."""
        if self.github_stopped:
            return [f"{what} not sent: GitHub asked us to stop ({self.github_stopped})"]
        err = _attempt(call)
        if isinstance(err, ValidationFailed) and err.kind is Rejection.UNRESOLVED_NODE:
            time.sleep(self.s.tunables.notify_retry_wait_s)
            err = _attempt(call)
        if err is None:
            return []
        if isinstance(err, RateLimited):
            self.github_stopped = str(err)
        return [f"{what} failed: {err}"]

    def _rejected(self, c: Candidate, step: Open, err: ValidationFailed) -> Decision:
        sha = c.branch.reviewed_sha
        if err.kind is Rejection.ALREADY_EXISTS:
            for pull in self.github.pulls_for_head(c.branch.repo, c.head):
                if pull.state == "open":
                    detail = f"another opener won the race: #{pull.number}"
                    return _decision(
                        c, Outcome.ADOPTED, Reason.RACE_LOST, detail, pull.url, pull.number, sha
                    )
            return _decision(
                c, Outcome.FAILED, Reason.GITHUB_ERROR, f"{err}; winner not found", sha=sha
            )
        if err.kind is Rejection.NO_COMMITS:
            return _decision(c, Outcome.SKIPPED, Reason.NO_DIFF, str(err), sha=sha)
        if err.kind is Rejection.INVALID_HEAD:
            return _decision(c, Outcome.SKIPPED, Reason.BRANCH_MISSING, str(err), sha=sha)
        if err.kind is Rejection.DRAFTS_UNSUPPORTED and c.branch.draft:
            # Never a ready PR in its place: nobody approved this code.
            return _decision(c, Outcome.SKIPPED, Reason.DRAFT_UNSUPPORTED, str(err), sha=sha)
        return _decision(c, Outcome.FAILED, Reason.GITHUB_ERROR, str(err), sha=sha)

    def _recheck(self, c: Candidate, step: Open, err: GitHubError, sha: str | None) -> Decision:
        """The create's answer was lost or odd: GitHub may have made the PR. Look, don't retry."""
        try:
            pulls = self.github.pulls_for_head(c.branch.repo, c.head)
        except GitHubError as again:
            return _decision(
                c, Outcome.FAILED, Reason.GITHUB_ERROR, f"{err}; re-check: {again}", sha=sha
            )
        for pull in pulls:
            if pull.state == "open" and (sha is None or pull.head_sha == sha):
                detail = f"{step.detail}; create answer lost ({err}), found #{pull.number} by head"
                return _decision(c, Outcome.OPENED, step.reason, detail, pull.url, pull.number, sha)
        return _decision(
            c, Outcome.FAILED, Reason.GITHUB_ERROR, f"{err}; no PR found by head", sha=sha
        )

    # ------------------------------------------------------------ record

    def record(self, wl: Workload, decisions: list[Decision]) -> bool:
        """Merge today's records into the annotation, re-reading on a stale resourceVersion."""
        current, rv, settled = wl, wl.resource_version, settles(decisions)
        for _ in range(self.s.tunables.record_attempts):
            annotations = _annotation_changes(current, decisions, settled)
            if not annotations:
                return True
            try:
                self.effects.annotate(current, rv, annotations)
                return True
            except Conflict:
                fresh = parse_workload(self.kube.get_workload(wl.namespace, wl.name))
                settled = settled and fresh.fingerprint == wl.fingerprint
                current, rv = fresh, fresh.resource_version
            except (KubeError, InvalidInput) as err:
                return self._record_failed(wl, str(err))
        return self._record_failed(wl, "resourceVersion kept changing")

    def _record_failed(self, wl: Workload, detail: str) -> bool:
        self.summary.record_failures += 1
        self.log.error(
            "record.failed",
            namespace=wl.namespace,
            workload=wl.name,
            reason="record-failed",
            detail=f"{detail[:300]}; the next run adopts the PRs by head",
        )
        return False

    def _event(self, wl: Workload, decision: Decision) -> None:
        try:
            self.effects.event(wl, decision)
        except KubeError as err:
            self.log.warning(
                "event.failed", namespace=wl.namespace, workload=wl.name, detail=str(err)
            )

    # ------------------------------------------------------------ report

    def report(self, wl: Workload, d: Decision, recorded: bool) -> None:
        self.summary.counts[d.outcome] += 1
        level = self.log.error if d.outcome is Outcome.FAILED else self.log.info
        if d.warnings and d.outcome is not Outcome.FAILED:
            level = self.log.warning
        level(
            "pr.decision",
            namespace=wl.namespace,
            workload=wl.name,
            repo=d.repo,
            issue=d.issue,
            branch=d.branch,
            sha=d.sha,
            outcome=str(d.outcome),
            reason=str(d.reason),
            detail=d.detail,
            pr_url=d.pr_url,
            draft=d.draft,
            warnings=list(d.warnings),
            recorded=recorded and not self.s.dry_run and d.record,
            dry_run=self.s.dry_run,
        )


def _annotation_changes(
    wl: Workload, decisions: list[Decision], settled: bool
) -> dict[str, str | None]:
    changes: dict[str, str | None] = {}
    records = merged_records(wl.records, decisions)
    if records != dict(wl.records):
        changes[RECORD_ANNOTATION] = render_records(records)
    mark = wl.fingerprint if settled else None
    if mark != wl.settled:
        changes[SETTLED_ANNOTATION] = mark
    return changes


def _attempt(call: Callable[[], None]) -> GitHubError | None:
    try:
        call()
    except GitHubError as err:
        return err
    return None


def _decision(
    c: Candidate,
    outcome: Outcome,
    reason: Reason,
    detail: str,
    url: str | None = None,
    number: int | None = None,
    sha: str | None = None,
) -> Decision:
    b = c.branch
    if c.note and c.note not in detail:
        detail = f"{detail}; {c.note}"
    return Decision(
        b.repo,
        b.name,
        b.issue,
        sha or b.reviewed_sha,
        outcome,
        reason,
        detail,
        url,
        number,
        b.draft,
    )


def run_sweep(settings: Settings, kube: KubePort, github: Any, log: Log) -> Summary:
    started = time.monotonic()
    sweep = Sweep(settings, kube, github, log)
    summary = sweep.run()
    log.info(
        "sweep.finished",
        counts={str(k): v for k, v in sorted(summary.counts.items())},
        workloads_seen=sum(summary.workloads.values()),
        workloads={k: v for k, v in sorted(summary.workloads.items())},
        record_failures=summary.record_failures,
        lock_held_by=summary.lock_held_by,
        github_calls=dict(getattr(github, "calls", {})),
        kube_calls=dict(kube.calls),
        dry_run=settings.dry_run,
        exit_code=summary.exit_code,
        duration_s=round(time.monotonic() - started, 3),
    )
    return summary
