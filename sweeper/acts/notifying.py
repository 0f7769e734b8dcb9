"""Notify: review requests and labels on a PR the sweeper opened, and any other call that
is best effort (its failure is a warning, never the branch's outcome)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from sweeper.acts.guard import stops_budget
from sweeper.acts.writing import Effects
from sweeper.budget import Budget
from sweeper.core import Decision
from sweeper.github import GitHubError, Rejection, ValidationFailed
from sweeper.ports import GitHubPort
from sweeper.settings import Settings


class Notifier:
    def __init__(
        self, settings: Settings, github: GitHubPort, effects: Effects, budget: Budget
    ) -> None:
        self.s, self.github, self.effects, self.budget = settings, github, effects, budget

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
            warnings += self.best_effort(
                "review request",
                repo,
                lambda: self.effects.request_reviewers(repo, number, s.reviewers, tuple(teams)),
            )
        if s.labels:
            warnings += self.best_effort(
                "labels", repo, lambda: self.effects.add_labels(repo, number, s.labels)
            )
        return replace(d, warnings=d.warnings + tuple(warnings)) if warnings else d

    def best_effort(self, what: str, repo: str, call: Callable[[], None]) -> list[str]:
        """One call, retried once when GitHub does not know the brand-new PR yet."""
        if self.effects.stop.requested:
            return [f"{what} not sent: the run was stopped ({self.effects.stop.signal})"]
        deferral = self.budget.deferral(self.github.bucket_key("core", repo))
        if deferral:
            return [f"{what} not sent: {deferral[1]}"]
        err = self._attempt(call)
        if isinstance(err, ValidationFailed) and err.kind is Rejection.UNRESOLVED_NODE:
            time.sleep(self.s.tunables.notify_retry_wait_s)
            err = self._attempt(call)
        if err is None:
            return []
        return [f"{what} failed: {err}"]

    def _attempt(self, call: Callable[[], None]) -> GitHubError | None:
        try:
            with stops_budget(self.budget):
                call()
        except GitHubError as err:
            return err
        return None
