"""Open: create the PR for a reviewed head, never retried blindly. GitHub's 422 "already
exists" resolves to the winner, and a lost or odd answer is re-checked by head."""

from __future__ import annotations

from sweeper.acts.decisions import decision, failure, final_body
from sweeper.acts.guard import stops_budget
from sweeper.acts.withdrawing import Withdrawer
from sweeper.acts.writing import Effects
from sweeper.body import render_title
from sweeper.budget import Budget
from sweeper.core import Candidate, Decision, Open
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
from sweeper.lookups import View
from sweeper.model import Workload
from sweeper.outcomes import Outcome, Reason
from sweeper.ports import GitHubPort
from sweeper.remote import withdraw_plan


class Opener:
    def __init__(
        self, github: GitHubPort, effects: Effects, budget: Budget, withdrawer: Withdrawer
    ) -> None:
        self.github, self.effects, self.budget = github, effects, budget
        self.withdrawer = withdrawer

    def open(self, wl: Workload, step: Open, view: View) -> Decision:
        c, b = step.candidate, step.candidate.branch
        base = b.base or view.default_branch or self.github.default_branch(b.repo)
        sha = b.reviewed_sha
        message = view.head_message
        if message is None:  # read by REST: only now is the subject worth a call
            message = self.github.commit_message(c.head_repo, sha)
        title = render_title(message, b.issue)
        body = final_body(wl, c, sha)
        self.budget.creates += 1
        try:
            with stops_budget(self.budget):
                pull = self.effects.create_pull(b.repo, c.head, base, title, body, b.opens_as_draft)
        except ValidationFailed as err:
            return _rejected(self.github, c, err)
        except RateLimited as err:
            return decision(c, Outcome.DEFERRED, err.reason, str(err), sha=sha)
        except (PermissionDenied, AppNotInstalled, Unauthorized) as err:  # refused: none made
            return decision(c, Outcome.FAILED, failure(err), str(err), sha=sha)
        except (Transient, GitHubError) as err:
            return self._recheck(wl, c, step, err, sha)
        if pull is None:
            return decision(
                c, Outcome.WOULD_OPEN, step.reason, f"{step.detail}; title {title!r}", sha=sha
            )
        if pull.head_sha is not None and pull.head_sha != sha:
            # GitHub takes no expected SHA: its answer tells which commit the PR is at.
            moved = f"#{pull.number} was opened at {pull.head_sha[:12]}, not {sha[:12]}"
            detail = f"{moved} (the branch moved during the create)"
            return self.withdrawer.withdraw(wl, c, pull, detail, sha)
        return decision(c, Outcome.OPENED, step.reason, step.detail, pull.url, pull.number, sha)

    def _recheck(
        self, wl: Workload, c: Candidate, step: Open, err: GitHubError, sha: str
    ) -> Decision:
        """The create's answer was lost or odd: GitHub may have made the PR. Look, don't retry.

        A PR found at another commit than the reviewed one is ours if its marker says so
        (the branch moved during the create): it is withdrawn at once, as when the answer
        arrives."""
        try:
            with stops_budget(self.budget):
                pulls = self.github.pulls_for_head(c.branch.repo, c.head)
        except RateLimited as again:
            detail = f"{err}; re-check deferred ({again}): the next run adopts it by head"
            return decision(c, Outcome.DEFERRED, again.reason, detail, sha=sha)
        except GitHubError as again:
            return decision(
                c, Outcome.FAILED, Reason.GITHUB_ERROR, f"{err}; re-check: {again}", sha=sha
            )
        for pull in pulls:
            if pull.state != "open":
                continue
            lost = f"create answer lost ({err}), found #{pull.number} by head"
            if pull.head_sha == sha:
                detail = f"{step.detail}; {lost}"
                return decision(c, Outcome.OPENED, step.reason, detail, pull.url, pull.number, sha)
            if withdraw_plan(c, pull) is not None:
                moved = f"{lost} at {str(pull.head_sha)[:12]}, not {sha[:12]}"
                return self.withdrawer.withdraw(
                    wl, c, pull, f"{moved} (the branch moved during the create)", sha
                )
        return decision(
            c, Outcome.FAILED, Reason.GITHUB_ERROR, f"{err}; no PR found by head", sha=sha
        )


def _rejected(github: GitHubPort, c: Candidate, err: ValidationFailed) -> Decision:
    """GitHub's 422 to a create, by kind: "already exists" resolves to the winner."""
    sha = c.branch.reviewed_sha
    if err.kind is Rejection.ALREADY_EXISTS:
        for pull in github.pulls_for_head(c.branch.repo, c.head):
            if pull.state == "open":
                detail = f"another opener won the race: #{pull.number}"
                return decision(
                    c, Outcome.ADOPTED, Reason.RACE_LOST, detail, pull.url, pull.number, sha
                )
        return decision(c, Outcome.FAILED, Reason.GITHUB_ERROR, f"{err}; winner not found", sha=sha)
    if err.kind is Rejection.NO_COMMITS:
        return decision(c, Outcome.SKIPPED, Reason.NO_DIFF, str(err), sha=sha)
    if err.kind is Rejection.INVALID_HEAD:
        return decision(c, Outcome.SKIPPED, Reason.BRANCH_MISSING, str(err), sha=sha)
    if err.kind is Rejection.DRAFTS_UNSUPPORTED and c.branch.opens_as_draft:
        # Never a ready PR in its place: nobody approved this code.
        return decision(c, Outcome.SKIPPED, Reason.DRAFT_UNSUPPORTED, str(err), sha=sha)
    return decision(c, Outcome.FAILED, Reason.GITHUB_ERROR, str(err), sha=sha)
