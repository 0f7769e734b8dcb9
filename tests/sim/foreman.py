"""Foreman, as the simulation plays it: the shapes of Workloads it completes, the tasks and
pushes each shape makes, and the oracle's judgement of every branch, from Foreman's rules.

Written from Foreman's data model (tasks per round, `-rK` fix rounds, the `-esc` coder
escalation tier on its own branch, advisory `escalate-N-j` reviews, verify gates, explicit
pipelines whose review steps carry `openPullRequest`), never from the sweeper's code: the
judgement says which branches deserve a PR, at which commit, ready or draft, and which
reasons a skip may give. The sweeper must agree with it on every history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REPOS = ("acme/widgets", "acme/gadgets")
GATE_PASS, GATE_FAIL = "GATE-PASS", "GATE-FAIL"
# What a coder can leave: GO with its commit, GO without status.commitSHA (a missing field),
# a failure, or ALREADY-RESOLVED (NO-GO: nothing to open).
CODER = ("go", "no-sha", "failed", "resolved")
# A reviewer's verdict; "-": the review task is missing from the round.
REVIEW = ("GO", "NO-GO", "INCOMPLETE", "-")


@dataclass(frozen=True)
class Round:
    """One round's tasks: coder, gate (`none`: no verify task), reviewers by index."""

    coder: str = "go"
    gate: str = "pass"  # pass | fail | none
    reviews: tuple[str, ...] = ("GO", "GO")
    # Reviewer escalation (advisory), run only after the round ended NO-GO.
    escalations: tuple[str, ...] = ()

    @property
    def pushes(self) -> bool:
        return self.coder in ("go", "no-sha")

    @property
    def on_target(self) -> bool:
        """As Foreman counts it: the coder (or an already-resolved issue), the gate and
        every reviewer of the round on target."""
        if self.coder == "resolved":
            return True
        return (
            self.coder in ("go", "no-sha")
            and self.gate != "fail"
            and all(v == "GO" for v in self.reviews)
        )


REQUEST_CHANGES = Round(reviews=("NO-GO", "GO"))


@dataclass(frozen=True)
class Issue:
    """One issue of an issue-batch Workload: its rounds, the last one final."""

    final: Round = Round()
    earlier: int = 0  # fix rounds before the final one (each ended with a reviewer NO-GO)
    escalated: bool = False  # the base coder failed; the final round ran on `-esc`
    foreman_pr: str = "none"  # Foreman's own opener: none | opened | error | planted
    tasks: str = "owned"  # owned | none | foreign-review | foreign-all


@dataclass(frozen=True)
class Batch:
    """An issue-batch Workload (spec.repo, spec.issues)."""

    issues: tuple[Issue, ...] = (Issue(),)
    reviewers: int | None = 2  # spec.reviewerAgentRefs (None: unset)
    open_pr: bool | None = None  # spec.openPullRequest
    repo: str = REPOS[0]
    namespace: str = "default"
    phase: str = "auto"  # auto (Foreman's rule) | Completed | Failed


@dataclass(frozen=True)
class Step:
    """One branch of an explicit pipeline: its repo, issue (the branch name) and round."""

    repo: str = REPOS[0]
    issue: int = 1
    final: Round = Round(reviews=("GO",))
    open_pr: bool | None = True  # payload.openPullRequest of its review steps
    tasks: str = "owned"  # owned | none


@dataclass(frozen=True)
class Pipeline:
    """An explicit spec.pipeline, possibly over several repositories."""

    steps: tuple[Step, ...] = (Step(),)
    namespace: str = "default"
    phase: str = "auto"


Shape = Batch | Pipeline


# ---------------------------------------------------------------- the judgement


@dataclass(frozen=True)
class Judgement:
    """What one branch deserves. `kind`: ready (a PR closing the issue), draft (a
    request-changes draft), skip (never a PR), or absent (the sweeper says nothing)."""

    repo: str
    branch: str
    issue: int | None
    kind: str
    sha: str | None = None  # the reviewed commit: the final coder's status.commitSHA
    reasons: frozenset[str] = frozenset()  # the skips that apply (any one may be given)

    @property
    def candidate(self) -> bool:
        return self.kind in ("ready", "draft")

    @property
    def settles(self) -> bool:
        return "no-tasks" not in self.reasons


@dataclass
class Tier:
    """One branch's rounds as they stand (the last one final), and what each pushed."""

    repo: str
    branch: str
    issue: int
    rounds: list[Round]
    shas: list[str | None] = field(default_factory=list)  # the coder's commit per round
    esc: bool = False  # the coder escalation tier (steps `...-esc`)
    # What Foreman's own opener left on the final round's first reviewer (extra.*).
    foreman: dict[str, str] = field(default_factory=dict)


@dataclass
class Model:
    """A Workload as Foreman made it: its shape, its branches' rounds, and its fate."""

    name: str
    shape: Shape
    uid: str = ""
    tiers: dict[tuple[str, str], Tier] = field(default_factory=dict)
    version: int = 0  # bumped whenever Foreman changes the Workload's status
    deleted: bool = False
    skip: bool = False  # the operator's opt-out annotation
    settled_version: int | None = None  # the version a run settled it at
    extra_tasks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return self.shape.namespace

    @property
    def phase(self) -> str:
        if self.shape.phase != "auto":
            return self.shape.phase
        finals = [t.rounds[-1] for t in self.tiers.values() if not _superseded(self, t)]
        return "Completed" if all(r.on_target for r in finals) else "Failed"


