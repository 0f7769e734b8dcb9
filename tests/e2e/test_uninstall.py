"""The README's uninstall, run verbatim with the real kubectl against the Kubernetes
stand-in: what the sweeper leaves behind in the cluster is gone afterwards."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.e2e.harness import RECORDS, SETTLED, World, readme_block
from tests.real.tools import kubectl_or_skip

SKIP = "pr-sweeper.foreman.llmkube.dev/skip"


def test_the_readmes_uninstall_removes_annotations_events_lease_and_secret(world: World) -> None:
    """After a real run, the uninstall block leaves no sweeper annotation on any Workload,
    no Event from the sweeper, and no Lease or Secret in its namespace."""
    kubectl_or_skip()
    world.simple("wl", issues=[1], namespace="team-a")
    world.simple("other", issues=[2], namespace="team-b")
    assert world.sweep().code == 0
    annotated = world.workload("wl", "team-a")["metadata"]["annotations"]
    assert RECORDS in annotated and SETTLED in annotated
    assert [e["reason"] for e in world.events("team-a")] == ["PullRequestOpened"]
    world.kube.seed(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "foreman-pr-sweeper"}}
    )
    for kind, extra in (
        ("Lease", {"apiVersion": "coordination.k8s.io/v1", "spec": {"holderIdentity": "x"}}),
        ("Secret", {"apiVersion": "v1", "data": {"token": "dG9rZW4="}}),
    ):
        name = "foreman-pr-sweeper" if kind == "Lease" else "foreman-pr-sweeper-github"
        meta = {"name": name, "namespace": "foreman-pr-sweeper"}
        world.kube.seed({"kind": kind, "metadata": meta, **extra})
    home = Path(world.tmp)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_block("uninstall")],
        env={"PATH": os.environ["PATH"], "HOME": str(home), "KUBECONFIG": str(world.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for name, namespace in (("wl", "team-a"), ("other", "team-b")):
        left = world.workload(name, namespace)["metadata"].get("annotations") or {}
        assert not {RECORDS, SETTLED, SKIP} & set(left), left
    assert world.events("team-a") == [] and world.events("team-b") == []
    assert (
        world.kube.get("leases", "foreman-pr-sweeper", "foreman-pr-sweeper", "coordination.k8s.io")
        is None
    )
    assert world.kube.get("secrets", "foreman-pr-sweeper", "foreman-pr-sweeper-github", "") is None
