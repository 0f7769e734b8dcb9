"""Every write the sweeper makes, in one place (`Effects`): the only one that honours
dry-run and a stop request."""

from __future__ import annotations

from typing import Any

from sweeper.core import Decision
from sweeper.model import Workload
from sweeper.ports import GitHubPort, KubePort
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


def _ref(wl: Workload) -> dict[str, str]:
    return {"namespace": wl.namespace, "name": wl.name, "uid": wl.uid}
