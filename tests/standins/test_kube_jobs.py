"""The README's runbook, run with the real kubectl against the Kubernetes stand-in and its
Job runner: install, the dry-run backfill (create job --dry-run=client | jq | apply), wait,
logs and logs -f, pause and resume, a second apply; and the runner's Job semantics (retries
then Failed, the deadline, a missing Secret, refusals), watch and strategic merge.

The container is a trivial Python program standing in for the image: it prints its args,
some of its environment and the mounted token file, and exits as told."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.real.tools import jq_or_skip, kubectl_or_skip
from tests.standins import kube as kube_module
from tests.standins.jobs import Image, JobRunner, expand, image_name
from tests.standins.kube import KubeStandIn, decode_protobuf, strategic_merge

REPO_ROOT = Path(__file__).resolve().parents[2]
NS = "foreman-pr-sweeper"
IMAGE = "foreman-pr-sweeper"  # deploy/'s neutral image name, as kustomize renders it
TOKEN = "ghp_standin_token"
ADMISSION = kube_module.ADMISSION
PROGRAM = r"""
import os, sys, time
print("args:", " ".join(sys.argv[1:]), flush=True)
for name in sorted(os.environ):
    if name.startswith(("SWEEPER_", "SHOW_")) or name == "HOSTNAME":
        print(f"env {name}={os.environ[name]}", flush=True)
for arg in sys.argv[1:]:
    if arg.startswith("--github-token-file="):
        path = arg.split("=", 1)[1]
        mode = oct(os.stat(path).st_mode & 0o777)
        print("token:", open(path).read().strip(), mode, flush=True)
time.sleep(float(os.environ.get("SHOW_SLEEP", "0")))
print("stderr too", file=sys.stderr, flush=True)
sys.exit(int(os.environ.get("SHOW_EXIT", "0")))
"""

INSTALL = """
kubectl create namespace foreman-pr-sweeper
kubectl -n foreman-pr-sweeper create secret generic foreman-pr-sweeper-github --from-file=token=./github-token
kubectl apply -k deploy/
"""  # noqa: E501 - verbatim from the README
DRY_RUN = """
kubectl -n foreman-pr-sweeper create job --from=cronjob/foreman-pr-sweeper backfill-dry --dry-run=client -o json \\
  | jq '.spec.template.spec.containers[0].args += ["--dry-run"]' \\
  | kubectl apply -f -
