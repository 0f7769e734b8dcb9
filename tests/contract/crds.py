"""Validates Foreman objects against the real CRDs, as an API server would.

The CRD's `openAPIV3Schema` is a structural schema: the API server prunes fields it does
not declare unless `x-kubernetes-preserve-unknown-fields` says otherwise. A fixture with
such fields would be a lie, so this validator treats declared objects as closed.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

CRDS = Path(__file__).parent / "crds"
FILES = {
    "Workload": "foreman.llmkube.dev_workloads.yaml",
    "AgenticTask": "foreman.llmkube.dev_agentictasks.yaml",
    # With spec.openPullRequestsAsDraft added (later Foreman releases): see crds/README.md.
    "Agent": "foreman.llmkube.dev_agents.yaml",
}
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
_LABEL_KEY = re.compile(r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def _closed(schema: Any) -> Any:
    """Kubernetes structural-schema semantics expressed in plain JSON Schema."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        schema.get("type") == "object"
        and "properties" in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in schema
    ):
        out["additionalProperties"] = False
    return out


@cache
def _validator(kind: str) -> Draft7Validator:
    crd = yaml.safe_load((CRDS / FILES[kind]).read_text())
    schema = _closed(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    # metadata is validated by the API server itself, not by the CRD schema.
    schema["properties"]["metadata"] = {"type": "object"}
    return Draft7Validator(schema)


def validate(obj: dict[str, Any]) -> list[str]:
    kind = obj.get("kind")
    if kind not in FILES:
        return [f"unknown kind {kind!r}"]
    problems = [
        f"{'/'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
        for err in _validator(str(kind)).iter_errors(obj)
    ]
    if obj.get("apiVersion") != "foreman.llmkube.dev/v1alpha1":
        problems.append(f"apiVersion {obj.get('apiVersion')!r}")
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    if not isinstance(name, str) or not _DNS_SUBDOMAIN.match(name):
        problems.append(f"metadata.name {name!r} is not a DNS-1123 subdomain")
    if not meta.get("namespace"):
        problems.append("metadata.namespace is missing")
    for key, value in (meta.get("labels") or {}).items():
        if not _LABEL_KEY.match(key) or not isinstance(value, str) or not _LABEL_VALUE.match(value):
            problems.append(f"label {key}={value!r} is not valid")
    for key, value in (meta.get("annotations") or {}).items():
        if not isinstance(value, str):
            problems.append(f"annotation {key} is not a string")
    return problems


def assert_valid(obj: dict[str, Any]) -> None:
    problems = validate(obj)
    assert not problems, f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}: {problems}"
