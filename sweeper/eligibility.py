"""Which listed Workloads are looked at, and which of their branches deserve a PR.

The ladders of early returns for one Workload (`triage`) and its branches
(`plan_workload`, `plan_branch`): each rung returns a named reason. What a round of
reviews and gates says is in `sweeper.verdicts`; what GitHub says, in `sweeper.remote`.
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sweeper.core import Branch, Candidate, Decision, Plan, Policy, join
from sweeper.fields import InvalidInput, as_mapping
from sweeper.model import Workload
from sweeper.outcomes import Outcome, Reason, WorkloadSkip
from sweeper.records import Record, pull_url_parts
from sweeper.tasks import Role, Task, controller_uid, parse_task
from sweeper.verdicts import (
    changes_requested,
    on_target,
    unreviewed,
    unvouched,
    verdicts,
)

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
        return replace(plan, note=join(plan.note, note))
    return replace(plan, detail=join(plan.detail, note))


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
    if not on_target(coder, "GO"):
        return skip(Reason.CODER_NOT_ON_TARGET, f"{coder.name} is {coder.phase}/{coder.verdict}")
    sha = coder.commit_sha
    if sha is None:
        return skip(
            Reason.NO_COMMIT_SHA,
            f"{coder.name} recorded no status.commitSHA: no task vouched for a commit",
        )
    verifiers = tuple(t for t in final if t.role is Role.VERIFY)
    failed_gate = [t for t in verifiers if not on_target(t, "GATE-PASS")]
    if failed_gate:
        return skip(Reason.GATE_NOT_PASSED, verdicts(failed_gate), sha)
    reviewers = tuple(sorted((t for t in final if t.role is Role.REVIEW), key=lambda t: t.step))
    not_reviewed = unreviewed(workload, repo, name, deciding, reviewers, final_round) or (
        unvouched(workload, deciding, verifiers, reviewers, final_round)
    )
    if not_reviewed:
        return skip(Reason.NOT_REVIEWED, not_reviewed, sha)
    not_go = [t for t in reviewers if not on_target(t, "GO")]
    draft = bool(not_go) and policy.drafts and changes_requested(reviewers)
    if not_go and not draft:
        return skip(Reason.REVIEW_NOT_GO, verdicts(not_go), sha)
    if not repo_allowed(repo, policy.allow_repos):
        return skip(Reason.REPO_NOT_ALLOWED, f"{repo} is not in --allow-repo", sha)

    branch = Branch(
        repo, name, issue, coder.base_branch, sha, coder, verifiers, reviewers, draft, advisory
    )
    recorded = _recorded(workload.record_for(repo, name), branch)
    if recorded is not None:
        return recorded
    foreman_pr, url_note = _foreman_pr(branch)
    note = join(_candidate_note(branch), url_note)
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


def _candidate_note(branch: Branch) -> str:
    errors = [r for r in branch.reviewers if r.pull_request_error]
    return f"Foreman's own PR call failed in {errors[0].name}" if errors else ""
