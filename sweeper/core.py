"""The decision for one Workload, as pure functions over plain data.

Read top to bottom, this module is the whole policy of the sweeper: which listed
Workloads are looked at (`triage`), which of their branches deserve a pull request and
which are skipped and why (`plan_workload`), and what to do once GitHub's view of the
branch is known (`decide_remote`). Every rung of each ladder returns a named reason.
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sweeper.body import read_marker
from sweeper.model import (
    Agent,
    InvalidInput,
    Record,
    RecordKey,
    Role,
    Task,
    Workload,
    as_mapping,
    controller_uid,
    parse_task,
    pull_url_parts,
    record_key,
)
from sweeper.outcomes import SETTLED_SKIPS, Outcome, Reason, WorkloadSkip


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
        return f"{self.head_owner}/{self.branch.repo.split('/', 1)[1]}"


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


# ---------------------------------------------------------------- which Workloads


def triage(workload: Workload, now: datetime, policy: Policy) -> WorkloadSkip | None:
    """Whether a listed Workload is worth reading tasks for, or why not."""
    if workload.phase != "Completed" and not (policy.drafts and workload.phase == "Failed"):
        return WorkloadSkip.NOT_COMPLETED
    if workload.settled is not None and workload.settled == workload.fingerprint:
        return WorkloadSkip.SETTLED
    if workload.skipped_by is not None:
        return WorkloadSkip.OPTED_OUT
    if workload.completed_at is not None and now - workload.completed_at < policy.min_age:
        return WorkloadSkip.TOO_YOUNG
    return None


def repo_allowed(repo: str, patterns: Sequence[str]) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(repo.lower(), p.lower()) for p in patterns)


# ---------------------------------------------------------------- which branches


def plan_workload(workload: Workload, raw_tasks: Iterable[Any], policy: Policy) -> list[Plan]:
    """Every branch of a Completed Workload, each decided or made a candidate.

    Only tasks the Workload owns count: anyone who may create a task can put the label on
    it, and an earlier Workload of the same name left tasks with it too.
    """
    owned, left_out = _owned(workload, raw_tasks)
    if left_out and not owned:
        return [_invalid(None, f"no task with this Workload's label is owned by it: {left_out}")]
    plans = _plan_owned(workload, owned, policy)
    plans += _without_tasks(workload, plans)
    return [_with_note(plan, left_out) for plan in plans] if left_out else plans


_ISSUE_BRANCH = re.compile(r"^foreman/[^/]+/issue-(?P<issue>[0-9]+)(?:-esc)?$")


def _without_tasks(workload: Workload, plans: Sequence[Plan]) -> list[Plan]:
    """What the spec asks for that no task of the Workload covers: a line each, never a
    settle (a Completed Workload has its tasks; a listing may have missed them)."""
    if workload.open_pull_request is False:
        return []  # branch-only: nothing of it asks for a PR
    keys = [_plan_key(p) for p in plans]
    if any(isinstance(p, Decision) and p.reason is Reason.INVALID_INPUT for p in plans):
        return []  # a task we could not read may be the missing one: its line says so
    detail = "no AgenticTask of this Workload covers it; the next run looks again"
    if workload.pipeline is not None:
        have = {(str(repo).lower(), branch) for repo, branch, _ in keys}
        return [
            Decision(
                repo,
                branch,
                None,
                None,
                Outcome.SKIPPED,
                Reason.NO_TASKS,
                f"spec.pipeline asks for a PR of {repo} {branch}, but {detail}",
            )
            for repo, branch in sorted(workload.pipeline_pr_branches or ())
            if (repo.lower(), branch) not in have
        ]
    covered = {issue for _, _, issue in keys if issue is not None}
    for _, branch, _ in keys:
        match = _ISSUE_BRANCH.match(branch or "")
        if match:
            covered.add(int(match["issue"]))
    return [
        Decision(
            workload.repo,
            f"foreman/{workload.name}/issue-{n}",
            n,
            None,
            Outcome.SKIPPED,
            Reason.NO_TASKS,
            f"spec.issues asks for issue {n}, but {detail}",
        )
        for n in sorted(workload.issues - covered)
    ]


def _plan_key(plan: Plan) -> tuple[str | None, str | None, int | None]:
    if isinstance(plan, Candidate):
        return plan.branch.repo, plan.branch.name, plan.branch.issue
    return plan.repo, plan.branch, plan.issue


def _owned(workload: Workload, raw_tasks: Iterable[Any]) -> tuple[list[Any], str]:
    """The tasks whose controller is this Workload (by uid), and what was left out, why."""
    owned: list[Any] = []
    foreign: list[str] = []
    orphans = 0
    for raw in raw_tasks:
        uid = controller_uid(raw)
        if uid is None:
            orphans += 1
        elif uid != workload.uid or not workload.uid:
            foreign.append(uid)
        else:
            owned.append(raw)
    why = []
    if foreign:
        owners = ", ".join(sorted(set(foreign))[:3])
        why.append(f"{len(foreign)} owned by another Workload (uid {owners})")
    if orphans:
        why.append(f"{orphans} with no controller ownerReference (Foreman sets one on every task)")
    if not why:
        return owned, ""
    return owned, f"{len(foreign) + orphans} labelled tasks left out: " + "; ".join(why)


def _with_note(plan: Plan, note: str) -> Plan:
    if isinstance(plan, Candidate):
        return replace(plan, note=_join(plan.note, note))
    return replace(plan, detail=_join(plan.detail, note))


def _plan_owned(workload: Workload, raw_tasks: Iterable[Any], policy: Policy) -> list[Plan]:
    groups: dict[tuple[str, str], list[Task]] = defaultdict(list)
    broken: dict[tuple[str, str] | None, str] = {}
    for raw in raw_tasks:
        try:
            task = parse_task(raw)
        except InvalidInput as err:
            broken.setdefault(_raw_branch_key(raw), str(err))
            continue
        groups[(task.repo, task.branch)].append(task)
    if None in broken:
        # A task we cannot place might be the NO-GO of any branch: judge none of them.
        detail = f"cannot tell which branch a task belongs to: {broken[None]}"
        keys: list[tuple[str, str] | None] = [*sorted(groups)] or [None]
        return [_invalid(key, detail) for key in keys]
    plans: list[Plan] = []
    for key in sorted(set(groups) | {k for k in broken if k is not None}):
        if key in broken:
            plans.append(_invalid(key, broken[key]))
        else:
            plans.append(plan_branch(workload, groups[key], policy))
    return plans


def _raw_branch_key(raw: Any) -> tuple[str, str] | None:
    payload = as_mapping(as_mapping(as_mapping(raw).get("spec")).get("payload"))
    repo, branch = payload.get("repo"), payload.get("branch")
    if isinstance(repo, str) and isinstance(branch, str) and repo and branch:
        return (repo, branch)
    return None


def _invalid(key: tuple[str, str] | None, detail: str) -> Decision:
    repo, branch = key if key else (None, None)
    return Decision(repo, branch, None, None, Outcome.SKIPPED, Reason.INVALID_INPUT, detail)


def plan_branch(workload: Workload, tasks: Sequence[Task], policy: Policy) -> Plan:
    """The ladder for one branch: eligibility, then what is already recorded."""
    repo, name = tasks[0].repo, tasks[0].branch
    advisory = tuple(sorted((t for t in tasks if t.role is Role.ADVISORY), key=lambda t: t.step))
    deciding = [t for t in tasks if t.role is not Role.ADVISORY]  # escalation never decides
    final_round = max((t.round for t in deciding), default=0)
    final = [t for t in deciding if t.round == final_round]
    coders = [t for t in final if t.role is Role.CODER]
    issue = next((t.issue for t in coders + list(tasks) if t.issue is not None), None)

    def skip(reason: Reason, detail: str, sha: str | None = None) -> Decision:
        return Decision(repo, name, issue, sha, Outcome.SKIPPED, reason, detail)

    outside = _outside_request(workload, repo, name, issue)
    if outside:
        return skip(Reason.INVALID_INPUT, f"not what the Workload asked for: {outside}")
    if _opted_out(workload, tasks, repo, name):
        return skip(Reason.OPTED_OUT, _opt_out_detail(workload))
    if len(coders) != 1:
        return skip(Reason.INVALID_INPUT, f"{len(coders)} coder tasks in round {final_round}")
    coder = coders[0]
    if issue is None:
        return skip(Reason.INVALID_INPUT, f"{coder.name}: no issue number")
    if (coder.outcome or "").upper() == "ALREADY-RESOLVED":
        return skip(Reason.ALREADY_RESOLVED, f"{coder.name} found the issue already fixed")
    if not _on_target(coder, "GO"):
        return skip(Reason.CODER_NOT_ON_TARGET, f"{coder.name} is {coder.phase}/{coder.verdict}")
    sha = coder.commit_sha
    if sha is None:
        return skip(
            Reason.NO_COMMIT_SHA,
            f"{coder.name} recorded no status.commitSHA: no task vouched for a commit",
        )
    verifiers = tuple(t for t in final if t.role is Role.VERIFY)
    failed_gate = [t for t in verifiers if not _on_target(t, "GATE-PASS")]
    if failed_gate:
        return skip(Reason.GATE_NOT_PASSED, _verdicts(failed_gate), sha)
    reviewers = tuple(sorted((t for t in final if t.role is Role.REVIEW), key=lambda t: t.step))
    unreviewed = _unreviewed(workload, repo, name, deciding, reviewers, final_round) or (
        _unvouched(workload, deciding, verifiers, reviewers, final_round)
    )
    if unreviewed:
        return skip(Reason.NOT_REVIEWED, unreviewed, sha)
    not_go = [t for t in reviewers if not _on_target(t, "GO")]
    draft = bool(not_go) and policy.drafts and _changes_requested(reviewers)
    if not_go and not draft:
        return skip(Reason.REVIEW_NOT_GO, _verdicts(not_go), sha)
    if not repo_allowed(repo, policy.allow_repos):
        return skip(Reason.REPO_NOT_ALLOWED, f"{repo} is not in --allow-repo", sha)

    branch = Branch(
        repo, name, issue, coder.base_branch, sha, coder, verifiers, reviewers, draft, advisory
    )
    recorded = _recorded(workload.record_for(repo, name), branch)
    if recorded is not None:
        return recorded
    foreman_pr, url_note = _foreman_pr(branch)
    note = _join(_candidate_note(branch), url_note)
    return Candidate(branch, policy.head_owner or repo.split("/", 1)[0], note, foreman_pr)


def _outside_request(workload: Workload, repo: str, name: str, issue: int | None) -> str | None:
    """Why a branch is not one the Workload asked for (None: it is)."""
    if workload.pipeline_branches is not None:
        steps = {(r.lower(), b) for r, b in workload.pipeline_branches}
        if (repo.lower(), name) not in steps:
            return f"{repo} {name} is no step of spec.pipeline"
        return None
    if workload.repo is None:
        return "spec.repo is not set (issue-batch mode)"
    if repo.lower() != workload.repo.lower():
        return f"the tasks are for {repo}, spec.repo is {workload.repo}"
    if issue is not None and issue not in workload.issues:
        return f"issue {issue} is not in spec.issues"
    own = f"foreman/{workload.name}/issue-{issue}"
    if issue is not None and name not in (own, f"{own}-esc"):
        return f"branch {name[:80]!r} is not Foreman's name for issue {issue} ({own}[-esc])"
    return None


_REVIEW_STEP = re.compile(r"^review-[0-9]+-(?:esc-)?(?P<index>[0-9]+)(?:-r[0-9]+)?$")


def _unreviewed(
    workload: Workload,
    repo: str,
    name: str,
    tasks: Sequence[Task],
    reviewers: Sequence[Task],
    final_round: int,
) -> str:
    """Why the final round was not reviewed as asked ("": it was, or nobody asks).

    Fix rounds and escalation tiers run the same reviewers again; a final round that
    lacks one of them (the Workload was cut short, or its tasks are missing) is not a
    reviewed round, whatever its coder and gate say.
    """
    where = f"round {final_round}" if final_round else "the final round"
    if workload.pipeline is not None:
        missing = workload.pipeline_reviews(repo, name) - {t.step for t in reviewers}
        if missing:
            return f"{where} has no task for the review step {min(missing)} of spec.pipeline"
        return ""
    asked = {i for i in (_review_index(t.step) for t in tasks if t.role is Role.REVIEW) if i}
    missing_index = asked - {_review_index(t.step) for t in reviewers}
    if missing_index:
        lacking = min(missing_index)
        return f"{where} lacks reviewer {lacking}, which earlier rounds had: not reviewed"
    asked_by_spec = workload.reviewers_asked or 0
    if workload.reviewers_suppressed:  # Foreman left out gated cloud reviewers on purpose
        asked_by_spec = min(asked_by_spec, 1)
    if len(reviewers) < asked_by_spec:
        return (
            f"{where} has {len(reviewers)} review tasks, though spec.reviewerAgentRefs asks "
            f"for {workload.reviewers_asked}: not reviewed"
        )
    return ""


def _unvouched(
    workload: Workload,
    tasks: Sequence[Task],
    verifiers: Sequence[Task],
    reviewers: Sequence[Task],
    final_round: int,
) -> str:
    """Why the final round lacks the gate it needs ("": it has one, or needs none).

    A gate that spec.verifierAgentRef (issue-batch mode) or an earlier round asks for must
    have run in the final round, as reviewers must. A branch without reviewers needs one
    whatever the spec says: Foreman opens no PR for it, and the sweeper opens one only
    once the coder is GO and the gate PASS. With neither gate nor reviewer, nobody but the
    coder that wrote the code vouched for it.
    """
    if verifiers:
        return ""
    where = f"round {final_round}" if final_round else "the final round"
    if workload.pipeline is None and workload.verifier_asked:
        return f"{where} has no verify task, though spec.verifierAgentRef asks for a gate"
    if any(t.role is Role.VERIFY for t in tasks):
        return f"{where} has no verify task, which earlier rounds had: not verified"
    if not reviewers:
        return (
            f"{where} ran no reviewer and no gate: nobody but the coder vouched for the "
            "commit (a Workload without reviewers needs spec.verifierAgentRef)"
        )
    return ""


def _review_index(step: str) -> int | None:
    match = _REVIEW_STEP.match(step)
    return int(match["index"]) if match else None


def _on_target(task: Task, verdict: str) -> bool:
    return task.phase == "Succeeded" and task.verdict == verdict


def _changes_requested(reviewers: Sequence[Task]) -> bool:
    """Every reviewer finished and gave a verdict, and at least one of them was NO-GO.

    A reviewer that failed or gave up (INCOMPLETE) said nothing a human could act on.
    """
    finished = all(_on_target(r, "GO") or _on_target(r, "NO-GO") for r in reviewers)
    return finished and any(r.verdict == "NO-GO" for r in reviewers)


def _verdicts(tasks: Iterable[Task]) -> str:
    return ", ".join(f"{t.name} is {t.phase}/{t.verdict}" for t in tasks)


def _opted_out(workload: Workload, tasks: Sequence[Task], repo: str, name: str) -> bool:
    if workload.pipeline_pr_branches is None:
        return workload.open_pull_request is False
    if (repo, name) in workload.pipeline_pr_branches:
        return False
    return not any(t.role is Role.REVIEW and t.open_pull_request for t in tasks)


def _opt_out_detail(workload: Workload) -> str:
    if workload.pipeline_pr_branches is None:
        return "spec.openPullRequest is false"
    return "no review step for this branch sets payload.openPullRequest"


def _recorded(record: Record | None, branch: Branch) -> Decision | None:
    if record is None or (record.repo and record.repo.lower() != branch.repo.lower()):
        return None
    if record.sha != branch.reviewed_sha:
        return None
    if record.draft != branch.draft and record.reason != Reason.CLOSED_BY_HUMAN:
        return None  # the same commit was reviewed again, with the other verdict
    if record.url is None and record.reason != Reason.CLOSED_BY_HUMAN:
        return None
    return Decision(
        branch.repo,
        branch.name,
        branch.issue,
        branch.reviewed_sha,
        Outcome.SKIPPED,
        Reason.ALREADY_RECORDED,
        f"annotation records {record.outcome} ({record.reason}) at this SHA",
        record.url,
        record.number,
        record.draft,
    )


def _foreman_pr(branch: Branch) -> tuple[int | None, str]:
    """The PR Foreman's reviewer says it opened, if its URL is for this branch's
    repository; else why the URL was ignored. The URL's text is never repeated: only
    GitHub's answer for this head names a PR (see `decide_remote`)."""
    for review in branch.reviewers:
        if not review.pull_request_url:
            continue
        repo, number = pull_url_parts(review.pull_request_url)
        if number is None:
            return None, f"{review.name} has an unusable pullRequestURL: ignored"
        if repo.lower() != branch.repo.lower():
            return None, f"{review.name}'s pullRequestURL is for another repository: ignored"
        return number, ""
    return None, ""