kubectl -n foreman-pr-sweeper wait --for=condition=complete --timeout=15m job/backfill-dry
kubectl -n foreman-pr-sweeper logs job/backfill-dry > plan.jsonl
"""  # noqa: E501
BACKFILL = """
kubectl -n foreman-pr-sweeper create job --from=cronjob/foreman-pr-sweeper backfill-1
kubectl -n foreman-pr-sweeper logs -f job/backfill-1 | cat
kubectl -n foreman-pr-sweeper wait --for=condition=complete --timeout=15m job/backfill-1
kubectl -n foreman-pr-sweeper patch cronjob foreman-pr-sweeper -p '{"spec":{"suspend":false}}'
"""


@dataclass
class Cluster:
    kube: KubeStandIn
    runner: JobRunner
    home: Path
    kubeconfig: Path

    def sh(
        self, script: str, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """script in bash -euo pipefail, in the home directory (deploy/ and ./github-token)."""
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=self.home,
            env={
                "PATH": os.environ["PATH"],
                "HOME": str(self.home),
                "KUBECONFIG": str(self.kubeconfig),
            },
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"
        return done

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.sh(f"kubectl {' '.join(args)} -o json").stdout)

    def job(self, name: str, namespace: str = NS) -> dict[str, Any]:
        found = self.kube.get("jobs", namespace, name, group="batch")
        assert found is not None
        return found

    def pods(self, job: str, namespace: str = NS) -> list[dict[str, Any]]:
        pods = self.kube.list("pods", namespace, group="")
        return [p for p in pods if p["metadata"]["labels"].get("job-name") == job]

    def apply(
        self, manifest: dict[str, Any], check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        path = self.home / f"{manifest['metadata']['name']}.json"
        path.write_text(json.dumps(manifest))
        return self.sh(f"kubectl apply -f {path.name}", check=check)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    kubectl_or_skip()
    jq_or_skip()
    home = tmp_path / "home"
    home.mkdir()
    shutil.copytree(REPO_ROOT / "deploy", home / "deploy")
    (home / "github-token").write_text(TOKEN + "\n")
    with KubeStandIn() as kube:
        images = {
            IMAGE: [sys.executable, "-c", PROGRAM],
            "example.test/tool": Image(
                (sys.executable, "-c", PROGRAM), cmd=("from-cmd",), env={"SHOW_IMAGE_ENV": "1"}
            ),
        }
        runner = JobRunner(kube, images, env={"PATH": os.environ["PATH"]}, backoff_s=1.0)
        yield Cluster(kube, runner, home, kube.write_kubeconfig(tmp_path / "kubeconfig"))


def installed(cluster: Cluster) -> None:
    out = cluster.sh(INSTALL).stdout
    assert "cronjob.batch/foreman-pr-sweeper created" in out


def job_manifest(name: str, env: dict[str, str], **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "tool",
        "image": "example.test/tool:1.0",
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    container.update(spec.pop("container", {}))
    pod: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    pod.update(spec.pop("pod", {}))
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"backoffLimit": 0, **spec, "template": {"spec": pod}},
    }


# ---------------------------------------------------------------- the runbook, verbatim


def test_install(cluster: Cluster) -> None:
    """Namespace, Secret (protobuf bodies) and `apply -k` (validated through OpenAPI v3)
    create what a real server would store, the CronJob suspended as deploy/ ships it."""
    out = cluster.sh(INSTALL).stdout.splitlines()
    assert out == [
        "namespace/foreman-pr-sweeper created",
        "secret/foreman-pr-sweeper-github created",
        "serviceaccount/foreman-pr-sweeper created",
        "role.rbac.authorization.k8s.io/foreman-pr-sweeper-lock created",
        "clusterrole.rbac.authorization.k8s.io/foreman-pr-sweeper created",
        "rolebinding.rbac.authorization.k8s.io/foreman-pr-sweeper-lock created",
        "clusterrolebinding.rbac.authorization.k8s.io/foreman-pr-sweeper created",
        "cronjob.batch/foreman-pr-sweeper created",
        f"validatingadmissionpolicy.{ADMISSION}/foreman-pr-sweeper-workloads created",
        f"validatingadmissionpolicybinding.{ADMISSION}/foreman-pr-sweeper-workloads created",
    ]
    kube = cluster.kube
    namespace = kube.get("namespaces", "", NS, group="")
    assert namespace and namespace["status"] == {"phase": "Active"}
    assert namespace["metadata"]["labels"] == {"kubernetes.io/metadata.name": NS}
    secret = kube.get("secrets", NS, "foreman-pr-sweeper-github", group="")
    assert secret and secret["type"] == "Opaque"
    assert json.dumps(secret["data"]) == json.dumps({"token": "Z2hwX3N0YW5kaW5fdG9rZW4K"})
    binding = kube.get("clusterrolebindings", "", "foreman-pr-sweeper", group=kube_module.RBAC)
    assert binding and binding["subjects"][0]["namespace"] == NS
    assert "namespace" not in binding["metadata"]
    assert kube.get("roles", NS, "foreman-pr-sweeper-lock", group=kube_module.RBAC)
    assert kube.get("serviceaccounts", NS, "foreman-pr-sweeper", group="")
    cronjob = kube.get("cronjobs", NS, "foreman-pr-sweeper", group="batch")
    assert cronjob and cronjob["spec"]["suspend"] is True and cronjob["metadata"]["generation"] == 1
    policy = kube.get(
        "validatingadmissionpolicies",
        "",
        "foreman-pr-sweeper-workloads",
        group=kube_module.ADMISSION,
    )
    assert policy and "namespace" not in policy["metadata"]  # cluster-scoped, kustomize's aside
    assert "kubectl.kubernetes.io/last-applied-configuration" in cronjob["metadata"]["annotations"]
    assert kube.list("jobs", group="batch") == []  # the schedule never fires
    names = cluster.sh("kubectl get namespaces -o name").stdout.split()
    assert f"namespace/{NS}" in names and "namespace/default" in names


def test_dry_run_backfill_wait_and_logs(cluster: Cluster) -> None:
    """create job --dry-run=client -o json | jq | kubectl apply -f -, wait, logs: the plan is
    the container's output, with --dry-run appended, the env and the mounted token."""
    installed(cluster)
    cluster.sh(DRY_RUN)
    plan = (cluster.home / "plan.jsonl").read_text().splitlines()
    [pod] = cluster.pods("backfill-dry")
    token_path = plan[0].split()[1].split("=", 1)[1]
    assert plan == [
        f"args: --github-token-file={token_path} --log-format=json --dry-run",
        f"env HOSTNAME={pod['metadata']['name']}",
        "env SWEEPER_ALLOW_REPOS=REQUIRED: set OWNER/NAME or OWNER/* (comma-separated)",
        f"env SWEEPER_LOCK_NAMESPACE={NS}",
        f"token: {TOKEN} 0o440",
        "stderr too",
    ]
    assert token_path.endswith("/volumes/github-token/token")
    job = cluster.job("backfill-dry")
    uid = job["metadata"]["uid"]
    job_labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "backfill-dry",
        "controller-uid": uid,
        "job-name": "backfill-dry",
    }
    assert job["metadata"]["labels"] == {"app.kubernetes.io/name": NS, **job_labels}
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    status = job["status"]
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert status["succeeded"] == 1 and "active" not in status and status["completionTime"]
    assert pod["metadata"]["labels"] == {"app.kubernetes.io/name": NS, **job_labels}
    owner = pod["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Job",
        "backfill-dry",
        uid,
        True,
    )
    assert pod["status"]["phase"] == "Succeeded"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")


