"""The README's runbook, executed: install, check, the dry-run backfill and the real
backfill, each block extracted from the README and run verbatim by bash with the real
kubectl and jq against the Kubernetes stand-in, whose Job runner starts each created Job's
container (the sweeper, as the image's entrypoint) as a local process against the GitHub
stand-in.

A runbook step that no longer works fails here, and so does a report that no longer says
what the runbook promises. Before the install, the operator sets what the README asks of
them: the image's registry and the repository allowlist; deploy/ as shipped refuses to
sweep at all."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sweeper.settings import ALLOW_REPOS_PLACEHOLDER
from tests.e2e.harness import RECORDS, REPO_ROOT, TOKEN, World, readme_block
from tests.fixtures.foreman import workload
from tests.real.tools import jq_or_skip, kubectl_or_skip
from tests.standins.github import GitHubStandIn
from tests.standins.jobs import JobRunner
from tests.standins.kube import KubeStandIn

pytestmark = pytest.mark.e2e
NS = "foreman-pr-sweeper"
# deploy/'s neutral image name, and where the README's operator pushed the image; the
# image's ENTRYPOINT is foreman-pr-sweeper.
SHIPPED_IMAGE = "foreman-pr-sweeper"
IMAGE = "registry.example.com/platform/foreman-pr-sweeper"
ALLOW_REPOS = "acme/widgets"
BATCH = "batch"


@dataclass
class Ops:
    """An operator's shell: a working directory with `deploy/` and the token file."""

    world: World
    home: Path

    def run(self, marker: str) -> subprocess.CompletedProcess[str]:
        block = readme_block(marker)
        bin_dir = str(Path(sys.executable).parent)  # where `foreman-pr-sweeper` is installed
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=self.home,
            env={
                "PATH": f"{bin_dir}:{os.environ['PATH']}",
                "HOME": str(self.home),
                "KUBECONFIG": str(self.world.kubeconfig),
            },
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"runbook {marker} failed:\n{done.stdout}\n{done.stderr}"
        return done

    def configure(self) -> None:
        """The README's two required settings, done as an operator edits deploy/: the image
        pushed (images: newName) and the allowlist (SWEEPER_ALLOW_REPOS)."""
        kustomization = self.home / "deploy" / "kustomization.yaml"
        text = kustomization.read_text()
        shipped = "  - name: foreman-pr-sweeper\n    newTag: 0.1.0\n"
        assert shipped in text
        mapped = f"  - name: foreman-pr-sweeper\n    newName: {IMAGE}\n    newTag: 0.1.0\n"
        kustomization.write_text(text.replace(shipped, mapped))
        cronjob = self.home / "deploy" / "cronjob.yaml"
        text = cronjob.read_text()
        assert text.count(ALLOW_REPOS_PLACEHOLDER) == 1
        cronjob.write_text(text.replace(ALLOW_REPOS_PLACEHOLDER, ALLOW_REPOS))

    def suspended(self) -> bool:
        cronjob = self.world.kube.get("cronjobs", NS, "foreman-pr-sweeper", group=BATCH)
        assert cronjob is not None
        suspend: bool = cronjob["spec"]["suspend"]
        return suspend


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[Ops]:
    kubectl_or_skip()
    jq_or_skip()
    home = tmp_path / "ops"
    home.mkdir()
    shutil.copytree(REPO_ROOT / "deploy", home / "deploy")
    (home / "github-token").write_text(TOKEN + "\n")
    with KubeStandIn() as kube, GitHubStandIn(token=TOKEN, validate=True) as github:
        world = World(kube, github, tmp_path)
        pod_kubeconfig = kube.write_kubeconfig(tmp_path / "in-cluster-kubeconfig")
        JobRunner(
            kube,
            {
                IMAGE: [sys.executable, "-m", "sweeper"],
                SHIPPED_IMAGE: [sys.executable, "-m", "sweeper"],
            },
            # What the pod's cluster provides: API access, and the way to (stand-in) GitHub.
            env={
                "KUBECONFIG": str(pod_kubeconfig),
                "GITHUB_API_URL": github.url,
                "PATH": os.environ["PATH"],
                "PYTHONPATH": str(REPO_ROOT),
            },
            backoff_s=1.0,
            workdir=tmp_path,
        )
        yield Ops(world, home)
        assert github.violations == [], "\n".join(github.violations)


def seed_history(world: World) -> None:
    """Two reviewed branches nobody opened, and one whose PR Foreman did open."""
    world.simple("nightly-fixes", issues=[101, 102], namespace="team-a")
    tasks, _ = world.add_issue("docs-pass", 7, namespace="team-a")
    world.seed(workload("docs-pass", "team-a", issues=[7]), tasks)
    world.github.add_pull("acme/widgets", "acme:foreman/docs-pass/issue-7", title="docs: pass")