def draft_choice(
    branch: Branch, agents: Mapping[str, Agent] | None, default: bool
) -> tuple[bool, str]:
    """Whether a reviewed branch's PR opens as a draft, as Foreman's opener would: the Agent
    that ran the last review step says (`openPullRequestsAsDraft`); where it cannot say
    (no reviewer, no such Agent, the field unset, Agents unreadable) `default` decides.
    Returns the choice and why it is a draft ("" for a ready PR), for the decision's detail
    (in the mood of the act: opened, or would open)."""
    setting = f"--open-as-draft is {'on' if default else 'off'}"
    last = _last_review(branch.reviewers)
    if last is None or not last.agent:
        why = "no reviewer ran" if last is None else f"{last.name} names no Agent"
        return default, f"{why}, {setting}" if default else ""
    if agents is None:
        why = "the reviewer Agents could not be read"
    elif (agent := agents.get(last.agent)) is None:
        why = f"the reviewer Agent {last.agent} is missing"
    elif agent.draft is None:
        why = f"the reviewer Agent {last.agent} does not set openPullRequestsAsDraft"
    else:
        if not agent.draft:
            return False, ""
        return True, f"the reviewer Agent {last.agent} sets openPullRequestsAsDraft"
    return default, f"{why}: {setting}" if default else ""


