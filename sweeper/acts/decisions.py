"""What the acts answer with: one branch's `Decision` (with its draft wording), the reason
a GitHub error fails a branch with, and the body every act writes."""

from __future__ import annotations

from sweeper.body import BodyInput, render_body
from sweeper.core import Candidate, Decision
from sweeper.github import GitHubError
from sweeper.model import Workload
from sweeper.outcomes import Outcome, Reason


def failure(err: GitHubError) -> Reason:
    """The reason a GitHub error fails a branch with (each error type names its own)."""
    return err.reason


def final_body(wl: Workload, c: Candidate, sha: str) -> str:
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


def decision(
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
