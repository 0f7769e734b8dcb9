"""The simulated world: two stand-ins shared by every history, Foreman, the humans, and
what the oracle remembers (every Workload as Foreman made it, every PR the sweeper made).

Foreman completes Workloads of every shape and pushes its coders' commits; people merge,
close, reopen, push and open PRs by hand; an operator opts Workloads out. Sweeps are run
by `tests.sim.runs`; the promises are checked by `tests.sim.oracle`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from tests.sim.foreman import (
    REPOS,
    Batch,
    Issue,
    Model,
    Round,
    Shape,
    Tier,
    branch_name,
)
from tests.sim.objects import foreman_pr_fields, model_tasks, workload_object
from tests.standins.github import GitHubStandIn
from tests.standins.kube import KubeStandIn

TOKEN = "sim-token"
OWNER = "acme"
FORK_OWNER = "bot"
LEASE = ("sweeper", "foreman-pr-sweeper")
COORD = "coordination.k8s.io"
RECORDS = "pr-sweeper.foreman.llmkube.dev/pull-requests"
SETTLED = "pr-sweeper.foreman.llmkube.dev/settled"
SKIP = "pr-sweeper.foreman.llmkube.dev/skip"
HUMAN = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json"}


class Stands:
    """The two stand-ins, started once per test module; `reset()` per history."""

    def __init__(self, tmp: Path) -> None:
        self.kube = KubeStandIn().start()
        self.github = GitHubStandIn(token=TOKEN).start()
        self.kubeconfig = self.kube.write_kubeconfig(tmp / "kubeconfig")

    def stop(self) -> None:
        self.kube.stop()
        self.github.stop()


@dataclass(frozen=True)
class Config:
    """One history's sweeper settings: small, so paging, batching and windows happen."""

    drafts: bool = False  # --draft-on-request-changes
    max_create: int = 3
    allow: tuple[str, ...] = ()  # --allow-repo
    page_size: int = 2  # Workloads per list call
    task_page: int = 3  # AgenticTasks per list call
    plan_window: int = 2
    task_batch: int = 2
    lookup_batch: int = 2
    notify: bool = False  # --reviewer and --label
    fork: bool = False  # coders push to the bot's forks (--head-owner bot)
    as_draft: bool = False  # --open-as-draft: reviewed PRs open as drafts (no Agent says)


@dataclass
class Created:
    """A PR the sweeper created, as the oracle saw it at that moment."""

    repo: str
    number: int
    branch: str
    sha: str
    run: int
    reviewed: bool  # at a final round's reviewed commit
    pushed_meanwhile: bool  # its branch was pushed to during that run


