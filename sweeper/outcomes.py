"""The vocabulary of the report: outcomes and reasons, as they appear in log lines."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    OPENED = "opened"
    ADOPTED = "adopted"
    UPDATED = "updated"
    WOULD_OPEN = "would-open"
    WOULD_UPDATE = "would-update"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    FAILED = "failed"


class Reason(StrEnum):
    # opened / would-open
    MISSING_PR = "missing-pr"
    NEW_WORK_AFTER_CLOSE = "new-work-after-close"
    NEW_WORK_AFTER_MERGE = "new-work-after-merge"
    # adopted
    FOREMAN_OPENED = "foreman-opened"
    OPEN_PR_EXISTS = "open-pr-exists"
    MERGED_PR_EXISTS = "merged-pr-exists"
    RACE_LOST = "race-lost"
    # updated / would-update
    NEW_REVIEW = "new-review"
    # skipped
    ALREADY_RECORDED = "already-recorded"
    ALREADY_RESOLVED = "already-resolved"
    OPTED_OUT = "opted-out"
    CODER_NOT_ON_TARGET = "coder-not-on-target"
    NO_COMMIT_SHA = "no-commit-sha"
    GATE_NOT_PASSED = "gate-not-passed"
    NOT_REVIEWED = "not-reviewed"
    REVIEW_NOT_GO = "review-not-go"
    NO_TASKS = "no-tasks"
    CLOSED_BY_HUMAN = "closed-by-human"
    BRANCH_MISSING = "branch-missing"
    HEAD_MOVED = "head-moved"
    NO_DIFF = "no-diff"
    DRAFT_UNSUPPORTED = "draft-unsupported"
    REPO_NOT_ALLOWED = "repo-not-allowed"
    INVALID_INPUT = "invalid-input"
    # deferred
    BUDGET_EXHAUSTED = "budget-exhausted"
    RATE_LIMITED = "rate-limited"
    RATE_RESERVE = "rate-reserve"
    # failed
    GITHUB_ERROR = "github-error"
    PERMISSION_DENIED = "permission-denied"
    APP_NOT_INSTALLED = "app-not-installed"
    REPO_UNREACHABLE = "repo-unreachable"
    BAD_CREDENTIALS = "bad-credentials"
    # A Kubernetes read this branch needs failed after every retry (e.g. the Agents).
    CLUSTER_ERROR = "cluster-error"


# Skips that only a change of the Workload (a Foreman re-run) can undo. A Workload whose
# branches all ended in one of these, or in a recorded PR, is settled: later runs do not
# read its tasks or call GitHub until its status or spec changes.
SETTLED_SKIPS = frozenset(
    {
        Reason.ALREADY_RECORDED,
        Reason.ALREADY_RESOLVED,
        Reason.OPTED_OUT,
        Reason.CODER_NOT_ON_TARGET,
        Reason.NO_COMMIT_SHA,
        Reason.GATE_NOT_PASSED,
        Reason.NOT_REVIEWED,
        Reason.REVIEW_NOT_GO,
        Reason.CLOSED_BY_HUMAN,
        Reason.BRANCH_MISSING,
        Reason.HEAD_MOVED,
        Reason.NO_DIFF,
        Reason.DRAFT_UNSUPPORTED,
        Reason.INVALID_INPUT,
    }
)


class WorkloadSkip(StrEnum):
    """Why a listed Workload was not looked at branch by branch."""

    NOT_COMPLETED = "not-completed"  # nor Failed with --draft-on-request-changes
    TOO_YOUNG = "too-young"
    SETTLED = "settled"
    INVALID_INPUT = "invalid-input"
    OPTED_OUT = "opted-out"  # the pr-sweeper.foreman.llmkube.dev/skip annotation