def test_real_backfill_follows_the_log_then_resumes(cluster: Cluster) -> None:
    """create job, logs -f (streams until the container exits), wait, resume the schedule."""
    installed(cluster)
    cluster.runner.env["SHOW_SLEEP"] = "0.5"
    started = time.monotonic()
    out = cluster.sh(BACKFILL).stdout.splitlines()
    assert time.monotonic() - started >= 0.5
    assert out[0] == "job.batch/backfill-1 created"
    assert out[1].startswith("args: --github-token-file=/") and out[1].endswith("--log-format=json")
    assert out[-3:] == [
        "stderr too",
        "job.batch/backfill-1 condition met",
        "cronjob.batch/foreman-pr-sweeper patched",
    ]
    cronjob = cluster.kube.get("cronjobs", NS, "foreman-pr-sweeper", group="batch")
    assert cronjob and cronjob["spec"]["suspend"] is False


def test_a_second_apply_is_unchanged_and_a_changed_one_patches(cluster: Cluster) -> None:
    """Unchanged objects are left alone; a change is a strategic merge patch with
    $setElementOrder that merges containers and env by name, as a real server does."""
    installed(cluster)
    before = cluster.kube.get("cronjobs", NS, "foreman-pr-sweeper", group="batch")
    out = cluster.sh("kubectl apply -k deploy/").stdout
    assert out.count("unchanged") == 8
    after = cluster.kube.get("cronjobs", NS, "foreman-pr-sweeper", group="batch")
    assert before == after
    manifest = cluster.home / "deploy" / "cronjob.yaml"
    text = manifest.read_text()
    text = text.replace("- --log-format=json", "- --log-format=json\n                - --label=x")
    text = text.replace(
        "              env:\n",
        '              env:\n                - name: SWEEPER_EXTRA\n                  value: "1"\n',
    )
    manifest.write_text(text)
    assert (
        "cronjob.batch/foreman-pr-sweeper configured"
        in cluster.sh("kubectl apply -k deploy/").stdout
    )
    patched = cluster.kube.get("cronjobs", NS, "foreman-pr-sweeper", group="batch")
    assert patched
    container = patched["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][-1] == "--label=x"
    assert [e["name"] for e in container["env"]] == [
        "SWEEPER_EXTRA",
        "SWEEPER_ALLOW_REPOS",
        "SWEEPER_LOCK_NAMESPACE",
    ]
    assert container["env"][2]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert patched["spec"]["suspend"] is True  # as the manifest ships it
    assert patched["metadata"]["generation"] == 2
    manifest.write_text(
        text.replace('                - name: SWEEPER_EXTRA\n                  value: "1"\n', "")
    )
    cluster.sh("kubectl apply -k deploy/")
    final = cluster.kube.get("cronjobs", NS, "foreman-pr-sweeper", group="batch")
    assert final
    env = final["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["SWEEPER_ALLOW_REPOS", "SWEEPER_LOCK_NAMESPACE"]


def test_protobuf_job_is_what_the_client_meant(cluster: Cluster) -> None:
    """`create job --from` sends protobuf: decoded, it is the Job the client prints as JSON
    (zero-valued pointers such as allowPrivilegeEscalation: false kept)."""
    installed(cluster)
    meant = cluster.kubectl_json(
        f"-n {NS} create job --from=cronjob/foreman-pr-sweeper p1 --dry-run=client"
    )
    cluster.sh(f"kubectl -n {NS} create job --from=cronjob/foreman-pr-sweeper p1")
    stored = cluster.job("p1")
    assert stored["spec"]["template"]["spec"] == meant["spec"]["template"]["spec"]
    container = stored["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    for key in ("backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"):
        assert stored["spec"][key] == meant["spec"][key]
    assert stored["metadata"]["annotations"] == meant["metadata"]["annotations"]
    assert stored["metadata"]["ownerReferences"] == meant["metadata"]["ownerReferences"]
    assert (stored["spec"]["completions"], stored["spec"]["parallelism"]) == (1, 1)
    cluster.sh(f"kubectl -n {NS} wait --for=condition=complete --timeout=20s job/p1")


# ---------------------------------------------------------------- the runner's semantics


def test_a_failing_job_retries_then_fails_and_logs_show_the_first_pod(cluster: Cluster) -> None:
    """Exit 3 with backoffLimit 1: two pods a back-off apart, then FailureTarget and Failed
    (BackoffLimitExceeded); `kubectl wait --for=condition=failed` returns; `logs job/` reads
    the first pod, as kubectl picks it."""
    cluster.sh(f"kubectl create namespace {NS}")
    cluster.apply(job_manifest("broken", {"SHOW_EXIT": "3", "SHOW_CASE": "a"}, backoffLimit=1))
    cluster.sh(f"kubectl -n {NS} wait --for=condition=failed --timeout=20s job/broken")
    job = cluster.job("broken")
    status = job["status"]
    assert status["failed"] == 2 and "succeeded" not in status and "completionTime" not in status
    conditions = [(c["type"], c["status"], c["reason"]) for c in status["conditions"]]
    assert conditions == [
        ("FailureTarget", "True", "BackoffLimitExceeded"),
        ("Failed", "True", "BackoffLimitExceeded"),
    ]
    pods = sorted(cluster.pods("broken"), key=lambda p: p["metadata"]["creationTimestamp"])
    assert len(pods) == 2
    assert pods[0]["metadata"]["creationTimestamp"] < pods[1]["metadata"]["creationTimestamp"]
    for pod in pods:
        assert pod["status"]["phase"] == "Failed"
        state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (state["exitCode"], state["reason"]) == (3, "Error")
    logs = cluster.sh(f"kubectl -n {NS} logs job/broken")
    assert f"using pod/{pods[0]['metadata']['name']}" in logs.stderr
    assert logs.stdout.splitlines() == [
        "args: from-cmd",
        "env HOSTNAME=" + pods[0]["metadata"]["name"],
        "env SHOW_CASE=a",
        "env SHOW_EXIT=3",
        "env SHOW_IMAGE_ENV=1",
        "stderr too",
    ]


def test_command_args_env_and_secret_references(cluster: Cluster) -> None:
    """command replaces the entrypoint, $(VAR) expands, fieldRef and secretKeyRef resolve,
    a secret volume's items and modes are written, mount paths are rewritten."""
    cluster.sh(f"kubectl create namespace {NS}")
    cluster.sh(
        f"kubectl -n {NS} create secret generic s --from-literal=key=sesame --from-literal=t=tok"
    )
    manifest = job_manifest(
        "refs",
        {"SHOW_LITERAL": "x"},
        container={
            "command": [
                sys.executable,
                "-c",
                PROGRAM,
                "$(SHOW_LITERAL)-$(MISSING)",
                "$$(SHOW_LITERAL)",
            ],
            "args": ["--github-token-file=/etc/tok/dir/t", "/etc/tok/dir/t"],
            "volumeMounts": [{"name": "tok", "mountPath": "/etc/tok", "readOnly": True}],
        },
        pod={
            "volumes": [
                {
                    "name": "tok",
                    "secret": {
                        "secretName": "s",
                        "items": [{"key": "t", "path": "dir/t", "mode": 0o400}],
                    },
                }
            ]
        },
    )
    manifest["spec"]["template"]["spec"]["containers"][0]["env"] += [
        {"name": "SHOW_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "SHOW_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "key"}}},
        {"name": "SHOW_PATH", "value": "/etc/tok/dir/t"},
    ]
    cluster.apply(manifest)
    cluster.sh(f"kubectl -n {NS} wait --for=condition=complete --timeout=20s job/refs")
    out = cluster.sh(f"kubectl -n {NS} logs job/refs").stdout.splitlines()
    [pod] = cluster.pods("refs")
    args = out[0].split()[1:]
    assert args[:2] == ["x-$(MISSING)", "$(SHOW_LITERAL)"]
    local = args[3]
    assert args[2] == f"--github-token-file={local}" and local.endswith("/volumes/tok/dir/t")
    assert f"env SHOW_PATH={local}" in out and f"env SHOW_POD={pod['metadata']['name']}" in out
    assert "env SHOW_SECRET=sesame" in out and "token: tok 0o400" in out
    log = f"{cluster.kube.url}/api/v1/namespaces/{NS}/pods/{pod['metadata']['name']}/log"
    with urllib.request.urlopen(log + "?tailLines=1") as response:
        assert response.headers["Content-Type"] == "text/plain"
        assert response.read() == b"stderr too\n"
    with urllib.request.urlopen(log + "?limitBytes=5&container=tool") as response:
        assert response.read() == b"args:"
    for bad in ("previous=true", "container=nope", "timestamps=true"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{log}?{bad}")
        assert caught.value.code == 400


def test_a_missing_secret_waits_like_the_kubelet_then_starts(cluster: Cluster) -> None:
    """A missing volume Secret: Pending, ContainerCreating and a FailedMount Event; a missing
    env Secret: CreateContainerConfigError; logs are 400 "waiting to start"; once the
    Secret exists the container starts and the Job completes."""
    installed(cluster)
    cluster.sh(f"kubectl -n {NS} delete secret foreman-pr-sweeper-github")
    cluster.sh(f"kubectl -n {NS} create job --from=cronjob/foreman-pr-sweeper early")
    [pod] = cluster.pods("early")
    assert pod["status"]["phase"] == "Pending"
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {"reason": "ContainerCreating"}
    [event] = cluster.kube.list("events", NS, group="")
    assert event["reason"] == "FailedMount" and "not found" in event["message"]
    logs = cluster.sh(f"kubectl -n {NS} logs job/early", check=False)
    assert logs.returncode == 1 and "is waiting to start: ContainerCreating" in logs.stderr
    assert cluster.job("early")["status"]["active"] == 1
    env_job = job_manifest("env-secret", {})
    env_job["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {
            "name": "SHOW_S",
            "valueFrom": {"secretKeyRef": {"name": "foreman-pr-sweeper-github", "key": "token"}},
        }
    ]
    cluster.apply(env_job)
    [pod] = cluster.pods("env-secret")
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerConfigError" and "not found" in waiting["message"]
    create = "create secret generic foreman-pr-sweeper-github --from-file=token=./github-token"
    cluster.sh(f"kubectl -n {NS} {create}")
    cluster.sh(
        f"kubectl -n {NS} wait --for=condition=complete --timeout=20s job/early job/env-secret"
    )
    assert (
        "env SHOW_S=ghp_standin_token" in cluster.sh(f"kubectl -n {NS} logs job/env-secret").stdout
    )


def test_the_active_deadline_kills_the_process_and_fails_the_job(cluster: Cluster) -> None:
    """activeDeadlineSeconds: FailureTarget, SIGTERM, the pod deleted, then Failed with
    reason DeadlineExceeded."""
    cluster.sh(f"kubectl create namespace {NS}")
    cluster.apply(job_manifest("slow", {"SHOW_SLEEP": "30"}, activeDeadlineSeconds=1))
    started = time.monotonic()
    cluster.sh(f"kubectl -n {NS} wait --for=condition=failed --timeout=20s job/slow")
    assert time.monotonic() - started < 10
    status = cluster.job("slow")["status"]
    assert [(c["type"], c["reason"]) for c in status["conditions"]] == [
        ("FailureTarget", "DeadlineExceeded"),
        ("Failed", "DeadlineExceeded"),
    ]
    assert status["failed"] == 1 and "active" not in status
    assert cluster.pods("slow") == []


def test_deleting_a_job_and_stopping_kill_the_processes(cluster: Cluster) -> None:
    """A deleted Job's process is killed and its pod deleted; stop() kills the rest."""
    cluster.sh(f"kubectl create namespace {NS}")
    for name in ("a", "b"):
        cluster.apply(job_manifest(name, {"SHOW_SLEEP": "60"}))
    processes = cluster.runner.processes()
    assert len(processes) == 2 and all(p.poll() is None for p in processes.values())
    [(a_pod, a_process)] = [(k, p) for k, p in processes.items() if k[1].startswith("a-")]
    cluster.sh(f"kubectl -n {NS} delete job a")
    assert cluster.pods("a") == [] and len(cluster.pods("b")) == 1
    assert a_process.wait(timeout=5) < 0
    assert all(p.poll() is None for k, p in processes.items() if k != a_pod)
    cluster.kube.stop()
    for process in processes.values():
        assert process.wait(timeout=5) < 0


def test_what_the_runner_does_not_implement_is_refused(cluster: Cluster) -> None:
    """Two containers, OnFailure, a configMap volume: 400 naming each, nothing stored."""
    cluster.sh(f"kubectl create namespace {NS}")
    manifest = job_manifest(
        "odd",
        {},
        pod={"restartPolicy": "OnFailure", "volumes": [{"name": "c", "configMap": {"name": "c"}}]},
    )
    manifest["spec"]["template"]["spec"]["containers"].append({"name": "two", "image": "x"})
    done = cluster.apply(manifest, check=False)
    assert done.returncode == 1
    for words in ("restartPolicy OnFailure", "2 containers", "configMap volume 'c'"):
        assert words in done.stderr
    assert cluster.kube.list("jobs", group="batch") == []


# ---------------------------------------------------------------- watch, over HTTP


def watch_lines(
    kube: KubeStandIn, path: str, limit: int, timeout: float = 5
) -> list[dict[str, Any]]:
    with urllib.request.urlopen(kube.url + path, timeout=timeout) as response:
        assert response.headers["Transfer-Encoding"] == "chunked"
        lines = []
        for raw in response:
            lines.append(json.loads(raw))
            if len(lines) == limit:
                break
        return lines


def test_watch_from_a_resource_version_with_selectors() -> None:
    """Events after the resourceVersion only; an object leaving the label selection is
    DELETED, entering it ADDED; timeoutSeconds ends the stream; custom resources refuse."""
    with KubeStandIn() as kube:
        first = kube.seed(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "a", "namespace": "n", "labels": {"k": "1"}},
            }
        )
        rv = first["metadata"]["resourceVersion"]
        second = dict(first, metadata={**first["metadata"], "labels": {"k": "2"}})
        kube.seed_replace(second)
        kube.seed_replace(first)
        kube.seed(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b", "namespace": "m"}}
        )
        events = watch_lines(
            kube,
            f"/api/v1/namespaces/n/secrets?watch=1&labelSelector=k%3D1&resourceVersion={rv}",
            2,
        )
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("DELETED", "a"),
            ("ADDED", "a"),
        ]
        started = time.monotonic()
        everything = watch_lines(kube, "/api/v1/secrets?watch=true&timeoutSeconds=1", 10)
        assert time.monotonic() - started >= 1
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in everything] == [
            ("ADDED", "b"),
            ("ADDED", "a"),
        ]
        initial = "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=1"
        streamed = watch_lines(kube, "/api/v1/namespaces/n/secrets?watch=true" + initial, 2)
        assert [e["type"] for e in streamed] == ["ADDED", "BOOKMARK"]
        bookmark = streamed[1]["object"]["metadata"]
        assert bookmark["annotations"] == {"k8s.io/initial-events-end": "true"}
        request = urllib.request.Request(
            kube.url + "/apis/foreman.llmkube.dev/v1alpha1/workloads?watch=true"
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request)
        assert caught.value.code == 405


