"""A no-cluster demo: local Kubernetes and GitHub stand-ins, a dry run, then a real sweep.

Run from the repository root after installing (see README):

    .venv/bin/python demo/run.py

It uses the same stand-ins and fixture builders as the end-to-end tests, so it cannot
drift from what the tests prove. The sweeper itself runs as the installed CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.fixtures.foreman import issue_pipeline, workload  # noqa: E402
from tests.standins.github import GitHubStandIn  # noqa: E402
from tests.standins.kube import KubeStandIn  # noqa: E402

TOKEN = "demo-token"
RECORDS = "pr-sweeper.foreman.llmkube.dev/pull-requests"
# What an LLM reviewer might write: it must close no other issue and ping nobody.
HOSTILE = "Handles an empty config file.\n\nFixes #7, thanks @alice!"


def seed(kube: KubeStandIn, github: GitHubStandIn) -> None:
    """A realistic mix: PRs to open, one Foreman already opened, and several to skip."""
    for repo in ("acme/widgets", "acme/gadgets"):
        github.add_repo(repo)

    def issue(wl: str, n: int, ns: str, repo: str, subject: str, **kw: Any) -> list[dict[str, Any]]:
        branch = f"foreman/{wl}/issue-{n}" + ("-esc" if kw.get("escalation") else "")
        sha = github.push(repo, branch, message=subject)
        if kw.pop("foreman_opened", False):  # Foreman's reviewer opened it and said so
            owner = repo.split("/", 1)[0]
            pr = github.add_pull(repo, f"{owner}:{branch}", title=subject)
            kw["pull_request_url"] = pr["html_url"]
        return issue_pipeline(wl, n, namespace=ns, repo=repo, commit_sha=sha, **kw)

    batches = {
        ("team-a", "nightly-fixes", "acme/widgets"): [
            issue("nightly-fixes", 101, "team-a", "acme/widgets", "Fix off-by-one in pager"),
            issue(
                "nightly-fixes",
                102,
                "team-a",
                "acme/widgets",
                "Handle empty config",
                pr_body=HOSTILE,
            ),
            issue(
                "nightly-fixes",
                103,
                "team-a",
                "acme/widgets",
                "Retry flaky upload",
                foreman_opened=True,
            ),
        ],
        ("team-a", "docs-sweep", "acme/widgets"): [
            issue("docs-sweep", 110, "team-a", "acme/widgets", "Docs", outcome="already-resolved"),
            issue("docs-sweep", 111, "team-a", "acme/widgets", "Faster build", rounds=2),
        ],
        ("team-b", "gadget-repair", "acme/gadgets"): [
            issue(
                "gadget-repair",
                5,
                "team-b",
                "acme/gadgets",
                "Stop leaking sockets",
                pull_request_error="502 Bad Gateway",
            ),
            issue("gadget-repair", 6, "team-b", "acme/gadgets", "wip", outcome="gate-failed"),
            issue(
                "gadget-repair", 8, "team-b", "acme/gadgets", "Calibrate sensors", escalation=True
            ),
        ],
    }
    for (ns, name, repo), groups in batches.items():
        tasks = [t for group in groups for t in group]
        issues = sorted({t["spec"]["payload"]["issue"] for t in tasks})
        kube.seed(workload(name, ns, repo=repo, issues=issues))
        for t in tasks:
            kube.seed(t)
    # Review asked for changes: Foreman marks it Failed; a draft with --draft-on-request-changes.
    rework = issue(
        "pager-rework", 21, "team-b", "acme/gadgets", "Rework the pager", outcome="request-changes"
    )
    kube.seed(workload("pager-rework", "team-b", repo="acme/gadgets", issues=[21], phase="Failed"))
    for t in rework:
        kube.seed(t)
    kube.seed(workload("still-running", "team-b", phase="Dispatched", issues=[9]))
    kube.seed(workload("branch-only", "team-b", issues=[1], open_pull_request=False))


def sweeper_command() -> list[str]:
    installed = shutil.which("foreman-pr-sweeper", path=str(Path(sys.executable).parent))
    return [installed] if installed else [sys.executable, "-m", "sweeper"]


def sweep(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [*sweeper_command(), "--log-format", "json", *args], env=env, capture_output=True, text=True
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    for line in lines:
        if line["event"] == "pr.decision":
            where = f"{line['namespace']}/{line['workload']} {line['branch']}"
            where += " (draft)" if line.get("draft") else ""
            print(
                f"  {line['outcome']:<10} {line['reason']:<22} {where}  {line.get('pr_url') or ''}"
            )
        elif line["event"] == "sweep.finished":
            print(f"  => counts {line['counts']}, exit code {proc.returncode}")
    if proc.stderr.strip():
        print(proc.stderr, file=sys.stderr)
    return proc.stdout


def raw_decision(log: str, outcome: str) -> str:
    """The first pr.decision line of that outcome, exactly as the sweeper logged it."""
    return next(
        line
        for line in log.splitlines()
        if '"pr.decision"' in line and json.loads(line).get("outcome") == outcome
    )


def report(log: str) -> None:
    """`foreman-pr-sweeper report`, as an operator reads a run's log."""
    proc = subprocess.run(
        [*sweeper_command(), "report"], input=log, capture_output=True, text=True, check=True
    )
    print("    " + proc.stdout.rstrip().replace("\n", "\n    "))


