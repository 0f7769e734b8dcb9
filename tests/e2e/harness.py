"""Runs the real CLI in a subprocess against the local Kubernetes and GitHub stand-ins."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.fixtures.foreman import issue_pipeline, workload
from tests.standins.github import GitHubStandIn
from tests.standins.kube import KubeStandIn

TOKEN = "test-token"
REPO_ROOT = Path(__file__).resolve().parents[2]
GROUP = "foreman.llmkube.dev"
RECORDS = "pr-sweeper.foreman.llmkube.dev/pull-requests"
SETTLED = "pr-sweeper.foreman.llmkube.dev/settled"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def decisions(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == "pr.decision"]

    @property
    def summary(self) -> dict[str, Any]:
        finished = [line for line in self.lines if line.get("event") == "sweep.finished"]
        assert finished, f"no sweep.finished line:\n{self.stdout}\n{self.stderr}"
        return finished[-1]

    def outcome(self, branch: str) -> tuple[str, str]:
        found = [d for d in self.decisions if d.get("branch") == branch]
        assert len(found) == 1, (branch, self.decisions)
        return found[0]["outcome"], found[0]["reason"]


def owned_by(task: dict[str, Any], uid: str) -> dict[str, Any]:
    """The task with its controller ownerReference pointing at the Workload of `uid`."""
    for ref in task["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            ref["uid"] = uid
    return task


def readme_block(marker: str) -> str:
    """The shell block after `<!-- runbook: MARKER -->` in the README, as a user copies it."""
    text = (REPO_ROOT / "README.md").read_text()
    match = re.search(rf"<!-- runbook: {marker} -->\n```sh\n(.*?)```", text, re.S)
    assert match, f"README has no runbook block {marker}"
    return match.group(1)


def parse_lines(stdout: str) -> list[dict[str, Any]]:
    lines = []
    for raw in stdout.splitlines():
        if raw.strip():
            lines.append(json.loads(raw))  # every line must be one JSON object
    return lines


class World:
    """The two stand-ins, plus the subprocess plumbing to sweep them."""

    def __init__(self, kube: KubeStandIn, github: GitHubStandIn, tmp: Path) -> None:
        self.kube, self.github, self.tmp = kube, github, tmp
        self.kubeconfig = kube.write_kubeconfig(tmp / "kubeconfig")

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "SWEEPER_"))}
        env.update(
            KUBECONFIG=str(self.kubeconfig),
            GITHUB_TOKEN=TOKEN,
            GITHUB_API_URL=self.github.url,
            SWEEPER_LOCK_NAMESPACE="sweeper",
            SWEEPER_WRITE_INTERVAL="0",
            PYTHONPATH=str(REPO_ROOT),
        )
        env.pop("KUBERNETES_SERVICE_HOST", None)
        env.update(extra)
        return env

    def command(self, args: Sequence[str]) -> list[str]:
        return [sys.executable, "-m", "sweeper", "--log-format", "json", *args]

    def sweep(self, *args: str, timeout: float = 60, **env: str) -> Run:
        proc = subprocess.run(
            self.command(args),
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.tmp,
        )
        assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
        return Run(proc.returncode, proc.stdout, proc.stderr, parse_lines(proc.stdout))

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(args),
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.tmp,
        )

    # ------------------------------------------------------------ seeding

    def add_issue(
        self,
        wl: str,
        issue: int,
        *,
        namespace: str = "default",
        repo: str = "acme/widgets",
        push_to: str | None = None,
        message: str = "Add the widget",
        **pipeline: Any,
    ) -> tuple[list[dict[str, Any]], str]:
        """Pushes the issue's branch to GitHub and returns Foreman's tasks for it."""
        branch = f"foreman/{wl}/issue-{issue}" + ("-esc" if pipeline.get("escalation") else "")
        head_repo = push_to or repo
        if head_repo not in self.github_repos:
            self.github.add_repo(head_repo, fork_of=repo if push_to else None)
            self.github_repos.add(head_repo)
        sha = self.github.push(head_repo, branch, message=message)
        tasks = issue_pipeline(
            wl, issue, namespace=namespace, repo=repo, commit_sha=sha, **pipeline
        )
        return tasks, sha

    @property
    def github_repos(self) -> set[str]:
        if not hasattr(self, "_repos"):
            self._repos: set[str] = set()
        return self._repos

    def ensure_repo(self, repo: str, **kwargs: Any) -> None:
        if repo not in self.github_repos:
            self.github.add_repo(repo, **kwargs)
            self.github_repos.add(repo)

    def seed(self, wl_obj: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
        names = [t["metadata"]["name"] for t in tasks]
        wl_obj.setdefault("status", {})["tasks"] = [
            {
                "apiVersion": f"{GROUP}/v1alpha1",
                "kind": "AgenticTask",
                "name": n,
                "namespace": wl_obj["metadata"]["namespace"],
            }
            for n in names
        ]
        # The stand-in assigns the Workload's uid, as a server would; Foreman's tasks then
        # carry it in their controller ownerReference.
        wl_obj["metadata"].pop("uid", None)
        uid = self.kube.seed(wl_obj)["metadata"]["uid"]
        for t in tasks:
            self.kube.seed(owned_by(t, uid))

    def simple(
        self,
        wl: str = "wl",
        issues: Sequence[int] = (1,),
        namespace: str = "default",
        repo: str = "acme/widgets",
        **kwargs: Any,
    ) -> dict[int, str]:
        """A Completed issue-batch Workload whose issues each passed review; returns SHAs."""
        self.ensure_repo(repo)
        tasks: list[dict[str, Any]] = []
        shas = {}
        for n in issues:
            more, sha = self.add_issue(wl, n, namespace=namespace, repo=repo, **kwargs)
            tasks += more
            shas[n] = sha
        self.seed(workload(wl, namespace, repo=repo, issues=list(issues)), tasks)
        return shas

    def hold_lock(self, holder: str = "other-run") -> None:
        """Another live run holds the sweeper's Lease (in the `sweeper` namespace)."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.kube.seed_replace(
            {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": "foreman-pr-sweeper", "namespace": "sweeper"},
                "spec": {
                    "holderIdentity": holder,
                    "leaseDurationSeconds": 900,
                    "acquireTime": now,
                    "renewTime": now,
                },
            }
        )

    # ------------------------------------------------------------ reading back

    def workload(self, name: str, namespace: str = "default") -> dict[str, Any]:
        obj = self.kube.get("workloads", namespace, name)
        assert obj is not None
        return obj

    def records(self, name: str, namespace: str = "default") -> dict[str, Any]:
        raw = (self.workload(name, namespace)["metadata"].get("annotations") or {}).get(RECORDS)
        return json.loads(raw) if raw else {}

    def events(self, namespace: str = "default") -> list[dict[str, Any]]:
        return self.kube.list("events", namespace, group="")

    def pulls(self, repo: str = "acme/widgets") -> list[dict[str, Any]]:
        return self.github.pulls(repo)