def _last_review(reviewers: Sequence[Task]) -> Task | None:
    """The review step whose Agent Foreman asks: the last base reviewer of the final round."""
    asking = [r for r in reviewers if r.open_pull_request] or list(reviewers)
    return max(asking, key=lambda r: (_review_index(r.step) or 0, r.step), default=None)


def _candidate_note(branch: Branch) -> str:
    errors = [r for r in branch.reviewers if r.pull_request_error]
    return f"Foreman's own PR call failed in {errors[0].name}" if errors else ""


# ---------------------------------------------------------------- what GitHub says


def decide_remote(
    candidate: Candidate, head_sha: str | None, pulls: Sequence[Pull]
) -> Decision | Open | Refresh | Withdraw:
    """Given the branch head (None: no such branch) and the PRs for its head.

    The reviewed SHA decides: a PR merged or closed at it settles the branch; one merged
    or closed at an older SHA leaves newer reviewed work without a PR, so a new one opens.
    """
    b = candidate.branch
    reviewed = b.reviewed_sha
    newest_first = sorted(pulls, key=lambda p: p.number, reverse=True)
    note = _join(candidate.note, _unlisted(candidate, newest_first))

    def decision(
        outcome: Outcome, reason: Reason, detail: str, pull: Pull | None = None
    ) -> Decision:
        if pull is not None and pull.number == candidate.foreman_pr and outcome is Outcome.ADOPTED:
            reason, detail = Reason.FOREMAN_OPENED, f"{detail}; Foreman's reviewer opened it"
        return Decision(
            b.repo,
            b.name,
            b.issue,
            reviewed,
            outcome,
            reason,
            _join(detail, note),
            pull.url if pull else None,
            pull.number if pull else None,
            b.draft,
        )

    for pull in newest_first:
        if pull.state == "open":
            withdraw = withdraw_plan(candidate, pull)
            if withdraw is not None:
                return withdraw
            refresh = refresh_plan(candidate, pull)
            if isinstance(refresh, Refresh):
                return refresh
            detail = _join(f"#{pull.number} is open", refresh)
            return decision(Outcome.ADOPTED, Reason.OPEN_PR_EXISTS, detail, pull)
    at_reviewed = [p for p in newest_first if p.head_sha in (reviewed, None)]
    for pull in at_reviewed:
        if pull.merged:
            return decision(
                Outcome.ADOPTED, Reason.MERGED_PR_EXISTS, f"#{pull.number} was merged", pull
            )
    # The sweeper's own withdrawal of a PR opened at an unreviewed commit is not a human's no.
    for pull in at_reviewed:
        if not _withdrawn_by_sweeper(pull, b.issue):
            detail = f"#{pull.number} was closed unmerged at the reviewed SHA"
            return decision(Outcome.SKIPPED, Reason.CLOSED_BY_HUMAN, detail, pull)
    if head_sha is None:
        return decision(
            Outcome.SKIPPED, Reason.BRANCH_MISSING, f"no branch on {candidate.head_repo}"
        )
    if head_sha != reviewed:
        moved = f"branch head {head_sha[:12]} is not the reviewed {reviewed[:12]}"
        return decision(Outcome.SKIPPED, Reason.HEAD_MOVED, moved)
    if newest_first:
        last = newest_first[0]
        if last.merged:
            detail = f"#{last.number} was merged at an older SHA"
            return Open(candidate, Reason.NEW_WORK_AFTER_MERGE, _join(detail, note))
        how = (
            "was withdrawn by the sweeper (opened at an unreviewed commit)"
            if _withdrawn_by_sweeper(last, b.issue)
            else "was closed at an older SHA"
        )
        return Open(candidate, Reason.NEW_WORK_AFTER_CLOSE, _join(f"#{last.number} {how}", note))
    return Open(candidate, Reason.MISSING_PR, _join("no PR for this head", note))


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
    return Withdraw(candidate, pull, _join(detail, candidate.note))


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
    return Refresh(candidate, pull, not mark.edited, mark_ready, _join(detail, candidate.note))


def _join(*parts: str) -> str:
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
