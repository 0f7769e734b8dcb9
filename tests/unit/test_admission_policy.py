"""deploy/admission-policy.yaml: a stolen sweeper pod can change only the sweeper's own
two annotations on a Workload. Its CEL runs here with cel-python, fed the request as the
API server would (tests/fixtures/admission.py)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sweeper.model import SETTLED_ANNOTATION
from sweeper.records import RECORD_ANNOTATION
from tests.fixtures.admission import Request, denials

ROOT = Path(__file__).resolve().parents[2]
NS = yaml.safe_load((ROOT / "deploy" / "kustomization.yaml").read_text())["namespace"]
SWEEPER = f"system:serviceaccount:{NS}:foreman-pr-sweeper"
Obj = dict[str, Any]


def _docs(name: str) -> list[Obj]:
    return [d for d in yaml.safe_load_all((ROOT / "deploy" / name).read_text()) if d]


[POLICY, BINDING] = _docs("admission-policy.yaml")


def the_binding_as_kustomize_renders_it() -> Obj:
    """The sweeper's ClusterRoleBinding with the subjects' namespace kustomize fills in."""
    [crb] = [d for d in _docs("cronjob.yaml") if d["kind"] == "ClusterRoleBinding"]
    crb = copy.deepcopy(crb)
    for subject in crb["subjects"]:
        subject.setdefault("namespace", NS)
    return crb


PARAM = the_binding_as_kustomize_renders_it()


def workload() -> Obj:
    """A Workload as the API server hands it to admission: full metadata, spec, status."""
    return {
        "apiVersion": "foreman.llmkube.dev/v1alpha1",
        "kind": "Workload",
        "metadata": {
            "name": "nightly-fixes",
            "namespace": "team-a",
            "uid": "0b6e0f4e-6a55-4d3c-9b2e-3c2a0d1f9e11",
            "resourceVersion": "41",
            "generation": 3,
            "labels": {"team": "a"},
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "pr-sweeper.foreman.llmkube.dev/skip": "false",
            },
            "finalizers": ["foreman.llmkube.dev/cleanup"],
            "managedFields": [{"manager": "foreman", "operation": "Update"}],
        },
        "spec": {"repository": "acme/widgets", "issues": [101, 102], "openPullRequest": True},
        "status": {"phase": "Completed", "completionTime": "2026-01-01T00:00:00Z"},
    }


Change = Callable[[Obj], None]


def _set(path: str, value: Any) -> Change:
    def change(obj: Obj) -> None:
        *parents, last = path.split(".")
        target = obj
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value

    return change


def _drop(path: str) -> Change:
    def change(obj: Obj) -> None:
        *parents, last = path.split(".")
        target = obj
        for part in parents:
            target = target[part]
        del target[last]

    return change


def _annotate(key: str, value: str | None) -> Change:
    def change(obj: Obj) -> None:
        annotations = obj["metadata"].setdefault("annotations", {})
        if value is None:
            annotations.pop(key, None)
        else:
            annotations[key] = value

    return change


def _server_bumps(obj: Obj) -> None:
    """What the API server itself changes on every write: resourceVersion, managedFields."""
    obj["metadata"]["resourceVersion"] = "42"
    obj["metadata"]["managedFields"].append(
        {"manager": "foreman-pr-sweeper", "operation": "Update"}
    )


def _update(*changes: Change, base: Obj | None = None) -> tuple[Obj, Obj]:
    old = base or workload()
    new = copy.deepcopy(old)
    _server_bumps(new)
    for change in changes:
        change(new)
    return old, new


RECORDS = '{"foreman/nightly-fixes/issue-101": {"url": "https://github.com/acme/widgets/pull/7"}}'
ALLOWED = [
    pytest.param(_update(_annotate(RECORD_ANNOTATION, RECORDS)), id="sweeper-writes-its-records"),
    pytest.param(
        _update(_annotate(RECORD_ANNOTATION, RECORDS), _annotate(SETTLED_ANNOTATION, "true")),
        id="sweeper-writes-records-and-settled-in-one-patch",
    ),
    pytest.param(
        _update(
            _annotate(SETTLED_ANNOTATION, None),
            base=_update(_annotate(SETTLED_ANNOTATION, "true"))[1],
        ),
        id="sweeper-removes-its-settled-mark",
    ),
    pytest.param(
        _update(
            _annotate(RECORD_ANNOTATION, RECORDS), base=_update(_drop("metadata.annotations"))[1]
        ),
        id="sweeper-annotates-a-workload-that-had-no-annotations",
    ),
    pytest.param(_update(), id="server-only-bumps-resource-version-and-managed-fields"),
]
DENIED = [
    pytest.param(
        _update(_set("spec.repository", "evil/fork")), "spec", id="attack-rewrites-spec-repo"
    ),
    pytest.param(_update(_set("spec.issues", [1])), "spec", id="attack-rewrites-spec-issues"),
    pytest.param(_update(_drop("spec.openPullRequest")), "spec", id="attack-drops-a-spec-field"),
    pytest.param(_update(_set("status.phase", "Failed")), "spec", id="attack-rewrites-status"),
    pytest.param(_update(_set("metadata.labels.team", "b")), "labels", id="attack-relabels"),
    pytest.param(_update(_drop("metadata.labels")), "labels", id="attack-drops-labels"),
    pytest.param(
        _update(_set("metadata.finalizers", [])), "labels", id="attack-removes-a-finalizer"
    ),
    pytest.param(
        _update(_set("metadata.finalizers", ["foreman.llmkube.dev/cleanup", "x/hold"])),
        "labels",
        id="attack-adds-a-finalizer",
    ),
    pytest.param(
        _update(
            _set(
                "metadata.ownerReferences",
                [{"apiVersion": "v1", "kind": "ConfigMap", "name": "gone", "uid": "1"}],
            )
        ),
        "labels",
        id="attack-adds-an-owner-reference-for-the-garbage-collector",
    ),
    pytest.param(
        _update(_annotate("pr-sweeper.foreman.llmkube.dev/skip", "true")),
        "annotations",
        id="attack-changes-another-annotation",
    ),
    pytest.param(
        _update(_annotate("kubectl.kubernetes.io/last-applied-configuration", None)),
        "annotations",
        id="attack-removes-another-annotation",
    ),
    pytest.param(
        _update(_annotate(RECORD_ANNOTATION, RECORDS), _annotate("foreman.llmkube.dev/x", "1")),
        "annotations",
        id="attack-adds-an-annotation-beside-its-own",
    ),
]
MESSAGE = {
    "spec": "may not change a Workload's spec or status",
    "labels": "may not change a Workload's labels, finalizers or ownerReferences",
    "annotations": "may change only its own annotations",
}


def _denied(request: Request) -> list[str]:
    not_found = BINDING["spec"]["paramRef"]["parameterNotFoundAction"]
    return denials(POLICY, [PARAM], request, not_found)


@pytest.mark.parametrize("change", ALLOWED)
def test_the_sweeper_may_write_its_own_annotations(change: tuple[Obj, Obj]) -> None:
    """Records and the settled mark, added, changed or removed, pass the policy."""
    old, new = change
    assert _denied(Request("UPDATE", SWEEPER, old, new)) == []


@pytest.mark.parametrize(("change", "why"), DENIED)
def test_a_stolen_sweeper_token_cannot_rewrite_a_tenants_workload(
    change: tuple[Obj, Obj], why: str
) -> None:
    """Any other change by the sweeper's ServiceAccount is denied, with the rule it broke."""
    old, new = change
    [message] = _denied(Request("UPDATE", SWEEPER, old, new))
    assert MESSAGE[why] in message


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(Request("CREATE", SWEEPER, None, workload()), id="attack-creates-a-workload"),
        pytest.param(Request("DELETE", SWEEPER, workload(), None), id="attack-deletes-a-workload"),
    ],
)
def test_a_stolen_sweeper_token_cannot_create_or_delete_workloads(request_: Request) -> None:
    """CREATE and DELETE by the sweeper are denied (RBAC grants neither; this holds anyway)."""
    assert _denied(request_) == [
        "foreman-pr-sweeper may update Workloads, never create or delete them"
    ]


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("system:serviceaccount:foreman-system:foreman-controller", id="foreman"),
        pytest.param("alice@example.com", id="a-person"),
        pytest.param("system:serviceaccount:team-a:foreman-pr-sweeper", id="same-name-elsewhere"),
        pytest.param(f"system:serviceaccount:{NS}:default", id="another-account-in-our-namespace"),
    ],
)
def test_everyone_else_is_untouched(username: str) -> None:
    """The policy applies only to the binding's subjects: others may change a spec."""
    old, new = _update(_set("spec.repository", "acme/other"), _set("metadata.labels.x", "y"))
    assert _denied(Request("UPDATE", username, old, new)) == []


