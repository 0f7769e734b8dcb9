"""Refresh: bring a PR the sweeper opened up to a new review (ready for review, then the
body of the final round)."""

from __future__ import annotations

from sweeper.acts.decisions import decision, failure, final_body
from sweeper.acts.guard import stops_budget
from sweeper.acts.writing import Effects
from sweeper.budget import Budget
from sweeper.core import Decision, Refresh
from sweeper.github import GitHubError, PermissionDenied, RateLimited
from sweeper.model import Workload
from sweeper.outcomes import Outcome, Reason


class Refresher:
    def __init__(self, effects: Effects, budget: Budget, dry_run: bool) -> None:
        self.effects, self.budget, self.dry_run = effects, budget, dry_run

    def refresh(self, wl: Workload, step: Refresh) -> Decision:
        """Ready first, then the body: a crash in between leaves the next run work to do."""
        c, pull = step.candidate, step.pull
        try:
            with stops_budget(self.budget):
                if step.mark_ready:
                    if pull.node_id is None:
                        raise GitHubError(f"#{pull.number} was listed without a node_id")
                    self.effects.mark_ready(pull.node_id, c.branch.repo)
                if step.update_body:
                    body = final_body(wl, c, c.branch.reviewed_sha)
                    self.effects.update_body(c.branch.repo, pull.number, body)
        except RateLimited as err:
            return decision(c, Outcome.DEFERRED, err.reason, str(err))
        except PermissionDenied as err:
            return decision(c, Outcome.FAILED, Reason.PERMISSION_DENIED, f"{step.detail}; {err}")
        except GitHubError as err:
            return decision(c, Outcome.FAILED, failure(err), f"{step.detail}; {err}")
        outcome = Outcome.WOULD_UPDATE if self.dry_run else Outcome.UPDATED
        return decision(c, outcome, Reason.NEW_REVIEW, step.detail, pull.url, pull.number)