def _superseded(model: Model, tier: Tier) -> bool:
    """The base tier of an escalated issue: its failure is what the escalation answered."""
    return not tier.esc and (tier.repo, f"{tier.branch}-esc") in model.tiers


def looked_at(model: Model, drafts: bool) -> bool:
    """Whether the sweeper reads this Workload at all."""
    if model.deleted or model.skip:
        return False
    return model.phase == "Completed" or (drafts and model.phase == "Failed")


def judge(
    model: Model, drafts: bool, allowed: tuple[str, ...], gate_required: bool
) -> list[Judgement]:
    """Every branch the Workload asks for, judged by Foreman's rules."""
    shape = model.shape
    if isinstance(shape, Batch):
        tasks = {i.tasks for i in shape.issues}
        if "foreign-all" in tasks and not tasks & {"owned", "foreign-review"}:
            # Labelled tasks, none of them its own: the Workload itself is suspect.
            return [Judgement("", "", None, "skip", reasons=frozenset({"invalid-input"}))]
    out = []
    for issue_no, asked in _asked(model):
        tier = model.tiers.get(asked)
        if isinstance(shape, Batch) and shape.issues[issue_no - 1].tasks == "foreign-all":
            tier = None  # none of its tasks is the Workload's own
        rule = Rules(model, drafts, allowed, gate_required)
        out.append(rule.branch(asked, issue_no, tier))
    return out


def _asked(model: Model) -> list[tuple[int, tuple[str, str]]]:
    shape = model.shape
    if isinstance(shape, Pipeline):
        return [(s.issue, (s.repo, branch_name(model.name, s.issue))) for s in shape.steps]
    asked = []
    for n, issue in enumerate(shape.issues, 1):
        base = (shape.repo, branch_name(model.name, n))
        asked.append((n, base))
        if issue.escalated and issue.tasks not in ("none", "foreign-all"):
            asked.append((n, (shape.repo, base[1] + "-esc")))
    return asked


def branch_name(workload_name: str, issue: int) -> str:
    return f"foreman/{workload_name}/issue-{issue}"


@dataclass
class Rules:
    model: Model
    drafts: bool
    allowed: tuple[str, ...]
    gate_required: bool

    def branch(self, key: tuple[str, str], issue: int, tier: Tier | None) -> Judgement:
        repo, name = key
        shape = self.model.shape

        def skip(*reasons: str, sha: str | None = None) -> Judgement:
            return Judgement(repo, name, issue, "skip", sha, frozenset(reasons))

        if isinstance(shape, Batch):
            if shape.open_pr is False:
                return skip("opted-out") if tier else Judgement(repo, name, issue, "absent")
        else:
            step = next(s for s in shape.steps if (s.repo, s.issue) == (repo, issue))
            if step.open_pr is not True or not step.final.reviews:
                return skip("opted-out") if tier else Judgement(repo, name, issue, "absent")
        if tier is None:
            return skip("no-tasks")
        final = tier.rounds[-1]
        sha = tier.shas[-1]
        if final.coder == "resolved":
            return skip("already-resolved")
        if final.coder == "failed":
            return skip("coder-not-on-target")
        if final.coder == "no-sha":
            return skip("no-commit-sha")
        if final.gate == "fail":
            return skip("gate-not-passed", sha=sha)
        missing = self._unreviewed(tier)
        if missing:
            return skip("not-reviewed", sha=sha)
        present = [v for v in self._final_reviews(tier) if v != "-"]
        draft = False
        if any(v != "GO" for v in present):
            finished = all(v in ("GO", "NO-GO") for v in present)
            if not (self.drafts and finished and "NO-GO" in present):
                return skip("review-not-go", sha=sha)
            draft = True
        if self.allowed and repo not in self.allowed:
            return skip("repo-not-allowed", sha=sha)
        return Judgement(repo, name, issue, "draft" if draft else "ready", sha)

    def _final_reviews(self, tier: Tier) -> list[str]:
        """The final round's reviewers as the sweeper can see them (its own tasks only)."""
        reviews = list(tier.rounds[-1].reviews)
        if self._foreign_review(tier) and reviews:
            reviews[0] = "-"
        return reviews

    def _foreign_review(self, tier: Tier) -> bool:
        shape = self.model.shape
        if not isinstance(shape, Batch):
            return False
        return shape.issues[tier.issue - 1].tasks == "foreign-review"

    def _unreviewed(self, tier: Tier) -> bool:
        """The final round lacks a reviewer the spec, the pipeline or an earlier round asks
        for; or (with Foreman's verifier rule) it ran neither reviewer nor gate."""
        shape = self.model.shape
        final = self._final_reviews(tier)
        have = {i for i, v in enumerate(final, 1) if v != "-"}
        if isinstance(shape, Pipeline):
            asked = set(range(1, len(shape_step(shape, tier).final.reviews) + 1))
        else:
            asked = set(range(1, (shape.reviewers or 0) + 1))
            for earlier in tier.rounds[:-1]:
                asked |= {i for i, v in enumerate(earlier.reviews, 1) if v != "-"}
        if asked - have:
            return True
        gate = tier.rounds[-1].gate
        if self.gate_required and gate == "none":
            earlier_gate = any(r.gate != "none" for r in tier.rounds[:-1] if r.pushes)
            return earlier_gate or not have
        return False


def shape_step(shape: Pipeline, tier: Tier) -> Step:
    return next(s for s in shape.steps if (s.repo, s.issue) == (tier.repo, tier.issue))
