"""The vocabulary of the sweeper's decisions, as plain data.

A branch (`Branch`) is planned into a final word (`Decision`) or a question for GitHub
(`Candidate`); GitHub's answer (`Pull`) turns a candidate into an act (`Open`, `Refresh`,
`Withdraw`) or a decision. `merged_records` and `settles` say what the decisions leave
on the Workload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sweeper.fields import head_repo
from sweeper.outcomes import SETTLED_SKIPS, Outcome, Reason
from sweeper.records import Record, RecordKey, record_key
from sweeper.tasks import Task


@dataclass(frozen=True)
class Policy:
    min_age: timedelta
    head_owner: str | None = None
    # OWNER/NAME or OWNER/* patterns; empty allows every repository.
    allow_repos: tuple[str, ...] = ()
    # --draft-on-request-changes: Failed Workloads are read, and a branch whose review
    # requested changes (coder and gate on target) gets a draft PR.
    drafts: bool = False


@dataclass(frozen=True)
class Branch:
    """One branch of a Workload, as its final round of tasks left it."""

    repo: str
    name: str
    issue: int
    base: str | None
    reviewed_sha: str  # the final coder's status.commitSHA: what gate and reviewers judged
    coder: Task
    verifiers: tuple[Task, ...]
    reviewers: tuple[Task, ...]
    # Review requested changes: the PR is a draft that links the issue without closing it.
    draft: bool = False
    # Reviewer escalation (`escalate-N-j`): shown, never counted.
    advisory: tuple[Task, ...] = ()
    # Opened as a GitHub draft although the review passed: the reviewer Agent's
    # openPullRequestsAsDraft (or --open-as-draft) says so. It still closes the issue.
    as_draft: bool = False
    # Why it opens as a draft by policy (for the decision's detail); "" when it does not.
    draft_why: str = ""

    @property
    def opens_as_draft(self) -> bool:
        return self.draft or self.as_draft


@dataclass(frozen=True)
class Decision:
    """A final word on one branch; `record` says whether it goes into the annotation."""

    repo: str | None
    branch: str | None
    issue: int | None
    sha: str | None
    outcome: Outcome
    reason: Reason
    detail: str
    pr_url: str | None = None
    pr_number: int | None = None
    draft: bool = False
    # Things that went wrong around a PR that still stands (review requests, labels).
    warnings: tuple[str, ...] = ()
    # The sweeper closed `pr_url` itself: it stood at a commit nobody reviewed.
    withdrew: bool = False
    # Opened (or would be) as a GitHub draft by policy, though the review passed.
    as_draft: bool = False

    @property
    def record(self) -> bool:
        return self.branch is not None and (
            self.outcome in HAS_PR or self.reason is Reason.CLOSED_BY_HUMAN
        )

    @property
    def changed(self) -> bool:
        """The sweeper changed a PR (opened, updated or withdrew it): worth an Event.

        Adopting a PR, recording a human's close or settling changes nothing on GitHub,
        so the annotation and the log line say all there is to say."""
        return self.outcome in (Outcome.OPENED, Outcome.UPDATED) or self.withdrew

    @property
    def settles(self) -> bool:
        """True when only a change of the Workload could change this decision."""
        return self.outcome in HAS_PR or (
            self.outcome is Outcome.SKIPPED and self.reason in SETTLED_SKIPS
        )


# Outcomes after which a PR stands for the branch: recorded, evented, settled.
HAS_PR = frozenset({Outcome.OPENED, Outcome.ADOPTED, Outcome.UPDATED})


@dataclass(frozen=True)
class Candidate:
    """A branch that passed review and has no recorded PR: GitHub must be asked."""

    branch: Branch
    head_owner: str
    note: str
    # The number of the PR Foreman's reviewer recorded (extra.pullRequestURL) for this
    # branch's repository; it counts only if GitHub lists that PR for this head.
    foreman_pr: int | None = None

    @property
    def head(self) -> str:
        return f"{self.head_owner}:{self.branch.name}"

    @property
    def head_repo(self) -> str:
        return head_repo(self.branch.repo, self.head_owner)


@dataclass(frozen=True)
class Pull:
    """An existing pull request for a head, as GitHub lists it."""

    number: int
    url: str
    state: str
    merged: bool
    head_sha: str | None
    draft: bool = False
    body: str | None = None
    node_id: str | None = None


@dataclass(frozen=True)
class Open:
    """Open a new pull request for this candidate."""

    candidate: Candidate
    reason: Reason
    detail: str


@dataclass(frozen=True)
class Refresh:
    """An open PR the sweeper wrote describes an older review: bring it up to date."""

    candidate: Candidate
    pull: Pull
    update_body: bool  # False: a human edited the body since the sweeper wrote it
    mark_ready: bool  # a draft the sweeper opened, and the review now passed
    detail: str


@dataclass(frozen=True)
class Withdraw:
    """An open PR the sweeper opened for this review stands at a commit nobody reviewed."""

    candidate: Candidate
    pull: Pull
    detail: str


Plan = Decision | Candidate


def join(*parts: str) -> str:
    """Details joined into one, the empty ones left out."""
    return "; ".join(p for p in parts if p)


# ---------------------------------------------------------------- recording


def merged_records(
    existing: Mapping[RecordKey, Record], decisions: Iterable[Decision]
) -> dict[RecordKey, Record]:
    """The annotation after this run: earlier entries, overwritten by today's records."""
    records = dict(existing)
    for d in decisions:
        if d.record and d.branch is not None and d.repo is not None:
            records.pop(("", d.branch), None)  # a hand-written entry that named no repo
            records[record_key(d.repo, d.branch)] = Record(
                repo=d.repo,
                url=d.pr_url,
                number=d.pr_number,
                sha=d.sha,
                outcome=str(d.outcome),
                reason=str(d.reason),
                draft=d.draft,
            )
    return records


def settles(decisions: Sequence[Decision]) -> bool:
    """A Workload is settled when no branch of it could change without Foreman."""
    return all(d.settles for d in decisions)