def main() -> int:
    with (
        KubeStandIn() as kube,
        GitHubStandIn(token=TOKEN) as github,
        tempfile.TemporaryDirectory() as tmp,
    ):
        seed(kube, github)
        env = dict(os.environ)
        env.update(
            KUBECONFIG=str(kube.write_kubeconfig(Path(tmp) / "kubeconfig")),
            GITHUB_TOKEN=TOKEN,
            GITHUB_API_URL=github.url,
            SWEEPER_LOCK_NAMESPACE="foreman-pr-sweeper",
            SWEEPER_WRITE_INTERVAL="0",
        )
        env.pop("KUBERNETES_SERVICE_HOST", None)
        print(f"Kubernetes stand-in {kube.url}, GitHub stand-in {github.url}\n")
        print("1) foreman-pr-sweeper --dry-run   (decides and reports, writes nothing)")
        sweep(env, "--dry-run")
        print("\n2) foreman-pr-sweeper             (opens the missing PRs)")
        log = sweep(env)
        print("\n   One of its lines as the sweeper writes it (one JSON object per line):\n")
        print("    " + raw_decision(log, "opened"))
        print("\n   Its log, read by `foreman-pr-sweeper report`:\n")
        report(log)
        print("\n3) foreman-pr-sweeper             (again: nothing left to do)")
        sweep(env)
        print(
            "\n4) foreman-pr-sweeper --draft-on-request-changes --reviewer alice --label foreman"
            "\n   (a draft for the review that requested changes, review asked of alice)"
        )
        sweep(env, "--draft-on-request-changes", "--reviewer", "alice", "--label", "foreman")
        print("\nPull requests now on the GitHub stand-in:")
        for repo in ("acme/widgets", "acme/gadgets"):
            for pr in github.pulls(repo):
                state = "draft" if pr["draft"] else pr["state"]
                asked = f" (review: {', '.join(pr['requested_reviewers'])})" * bool(
                    pr["requested_reviewers"]
                )
                print(
                    f"  {repo}#{pr['number']} [{state}] {pr['head']['label']} -> "
                    f"{pr['base']['ref']}: {pr['title']}{asked}"
                )
        hostile = next(
            pr for pr in github.pulls("acme/widgets") if pr["head"]["ref"].endswith("issue-102")
        )
        print(
            f"\nBody of {hostile['html_url']}, whose reviewer wrote {HOSTILE!r}: the agent's"
            " closing keyword and @mention are broken (zero-width space), and only the"
            " sweeper's own line closes the issue:\n"
        )
        print("    " + hostile["body"].replace("\n", "\n    "))
        draft = next(pr for pr in github.pulls("acme/gadgets") if pr["draft"])
        print(f"\nBody of the draft {draft['html_url']}:\n")
        print("    " + draft["body"].replace("\n", "\n    "))
        wl = kube.get("workloads", "team-a", "nightly-fixes") or {}
        print("\nAnnotation on team-a/nightly-fixes:")
        print(
            "  "
            + json.dumps(json.loads(wl["metadata"]["annotations"][RECORDS]), indent=2).replace(
                "\n", "\n  "
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