@dataclass
class World:
    stands: Stands
    config: Config
    models: dict[str, Model] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    created: list[Created] = field(default_factory=list)
    human_closed: set[tuple[str, int]] = field(default_factory=set)
    human_reopened: set[tuple[str, int]] = field(default_factory=set)
    runs: list[Any] = field(default_factory=list)  # tests.sim.runs.Run
    names: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.kube.reset()
        self.github.reset()
        for repo in REPOS:
            self.github.add_repo(repo)
            if self.config.fork:
                self.github.add_repo(self.head_repo(repo), fork_of=repo)

    @property
    def owner(self) -> str:
        """Whose repositories the coders push to: the base's owner, or the bot's forks."""
        return FORK_OWNER if self.config.fork else OWNER

    def head_repo(self, repo: str) -> str:
        return f"{self.owner}/{repo.split('/', 1)[1]}"

    def head(self, branch: str) -> str:
        return f"{self.owner}:{branch}"

    def repos(self) -> list[str]:
        return [*REPOS, *(self.head_repo(r) for r in REPOS if self.config.fork)]

    @property
    def kube(self) -> KubeStandIn:
        return self.stands.kube

    @property
    def github(self) -> GitHubStandIn:
        return self.stands.github

    def live(self) -> list[Model]:
        return [m for m in self.models.values() if not m.deleted]

    # ------------------------------------------------------------ Foreman

    def complete(self, shape: Shape) -> str:
        """Foreman runs a Workload to its end: coders push, tasks and Workload are stored."""
        model = Model(f"w{next(self.names)}", shape)
        if isinstance(shape, Batch):
            for n, issue in enumerate(shape.issues, 1):
                if issue.tasks != "none":
                    self._issue_tiers(model, n, issue, shape)
        else:
            for step in shape.steps:
                if step.tasks != "none":
                    branch = branch_name(model.name, step.issue)
                    tier = Tier(step.repo, branch, step.issue, [step.final])
                    self._push_round(tier, step.final)
                    model.tiers[(step.repo, branch)] = tier
        obj = workload_object(model)
        model.uid = self.kube.seed(obj)["metadata"]["uid"]
        for t in model_tasks(model):
            self.kube.seed(t)
        self.models[model.name] = model
        return model.name

    def _issue_tiers(self, model: Model, n: int, issue: Issue, shape: Batch) -> None:
        branch = branch_name(model.name, n)
        spec = shape.reviewers or 0
        if issue.escalated:
            base = Tier(shape.repo, branch, n, [Round(coder="failed", reviews=())])
            base.shas.append(None)
            model.tiers[(shape.repo, branch)] = base
            tier = Tier(shape.repo, f"{branch}-esc", n, [issue.final], esc=True)
        else:
            gate = "pass" if issue.final.gate != "none" else "none"
            earlier = Round(gate=gate, reviews=("NO-GO",) + ("GO",) * (spec - 1))
            rounds = [earlier] * (issue.earlier if spec else 0) + [issue.final]
            tier = Tier(shape.repo, branch, n, rounds)
        for rnd in tier.rounds:
            self._push_round(tier, rnd)
        if issue.foreman_pr != "none":
            tier.foreman = foreman_pr_fields(issue, self._foreman_opens(tier, shape))
        model.tiers[(tier.repo, tier.branch)] = tier

    def _push_round(self, tier: Tier, rnd: Round) -> None:
        sha = None
        if rnd.pushes:
            sha = self.github.push(
                self.head_repo(tier.repo), tier.branch, message=f"Fix #{tier.issue}"
            )
        tier.shas.append(sha if rnd.coder == "go" else None)

    def _foreman_opens(self, tier: Tier, shape: Batch) -> str | None:
        """Foreman's own opener, on a review GO: reuse an open PR, a merged one is done,
        else a fresh PR. Returns its URL (None: it opened nothing)."""
        final = tier.rounds[-1]
        if shape.open_pr is False or not final.reviews or not final.on_target:
            return None
        if final.coder != "go":
            return None
        head = self.head(tier.branch)
        for pr in self.github.pulls(tier.repo):
            if pr["head"]["label"] == head and (pr["state"] == "open" or pr["merged"]):
                return str(pr["html_url"])
        pr = self.github.add_pull(tier.repo, head, title=f"Fix #{tier.issue}", body="By Foreman.")
        return str(pr["html_url"])

    def rerun(self, name: str, pick: int, final: Round) -> tuple[str, str] | None:
        """Foreman runs another fix round on one branch: a new commit, new tasks, a new
        status. Returns the branch (None: nothing to re-run)."""
        model = self.models[name]
        tiers = [t for t in model.tiers.values() if t.rounds[-1].pushes or t.esc]
        if model.deleted or not isinstance(model.shape, Batch) or not tiers:
            return None
        if any(i.tasks == "foreign-all" for i in model.shape.issues):
            return None
        tier = tiers[pick % len(tiers)]
        width = (
            len(tier.rounds[-1].reviews) if model.shape.reviewers is None else model.shape.reviewers
        )
        reviews = (final.reviews + ("GO",) * width)[:width]
        final = replace(final, reviews=reviews, escalations=())
        tier.rounds.append(final)
        self._push_round(tier, final)
        tier.foreman = {}
        model.version += 1
        have = {t["metadata"]["name"] for t in self.kube.list("agentictasks", model.namespace)}
        for t in model_tasks(model):
            if t["metadata"]["name"] not in have:
                self.kube.seed(t)
        status = workload_object(model)["status"]
        self.kube.set_status("workloads", model.namespace, name, status)
        return tier.repo, tier.branch

    def delete(self, name: str) -> None:
        model = self.models[name]
        if not model.deleted:
            self.kube.remove("workloads", model.namespace, name)
            model.deleted = True

    # ------------------------------------------------------------ an operator

    def opt_out(self, name: str, on: bool) -> None:
        """`kubectl annotate workload NAME pr-sweeper.../skip=true` (or `skip-`)."""
        model = self.models[name]
        obj = self.kube.get("workloads", model.namespace, name)
        if obj is None:
            return
        annotations = obj["metadata"].setdefault("annotations", {})
        if on:
            annotations[SKIP] = "true"
        else:
            annotations.pop(SKIP, None)
        self.kube.seed_replace(obj)
        model.skip = on

    # ------------------------------------------------------------ people on GitHub

    def pulls(self) -> list[tuple[str, dict[str, Any]]]:
        return [(repo, pr) for repo in REPOS for pr in self.github.pulls(repo)]

    def branches(self) -> list[tuple[str, str]]:
        return sorted({(t.repo, t.branch) for m in self.models.values() for t in m.tiers.values()})

    def human(self, action: str, pick: int) -> None:
        """A person merges, closes, reopens, pushes to a branch, opens a PR or deletes a branch."""
        if action in ("merge", "close"):
            open_ = [(r, p) for r, p in self.pulls() if p["state"] == "open"]
            if open_:
                repo, pr = open_[pick % len(open_)]
                self.github.close_pull(repo, pr["number"], merged=action == "merge")
                if action == "close":
                    self.human_closed.add((repo, pr["number"]))
        elif action == "reopen":
            closed = [(r, p) for r, p in self.pulls() if p["state"] == "closed" and not p["merged"]]
            if closed:
                repo, pr = closed[pick % len(closed)]
                url = f"{self.github.url}/repos/{repo}/pulls/{pr['number']}"
                answer = requests.patch(url, json={"state": "open"}, headers=HUMAN, timeout=10)
                if answer.status_code == 200:
                    self.human_reopened.add((repo, pr["number"]))
                    self.human_closed.discard((repo, pr["number"]))
        elif action in ("push", "open", "delete-branch"):
            self._on_branch(action, pick)

    def _on_branch(self, action: str, pick: int) -> None:
        have = [(r, b) for r, b in self.branches() if b in self._heads(self.head_repo(r))]
        if not have:
            return
        repo, branch = have[pick % len(have)]
        if action == "push":
            self.github.push(self.head_repo(repo), branch, message="A person's change")
        elif action == "delete-branch":
            self.github.delete_branch(self.head_repo(repo), branch)
        else:
            body = {"title": "By hand", "head": self.head(branch), "base": "main"}
            url = f"{self.github.url}/repos/{repo}/pulls"
            requests.post(url, json=body, headers=HUMAN, timeout=10)  # 422s are GitHub's no

    def _heads(self, repo: str) -> dict[str, str]:
        url = f"{self.github.url}/repos/{repo}/git/matching-refs/heads%2Fforeman%2F"
        answer = requests.get(url, params={"per_page": 100}, headers=HUMAN, timeout=10)
        if answer.status_code != 200:
            return {}
        return {r["ref"].removeprefix("refs/heads/"): r["object"]["sha"] for r in answer.json()}

    def heads(self) -> dict[tuple[str, str], str]:
        """Every Foreman branch's head, by (base repository, branch)."""
        return {
            (repo, b): sha for repo in REPOS for b, sha in self._heads(self.head_repo(repo)).items()
        }

    # ------------------------------------------------------------ the run lock

    def lease_held(self) -> bool:
        """A live holder has the sweeper's Lease (a killed run leaves it so)."""
        lease = self.kube.get("leases", *LEASE, group=COORD)
        spec = (lease or {}).get("spec") or {}
        if not spec.get("holderIdentity"):
            return False
        renewed = spec.get("renewTime") or spec.get("acquireTime")
        if not isinstance(renewed, str):
            return False
        at = datetime.fromisoformat(renewed.replace("Z", "+00:00"))
        return datetime.now(UTC) < at + timedelta(seconds=int(spec["leaseDurationSeconds"]))

    def time_passes(self) -> None:
        """Long enough for a Lease left by a killed run to lapse."""
        lease = self.kube.get("leases", *LEASE, group=COORD)
        if lease and lease["spec"].get("holderIdentity"):
            lease["spec"]["renewTime"] = "2020-01-01T00:00:00.000000Z"
            self.kube.seed_replace(lease)

    # ------------------------------------------------------------ reading back

    def annotations(self, model: Model) -> dict[str, str]:
        obj = self.kube.get("workloads", model.namespace, model.name)
        return dict(((obj or {}).get("metadata") or {}).get("annotations") or {})