def test_without_its_binding_the_policy_admits() -> None:
    """No ClusterRoleBinding (the sweeper then has no rights) means no parameter: admit, so a
    deleted binding never blocks Foreman's own writes."""
    assert BINDING["spec"]["paramRef"]["parameterNotFoundAction"] == "Allow"
    old, new = _update(_set("spec.repository", "evil/fork"))
    assert denials(POLICY, [], Request("UPDATE", SWEEPER, old, new), "Allow") == []


def test_the_policy_covers_every_way_in() -> None:
    """Workloads and their subresources, create, update and delete, any version; fail closed."""
    spec = POLICY["spec"]
    [rule] = spec["matchConstraints"]["resourceRules"]
    assert rule["apiGroups"] == ["foreman.llmkube.dev"] and rule["apiVersions"] == ["*"]
    assert set(rule["operations"]) == {"CREATE", "UPDATE", "DELETE"}
    assert set(rule["resources"]) == {"workloads", "workloads/*"}
    assert spec["failurePolicy"] == "Fail"
    assert BINDING["spec"]["policyName"] == POLICY["metadata"]["name"]
    assert BINDING["spec"]["validationActions"] == ["Deny"]
    assert spec["paramKind"] == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
    }
    selector = BINDING["spec"]["paramRef"]["selector"]["matchLabels"]
    assert all(PARAM["metadata"]["labels"].get(k) == v for k, v in selector.items())
