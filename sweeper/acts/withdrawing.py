"""Withdraw: close a PR that stands at unreviewed code, saying why, so that no reviewed
label stays on code nobody reviewed."""

from __future__ import annotations

from dataclasses import replace

from sweeper.acts.decisions import decision, final_body
from sweeper.acts.guard import stops_budget
from sweeper.acts.notifying import Notifier
from sweeper.acts.writing import Effects
from sweeper.body import withdrawn_body
from sweeper.budget import Budget
from sweeper.core import Candidate, Decision, Pull
from sweeper.github import GitHubError
from sweeper.model import Workload
from sweeper.outcomes import Outcome, Reason


class Withdrawer:
    def __init__(self, effects: Effects, budget: Budget, notifier: Notifier) -> None:
        self.effects, self.budget, self.notifier = effects, budget, notifier

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
        current = pull.body if pull.body is not None else final_body(wl, c, sha)
        try:
            with stops_budget(self.budget):
                self.effects.withdraw(b.repo, pull.number, withdrawn_body(current, note))
        except GitHubError as err:
            return decision(
                c,
                Outcome.FAILED,
                Reason.GITHUB_ERROR,
                f"{detail}; withdrawing it failed ({err}): the next run tries again",
                pull.url,
                pull.number,
            )
        warnings = self.notifier.best_effort(
            "withdrawal comment", b.repo, lambda: self.effects.comment(b.repo, pull.number, note)
        )
        withdrawn = decision(
            c,
            Outcome.SKIPPED,
            Reason.HEAD_MOVED,
            f"{detail}: withdrawn (closed)",
            pull.url,
            pull.number,
            sha,
        )
        return replace(withdrawn, warnings=tuple(warnings), withdrew=True)
