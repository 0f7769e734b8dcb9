"""Act: one write at a time, for the branches whose GitHub view calls for one.

`Actor` takes each branch's plan and what was learned of it to the act it calls for, each
in its own module under `sweeper.acts`: open, withdraw, refresh, and notify. Every write
goes through `Effects` (`sweeper.acts.writing`), the single place that honours dry-run.
"""

from __future__ import annotations

from collections.abc import Mapping

from sweeper.acts.decisions import decision, failure
from sweeper.acts.guard import stops_budget
from sweeper.acts.notifying import Notifier
from sweeper.acts.opening import Opener
from sweeper.acts.refreshing import Refresher
from sweeper.acts.withdrawing import Withdrawer
from sweeper.acts.writing import Effects
from sweeper.budget import Budget
from sweeper.core import Decision, Open, Plan, Refresh, Withdraw
from sweeper.github import GitHubError, RateLimited
from sweeper.learning import Deferred, Known, lookup_for
from sweeper.lookups import Lookup, Unanswered
from sweeper.model import Workload
from sweeper.outcomes import Outcome, Reason
from sweeper.ports import GitHubPort
from sweeper.remote import decide_remote
from sweeper.settings import Settings


class Actor:
    def __init__(
        self, settings: Settings, github: GitHubPort, effects: Effects, budget: Budget
    ) -> None:
        self.github, self.budget = github, budget
        self.notifier = Notifier(settings, github, effects, budget)
        self.withdrawer = Withdrawer(effects, budget, self.notifier)
        self.opener = Opener(github, effects, budget, self.withdrawer)
        self.refresher = Refresher(effects, budget, settings.dry_run)

    def resolve(self, wl: Workload, plan: Plan, known: Mapping[Lookup, Known]) -> Decision:
        """The final word on one branch, given what was learned of it."""
        if isinstance(plan, Decision):
            return plan
        c = plan
        view = known.get(lookup_for(c))
        if isinstance(view, Deferred):
            return decision(c, Outcome.DEFERRED, view.reason, view.detail)
        if isinstance(view, Unanswered):
            return decision(c, Outcome.FAILED, view.reason, view.message)
        if view is None:  # pragma: no cover - every candidate is looked up
            return decision(c, Outcome.FAILED, Reason.GITHUB_ERROR, "not looked up")
        step = decide_remote(c, view.head_sha, view.pulls)
        if isinstance(step, Decision):
            return step
        if isinstance(step, Withdraw):  # safety, not work: neither budget nor reserve waits
            sha = c.branch.reviewed_sha
            return self.withdrawer.withdraw(wl, c, step.pull, step.detail, sha)
        # Writes go to REST's bucket; marking a draft ready is a GraphQL mutation.
        repo = c.branch.repo
        core = self.github.bucket_key("core", repo)
        deferral = self.budget.deferral(core, creating=isinstance(step, Open))
        if deferral is None and isinstance(step, Refresh) and step.mark_ready:
            deferral = self.budget.deferral(self.github.bucket_key("graphql", repo))
        if deferral:
            return decision(c, Outcome.DEFERRED, *deferral)
        try:
            with stops_budget(self.budget):
                if isinstance(step, Open):
                    return self.opener.open(wl, step, view)
                return self.refresher.refresh(wl, step)
        except RateLimited as err:
            return decision(c, Outcome.DEFERRED, err.reason, str(err))
        except GitHubError as err:
            return decision(c, Outcome.FAILED, failure(err), str(err))

    def notify(self, d: Decision) -> Decision:
        """Review requests and labels on a PR the sweeper opened: best effort, as warnings."""
        return self.notifier.notify(d)
