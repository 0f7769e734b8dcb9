"""Benchmark: API calls, GraphQL points, wall time and peak memory of real sweeps.

Not a test: it prints a table. Run from the repository root after installing:

    .venv/bin/python bench/run.py                  # every scenario
    .venv/bin/python bench/run.py --steady 0 --backfill 0 --historical 5000 --missing 200

Scenarios (the sweeper runs as a subprocess against the stand-ins, as in production):
  steady      N Workloads, all recorded and settled: the every-15-minutes steady state.
  backfill    M missing PRs over R repositories (pacing 0), then the run after it.
  first run   H historical Workloads whose PRs exist (90 % merged with the branch deleted,
              10 % open) and no sweeper annotation, plus K missing, over F repositories:
              the first run on a long-lived cluster (pacing 0, --max-create 1000).
  hostile     W Completed Workloads of I issues each (valid for the CRD, which sets no
              maxItems: 150,000 issues are about 1 MiB of JSON), next to a few ordinary
              ones: the sweeper's peak memory must stay under 200 MB whatever their size.
Latency is injected into both stand-ins so that call counts, not CPU, dominate. GitHub
requests are REST requests plus GraphQL queries; points are what GitHub charges the
GraphQL bucket, priced by the stand-in with GitHub's rule.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from sweeper.model import SETTLED_ANNOTATION, fingerprint  # noqa: E402
from sweeper.records import RECORD_ANNOTATION  # noqa: E402
from tests.fixtures.foreman import issue_pipeline, sha, workload  # noqa: E402
from tests.standins.github import GitHubStandIn  # noqa: E402
from tests.standins.kube import KubeStandIn  # noqa: E402

TOKEN = "bench-token"


def seed_steady(kube: KubeStandIn, count: int) -> None:
    for i in range(count):
        name = f"wl-{i:05d}"
        obj = workload(name, f"team-{i % 10}", issues=[1])
        obj["metadata"]["generation"] = 1
        branch = f"foreman/{name}/issue-1"
        record = {
            branch: {
                "repo": "acme/widgets",
                "url": f"https://github.example/acme/widgets/pull/{i + 1}",
                "number": i + 1,
                "sha": sha(name),
                "outcome": "opened",
                "reason": "missing-pr",
            }
        }
        obj["metadata"]["annotations"] = {
            RECORD_ANNOTATION: json.dumps(record),
            SETTLED_ANNOTATION: fingerprint(obj),
        }
        kube.seed(obj)


def seed_backfill(kube: KubeStandIn, github: GitHubStandIn, prs: int, repos: int) -> None:
    names = [f"acme/repo-{r:02d}" for r in range(repos)]
    for repo in names:
        github.add_repo(repo)
    for i in range(prs):
        repo = names[i % repos]
        name = f"wl-{i:05d}"
        commit = github.push(repo, f"foreman/{name}/issue-1", message=f"Fix issue 1 of {name}")
        ns = f"team-{i % 10}"
        kube.seed(workload(name, ns, repo=repo, issues=[1]))
        for t in issue_pipeline(name, 1, namespace=ns, repo=repo, commit_sha=commit):
            kube.seed(t)


def seed_long_lived(
    kube: KubeStandIn, github: GitHubStandIn, historical: int, missing: int, repos: int
) -> None:
    """History first (older completions), then the Workloads whose PR went missing."""
    names = [f"acme/repo-{r:02d}" for r in range(repos)]
    for repo in names:
        github.add_repo(repo)
    for i in range(historical + missing):
        repo, name, ns = names[i % repos], f"wl-{i:05d}", f"team-{i % 10}"
        branch = f"foreman/{name}/issue-1"
        commit = github.push(repo, branch, message=f"Fix issue 1 of {name}")
        if i < historical:
            merged = i % 10 != 0
            github.add_pull(repo, f"acme:{branch}", merged=merged, title=f"Fix {name}")
            if merged:
                github.delete_branch(repo, branch)
        stamp = f"2026-{1 + i * 10 // (historical + missing):02d}-15T10:00:00Z"
        kube.seed(workload(name, ns, repo=repo, issues=[1], completed_at=stamp))
        for t in issue_pipeline(name, 1, namespace=ns, repo=repo, commit_sha=commit):
            kube.seed(t)


def seed_hostile(kube: KubeStandIn, github: GitHubStandIn, count: int, issues: int) -> None:
    """`count` huge Workloads of one tenant, and three ordinary ones whose PRs must open."""
    github.add_repo("acme/widgets")
    for i in range(count):
        kube.seed(workload(f"huge-{i:03d}", "tenant-a", issues=list(range(1, issues + 1))))
    for i in range(3):
        name = f"ok-{i}"
        commit = github.push("acme/widgets", f"foreman/{name}/issue-1", message="Fix it")
        kube.seed(workload(name, "team-b", issues=[1]))
        for t in issue_pipeline(name, 1, namespace="team-b", commit_sha=commit):
            kube.seed(t)


def sweep(kube: KubeStandIn, github: GitHubStandIn, tmp: Path, *args: str) -> dict[str, Any]:
    env = dict(os.environ)
    env.update(
        KUBECONFIG=str(kube.write_kubeconfig(tmp / "kubeconfig")),
        GITHUB_TOKEN=TOKEN,
        GITHUB_API_URL=github.url,
        SWEEPER_LOCK_NAMESPACE="bench",
        PYTHONPATH=str(REPO_ROOT),
    )
    env.pop("KUBERNETES_SERVICE_HOST", None)
    kube.reset_calls()
    github.reset_calls()
    points_before = github.graphql.used_points
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE, "--log-format", "json", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate()
    wall = time.monotonic() - started
    rss_mb = _peak_rss_mb(err)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    finished = next(line for line in reversed(lines) if line["event"] == "sweep.finished")
    if proc.returncode != 0:
        print(err, file=sys.stderr)
    queries = len(github.queries)
    rest_writes = len(github.writes)
    kube_reads = sum(1 for c in kube.calls if c.verb in ("get", "list"))
    return {
        "exit": proc.returncode,
        "wall_s": wall,
        "rss_mb": rss_mb,
        "kube_reads": kube_reads,
        "kube_writes": len(kube.calls) - kube_reads,
        "rest_reads": len(github.calls) - queries - rest_writes,
        "rest_writes": rest_writes,
        "gql_queries": queries,
        "gql_points": github.graphql.used_points - points_before,
        "counts": finished["counts"],
        "workloads": finished["workloads"],
    }


# The sweeper's own peak: VmHWM of its process image after exec. (ru_maxrss from wait4
# would also count the pages the child shared with this big benchmark process before exec.)
PROBE = """
import atexit, runpy, sys
def report():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    sys.stderr.write(f"bench-peak-rss-kb {peak}\\n")
atexit.register(report)
sys.argv = ["foreman-pr-sweeper", *sys.argv[1:]]
runpy.run_module("sweeper", run_name="__main__")
"""


def _peak_rss_mb(stderr: str) -> float:
    for line in stderr.splitlines():
        if line.startswith("bench-peak-rss-kb "):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--steady", type=int, default=10_000, help="recorded Workloads (0 to skip)")
    p.add_argument("--backfill", type=int, default=1_000, help="missing PRs (0 to skip)")
    p.add_argument("--repos", type=int, default=20, help="repositories of the backfill")
    p.add_argument("--historical", type=int, default=5_000, help="first run: PRs that exist")
    p.add_argument("--missing", type=int, default=200, help="first run: PRs missing")
    p.add_argument("--first-repos", type=int, default=10, help="repositories of the first run")
    p.add_argument("--hostile", type=int, default=30, help="huge Workloads (0 to skip)")
    p.add_argument("--hostile-issues", type=int, default=150_000, help="issues of each")
    p.add_argument("--kube-latency-ms", type=float, default=2.0)
    p.add_argument("--github-latency-ms", type=float, default=5.0)
    args = p.parse_args()
    rows: list[tuple[str, dict[str, Any]]] = []
    fast = ("--write-interval", "0", "--max-create", "1000")

    def stand_ins() -> tuple[KubeStandIn, GitHubStandIn]:
        return (
            KubeStandIn(latency_s=args.kube_latency_ms / 1000),
            GitHubStandIn(token=TOKEN, latency_s=args.github_latency_ms / 1000),
        )

    with tempfile.TemporaryDirectory() as tmp:
        if args.steady:
            kube, github = stand_ins()
            with kube, github:
                seed_steady(kube, args.steady)
                label = f"steady: {args.steady} recorded Workloads"
                rows.append((label, sweep(kube, github, Path(tmp))))
        if args.backfill:
            kube, github = stand_ins()
            with kube, github:
                seed_backfill(kube, github, args.backfill, args.repos)
                label = f"backfill: {args.backfill} missing PRs over {args.repos} repos"
                rows.append((label, sweep(kube, github, Path(tmp), *fast)))
                rows.append(("backfill, the run after it", sweep(kube, github, Path(tmp))))
        if args.historical or args.missing:
            kube, github = stand_ins()
            with kube, github:
                seed_long_lived(kube, github, args.historical, args.missing, args.first_repos)
                label = (
                    f"first run: {args.historical} historical + {args.missing} missing "
                    f"over {args.first_repos} repos"
                )
                rows.append((label, sweep(kube, github, Path(tmp), *fast)))
                rows.append(("first run, the run after it", sweep(kube, github, Path(tmp))))
        if args.hostile:
            kube, github = stand_ins()
            with kube, github:
                seed_hostile(kube, github, args.hostile, args.hostile_issues)
                label = f"hostile: {args.hostile} Workloads of {args.hostile_issues} issues + 3"
                rows.append((label, sweep(kube, github, Path(tmp), *fast)))
    print(
        f"latency injected per request: kubernetes {args.kube_latency_ms} ms, "
        f"github {args.github_latency_ms} ms\n"
    )
    header = (
        "scenario",
        "exit",
        "k8s reads",
        "k8s writes",
        "REST reads",
        "REST writes",
        "GraphQL queries",
        "GraphQL points",
        "GitHub requests/PR",
        "wall s",
        "peak RSS MB",
    )
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for label, r in rows:
        opened = r["counts"].get("opened", 0)
        requests = r["rest_reads"] + r["rest_writes"] + r["gql_queries"]
        per_pr = f"{requests / opened:.3f}" if opened else "-"
        cells = (
            label,
            r["exit"],
            r["kube_reads"],
            r["kube_writes"],
            r["rest_reads"],
            r["rest_writes"],
            r["gql_queries"],
            r["gql_points"],
            per_pr,
            f"{r['wall_s']:.2f}",
            f"{r['rss_mb']:.0f}",
        )
        print(" | ".join(str(x) for x in cells))
        print(f"    counts {r['counts']} workloads {r['workloads']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
