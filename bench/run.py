"""Benchmark: API calls, wall time and peak memory of real sweeps against the stand-ins.

Not a test: it prints a table. Run from the repository root after installing:

    .venv/bin/python bench/run.py                 # both scenarios
    .venv/bin/python bench/run.py --steady 10000 --backfill 1000 --repos 20

Scenarios (the sweeper runs as a subprocess, exactly as in production):
  steady    N Workloads, all recorded and settled: the every-15-minutes steady state.
  backfill  M missing PRs over R repositories, pacing set to 0 for the measurement.
Latency is injected into both stand-ins so that call counts, not CPU, dominate.
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

from sweeper.model import RECORD_ANNOTATION, SETTLED_ANNOTATION, fingerprint  # noqa: E402
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
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sweeper", "--log-format", "json", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate()
    wall = time.monotonic() - started
    rss_mb = _peak_rss_mb(proc)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    finished = next(line for line in reversed(lines) if line["event"] == "sweep.finished")
    if proc.returncode != 0:
        print(err, file=sys.stderr)
    gh_writes = sum(1 for c in github.calls if c.method != "GET")
    return {
        "exit": proc.returncode,
        "wall_s": wall,
        "rss_mb": rss_mb,
        "kube_calls": len(kube.calls),
        "gh_reads": len(github.calls) - gh_writes,
        "gh_writes": gh_writes,
        "counts": finished["counts"],
        "workloads": finished["workloads"],
    }


_RSS: dict[int, float] = {}


def _peak_rss_mb(proc: subprocess.Popen[str]) -> float:
    return _RSS.get(proc.pid, float("nan"))


def _install_rss_probe() -> None:
    """Popen reaps its child with waitpid; wrap it with wait4 to keep the child's peak RSS."""
    original = os.waitpid

    def waitpid(pid: int, options: int) -> tuple[int, int]:
        if pid > 0 and options == 0:
            got, status, usage = os.wait4(pid, 0)
            _RSS[got] = usage.ru_maxrss / 1024
            return got, status
        return original(pid, options)

    os.waitpid = waitpid  # type: ignore[assignment]


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--steady", type=int, default=10_000, help="recorded Workloads (0 to skip)")
    p.add_argument("--backfill", type=int, default=1_000, help="missing PRs (0 to skip)")
    p.add_argument("--repos", type=int, default=20)
    p.add_argument("--kube-latency-ms", type=float, default=2.0)
    p.add_argument("--github-latency-ms", type=float, default=5.0)
    args = p.parse_args()
    _install_rss_probe()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.steady:
            with (
                KubeStandIn(latency_s=args.kube_latency_ms / 1000) as kube,
                GitHubStandIn(token=TOKEN, latency_s=args.github_latency_ms / 1000) as github,
            ):
                seed_steady(kube, args.steady)
                rows.append(
                    (f"steady: {args.steady} recorded Workloads", 0, sweep(kube, github, Path(tmp)))
                )
        if args.backfill:
            with (
                KubeStandIn(latency_s=args.kube_latency_ms / 1000) as kube,
                GitHubStandIn(token=TOKEN, latency_s=args.github_latency_ms / 1000) as github,
            ):
                seed_backfill(kube, github, args.backfill, args.repos)
                result = sweep(
                    kube,
                    github,
                    Path(tmp),
                    "--write-interval",
                    "0",
                    "--max-create",
                    str(args.backfill),
                )
                rows.append(
                    (f"backfill: {args.backfill} PRs over {args.repos} repos", args.repos, result)
                )
                rows.append(("backfill, second run", 0, sweep(kube, github, Path(tmp))))
    print(
        f"latency injected per request: kubernetes {args.kube_latency_ms} ms, "
        f"github {args.github_latency_ms} ms\n"
    )
    header = (
        "scenario",
        "exit",
        "k8s calls",
        "gh reads",
        "gh writes",
        "gh/PR",
        "wall s",
        "peak RSS MB",
    )
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for label, _repos, r in rows:
        opened = r["counts"].get("opened", 0)
        per_pr = f"{(r['gh_reads'] + r['gh_writes']) / opened:.2f}" if opened else "-"
        print(
            " | ".join(
                str(x)
                for x in (
                    label,
                    r["exit"],
                    r["kube_calls"],
                    r["gh_reads"],
                    r["gh_writes"],
                    per_pr,
                    f"{r['wall_s']:.2f}",
                    f"{r['rss_mb']:.0f}",
                )
            )
        )
        print(f"    counts {r['counts']} workloads {r['workloads']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