def test_the_runbook_runs_verbatim(ops: Ops) -> None:
    """Install, dry run, real backfill and go-live, each block verbatim: the CronJob is
    suspended from the install on, and live only after the last step."""
    world = ops.world
    seed_history(world)

    ops.configure()
    ops.run("install")
    assert ops.suspended() is True
    cronjob = world.kube.get("cronjobs", NS, "foreman-pr-sweeper", group=BATCH)
    assert cronjob is not None
    [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{IMAGE}:0.1.0"
    secret = world.kube.get("secrets", NS, "foreman-pr-sweeper-github", group="")
    assert secret is not None and "token" in secret["data"]

    checked = ops.run("check").stdout
    assert re.search(r"^rbac workloads +ok +get, list, patch cluster-wide$", checked, re.M)
    assert re.search(
        rf"^lease +ok +{NS}/foreman-pr-sweeper: get, update, create granted", checked, re.M
    )
    assert re.search(rf"^allowlist +ok +{ALLOW_REPOS}$", checked, re.M)
    assert checked.rstrip().endswith("a real run would work (exit 0)"), checked
    job = world.kube.get("jobs", NS, "check", group=BATCH)
    assert job is not None
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "check" and "--github-token-file=/var/run/secrets/github/token" in args
    assert [p["head"]["ref"] for p in world.pulls()] == ["foreman/docs-pass/issue-7"]
    assert world.kube.list("leases", group="coordination.k8s.io") == []  # check wrote nothing
    assert ops.suspended() is True

    dry = ops.run("first-backfill")
    plan = dry.stdout
    assert "dry run" in plan and "RUN 1 of 1: finished, exit 0" in plan
    assert "would-open" in plan and "foreman/nightly-fixes/issue-101" in plan
    assert "foreman/nightly-fixes/issue-102" in plan
    assert [p["head"]["ref"] for p in world.pulls()] == ["foreman/docs-pass/issue-7"]
    annotations = world.workload("nightly-fixes", "team-a")["metadata"].get("annotations") or {}
    assert RECORDS not in annotations  # a dry run writes nothing
    job = world.kube.get("jobs", NS, "backfill-dry", group=BATCH)
    assert job is not None
    assert "--dry-run" in job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert (ops.home / "plan.jsonl").read_text().count('"event": "pr.decision"') == 3
    assert ops.suspended() is True

    real = ops.run("real-backfill")
    report = real.stdout
    assert "RUN 1 of 1: finished, exit 0" in report and "real run" in report
    opened = {p["head"]["ref"]: p["html_url"] for p in world.pulls()}
    assert set(opened) == {
        "foreman/nightly-fixes/issue-101",
        "foreman/nightly-fixes/issue-102",
        "foreman/docs-pass/issue-7",
    }
    for url in opened.values():
        assert url in report  # every PR opened or adopted, with its URL
    assert "2 opened" in report and "1 adopted" in report
    markdown = (ops.home / "backfill-1.md").read_text()
    assert markdown.startswith("# foreman-pr-sweeper report")
    assert opened["foreman/nightly-fixes/issue-101"] in markdown
    records = world.records("nightly-fixes", "team-a")
    assert set(records) == {"foreman/nightly-fixes/issue-101", "foreman/nightly-fixes/issue-102"}
    job = world.kube.get("jobs", NS, "backfill-1", group=BATCH)
    assert job is not None
    assert any(c["type"] == "Complete" for c in job["status"]["conditions"])
    assert ops.suspended() is True  # still: going live is its own, last, step

    ops.run("go-live")
    assert ops.suspended() is False


def test_the_runbooks_check_names_a_missing_permission(ops: Ops) -> None:
    """The check step, verbatim, with patch on Workloads taken from the sweeper: its table
    names exactly that, its verdict is exit 1 (the Job fails), and it wrote nothing."""
    world = ops.world
    seed_history(world)
    ops.configure()
    ops.run("install")
    world.kube.deny("patch", "workloads.foreman.llmkube.dev")
    checked = ops.run("check").stdout
    assert re.search(
        r"^rbac workloads +fail +cannot patch workloads.foreman.llmkube.dev cluster-wide$",
        checked,
        re.M,
    ), checked
    assert checked.rstrip().endswith("a real run would not work (exit 1)"), checked
    pods = [
        p
        for p in world.kube.list("pods", NS, group="")
        if p["metadata"]["labels"].get("job-name") == "check"
    ]
    assert [
        p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] for p in pods
    ] == [1]
    assert [p["head"]["ref"] for p in world.pulls()] == ["foreman/docs-pass/issue-7"]
    assert world.kube.list("leases", group="coordination.k8s.io") == []
    assert RECORDS not in (
        world.workload("nightly-fixes", "team-a")["metadata"].get("annotations") or {}
    )


def test_deploy_as_shipped_refuses_to_sweep_naming_the_allowlist(ops: Ops) -> None:
    """deploy/ applied without setting the allowlist: a Job from its CronJob, env as is,
    exits 2 with one sweep.config_error line that says where to set SWEEPER_ALLOW_REPOS,
    and nothing is read or written."""
    world = ops.world
    seed_history(world)
    ops.run("install")
    assert ops.suspended() is True
    done = subprocess.run(
        [
            "bash",
            "-euo",
            "pipefail",
            "-c",
            f"kubectl -n {NS} create job --from=cronjob/foreman-pr-sweeper as-shipped\n"
            f"kubectl -n {NS} wait --for=condition=failed --timeout=2m job/as-shipped\n"
            f"kubectl -n {NS} logs job/as-shipped",
        ],
        cwd=ops.home,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(ops.home),
            "KUBECONFIG": str(world.kubeconfig),
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    log = [line for line in done.stdout.splitlines() if line.startswith("{")]
    [line] = [json.loads(raw) for raw in log]
    assert line["event"] == "sweep.config_error" and line["level"] == "error"
    assert "SWEEPER_ALLOW_REPOS still holds deploy/'s placeholder" in line["detail"]
    assert "deploy/cronjob.yaml" in line["detail"]
    pods = [
        p
        for p in world.kube.list("pods", NS, group="")
        if p["metadata"]["labels"].get("job-name") == "as-shipped"
    ]
    assert pods and all(
        p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 2 for p in pods
    )
    assert [p["head"]["ref"] for p in world.pulls()] == ["foreman/docs-pass/issue-7"]
    annotations = world.workload("nightly-fixes", "team-a")["metadata"].get("annotations") or {}
    assert RECORDS not in annotations
