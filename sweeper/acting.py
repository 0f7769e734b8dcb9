"""Act: one write at a time, for the branches whose GitHub view calls for one.

Every write goes through `Effects`, the single place that honours dry-run. A create is
never retried blindly: a lost or odd answer is re-checked by head, and GitHub's 422
"already exists" resolves to the winner.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from sweeper.body import BodyInput, render_body, render_title, withdrawn_body
from sweeper.budget import Budget
from sweeper.core import Candidate, Decision, Open, Plan, Pull, Refresh, Withdraw
from sweeper.github import (
    AppNotInstalled,
    GitHubError,
    PermissionDenied,
    RateLimited,
    Rejection,
    Transient,
    Unauthorized,
    ValidationFailed,
)
from sweeper.learning import Deferred, Known, lookup_for
from sweeper.lookups import Lookup, Unanswered, View
from sweeper.model import Workload
from sweeper.outcomes import Outcome, Reason
from sweeper.ports import GitHubPort, KubePort
from sweeper.remote import decide_remote, withdraw_plan
from sweeper.settings import Settings
from sweeper.stopping import Stop


class Effects:
    """Every write the sweeper makes. In dry-run, none happens and callers are told so.

    A stop request (SIGTERM) is honoured here, before the next write that changes what
    people see; withdrawing a PR that stands at unreviewed code is safety, not work, and
    still happens.
    """

    def __init__(
        self, github: GitHubPort, kube: KubePort, dry_run: bool, stop: Stop | None = None
    ) -> None:
        self.github, self.kube, self.dry_run = github, kube, dry_run
        self.stop = stop or Stop()

    def create_pull(
        self, repo: str, head: str, base: str, title: str, body: str, draft: bool
    ) -> Any:
        self.stop.check()
        if self.dry_run:
            return None
        return self.github.create_pull(repo, head, base, title, body, draft)

    def update_body(self, repo: str, number: int, body: str) -> None:
        self.stop.check()
        if not self.dry_run:
            self.github.update_body(repo, number, body)

    def mark_ready(self, node_id: str, repo: str) -> None:
        self.stop.check()
        if not self.dry_run:
            self.github.mark_ready(node_id, repo)

    def withdraw(self, repo: str, number: int, body: str) -> None:
        if not self.dry_run:
            self.github.close_pull(repo, number, body)

    def comment(self, repo: str, number: int, text: str) -> None:
        if not self.dry_run:
            self.github.comment(repo, number, text)

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
        """An Event for a PR the sweeper changed: opened, updated or withdrew."""
        if self.dry_run:
            return
        verb = "Withdrawn" if decision.withdrew else str(decision.outcome).capitalize()
        message = (
            f"{verb} {decision.pr_url} for {decision.repo} {decision.branch} ({decision.reason})"
        )
        kind = "Warning" if decision.withdrew else "Normal"
        self.kube.create_event(_ref(wl), f"PullRequest{verb}", message, kind)

    def record_failed(self, wl: Workload, detail: str) -> None:
        """A Warning Event on a Workload whose record could not be written."""
        if not self.dry_run:
            self.kube.create_event(_ref(wl), "RecordFailed", detail, "Warning")


class Actor:
    def __init__(
        self, settings: Settings, github: GitHubPort, effects: Effects, budget: Budget
    ) -> None:
        self.s, self.github, self.effects, self.budget = settings, github, effects, budget

    def resolve(self, wl: Workload, plan: Plan, known: Mapping[Lookup, Known]) -> Decision:
        """The final word on one branch, given what was learned of it."""
        if isinstance(plan, Decision):
            return plan
        c = plan
        view = known.get(lookup_for(c))
        if isinstance(view, Deferred):
            return _decision(c, Outcome.DEFERRED, view.reason, view.detail)
        if isinstance(view, Unanswered):
            return _decision(c, Outcome.FAILED, view.reason, view.message)
        if view is None:  # pragma: no cover - every candidate is looked up
            return _decision(c, Outcome.FAILED, Reason.GITHUB_ERROR, "not looked up")
        step = decide_remote(c, view.head_sha, view.pulls)
        if isinstance(step, Decision):
            return step
        if isinstance(step, Withdraw):  # safety, not work: neither budget nor reserve waits
            return self.withdraw(wl, c, step.pull, step.detail, c.branch.reviewed_sha)
        # Writes go to REST's bucket; marking a draft ready is a GraphQL mutation.
        repo = c.branch.repo
        core = self.github.bucket_key("core", repo)
        deferral = self.budget.deferral(core, creating=isinstance(step, Open))
        if deferral is None and isinstance(step, Refresh) and step.mark_ready:
            deferral = self.budget.deferral(self.github.bucket_key("graphql", repo))
        if deferral:
            return _decision(c, Outcome.DEFERRED, *deferral)
        try:
            if isinstance(step, Open):
                return self.open(wl, step, view)
            return self.refresh(wl, step)
        except RateLimited as err:
            self.budget.stop(err.bucket, err.reason, str(err))
            return _decision(c, Outcome.DEFERRED, err.reason, str(err))
        except GitHubError as err:
            return _decision(c, Outcome.FAILED, _failure(err), str(err))

    def open(self, wl: Workload, step: Open, view: View) -> Decision:
        c, b = step.candidate, step.candidate.branch
        base = b.base or view.default_branch or self.github.default_branch(b.repo)
        sha = b.reviewed_sha
        message = view.head_message
        if message is None:  # read by REST: only now is the subject worth a call
            message = self.github.commit_message(c.head_repo, sha)
        title = render_title(message, b.issue)
        body = self.body(wl, c, sha)
        self.budget.creates += 1
        try:
            pull = self.effects.create_pull(b.repo, c.head, base, title, body, b.opens_as_draft)
        except ValidationFailed as err:
            return self._rejected(c, err)
        except RateLimited as err:
            self.budget.stop(err.bucket, err.reason, str(err))
            return _decision(c, Outcome.DEFERRED, err.reason, str(err), sha=sha)
        except (PermissionDenied, AppNotInstalled, Unauthorized) as err:  # refused: none made
            return _decision(c, Outcome.FAILED, _failure(err), str(err), sha=sha)
        except (Transient, GitHubError) as err:
            return self._recheck(wl, c, step, err, sha)
        if pull is None:
            return _decision(
                c, Outcome.WOULD_OPEN, step.reason, f"{step.detail}; title {title!r}", sha=sha
            )
        if pull.head_sha is not None and pull.head_sha != sha:
            # GitHub takes no expected SHA: its answer tells which commit the PR is at.
            moved = f"#{pull.number} was opened at {pull.head_sha[:12]}, not {sha[:12]}"
            detail = f"{moved} (the branch moved during the create)"
            return self.withdraw(wl, c, pull, detail, sha)
        return _decision(c, Outcome.OPENED, step.reason, step.detail, pull.url, pull.number, sha)

    def withdraw(self, wl: Workload, c: Candidate, pull: Pull, detail: str, sha: str) -> Decision:
        """Close a PR that stands at unreviewed code, saying why; a later review gets its own.

        The closed body carries a withdrawn marker, so no run takes the close for a human's.
        """
        b = c.branch
        note = (
            f"This PR was opened for the reviewed commit {sha}, but the branch "
            f"moved to {pull.head_sha} meanwhile, and nobody reviewed that. It is closed "
            "rather than left open as reviewed code; once Foreman reviews the new head, the "
            "sweeper opens a PR for it."
        )
        current = pull.body if pull.body is not None else self.body(wl, c, sha)
        try:
            self.effects.withdraw(b.repo, pull.number, withdrawn_body(current, note))
        except GitHubError as err:
            if isinstance(err, RateLimited):
                self.budget.stop(err.bucket, err.reason, str(err))
            return _decision(
                c,
                Outcome.FAILED,
                Reason.GITHUB_ERROR,
                f"{detail}; withdrawing it failed ({err}): the next run tries again",
                pull.url,
                pull.number,
            )
        warnings = self._best_effort(
            "withdrawal comment", b.repo, lambda: self.effects.comment(b.repo, pull.number, note)
        )
        decision = _decision(
            c,
            Outcome.SKIPPED,
            Reason.HEAD_MOVED,
            f"{detail}: withdrawn (closed)",
            pull.url,
            pull.number,
            sha,
        )
        return replace(decision, warnings=tuple(warnings), withdrew=True)

    def body(self, wl: Workload, c: Candidate, sha: str) -> str:
        """The body for the branch's final round: opening and the refresh after a fix
        cycle both build it here, so both choose the description in Foreman's order."""
        b = c.branch
        return render_body(
            BodyInput(
                wl.namespace,
                wl.name,
                b.issue,
                sha,
                b.coder,
                b.verifiers,
                b.reviewers,
                b.draft,
                b.advisory,
            )
        )

    def refresh(self, wl: Workload, step: Refresh) -> Decision:
        """Ready first, then the body: a crash in between leaves the next run work to do."""
        c, pull = step.candidate, step.pull
        try:
            if step.mark_ready:
                if pull.node_id is None:
                    raise GitHubError(f"#{pull.number} was listed without a node_id")
                self.effects.mark_ready(pull.node_id, c.branch.repo)
            if step.update_body:
                body = self.body(wl, c, c.branch.reviewed_sha)
                self.effects.update_body(c.branch.repo, pull.number, body)
        except RateLimited as err:
            self.budget.stop(err.bucket, err.reason, str(err))
            return _decision(c, Outcome.DEFERRED, err.reason, str(err))
        except PermissionDenied as err:
            return _decision(c, Outcome.FAILED, Reason.PERMISSION_DENIED, f"{step.detail}; {err}")
        except GitHubError as err:
            return _decision(c, Outcome.FAILED, _failure(err), f"{step.detail}; {err}")
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
                repo,
                lambda: self.effects.request_reviewers(repo, number, s.reviewers, tuple(teams)),
            )
        if s.labels:
            warnings += self._best_effort(
                "labels", repo, lambda: self.effects.add_labels(repo, number, s.labels)
            )
        return replace(d, warnings=d.warnings + tuple(warnings)) if warnings else d

    def _best_effort(self, what: str, repo: str, call: Callable[[], None]) -> list[str]:
        """One call, retried once when GitHub does not know the brand-new PR yet."""
        if self.effects.stop.requested:
            return [f"{what} not sent: the run was stopped ({self.effects.stop.signal})"]
        deferral = self.budget.deferral(self.github.bucket_key("core", repo))
        if deferral:
            return [f"{what} not sent: {deferral[1]}"]
        err = _attempt(call)
        if isinstance(err, ValidationFailed) and err.kind is Rejection.UNRESOLVED_NODE:
            time.sleep(self.s.tunables.notify_retry_wait_s)
            err = _attempt(call)
        if err is None:
            return []
        if isinstance(err, RateLimited):
            self.budget.stop(err.bucket, err.reason, str(err))
        return [f"{what} failed: {err}"]

    # ------------------------------------------------------------ odd answers to a create

    def _rejected(self, c: Candidate, err: ValidationFailed) -> Decision:
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
        if err.kind is Rejection.DRAFTS_UNSUPPORTED and c.branch.opens_as_draft:
            # Never a ready PR in its place: nobody approved this code.
            return _decision(c, Outcome.SKIPPED, Reason.DRAFT_UNSUPPORTED, str(err), sha=sha)
        return _decision(c, Outcome.FAILED, Reason.GITHUB_ERROR, str(err), sha=sha)

    def _recheck(
        self, wl: Workload, c: Candidate, step: Open, err: GitHubError, sha: str
    ) -> Decision:
        """The create's answer was lost or odd: GitHub may have made the PR. Look, don't retry.

        A PR found at another commit than the reviewed one is ours if its marker says so
        (the branch moved during the create): it is withdrawn at once, as when the answer
        arrives."""
        try:
            pulls = self.github.pulls_for_head(c.branch.repo, c.head)
        except RateLimited as again:
            self.budget.stop(again.bucket, again.reason, str(again))
            detail = f"{err}; re-check deferred ({again}): the next run adopts it by head"
            return _decision(c, Outcome.DEFERRED, again.reason, detail, sha=sha)
        except GitHubError as again:
            return _decision(
                c, Outcome.FAILED, Reason.GITHUB_ERROR, f"{err}; re-check: {again}", sha=sha
            )
        for pull in pulls:
            if pull.state != "open":
                continue
            lost = f"create answer lost ({err}), found #{pull.number} by head"
            if pull.head_sha == sha:
                detail = f"{step.detail}; {lost}"
                return _decision(c, Outcome.OPENED, step.reason, detail, pull.url, pull.number, sha)
            if withdraw_plan(c, pull) is not None:
                moved = f"{lost} at {str(pull.head_sha)[:12]}, not {sha[:12]}"
                return self.withdraw(
                    wl, c, pull, f"{moved} (the branch moved during the create)", sha
                )
        return _decision(
            c, Outcome.FAILED, Reason.GITHUB_ERROR, f"{err}; no PR found by head", sha=sha
        )


def _ref(wl: Workload) -> dict[str, str]:
    return {"namespace": wl.namespace, "name": wl.name, "uid": wl.uid}


def _failure(err: GitHubError) -> Reason:
    """The reason a GitHub error fails a branch with (each error type names its own)."""
    return err.reason


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
    as_draft = b.as_draft and outcome in (Outcome.OPENED, Outcome.WOULD_OPEN)
    if as_draft and b.draft_why:
        verb = "would open" if outcome is Outcome.WOULD_OPEN else "opened"
        detail = f"{detail}; {verb} as a draft: {b.draft_why}"
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
        as_draft=as_draft,
    )
