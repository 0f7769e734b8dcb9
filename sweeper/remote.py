"""What GitHub's view of a candidate branch means: adopt, open, refresh or withdraw.

Pure: given the branch head and the PRs GitHub lists for the head, one act or decision.
"""

from __future__ import annotations

from collections.abc import Sequence

from sweeper.body import read_marker
from sweeper.core import Candidate, Decision, Open, Pull, Refresh, Withdraw, join
from sweeper.outcomes import Outcome, Reason


def decide_remote(
    candidate: Candidate, head_sha: str | None, pulls: Sequence[Pull]
) -> Decision | Open | Refresh | Withdraw:
    """Given the branch head (None: no such branch) and the PRs for its head.

    The reviewed SHA decides: a PR merged or closed at it settles the branch; one merged
    or closed at an older SHA leaves newer reviewed work without a PR, so a new one opens.
    """
    reviewed = candidate.branch.reviewed_sha
    newest_first = sorted(pulls, key=lambda p: p.number, reverse=True)
    note = join(candidate.note, _unlisted(candidate, newest_first))
    open_pull = next((p for p in newest_first if p.state == "open"), None)
    if open_pull is not None:
        return _on_open(candidate, open_pull, note)
    settled = _settled(candidate, newest_first, note)
    if settled is not None:
        return settled
    if head_sha is None:
        missing = f"no branch on {candidate.head_repo}"
        return _decision(candidate, note, Outcome.SKIPPED, Reason.BRANCH_MISSING, missing)
    if head_sha != reviewed:
        moved = f"branch head {head_sha[:12]} is not the reviewed {reviewed[:12]}"
        return _decision(candidate, note, Outcome.SKIPPED, Reason.HEAD_MOVED, moved)
    return _new_pull(candidate, newest_first, note)


def _on_open(candidate: Candidate, pull: Pull, note: str) -> Decision | Refresh | Withdraw:
    """An open PR for the head: withdrawn, refreshed or adopted as it is."""
    withdraw = withdraw_plan(candidate, pull)
    if withdraw is not None:
        return withdraw
    refresh = refresh_plan(candidate, pull)
    if isinstance(refresh, Refresh):
        return refresh
    detail = join(f"#{pull.number} is open", refresh)
    return _decision(candidate, note, Outcome.ADOPTED, Reason.OPEN_PR_EXISTS, detail, pull)


def _settled(candidate: Candidate, newest_first: Sequence[Pull], note: str) -> Decision | None:
    """A PR merged, or closed by a human, at the reviewed SHA settles the branch."""
    b = candidate.branch
    at_reviewed = [p for p in newest_first if p.head_sha in (b.reviewed_sha, None)]
    for pull in at_reviewed:
        if pull.merged:
            merged = f"#{pull.number} was merged"
            return _decision(
                candidate, note, Outcome.ADOPTED, Reason.MERGED_PR_EXISTS, merged, pull
            )
    # The sweeper's own withdrawal of a PR opened at an unreviewed commit is not a human's no.
    for pull in at_reviewed:
        if not _withdrawn_by_sweeper(pull, b.issue):
            detail = f"#{pull.number} was closed unmerged at the reviewed SHA"
            return _decision(candidate, note, Outcome.SKIPPED, Reason.CLOSED_BY_HUMAN, detail, pull)
    return None


def _new_pull(candidate: Candidate, newest_first: Sequence[Pull], note: str) -> Open:
    """The reviewed head has no PR that stands: a new one opens, and says why."""
    if not newest_first:
        return Open(candidate, Reason.MISSING_PR, join("no PR for this head", note))
    last = newest_first[0]
    if last.merged:
        detail = f"#{last.number} was merged at an older SHA"
        return Open(candidate, Reason.NEW_WORK_AFTER_MERGE, join(detail, note))
    how = (
        "was withdrawn by the sweeper (opened at an unreviewed commit)"
        if _withdrawn_by_sweeper(last, candidate.branch.issue)
        else "was closed at an older SHA"
    )
    return Open(candidate, Reason.NEW_WORK_AFTER_CLOSE, join(f"#{last.number} {how}", note))


def _decision(
    candidate: Candidate,
    note: str,
    outcome: Outcome,
    reason: Reason,
    detail: str,
    pull: Pull | None = None,
) -> Decision:
    """The final word on a candidate; a PR Foreman's reviewer opened is adopted as such."""
    if pull is not None and pull.number == candidate.foreman_pr and outcome is Outcome.ADOPTED:
        reason, detail = Reason.FOREMAN_OPENED, f"{detail}; Foreman's reviewer opened it"
    b = candidate.branch
    return Decision(
        b.repo,
        b.name,
        b.issue,
        b.reviewed_sha,
        outcome,
        reason,
        join(detail, note),
        pull.url if pull else None,
        pull.number if pull else None,
        b.draft,
    )


def _unlisted(candidate: Candidate, pulls: Sequence[Pull]) -> str:
    """Foreman's recorded PR, when GitHub lists no such PR for this head: it counts for nothing."""
    if candidate.foreman_pr is None or any(p.number == candidate.foreman_pr for p in pulls):
        return ""
    return "the reviewer's pullRequestURL names no PR for this head: ignored"


def withdraw_plan(candidate: Candidate, pull: Pull) -> Withdraw | None:
    """An open PR the sweeper wrote for exactly this review, whose head moved before it
    was recorded (the branch was pushed to during the create): it must not stand."""
    b = candidate.branch
    mark = read_marker(pull.body)
    if mark is None or mark.issue != b.issue:
        return None
    if mark.sha != b.reviewed_sha or pull.head_sha in (None, b.reviewed_sha):
        return None
    detail = (
        f"#{pull.number} stands at {str(pull.head_sha)[:12]}, not the reviewed "
        f"{b.reviewed_sha[:12]}"
    )
    return Withdraw(candidate, pull, join(detail, candidate.note))


def _withdrawn_by_sweeper(pull: Pull, issue: int) -> bool:
    mark = read_marker(pull.body)
    return pull.state != "open" and mark is not None and mark.withdrawn and mark.issue == issue


def refresh_plan(candidate: Candidate, pull: Pull) -> Refresh | str:
    """Whether an open PR the sweeper wrote describes an older review; else why not (or "")."""
    b = candidate.branch
    mark = read_marker(pull.body)
    if mark is None or mark.issue != b.issue:
        return ""  # not written by the sweeper for this issue: adopt it as it is
    if mark.sha == b.reviewed_sha and mark.draft == b.draft:
        return ""  # already describes this review
    if pull.head_sha != b.reviewed_sha:
        head = (pull.head_sha or "unknown")[:12]
        return f"not refreshed: its head {head} is not the reviewed commit"
    # Ready for review only where the policy for the branch is "ready": a draft the
    # reviewer Agent asks for stays one; nothing here ever turns a ready PR into a draft.
    mark_ready = pull.draft and mark.draft and not b.draft and not b.as_draft
    notes = []
    if mark.edited:
        notes.append("body edited since the sweeper wrote it: left as it is")
    else:
        was = f"{(mark.sha or 'unknown')[:12]}{' (changes requested)' if mark.draft else ''}"
        notes.append(f"body refreshed from {was} to {b.reviewed_sha[:12]}")
    if mark_ready:
        notes.append("review passed: marked ready for review")
    if b.draft and not pull.draft:
        notes.append("review requested changes: the PR stays ready (the sweeper never drafts one)")
    detail = f"#{pull.number}: " + "; ".join(notes)
    if mark.edited and not mark_ready:
        return detail
    return Refresh(candidate, pull, not mark.edited, mark_ready, join(detail, candidate.note))