def test_watch_from_a_forgotten_resource_version_is_expired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond the kept history a watch answers one ERROR event with a 410 Expired Status."""
    monkeypatch.setattr(kube_module, "_WATCH_HISTORY", 4)
    with KubeStandIn() as kube:
        base = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a"}}
        rv = kube.seed(base)["metadata"]["resourceVersion"]
        for _ in range(6):
            kube.seed_replace(base)
        [event] = watch_lines(kube, f"/api/v1/serviceaccounts?watch=true&resourceVersion={rv}", 2)
        assert event["type"] == "ERROR" and event["object"]["code"] == 410


# ---------------------------------------------------------------- pieces


def test_strategic_merge_directives() -> None:
    """$patch delete and replace, $retainKeys, $deleteFromPrimitiveList, merge keys."""
    live = {
        "metadata": {"finalizers": ["a"], "ownerReferences": [{"uid": "1", "name": "x"}]},
        "spec": {
            "containers": [{"name": "c", "image": "i", "env": [{"name": "A", "value": "1"}]}],
            "volumes": [
                {"name": "v", "emptyDir": {}},
                {"name": "w", "secret": {"secretName": "s"}},
            ],
            "tolerations": [{"key": "t"}],
        },
    }
    patch = {
        "metadata": {"finalizers": ["b"], "ownerReferences": [{"uid": "2", "name": "y"}]},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "env": [{"name": "A", "$patch": "delete"}, {"name": "B", "value": "2"}],
                }
            ],
            "volumes": [
                {"name": "v", "$retainKeys": ["name", "secret"], "secret": {"secretName": "t"}}
            ],
            "tolerations": [{"key": "u"}],
            "$deleteFromPrimitiveList/nothing": [],
        },
    }
    out = strategic_merge(live, patch, "Pod")
    assert out["metadata"]["finalizers"] == ["a", "b"]
    assert [r["uid"] for r in out["metadata"]["ownerReferences"]] == ["1", "2"]
    assert out["spec"]["containers"] == [
        {"name": "c", "image": "i", "env": [{"name": "B", "value": "2"}]}
    ]
    assert out["spec"]["volumes"][0] == {"name": "v", "secret": {"secretName": "t"}}
    assert out["spec"]["tolerations"] == [{"key": "u"}]
    replaced = strategic_merge(live, {"spec": {"$patch": "replace", "x": 1}}, "Pod")
    assert replaced["spec"] == {"x": 1}
    order = {"spec": {"$setElementOrder/volumes": [{"name": "w"}, {"name": "v"}]}}
    assert [v["name"] for v in strategic_merge(live, order, "Pod")["spec"]["volumes"]] == ["w", "v"]
    removed = strategic_merge(
        live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, "Pod"
    )
    assert removed["metadata"]["finalizers"] == []
    with pytest.raises(kube_module._PatchFailed):
        strategic_merge(live, {"$unknown": 1}, "Pod")


def test_protobuf_envelope_and_refusal() -> None:
    """A Namespace message decodes; a kind outside the table is refused, not guessed."""
    meta = b"\n\x01x" + b"\x12\x00"  # name "x", an empty generateName
    body = b"\n" + bytes([len(meta)]) + meta
    type_meta = b"\n\x02v1\x12\tNamespace"
    raw = (
        b"k8s\x00"
        + b"\n"
        + bytes([len(type_meta)])
        + type_meta
        + b"\x12"
        + bytes([len(body)])
        + body
    )
    assert decode_protobuf(raw) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "x"},
    }
    other = raw.replace(b"\tNamespace", b"\tConfigMap")
    other = other[:5] + bytes([other[5]]) + other[6:]
    with pytest.raises(kube_module._ProtoError):
        decode_protobuf(other)


def test_image_names_and_expansion() -> None:
    assert (
        image_name("registry.example.com/team/sweeper:0.1.0") == "registry.example.com/team/sweeper"
    )
    assert image_name("foreman-pr-sweeper:0.1.0") == IMAGE
    assert image_name("localhost:5000/x@sha256:abc") == "localhost:5000/x"
    assert image_name("localhost:5000/x") == "localhost:5000/x"
    assert expand("$(A)/$(B)/$$(A)", {"A": "1"}) == "1/$(B)/$(A)"
