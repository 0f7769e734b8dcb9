"""What a round of tasks says: who reviewed and gated it, their verdicts, and whether
the branch's PR opens as a draft. Pure rules over parsed tasks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from sweeper.core import Branch
from sweeper.model import Agent, Workload
from sweeper.tasks import Role, Task

_REVIEW_STEP = re.compile(r"^review-[0-9]+-(?:esc-)?(?P<index>[0-9]+)(?:-r[0-9]+)?$")


def unreviewed(
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
    asked = {i for i in (review_index(t.step) for t in tasks if t.role is Role.REVIEW) if i}
    missing_index = asked - {review_index(t.step) for t in reviewers}
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


def unvouched(
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


def review_index(step: str) -> int | None:
    match = _REVIEW_STEP.match(step)
    return int(match["index"]) if match else None


def on_target(task: Task, verdict: str) -> bool:
    return task.phase == "Succeeded" and task.verdict == verdict


def changes_requested(reviewers: Sequence[Task]) -> bool:
    """Every reviewer finished and gave a verdict, and at least one of them was NO-GO.

    A reviewer that failed or gave up (INCOMPLETE) said nothing a human could act on.
    """
    finished = all(on_target(r, "GO") or on_target(r, "NO-GO") for r in reviewers)
    return finished and any(r.verdict == "NO-GO" for r in reviewers)


def verdicts(tasks: Iterable[Task]) -> str:
    return ", ".join(f"{t.name} is {t.phase}/{t.verdict}" for t in tasks)


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
    return max(asking, key=lambda r: (review_index(r.step) or 0, r.step), default=None)
