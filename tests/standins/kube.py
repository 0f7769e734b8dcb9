"""A small Kubernetes API stand-in: just the paths and semantics the sweeper relies on, plus
what the README's runbook needs from the real kubectl (namespaces, Secrets, RBAC, the
CronJob, Jobs and their Pods, watch and Pod logs).

Standard library only (the demo runs it with the runtime dependencies alone). It speaks
HTTP/1.1 on 127.0.0.1 to the official client and to kubectl through a kubeconfig and
does what a real API server does for:

- discovery (`/version`, `/api`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`,
  `/api/v1`), with or without a trailing slash, legacy documents only (kubectl falls
  back to them from aggregated discovery, as it does against older servers);
- OpenAPI v3 (`/openapi/v3` and one document per group version): paths and operations
  only, no schemas. kubectl 1.32's `apply` refuses to run without OpenAPI (it validates
  client-side from `/openapi/v2` unless v3 says the server validates): the documents
  declare the `fieldValidation` parameter, so kubectl leaves validation to the server as
  it does against a real one, and with no schemas it builds strategic merge patches from
  its compiled-in types. `/openapi/v2` is 404 (kubectl only wants its protobuf form);
- Workloads, AgenticTasks and Agents (foreman.llmkube.dev/v1alpha1, namespaced, with a
  status subresource), core/v1 Events, Secrets (`stringData` folded into `data`, `type`
  defaulted to Opaque and immutable), ServiceAccounts and Pods (read-only: only the Job
  runner of tests/standins/jobs.py makes them; with a `log` subresource), batch/v1
  CronJobs (stored; their schedule never fires and `suspend` is only stored) and Jobs
  (selector and the four job labels generated as the real server does, spec defaults,
  `status: {}`; selector and template immutable), rbac.authorization.k8s.io/v1 Roles,
  RoleBindings (roleRef immutable) and the cluster-scoped ClusterRoles and
  ClusterRoleBindings, coordination.k8s.io/v1 Leases, and the cluster-scoped
  admissionregistration.k8s.io/v1 ValidatingAdmissionPolicies and their bindings
  (stored; no policy is enforced);
- authorization.k8s.io/v1 SelfSubjectAccessReviews (create only, never stored): `allowed`
  is true unless `deny()` took the verb away, which also answers the denied requests
  themselves 403 Forbidden, worded as RBAC words it (kubectl auth can-i works);
- Namespaces: `create` stores one (phase Active, finalizer `kubernetes`, the
  `kubernetes.io/metadata.name` label) and GET returns it; any other name still reads
  as Active (namespace lifecycle is not modelled); the list shows the created ones, the
  ones in use and `default`; update, patch and delete are 405;
- list, namespaced or across namespaces, ordered by (namespace, name), with label
  selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`, `>`, `<`), field selectors
  (`metadata.name`, `metadata.namespace`; for Events also `involvedObject.*`, `reason`,
  `type`, `source`, `reportingComponent`; for Pods `spec.nodeName`, `status.phase` and
  the other real ones; `status.successful` for Jobs, `type` for Secrets), `limit` and
  `continue` (410 Expired once `expire_continue_tokens()` is called, or for page N of a
  listing after `expire_on_page()`) and
  `remainingItemCount` when no selector is set;
- watch (`watch=true`/`1`) of the built-in kinds above except Namespaces, Events and
  Leases: a chunked stream of `{"type": "ADDED"|"MODIFIED"|"DELETED", "object": ...}`
  lines, honouring labelSelector and fieldSelector (an object leaving the selection is
  DELETED, entering it ADDED), resourceVersion (""/"0": ADDED for what exists, then the
  changes; N: the changes after N, an ERROR 410 Expired event when N is older than the
  kept history), timeoutSeconds, and sendInitialEvents with its closing BOOKMARK; the
  stream ends when the stand-in stops or the client goes away;
- Pod logs (`pods/NAME/log`, `container`, `follow`, `tailLines`, `limitBytes`), plain
  text, streamed until the container exits when following; 400 while the container is
  waiting to start, as the kubelet answers;
- create: 201 with uid, resourceVersion, creationTimestamp and, for custom resources,
  Jobs and CronJobs, generation 1; `generateName`; 409 AlreadyExists; status dropped
  when status is a subresource; a body resourceVersion is refused as the real server
  refuses it;
- replace (PUT) and patch (merge patch; JSON patch; strategic merge patch of built-in
  kinds, with the merge keys of the served kinds' lists such as containers, env,
  volumeMounts, volumes and ownerReferences, and the `$patch`, `$retainKeys`,
  `$setElementOrder/` and `$deleteFromPrimitiveList/` directives): a stale
  resourceVersion is 409 Conflict, a PUT without one is 422 Invalid (custom resources
  and Leases; the other built-in kinds allow it), PUT creates a missing Lease or Event;
  the main resource ignores status and the status subresource changes only status;
  every write bumps resourceVersion and a generation goes up when anything but metadata
  changes;
- delete (with uid/resourceVersion preconditions), answering a Success Status;
- request bodies in JSON, or in protobuf for Namespaces, Secrets, ServiceAccounts and
  Jobs, and SelfSubjectAccessReviews: kubectl's typed commands (`create namespace`,
  `create secret`, `create job`, `auth can-i`) send protobuf only, never falling back
  to JSON; they are decoded with a field table generated from k8s.io/api v1.32's
  descriptors (see _PROTO_TABLE); answers are JSON, which every client accepts;
- errors as `Status` objects with `code` and `reason`; `inject()` answers the next
  matching requests with one, and `throttle()` with API Priority and Fairness' 429: a
  plain-text body (no Status) and `Retry-After` in seconds (or none, as EventRateLimit).

Controllers can be attached (`attach()`): they see every write, may refuse one, and are
stopped with the stand-in. tests/standins/jobs.py's JobRunner is one: it runs Jobs' Pods
as local processes.

Deliberately not implemented, and refused loudly rather than faked: watch of custom
resources, Events, Leases and Namespaces (405), deletecollection (405), server-side
apply (415), server-side dry-run (400), unknown strategic-merge directives (400),
writes to Pods (405), protobuf bodies of other kinds and bodies in other formats such
as YAML (415), `previous`, `timestamps`, `sinceSeconds` and `sinceTime` on logs
(400). Not modelled at all: schema validation and most defaulting (`fieldValidation` is
accepted, and Strict checks nothing more), managedFields, RBAC beyond `deny()` (the one
user may do everything else), admission, namespace existence, finalizers and garbage
collection (the Job runner deletes a deleted Job's Pods itself), consistent list
snapshots across pages (a later page shows the current state).

See tests/standins/test_kube_standin.py and tests/standins/test_kube_jobs.py for the
contract, checked with the real client and the real kubectl.
Run `python -m tests.standins.kube --kubeconfig PATH` to serve it by hand.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import hashlib
import json
import re
import secrets
import select
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar, cast
from urllib.parse import parse_qs, unquote, urlsplit

from tests.standins.serving import LocalServer, QuietHandler

Obj = dict[str, Any]
Hook = Callable[[str, str, Any], None]
Query = dict[str, list[str]]
T = TypeVar("T")
Keys = list[tuple[str, str]]
Objs = list[Obj]

FOREMAN = "foreman.llmkube.dev"
COORDINATION = "coordination.k8s.io"
ADMISSION = "admissionregistration.k8s.io"
BATCH = "batch"
RBAC = "rbac.authorization.k8s.io"
AUTHORIZATION = "authorization.k8s.io"

_META_FIELDS: dict[str, tuple[str, ...]] = {
    "metadata.name": ("metadata", "name"),
    "metadata.namespace": ("metadata", "namespace"),
}
_EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    **_META_FIELDS,
    **{
        f"involvedObject.{f}": ("involvedObject", f)
        for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    },
    "reason": ("reason",),
    "reportingComponent": ("reportingComponent",),
    "source": ("source", "component"),
    "type": ("type",),
}
_POD_FIELDS: dict[str, tuple[str, ...]] = {
    **_META_FIELDS,
    **{f"spec.{f}": ("spec", f) for f in ("nodeName", "restartPolicy", "schedulerName")},
    "spec.serviceAccountName": ("spec", "serviceAccountName"),
    "spec.hostNetwork": ("spec", "hostNetwork"),
    **{f"status.{f}": ("status", f) for f in ("phase", "podIP", "nominatedNodeName")},
}
_JOB_FIELDS: dict[str, tuple[str, ...]] = {
    **_META_FIELDS,
    "status.successful": ("status", "succeeded"),
}
_SECRET_FIELDS: dict[str, tuple[str, ...]] = {**_META_FIELDS, "type": ("type",)}
_CLUSTER_FIELDS: dict[str, tuple[str, ...]] = {"metadata.name": ("metadata", "name")}
_NAMESPACE_FIELDS: dict[str, tuple[str, ...]] = {
    **_CLUSTER_FIELDS,
    "status.phase": ("status", "phase"),
}
_ALL_VERBS = ("create", "delete", "get", "list", "patch", "update")


@dataclass(frozen=True)
class Kind:
    """One served resource and the registry strategy the real API server applies to it."""

    group: str
    version: str
    plural: str
    kind: str
    short_names: tuple[str, ...]
    custom: bool  # a CustomResourceDefinition's resource (generation, kind required in bodies)
    status_subresource: bool
    create_on_update: bool  # PUT on a missing object creates it
    unconditional_update: bool  # PUT without metadata.resourceVersion is allowed
    field_labels: dict[str, tuple[str, ...]]
    namespaced: bool = True
    generation: bool = False  # metadata.generation counts spec changes (always for custom)
    watchable: bool = False
    subresources: tuple[str, ...] = ()  # besides status
    verbs: tuple[str, ...] = _ALL_VERBS  # besides watch

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def counts_generation(self) -> bool:
        return self.custom or self.generation

    @property
    def all_verbs(self) -> list[str]:
        return sorted(set(self.verbs) | ({"watch"} if self.watchable else set()))

    def __hash__(self) -> int:
        return hash((self.group, self.plural))


def _custom(plural: str, kind: str, short_name: str) -> Kind:
    """A Foreman CRD's resource: namespaced, status subresource, CR registry strategy."""
    return Kind(
        FOREMAN,
        "v1alpha1",
        plural,
        kind,
        (short_name,),
        custom=True,
        status_subresource=True,
        create_on_update=False,
        unconditional_update=False,
        field_labels=_META_FIELDS,
    )


def _builtin(
    group: str,
    plural: str,
    kind: str,
    short_names: tuple[str, ...] = (),
    *,
    namespaced: bool = True,
    status: bool = False,
    generation: bool = False,
    watchable: bool = True,
    subresources: tuple[str, ...] = (),
    verbs: tuple[str, ...] = _ALL_VERBS,
    fields: dict[str, tuple[str, ...]] | None = None,
) -> Kind:
    """A built-in kind with the usual registry strategy: PUT needs no resourceVersion."""
    return Kind(
        group,
        "v1",
        plural,
        kind,
        short_names,
        custom=False,
        status_subresource=status,
        create_on_update=False,
        unconditional_update=True,
        field_labels=fields or (_META_FIELDS if namespaced else _CLUSTER_FIELDS),
        namespaced=namespaced,
        generation=generation,
        watchable=watchable,
        subresources=subresources,
        verbs=verbs,
    )


NAMESPACES = _builtin(
    "",
    "namespaces",
    "Namespace",
    ("ns",),
    namespaced=False,
    status=True,
    watchable=False,
    verbs=("create", "get", "list"),
    fields=_NAMESPACE_FIELDS,
)
SECRETS = _builtin("", "secrets", "Secret", fields=_SECRET_FIELDS)
SERVICE_ACCOUNTS = _builtin("", "serviceaccounts", "ServiceAccount", ("sa",))
PODS = _builtin(
    "",
    "pods",
    "Pod",
    ("po",),
    status=True,
    subresources=("log",),
    verbs=("get", "list"),
    fields=_POD_FIELDS,
)
CRONJOBS = _builtin(BATCH, "cronjobs", "CronJob", ("cj",), status=True, generation=True)
JOBS = _builtin(BATCH, "jobs", "Job", status=True, generation=True, fields=_JOB_FIELDS)
CLUSTER_ROLES = _builtin(RBAC, "clusterroles", "ClusterRole", namespaced=False)
CLUSTER_ROLE_BINDINGS = _builtin(
    RBAC, "clusterrolebindings", "ClusterRoleBinding", namespaced=False
)
ROLES = _builtin(RBAC, "roles", "Role")
ROLE_BINDINGS = _builtin(RBAC, "rolebindings", "RoleBinding")
# deploy/admission-policy.yaml: stored only; the stand-in enforces no admission policy
# (tests/unit/test_admission_policy.py evaluates its CEL).
ADMISSION_POLICIES = _builtin(
    ADMISSION,
    "validatingadmissionpolicies",
    "ValidatingAdmissionPolicy",
    namespaced=False,
    status=True,
    generation=True,
)
ADMISSION_POLICY_BINDINGS = _builtin(
    ADMISSION,
    "validatingadmissionpolicybindings",
    "ValidatingAdmissionPolicyBinding",
    namespaced=False,
    generation=True,
)
# Asked, never stored: what RBAC would say of one request (`deny()` shapes the answers).
SELF_SUBJECT_ACCESS_REVIEWS = _builtin(
    AUTHORIZATION,
    "selfsubjectaccessreviews",
    "SelfSubjectAccessReview",
    namespaced=False,
    watchable=False,
    verbs=("create",),
)

KINDS = (
    _custom("workloads", "Workload", "wl"),
    _custom("agentictasks", "AgenticTask", "at"),
    _custom("agents", "Agent", "ag"),
    Kind(
        "",
        "v1",
        "events",
        "Event",
        ("ev",),
        custom=False,
        status_subresource=False,
        create_on_update=True,
        unconditional_update=True,
        field_labels=_EVENT_FIELDS,
    ),
    NAMESPACES,
    SECRETS,
    SERVICE_ACCOUNTS,
    PODS,
    Kind(
        COORDINATION,
        "v1",
        "leases",
        "Lease",
        (),
        custom=False,
        status_subresource=False,
        create_on_update=True,
        unconditional_update=False,
        field_labels=_META_FIELDS,
    ),
    CRONJOBS,
    JOBS,
    CLUSTER_ROLES,
    CLUSTER_ROLE_BINDINGS,
    ROLES,
    ROLE_BINDINGS,
    ADMISSION_POLICIES,
    ADMISSION_POLICY_BINDINGS,
    SELF_SUBJECT_ACCESS_REVIEWS,
)
BY_PATH = {(k.group, k.version, k.plural): k for k in KINDS}
BY_KIND = {(k.group, k.kind): k for k in KINDS}
GROUP_VERSIONS = sorted({(k.group, k.version) for k in KINDS if k.group})

_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}
_MERGE = "application/merge-patch+json"
_JSON_PATCH = "application/json-patch+json"
_STRATEGIC = "application/strategic-merge-patch+json"
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # the real server's generateName alphabet
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SYSTEM_META = (
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)
_WATCH_HISTORY = 20_000  # watch events kept; a watch from an older resourceVersion is 410


@dataclass(frozen=True)
class Call:
    """One HTTP request as the stand-in saw it; status 0 means it was aborted unanswered."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    verb: str  # the RBAC verb: get, list, watch, create, update, patch, delete, deletecollection
    resource: str  # "" for discovery and unknown paths
    group: str
    namespace: str | None
    name: str | None
    subresource: str | None


class ApiError(Exception):
    """An API failure, answered as a `Status` object with the same code."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details or {}

    def body(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def _details(kind: Kind, name: str | None) -> Obj:
    details: Obj = {"group": kind.group, "kind": kind.plural}
    if name:
        details["name"] = name
    return details


def _not_found(kind: Kind, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{kind.plural} "{name}" not found', _details(kind, name))


def _conflict(kind: Kind, name: str, why: str) -> ApiError:
    message = f'Operation cannot be fulfilled on {kind.plural} "{name}": {why}'
    return ApiError(409, "Conflict", message, _details(kind, name))


def _invalid(kind: Kind, name: str, field: str, why: str) -> ApiError:
    details = {
        **_details(kind, name),
        "kind": kind.kind,
        "causes": [{"reason": "FieldValueInvalid", "message": why, "field": field}],
    }
    return ApiError(422, "Invalid", f'{kind.kind} "{name}" is invalid: {field}: {why}', details)


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clone(value: T) -> T:
    """A deep copy of JSON data (faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return cast(T, {k: _clone(v) for k, v in value.items()})
    if isinstance(value, list):
        return cast(T, [_clone(v) for v in value])
    return value


# ---------------------------------------------------------------- patches


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return _clone(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class _PatchFailed(Exception):
    pass


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise _PatchFailed(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _parent(doc: Any, tokens: list[str]) -> tuple[Any, str]:
    if not tokens:
        raise _PatchFailed("the whole document cannot be the target")
    node = doc
    for token in tokens[:-1]:
        node = _child(node, token)
    return node, tokens[-1]


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict) and token in node:
        return node[token]
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    raise _PatchFailed(f"path element {token!r} not found")


def _get(doc: Any, tokens: list[str]) -> Any:
    for token in tokens:
        doc = _child(doc, token)
    return doc


def _add(doc: Any, tokens: list[str], value: Any) -> None:
    node, last = _parent(doc, tokens)
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and last == "-":
        node.append(value)
    elif isinstance(node, list) and last.isdigit() and int(last) <= len(node):
        node.insert(int(last), value)
    else:
        raise _PatchFailed(f"cannot add at {last!r}")


def _remove(doc: Any, tokens: list[str]) -> Any:
    node, last = _parent(doc, tokens)
    value = _child(node, last)
    if isinstance(node, dict):
        del node[last]
    else:
        del node[int(last)]
    return value


def json_patch(doc: Obj, operations: list[Any]) -> Obj:
    """RFC 6902 on a copy of doc; raises _PatchFailed (an unappliable patch)."""
    doc = _clone(doc)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise _PatchFailed(f"malformed operation {op!r}")
        kind, tokens = op["op"], _pointer(op["path"])
        if kind in ("add", "replace", "test") and "value" not in op:
            raise _PatchFailed(f"{kind} needs a value")
        if kind == "add":
            _add(doc, tokens, _clone(op["value"]))
        elif kind == "remove":
            _remove(doc, tokens)
        elif kind == "replace":
            _remove(doc, tokens)
            _add(doc, tokens, _clone(op["value"]))
        elif kind == "move":
            _add(doc, tokens, _remove(doc, _pointer(op.get("from"))))
        elif kind == "copy":
            _add(doc, tokens, _clone(_get(doc, _pointer(op.get("from")))))
        elif kind == "test":
            if _get(doc, tokens) != op["value"]:
                raise _PatchFailed(f"test failed at {op['path']}")
        else:
            raise _PatchFailed(f"unknown operation {kind!r}")
    return doc


@dataclass(frozen=True)
class _Field:
    """How strategic merge treats one field: its value's type, and for a list how it merges."""

    type: str | None = None  # the schema of the value (a map) or of each element (a list)
    merge_key: str | None = None  # a list of maps merged by this key
    merge_scalars: bool = False  # a list of scalars merged as a set


_OBJECT_META = {"metadata": _Field("ObjectMeta")}
_CONTAINERS = _Field("Container", "name")
# The patchStrategy/patchMergeKey tags of the served built-in kinds (k8s.io/api, v1.32); a
# list not named here is replaced whole, as a list without a strategy is.
_SCHEMAS: dict[str, dict[str, _Field]] = {
    "ObjectMeta": {
        "ownerReferences": _Field(None, "uid"),
        "finalizers": _Field(merge_scalars=True),
    },
    "PodTemplateSpec": {**_OBJECT_META, "spec": _Field("PodSpec")},
    "PodSpec": {
        "containers": _CONTAINERS,
        "initContainers": _CONTAINERS,
        "ephemeralContainers": _CONTAINERS,
        "volumes": _Field(None, "name"),
        "imagePullSecrets": _Field(None, "name"),
        "hostAliases": _Field(None, "ip"),
        "topologySpreadConstraints": _Field(None, "topologyKey"),
        "resourceClaims": _Field(None, "name"),
        "schedulingGates": _Field(None, "name"),
    },
    "Container": {
        "env": _Field(None, "name"),
        "ports": _Field(None, "containerPort"),
        "volumeMounts": _Field(None, "mountPath"),
        "volumeDevices": _Field(None, "devicePath"),
    },
    "PodStatus": {"conditions": _Field(None, "type")},
    "Pod": {**_OBJECT_META, "spec": _Field("PodSpec"), "status": _Field("PodStatus")},
    "JobSpec": {"template": _Field("PodTemplateSpec")},
    "JobStatus": {"conditions": _Field(None, "type")},
    "Job": {**_OBJECT_META, "spec": _Field("JobSpec"), "status": _Field("JobStatus")},
    "JobTemplateSpec": {**_OBJECT_META, "spec": _Field("JobSpec")},
    "CronJobSpec": {"jobTemplate": _Field("JobTemplateSpec")},
    "CronJob": {**_OBJECT_META, "spec": _Field("CronJobSpec")},
    "ServiceAccount": {**_OBJECT_META, "secrets": _Field(None, "name")},
}
_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"


class _Deleted:
    """A map whose patch said `$patch: delete`."""


_DELETED = _Deleted()


def strategic_merge(target: Obj, patch: Obj, kind: str) -> Obj:
    """A strategic merge patch applied to a copy of target, for the built-in kind named.
    Raises _PatchFailed on what the real server refuses or the stand-in does not know."""
    result = _smp_map(target, patch, kind)
    if isinstance(result, _Deleted):
        raise _PatchFailed("the patch deletes the whole object")
    return result


def _smp_map(target: Any, patch: Obj, schema: str | None) -> Obj | _Deleted:
    fields = _SCHEMAS.get(schema or "", {})
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETED
    if directive == "replace":
        return _strip_directives(patch)
    if directive not in (None, "merge"):
        raise _PatchFailed(f"unknown $patch directive {directive!r}")
    retain = patch.get("$retainKeys")
    if retain is not None and not isinstance(retain, list):
        raise _PatchFailed("$retainKeys must be a list")
    result = _clone(target) if isinstance(target, dict) else {}
    orders: dict[str, Any] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith(_DELETE_FROM):
            name = key[len(_DELETE_FROM) :]
            if isinstance(result.get(name), list) and isinstance(value, list):
                result[name] = [v for v in result[name] if v not in value]
            continue
        if key.startswith(_ORDER):
            orders[key[len(_ORDER) :]] = value
            continue
        if key.startswith("$"):
            raise _PatchFailed(f"unknown strategic merge directive {key!r}")
        field = fields.get(key, _Field())
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _smp_map(result.get(key), value, field.type)
            if isinstance(merged, _Deleted):
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and (field.merge_key or field.merge_scalars):
            result[key] = _smp_list(result.get(key), value, field)
        elif isinstance(value, list):
            result[key] = [_strip_directives(v) if isinstance(v, dict) else v for v in value]
        else:
            result[key] = value
    for name, order in orders.items():
        field = fields.get(name, _Field())
        if isinstance(result.get(name), list) and isinstance(order, list):
            result[name] = _reorder(result[name], order, field.merge_key)
    if retain is not None:
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _smp_list(target: Any, patch: list[Any], field: _Field) -> list[Any]:
    current = _clone(target) if isinstance(target, list) else []
    if field.merge_scalars:
        for value in patch:
            if isinstance(value, dict):
                raise _PatchFailed("a list of scalars cannot merge a map")
            if value not in current:
                current.append(value)
        return current
    key = field.merge_key
    if any(isinstance(e, dict) and e.get("$patch") == "replace" and len(e) == 1 for e in patch):
        return [
            _strip_directives(e)
            for e in patch
            if not (isinstance(e, dict) and e.get("$patch") == "replace" and len(e) == 1)
        ]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise _PatchFailed(f"a list element does not contain the merge key {key!r}")
        at = next(
            (i for i, e in enumerate(current) if isinstance(e, dict) and e.get(key) == item[key]),
            None,
        )
        if item.get("$patch") == "delete":
            current = [e for e in current if not (isinstance(e, dict) and e.get(key) == item[key])]
            continue
        merged = _smp_map(current[at] if at is not None else None, item, field.type)
        if isinstance(merged, _Deleted):  # pragma: no cover - handled above
            continue
        if at is None:
            current.append(merged)
        else:
            current[at] = merged
    return current


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    """`$setElementOrder`: the ordered items in that order, the others where they were
    (the real server's merge of the patch's order with the live object's)."""

    def ident(value: Any) -> Any:
        return value.get(key) if key and isinstance(value, dict) else value

    rank = {json.dumps(ident(o), sort_keys=True): i for i, o in enumerate(order)}
    position = {id(item): i for i, item in enumerate(items)}
    ordered = sorted(
        (i for i in items if json.dumps(ident(i), sort_keys=True) in rank),
        key=lambda i: rank[json.dumps(ident(i), sort_keys=True)],
    )
    others = [i for i in items if json.dumps(ident(i), sort_keys=True) not in rank]
    result: list[Any] = []
    for item in ordered:
        while others and position[id(others[0])] < position[id(item)]:
            result.append(others.pop(0))
        result.append(item)
    return result + others


def _strip_directives(value: Obj) -> Obj:
    return {
        k: (_strip_directives(v) if isinstance(v, dict) else _clone(v))
        for k, v in value.items()
        if not k.startswith("$")
    }


# ---------------------------------------------------------------- selectors

_KEY = (
    r"(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
)
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_TERM = re.compile(rf"^({_KEY})\s+(in|notin)\s*\(([^()]*)\)$")
_NOT_TERM = re.compile(rf"^!\s*({_KEY})$")
_EQ_TERM = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_CMP_TERM = re.compile(rf"^({_KEY})\s*([<>])\s*(-?[0-9]+)$")
_HAS_TERM = re.compile(rf"^({_KEY})$")
_VALUE_ONLY = re.compile(rf"^{_VALUE}$")

Labels = dict[str, str]


def _split_terms(selector: str) -> list[str]:
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in selector:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            raise _bad_request(f"unable to parse requirement: unbalanced ')' in {selector!r}")
        if ch == "," and depth == 0:
            terms.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if depth:
        raise _bad_request(f"unable to parse requirement: unbalanced '(' in {selector!r}")
    terms.append("".join(current).strip())
    if any(not t for t in terms):
        raise _bad_request(f"unable to parse requirement: empty term in {selector!r}")
    return terms


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _label_check(term: str) -> Callable[[Labels], bool]:
    if m := _SET_TERM.match(term):
        key, values = m[1], {v.strip() for v in m[3].split(",")}
        if not values or any(not _VALUE_ONLY.match(v) for v in values) or "" in values:
            raise _bad_request(f"unable to parse requirement: bad values in {term!r}")
        if m[2] == "in":
            return lambda lb: key in lb and lb[key] in values
        return lambda lb: lb.get(key) not in values
    if m := _NOT_TERM.match(term):
        key = m[1]
        return lambda lb: key not in lb
    if m := _EQ_TERM.match(term):
        key, op, value = m[1], m[2], m[3]
        if op == "!=":
            return lambda lb: lb.get(key) != value
        return lambda lb: key in lb and lb[key] == value
    if m := _CMP_TERM.match(term):
        key, op, bound = m[1], m[2], int(m[3])

        def compare(lb: Labels) -> bool:
            number = _int_or_none(lb.get(key))
            return number is not None and (number > bound if op == ">" else number < bound)

        return compare
    if m := _HAS_TERM.match(term):
        key = m[1]
        return lambda lb: key in lb
    raise _bad_request(f"unable to parse requirement: {term!r}")


def label_matcher(selector: str | None) -> Callable[[Labels], bool] | None:
    """A predicate over labels, or None when the selector selects everything."""
    if not selector or not selector.strip():
        return None
    checks = [_label_check(term) for term in _split_terms(selector)]
    return lambda labels: all(check(labels) for check in checks)


def _field_value(obj: Obj, path: tuple[str, ...]) -> str:
    node: Any = obj
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, bool):
        return "true" if node else "false"
    return "" if node is None else str(node)


def _field_check(path: tuple[str, ...], value: str, negate: bool) -> Callable[[Obj], bool]:
    return lambda obj: (_field_value(obj, path) == value) != negate


def field_matcher(kind: Kind, selector: str | None) -> Callable[[Obj], bool] | None:
    """A predicate over objects, or None when the selector selects everything."""
    if not selector or not selector.strip():
        return None
    checks: list[Callable[[Obj], bool]] = []
    for term in _split_terms(selector):
        m = re.match(r"^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$", term)
        if not m:
            raise _bad_request(f"invalid field selector: {term!r}")
        path = kind.field_labels.get(m[1])
        if path is None:
            raise _bad_request(f'field label not supported: "{m[1]}" for {kind.plural}')
        checks.append(_field_check(path, m[3].strip(), m[2] == "!="))
    return lambda obj: all(check(obj) for check in checks)


# ---------------------------------------------------------------- continue tokens


def _encode_token(epoch: int, scope: str, after: tuple[str, str], page: int) -> str:
    """`page`: the number of the page the token asks for (the first page has none)."""
    data = {"v": 1, "e": epoch, "s": scope, "k": list(after), "p": page}
    raw = json.dumps(data, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token(token: str) -> tuple[int, str, tuple[str, str], int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        epoch, scope, (namespace, name) = data["e"], data["s"], data["k"]
        page = data.get("p", 2)
        if not (isinstance(epoch, int) and isinstance(scope, str) and isinstance(page, int)):
            raise TypeError
        return epoch, scope, (str(namespace), str(name)), page
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _bad_request("invalid continue token") from None


# ---------------------------------------------------------------- protobuf request bodies

_PROTOBUF = "application/vnd.kubernetes.protobuf"
# kubectl's typed commands (create namespace, create secret, create serviceaccount, create
# job, auth can-i) send protobuf and never fall back to JSON. These are the field numbers
# and types of the messages they can send, generated from the FileDescriptorProtos of
# k8s.io/api v1.32 (as compiled into kubectl); the SelfSubjectAccessReview lines were
# written from authorization/v1's protobuf struct tags, the same numbers. A line is a
# message, then `jsonName=number:type`; indented lines continue it. Types: s string, b
# bytes, i integer, u bool, d double, T Time, Q Quantity, X IntOrString, F FieldsV1, else
# a message (^m: embedded, its fields inline in JSON); *t repeated, {k:v} a map. A
# trailing _ marks a scalar that is not a pointer in the Go type: its zero value means
# unset and is dropped, as its JSON omits it (empty strings are dropped likewise; the
# zero value of a pointer is kept).
_PROTO_TABLE = """
Namespace metadata=1:ObjectMeta spec=2:NamespaceSpec status=3:NamespaceStatus
Secret metadata=1:ObjectMeta immutable=5:u data=2:{s:b} stringData=4:{s:s} type=3:s
ServiceAccount metadata=1:ObjectMeta secrets=2:*ObjectReference
    imagePullSecrets=3:*LocalObjectReference automountServiceAccountToken=4:u
Job metadata=1:ObjectMeta spec=2:JobSpec status=3:JobStatus
ObjectMeta name=1:s generateName=2:s namespace=3:s selfLink=4:s uid=5:s resourceVersion=6:s
    generation=7:i_ creationTimestamp=8:T deletionTimestamp=9:T deletionGracePeriodSeconds=10:i
    labels=11:{s:s} annotations=12:{s:s} ownerReferences=13:*OwnerReference finalizers=14:*s
    managedFields=17:*ManagedFieldsEntry
NamespaceSpec finalizers=1:*s
NamespaceStatus phase=1:s conditions=2:*NamespaceCondition
ObjectReference kind=1:s namespace=2:s name=3:s uid=4:s apiVersion=5:s resourceVersion=6:s
    fieldPath=7:s
LocalObjectReference name=1:s
JobSpec parallelism=1:i completions=2:i activeDeadlineSeconds=3:i
    podFailurePolicy=11:PodFailurePolicy successPolicy=16:SuccessPolicy backoffLimit=7:i
    backoffLimitPerIndex=12:i maxFailedIndexes=13:i selector=4:LabelSelector manualSelector=5:u
    template=6:PodTemplateSpec ttlSecondsAfterFinished=8:i completionMode=9:s suspend=10:u
    podReplacementPolicy=14:s managedBy=15:s
JobStatus conditions=1:*JobCondition startTime=2:T completionTime=3:T active=4:i_
    succeeded=5:i_ failed=6:i_ terminating=11:i completedIndexes=7:s failedIndexes=10:s
    uncountedTerminatedPods=8:UncountedTerminatedPods ready=9:i
OwnerReference apiVersion=5:s kind=1:s name=3:s uid=4:s controller=6:u blockOwnerDeletion=7:u
ManagedFieldsEntry manager=1:s operation=2:s apiVersion=3:s time=4:T fieldsType=6:s
    fieldsV1=7:F subresource=8:s
NamespaceCondition type=1:s status=2:s lastTransitionTime=4:T reason=5:s message=6:s
PodFailurePolicy rules=1:*PodFailurePolicyRule
SuccessPolicy rules=1:*SuccessPolicyRule
LabelSelector matchLabels=1:{s:s} matchExpressions=2:*LabelSelectorRequirement
PodTemplateSpec metadata=1:ObjectMeta spec=2:PodSpec
JobCondition type=1:s status=2:s lastProbeTime=3:T lastTransitionTime=4:T reason=5:s
    message=6:s
UncountedTerminatedPods succeeded=1:*s failed=2:*s
PodFailurePolicyRule action=1:s onExitCodes=2:PodFailurePolicyOnExitCodesRequirement
    onPodConditions=3:*PodFailurePolicyOnPodConditionsPattern
SuccessPolicyRule succeededIndexes=1:s succeededCount=2:i
LabelSelectorRequirement key=1:s operator=2:s values=3:*s
PodSpec volumes=1:*Volume initContainers=20:*Container containers=2:*Container
    ephemeralContainers=34:*EphemeralContainer restartPolicy=3:s
    terminationGracePeriodSeconds=4:i activeDeadlineSeconds=5:i dnsPolicy=6:s
    nodeSelector=7:{s:s} serviceAccountName=8:s serviceAccount=9:s
    automountServiceAccountToken=21:u nodeName=10:s hostNetwork=11:u_ hostPID=12:u_
    hostIPC=13:u_ shareProcessNamespace=27:u securityContext=14:PodSecurityContext
    imagePullSecrets=15:*LocalObjectReference hostname=16:s subdomain=17:s affinity=18:Affinity
    schedulerName=19:s tolerations=22:*Toleration hostAliases=23:*HostAlias
    priorityClassName=24:s priority=25:i dnsConfig=26:PodDNSConfig
    readinessGates=28:*PodReadinessGate runtimeClassName=29:s enableServiceLinks=30:u
    preemptionPolicy=31:s overhead=32:{s:Q}
    topologySpreadConstraints=33:*TopologySpreadConstraint setHostnameAsFQDN=35:u os=36:PodOS
    hostUsers=37:u schedulingGates=38:*PodSchedulingGate resourceClaims=39:*PodResourceClaim
    resources=40:ResourceRequirements
PodFailurePolicyOnExitCodesRequirement containerName=1:s operator=2:s values=3:*i
PodFailurePolicyOnPodConditionsPattern type=1:s status=2:s
Volume name=1:s volumeSource=2:^VolumeSource
Container name=1:s image=2:s command=3:*s args=4:*s workingDir=5:s ports=6:*ContainerPort
    envFrom=19:*EnvFromSource env=7:*EnvVar resources=8:ResourceRequirements
    resizePolicy=23:*ContainerResizePolicy restartPolicy=24:s volumeMounts=9:*VolumeMount
    volumeDevices=21:*VolumeDevice livenessProbe=10:Probe readinessProbe=11:Probe
    startupProbe=22:Probe lifecycle=12:Lifecycle terminationMessagePath=13:s
    terminationMessagePolicy=20:s imagePullPolicy=14:s securityContext=15:SecurityContext
    stdin=16:u_ stdinOnce=17:u_ tty=18:u_
EphemeralContainer ephemeralContainerCommon=1:^EphemeralContainerCommon targetContainerName=2:s
PodSecurityContext seLinuxOptions=1:SELinuxOptions
    windowsOptions=8:WindowsSecurityContextOptions runAsUser=2:i runAsGroup=6:i
    runAsNonRoot=3:u supplementalGroups=4:*i supplementalGroupsPolicy=12:s fsGroup=5:i
    sysctls=7:*Sysctl fsGroupChangePolicy=9:s seccompProfile=10:SeccompProfile
    appArmorProfile=11:AppArmorProfile seLinuxChangePolicy=13:s
Affinity nodeAffinity=1:NodeAffinity podAffinity=2:PodAffinity
    podAntiAffinity=3:PodAntiAffinity
Toleration key=1:s operator=2:s value=3:s effect=4:s tolerationSeconds=5:i
HostAlias ip=1:s hostnames=2:*s
PodDNSConfig nameservers=1:*s searches=2:*s options=3:*PodDNSConfigOption
PodReadinessGate conditionType=1:s
TopologySpreadConstraint maxSkew=1:i_ topologyKey=2:s whenUnsatisfiable=3:s
    labelSelector=4:LabelSelector minDomains=5:i nodeAffinityPolicy=6:s nodeTaintsPolicy=7:s
    matchLabelKeys=8:*s
PodOS name=1:s
PodSchedulingGate name=1:s
PodResourceClaim name=1:s resourceClaimName=3:s resourceClaimTemplateName=4:s
ResourceRequirements limits=1:{s:Q} requests=2:{s:Q} claims=3:*ResourceClaim
VolumeSource hostPath=1:HostPathVolumeSource emptyDir=2:EmptyDirVolumeSource
    gcePersistentDisk=3:GCEPersistentDiskVolumeSource
    awsElasticBlockStore=4:AWSElasticBlockStoreVolumeSource gitRepo=5:GitRepoVolumeSource
    secret=6:SecretVolumeSource nfs=7:NFSVolumeSource iscsi=8:ISCSIVolumeSource
    glusterfs=9:GlusterfsVolumeSource
    persistentVolumeClaim=10:PersistentVolumeClaimVolumeSource rbd=11:RBDVolumeSource
    flexVolume=12:FlexVolumeSource cinder=13:CinderVolumeSource cephfs=14:CephFSVolumeSource
    flocker=15:FlockerVolumeSource downwardAPI=16:DownwardAPIVolumeSource fc=17:FCVolumeSource
    azureFile=18:AzureFileVolumeSource configMap=19:ConfigMapVolumeSource
    vsphereVolume=20:VsphereVirtualDiskVolumeSource quobyte=21:QuobyteVolumeSource
    azureDisk=22:AzureDiskVolumeSource photonPersistentDisk=23:PhotonPersistentDiskVolumeSource
    projected=26:ProjectedVolumeSource portworxVolume=24:PortworxVolumeSource
    scaleIO=25:ScaleIOVolumeSource storageos=27:StorageOSVolumeSource csi=28:CSIVolumeSource
    ephemeral=29:EphemeralVolumeSource image=30:ImageVolumeSource
ContainerPort name=1:s hostPort=2:i_ containerPort=3:i protocol=4:s hostIP=5:s
EnvFromSource prefix=1:s configMapRef=2:ConfigMapEnvSource secretRef=3:SecretEnvSource
EnvVar name=1:s value=2:s valueFrom=3:EnvVarSource
ContainerResizePolicy resourceName=1:s restartPolicy=2:s
VolumeMount name=1:s readOnly=2:u_ recursiveReadOnly=7:s mountPath=3:s subPath=4:s
    mountPropagation=5:s subPathExpr=6:s
VolumeDevice name=1:s devicePath=2:s
Probe handler=1:^ProbeHandler initialDelaySeconds=2:i_ timeoutSeconds=3:i_ periodSeconds=4:i_
    successThreshold=5:i_ failureThreshold=6:i_ terminationGracePeriodSeconds=7:i
Lifecycle postStart=1:LifecycleHandler preStop=2:LifecycleHandler
SecurityContext capabilities=1:Capabilities privileged=2:u seLinuxOptions=3:SELinuxOptions
    windowsOptions=10:WindowsSecurityContextOptions runAsUser=4:i runAsGroup=8:i
    runAsNonRoot=5:u readOnlyRootFilesystem=6:u allowPrivilegeEscalation=7:u procMount=9:s
    seccompProfile=11:SeccompProfile appArmorProfile=12:AppArmorProfile
EphemeralContainerCommon name=1:s image=2:s command=3:*s args=4:*s workingDir=5:s
    ports=6:*ContainerPort envFrom=19:*EnvFromSource env=7:*EnvVar
    resources=8:ResourceRequirements resizePolicy=23:*ContainerResizePolicy restartPolicy=24:s
    volumeMounts=9:*VolumeMount volumeDevices=21:*VolumeDevice livenessProbe=10:Probe
    readinessProbe=11:Probe startupProbe=22:Probe lifecycle=12:Lifecycle
    terminationMessagePath=13:s terminationMessagePolicy=20:s imagePullPolicy=14:s
    securityContext=15:SecurityContext stdin=16:u_ stdinOnce=17:u_ tty=18:u_
SELinuxOptions user=1:s role=2:s type=3:s level=4:s
WindowsSecurityContextOptions gmsaCredentialSpecName=1:s gmsaCredentialSpec=2:s
    runAsUserName=3:s hostProcess=4:u
Sysctl name=1:s value=2:s
SeccompProfile type=1:s localhostProfile=2:s
AppArmorProfile type=1:s localhostProfile=2:s
NodeAffinity requiredDuringSchedulingIgnoredDuringExecution=1:NodeSelector
    preferredDuringSchedulingIgnoredDuringExecution=2:*PreferredSchedulingTerm
PodAffinity requiredDuringSchedulingIgnoredDuringExecution=1:*PodAffinityTerm
    preferredDuringSchedulingIgnoredDuringExecution=2:*WeightedPodAffinityTerm
PodAntiAffinity requiredDuringSchedulingIgnoredDuringExecution=1:*PodAffinityTerm
    preferredDuringSchedulingIgnoredDuringExecution=2:*WeightedPodAffinityTerm
PodDNSConfigOption name=1:s value=2:s
ResourceClaim name=1:s request=2:s
HostPathVolumeSource path=1:s type=2:s
EmptyDirVolumeSource medium=1:s sizeLimit=2:Q
GCEPersistentDiskVolumeSource pdName=1:s fsType=2:s partition=3:i_ readOnly=4:u_
AWSElasticBlockStoreVolumeSource volumeID=1:s fsType=2:s partition=3:i_ readOnly=4:u_
GitRepoVolumeSource repository=1:s revision=2:s directory=3:s
SecretVolumeSource secretName=1:s items=2:*KeyToPath defaultMode=3:i optional=4:u
NFSVolumeSource server=1:s path=2:s readOnly=3:u_
ISCSIVolumeSource targetPortal=1:s iqn=2:s lun=3:i_ iscsiInterface=4:s fsType=5:s readOnly=6:u_
    portals=7:*s chapAuthDiscovery=8:u_ chapAuthSession=11:u_ secretRef=10:LocalObjectReference
    initiatorName=12:s
GlusterfsVolumeSource endpoints=1:s path=2:s readOnly=3:u_
PersistentVolumeClaimVolumeSource claimName=1:s readOnly=2:u_
RBDVolumeSource monitors=1:*s image=2:s fsType=3:s pool=4:s user=5:s keyring=6:s
    secretRef=7:LocalObjectReference readOnly=8:u_
FlexVolumeSource driver=1:s fsType=2:s secretRef=3:LocalObjectReference readOnly=4:u_
    options=5:{s:s}
CinderVolumeSource volumeID=1:s fsType=2:s readOnly=3:u_ secretRef=4:LocalObjectReference
CephFSVolumeSource monitors=1:*s path=2:s user=3:s secretFile=4:s
    secretRef=5:LocalObjectReference readOnly=6:u_
FlockerVolumeSource datasetName=1:s datasetUUID=2:s
DownwardAPIVolumeSource items=1:*DownwardAPIVolumeFile defaultMode=2:i
FCVolumeSource targetWWNs=1:*s lun=2:i fsType=3:s readOnly=4:u_ wwids=5:*s
AzureFileVolumeSource secretName=1:s shareName=2:s readOnly=3:u_
ConfigMapVolumeSource localObjectReference=1:^LocalObjectReference items=2:*KeyToPath
    defaultMode=3:i optional=4:u
VsphereVirtualDiskVolumeSource volumePath=1:s fsType=2:s storagePolicyName=3:s
    storagePolicyID=4:s
QuobyteVolumeSource registry=1:s volume=2:s readOnly=3:u_ user=4:s group=5:s tenant=6:s
AzureDiskVolumeSource diskName=1:s diskURI=2:s cachingMode=3:s fsType=4:s readOnly=5:u kind=6:s
PhotonPersistentDiskVolumeSource pdID=1:s fsType=2:s
ProjectedVolumeSource sources=1:*VolumeProjection defaultMode=2:i
PortworxVolumeSource volumeID=1:s fsType=2:s readOnly=3:u_
ScaleIOVolumeSource gateway=1:s system=2:s secretRef=3:LocalObjectReference sslEnabled=4:u_
    protectionDomain=5:s storagePool=6:s storageMode=7:s volumeName=8:s fsType=9:s
    readOnly=10:u_
StorageOSVolumeSource volumeName=1:s volumeNamespace=2:s fsType=3:s readOnly=4:u_
    secretRef=5:LocalObjectReference
CSIVolumeSource driver=1:s readOnly=2:u fsType=3:s volumeAttributes=4:{s:s}
    nodePublishSecretRef=5:LocalObjectReference
EphemeralVolumeSource volumeClaimTemplate=1:PersistentVolumeClaimTemplate
ImageVolumeSource reference=1:s pullPolicy=2:s
ConfigMapEnvSource localObjectReference=1:^LocalObjectReference optional=2:u
SecretEnvSource localObjectReference=1:^LocalObjectReference optional=2:u
EnvVarSource fieldRef=1:ObjectFieldSelector resourceFieldRef=2:ResourceFieldSelector
    configMapKeyRef=3:ConfigMapKeySelector secretKeyRef=4:SecretKeySelector
ProbeHandler exec=1:ExecAction httpGet=2:HTTPGetAction tcpSocket=3:TCPSocketAction
    grpc=4:GRPCAction
LifecycleHandler exec=1:ExecAction httpGet=2:HTTPGetAction tcpSocket=3:TCPSocketAction
    sleep=4:SleepAction
Capabilities add=1:*s drop=2:*s
NodeSelector nodeSelectorTerms=1:*NodeSelectorTerm
PreferredSchedulingTerm weight=1:i_ preference=2:NodeSelectorTerm
PodAffinityTerm labelSelector=1:LabelSelector namespaces=2:*s topologyKey=3:s
    namespaceSelector=4:LabelSelector matchLabelKeys=5:*s mismatchLabelKeys=6:*s
WeightedPodAffinityTerm weight=1:i_ podAffinityTerm=2:PodAffinityTerm
KeyToPath key=1:s path=2:s mode=3:i
DownwardAPIVolumeFile path=1:s fieldRef=2:ObjectFieldSelector
    resourceFieldRef=3:ResourceFieldSelector mode=4:i
VolumeProjection secret=1:SecretProjection downwardAPI=2:DownwardAPIProjection
    configMap=3:ConfigMapProjection serviceAccountToken=4:ServiceAccountTokenProjection
    clusterTrustBundle=5:ClusterTrustBundleProjection
PersistentVolumeClaimTemplate metadata=1:ObjectMeta spec=2:PersistentVolumeClaimSpec
ObjectFieldSelector apiVersion=1:s fieldPath=2:s
ResourceFieldSelector containerName=1:s resource=2:s divisor=3:Q
ConfigMapKeySelector localObjectReference=1:^LocalObjectReference key=2:s optional=3:u
SecretKeySelector localObjectReference=1:^LocalObjectReference key=2:s optional=3:u
ExecAction command=1:*s
HTTPGetAction path=1:s port=2:X host=3:s scheme=4:s httpHeaders=5:*HTTPHeader
TCPSocketAction port=1:X host=2:s
GRPCAction port=1:i service=2:s
SleepAction seconds=1:i
NodeSelectorTerm matchExpressions=1:*NodeSelectorRequirement
    matchFields=2:*NodeSelectorRequirement
SecretProjection localObjectReference=1:^LocalObjectReference items=2:*KeyToPath optional=4:u
DownwardAPIProjection items=1:*DownwardAPIVolumeFile
ConfigMapProjection localObjectReference=1:^LocalObjectReference items=2:*KeyToPath optional=4:u
ServiceAccountTokenProjection audience=1:s expirationSeconds=2:i path=3:s
ClusterTrustBundleProjection name=1:s signerName=2:s labelSelector=3:LabelSelector optional=5:u
    path=4:s
PersistentVolumeClaimSpec accessModes=1:*s selector=4:LabelSelector
    resources=2:VolumeResourceRequirements volumeName=3:s storageClassName=5:s volumeMode=6:s
    dataSource=7:TypedLocalObjectReference dataSourceRef=8:TypedObjectReference
    volumeAttributesClassName=9:s
HTTPHeader name=1:s value=2:s
NodeSelectorRequirement key=1:s operator=2:s values=3:*s
VolumeResourceRequirements limits=1:{s:Q} requests=2:{s:Q}
TypedLocalObjectReference apiGroup=1:s kind=2:s name=3:s
TypedObjectReference apiGroup=1:s kind=2:s name=3:s namespace=4:s
SelfSubjectAccessReview metadata=1:ObjectMeta spec=2:SelfSubjectAccessReviewSpec
    status=3:SubjectAccessReviewStatus
SelfSubjectAccessReviewSpec resourceAttributes=1:ResourceAttributes
    nonResourceAttributes=2:NonResourceAttributes
ResourceAttributes namespace=1:s verb=2:s group=3:s version=4:s resource=5:s subresource=6:s
    name=7:s
NonResourceAttributes path=1:s verb=2:s
SubjectAccessReviewStatus allowed=1:u_ denied=4:u_ reason=2:s evaluationError=3:s
"""


class _Undecodable:
    """A request body the stand-in cannot read: answered 415."""

    def __init__(self, why: str) -> None:
        self.why = why


class _ProtoError(Exception):
    pass


def _proto_schema() -> dict[str, dict[int, tuple[str, str]]]:
    schema: dict[str, dict[int, tuple[str, str]]] = {}
    current: dict[int, tuple[str, str]] = {}
    for line in _PROTO_TABLE.strip().splitlines():
        tokens = line.split()
        if not line.startswith(" "):
            current = schema[tokens.pop(0)] = {}
        for token in tokens:
            name, _, rest = token.partition("=")
            number, _, code = rest.partition(":")
            current[int(number)] = (name, code)
    return schema


_PROTO_SCHEMA = _proto_schema()


def _varint(data: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(data):
            raise _ProtoError("truncated varint")
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def _proto_fields(data: bytes) -> list[tuple[int, int, Any]]:
    fields: list[tuple[int, int, Any]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i : i + size], i + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = data[i : i + size], i + size
        else:
            raise _ProtoError(f"wire type {wire} is not used by Kubernetes")
        if i > len(data):
            raise _ProtoError("truncated field")
        fields.append((number, wire, value))
    return fields


def _proto_value(wire: int, value: Any, code: str) -> Any:
    base = code.rstrip("_")
    if base in ("i", "u"):
        if wire != 0:
            raise _ProtoError(f"an integer with wire type {wire}")
        number = value - (1 << 64) if value >= 1 << 63 else value
        return bool(number) if base == "u" else number
    if base == "d":
        if wire != 1:
            raise _ProtoError(f"a double with wire type {wire}")
        return struct.unpack("<d", value)[0]
    if wire != 2:
        raise _ProtoError(f"a {base} with wire type {wire}")
    if base == "s":
        return value.decode()
    if base == "b":
        return base64.b64encode(value).decode()
    return _proto_message(value, base)


def _proto_message(data: bytes, type_name: str) -> Any:
    if type_name in ("T", "Q", "X", "F"):
        parts = {number: value for number, _, value in _proto_fields(data)}
        if type_name == "T":  # seconds and nanos; the zero time is JSON's null
            seconds = parts.get(1, 0)
            if not seconds and not parts.get(2):
                return None
            when = datetime.fromtimestamp(seconds, UTC)
            return when.strftime("%Y-%m-%dT%H:%M:%SZ")
        if type_name == "Q":
            return bytes(parts.get(1, b"")).decode()
        if type_name == "X":
            return bytes(parts.get(3, b"")).decode() if parts.get(1) == 1 else parts.get(2, 0)
        return json.loads(bytes(parts.get(1, b"{}")) or b"{}")
    schema = _PROTO_SCHEMA.get(type_name)
    if schema is None:
        raise _ProtoError(f"the stand-in cannot decode protobuf {type_name} messages")
    out: Obj = {}
    for number, wire, value in _proto_fields(data):
        if number not in schema:
            raise _ProtoError(f"{type_name} has no protobuf field {number}")
        name, code = schema[number]
        if code.startswith("{"):
            key_code, value_code = code[1:-1].split(":")
            entry = {n: (w, v) for n, w, v in _proto_fields(value)}
            key = _proto_value(*entry.get(1, (2, b"")), key_code)
            out.setdefault(name, {})[key] = (
                _proto_value(*entry[2], value_code)
                if 2 in entry
                else _proto_value(2, b"", value_code)
            )
        elif code.startswith("*"):
            element = code[1:]
            items = out.setdefault(name, [])
            if wire == 2 and element.rstrip("_") in ("i", "u"):  # packed
                i = 0
                while i < len(value):
                    number_, i = _varint(value, i)
                    items.append(_proto_value(0, number_, element))
            else:
                items.append(_proto_value(wire, value, element))
        elif code.startswith("^"):
            if wire != 2:
                raise _ProtoError(f"an embedded message with wire type {wire}")
            out.update(_proto_message(value, code[1:]))
        else:
            out[name] = _proto_value(wire, value, code)
    for name, code in schema.values():
        if (code == "s" and out.get(name) == "") or (
            code.endswith("_") and name in out and not out[name]
        ):
            del out[name]
    return out


def decode_protobuf(raw: bytes) -> Obj:
    """A Kubernetes protobuf body (the `k8s\\0` envelope around runtime.Unknown) as the JSON
    object it stands for."""
    if not raw.startswith(b"k8s\x00"):
        raise _ProtoError("the body lacks the k8s protobuf envelope")
    type_meta: dict[int, Any] = {}
    body = b""
    for number, _, value in _proto_fields(raw[4:]):
        if number == 1:
            type_meta = {n: bytes(v).decode() for n, _, v in _proto_fields(value)}
        elif number == 2:
            body = value
        elif number == 3 and value:
            raise _ProtoError(f"content encoding {bytes(value).decode()!r}")
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    obj = _proto_message(body, kind)
    return {"apiVersion": api_version, "kind": kind, **obj}


# ---------------------------------------------------------------- discovery


def _discovery(path: str, server: str) -> Obj | None:
    """The discovery document at path (no trailing slash), or None."""
    if path == "/version":
        return {
            "major": "1",
            "minor": "34",
            "gitVersion": "v1.34.0+standin",
            "gitCommit": "0" * 40,
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.24.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
    if path == "/api":
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
        }
    if path == "/apis":
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [_group(g) for g in _groups()],
        }
    for group in _groups():
        if path == f"/apis/{group}":
            return {"kind": "APIGroup", "apiVersion": "v1", **_group(group)}
    for group, version in [("", "v1"), *GROUP_VERSIONS]:
        if path == (f"/apis/{group}/{version}" if group else "/api/v1"):
            return _resource_list(group, version)
    return None


def _groups() -> list[str]:
    return sorted({g for g, _ in GROUP_VERSIONS})


def _group(group: str) -> Obj:
    versions = [
        {"groupVersion": f"{group}/{v}", "version": v} for g, v in GROUP_VERSIONS if g == group
    ]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def _resource_list(group: str, version: str) -> Obj:
    resources: list[Obj] = []
    for k in KINDS:
        if (k.group, k.version) != (group, version):
            continue
        resources.append(
            {
                "name": k.plural,
                "singularName": k.kind.lower(),
                "namespaced": k.namespaced,
                "kind": k.kind,
                "verbs": k.all_verbs,
                **({"shortNames": list(k.short_names)} if k.short_names else {}),
            }
        )
        for sub in ("status", *k.subresources) if k.status_subresource else k.subresources:
            verbs = (
                ["get"] if sub == "log" else [v for v in k.verbs if v in ("get", "patch", "update")]
            )
            resources.append(
                {
                    "name": f"{k.plural}/{sub}",
                    "singularName": "",
                    "namespaced": k.namespaced,
                    "kind": k.kind,
                    "verbs": sorted({"get", *verbs}),
                }
            )
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


# ---------------------------------------------------------------- OpenAPI v3


def _openapi_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _openapi_operation(kind: Kind, action: str, patch_types: list[str]) -> Obj:
    """An operation as the real documents describe it, minus schemas: what kubectl reads
    (the group-version-kind extension, the query parameters, the patch media types)."""
    params = [{"name": "fieldManager", "in": "query", "schema": {"type": "string"}}]
    if action in ("post", "put", "patch"):
        params.append({"name": "fieldValidation", "in": "query", "schema": {"type": "string"}})
    operation: Obj = {
        "operationId": f"{action}{kind.kind}",
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": kind.group,
            "version": kind.version,
            "kind": kind.kind,
        },
    }
    if action == "patch":
        operation["requestBody"] = {
            "content": {t: {"schema": {"type": "object"}} for t in patch_types},
            "required": True,
        }
    return operation


def _openapi_document(group: str, version: str) -> Obj:
    paths: Obj = {}
    for k in KINDS:
        if (k.group, k.version) != (group, version):
            continue
        prefix = f"/{_openapi_key(group, version)}"
        collection = (
            f"{prefix}/namespaces/{{namespace}}/{k.plural}"
            if k.namespaced
            else (f"{prefix}/{k.plural}")
        )
        patch_types = [_JSON_PATCH, _MERGE] + ([] if k.custom else [_STRATEGIC])
        ops = {"list": "get", "create": "post"}
        paths[collection] = {
            method: _openapi_operation(k, "list" if verb == "list" else method, patch_types)
            for verb, method in ops.items()
            if verb in k.verbs
        }
        item_ops = {"get": "get", "update": "put", "patch": "patch", "delete": "delete"}
        paths[f"{collection}/{{name}}"] = {
            method: _openapi_operation(k, method, patch_types)
            for verb, method in item_ops.items()
            if verb in k.verbs
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (stand-in)", "version": "v1.34.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _openapi(path: str) -> Obj | None:
    """The OpenAPI v3 root or one group version's document at path, or None."""
    documents = {
        _openapi_key(g, v): _openapi_document(g, v) for g, v in [("", "v1"), *GROUP_VERSIONS]
    }
    if path == "/openapi/v3":
        return {
            "paths": {
                key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={_hash(doc)}"}
                for key, doc in documents.items()
            }
        }
    if path.startswith("/openapi/v3/"):
        return documents.get(path[len("/openapi/v3/") :])
    return None


def _hash(document: Obj) -> str:
    return hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()[:128].upper()


# ---------------------------------------------------------------- routing


def _namespace(name: str) -> Obj:
    """A namespace nobody created: every name exists and is Active (lifecycle is not
    modelled)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"standin/namespaces/{name}")),
            "resourceVersion": "1",
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


@dataclass(frozen=True)
class _Route:
    kind: Kind | None  # None: not a served resource path
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


def _route(path: str) -> _Route:
    parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return _Route(None)
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not 1 <= len(rest) <= 3:
        return _Route(None)
    kind = BY_PATH.get((group, version, rest[0]))
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if kind is None or not all(rest) or (namespace is not None and not kind.namespaced):
        return _Route(None)
    if sub and not ((sub == "status" and kind.status_subresource) or sub in kind.subresources):
        return _Route(None)
    return _Route(kind, namespace, name, sub)


def _verb(method: str, route: _Route, query: Query) -> str:
    if route.kind is None:
        return method.lower()  # RBAC's verb for a non-resource URL
    if method == "GET":
        if route.name:
            return "get"
        return "watch" if _truthy(query.get("watch", [""])[-1]) else "list"
    if method == "DELETE":
        return "delete" if route.name else "deletecollection"
    return _METHOD_VERBS.get(method, method.lower())


def _truthy(value: str | None) -> bool:
    return value in ("true", "1")


# ---------------------------------------------------------------- controllers, watch, logs


class Controller(Protocol):
    """Something that acts on the stand-in's state as a cluster component would. admit()
    may raise ApiError to refuse a write (obj is the caller's copy, old the stored object
    or None on create); observe() sees every write after it is stored (event ADDED,
    MODIFIED or DELETED). Both run under the stand-in's lock and must not block; objects
    they are given must not be mutated. stop() runs when the stand-in stops."""

    def admit(self, kind: Kind, obj: Obj, old: Obj | None) -> None: ...

    def observe(self, kind: Kind, event: str, obj: Obj, old: Obj | None) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class _Event:
    rv: int
    kind: Kind
    type: str
    obj: Obj  # stored objects are replaced on every write, never changed in place
    old: Obj | None


class ContainerLog:
    """What one container wrote, stdout and stderr interleaved, as the kubelet keeps it.
    Written with KubeStandIn.write_log() and close_log()."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False


Write = Callable[[bytes], bool]  # False once the client is gone
Gone = Callable[[], bool]


@dataclass
class _Stream:
    """A chunked response produced after the lock is released."""

    content_type: str
    run: Callable[[Write, Gone], None]


@dataclass
class _Plain:
    """A plain-text answer with headers of its own (API Priority and Fairness' 429)."""

    text: bytes
    headers: dict[str, str]


Payload = Obj | bytes | _Stream | _Plain


# ---------------------------------------------------------------- the stand-in


class KubeStandIn(LocalServer):
    """The API server stand-in: start() it (or use it as a context manager), then point
    the official client or kubectl at write_kubeconfig(). State is also reachable
    directly (seed, seed_replace, get, list, set_status, remove), and every HTTP request
    is logged in `calls`."""

    def __init__(self, latency_s: float = 0.0) -> None:
        super().__init__()
        self.latency_s = latency_s
        self.calls: list[Call] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._objects: dict[Kind, dict[tuple[str, str], Obj]] = {k: {} for k in KINDS}
        self._sorted: dict[Kind, Keys | None] = {k: None for k in KINDS}
        self._rv = 1000
        self._epoch = 0
        self._faults: list[_Fault] = []
        self._denials: list[_Denial] = []
        self._expiries: list[list[Any]] = []  # [kind, page, times]
        self._hook: Hook | None = None
        self._history: list[_Event] = []
        self._history_rvs: list[int] = []
        self._history_floor = self._rv
        self._controllers: list[Controller] = []
        self._queue: list[_Event] = []
        self._dispatching = False
        self._logs: dict[tuple[str, str, str], ContainerLog] = {}
        self._stopping = False

    def start(self) -> Self:
        self._stopping = False
        super().start()
        return self

    def stop(self) -> None:
        """Ends every watch and log stream, stops the attached controllers (the Job
        runner kills its processes), then the server."""
        with self._lock:
            self._stopping = True
            self._changed.notify_all()
            controllers = list(self._controllers)
        for controller in controllers:
            controller.stop()
        super().stop()

    @property
    def lock(self) -> threading.RLock:
        """The lock every state change happens under; controllers working from their own
        threads (the Job runner's process readers and timers) take it too."""
        return self._lock

    def attach(self, controller: Controller) -> None:
        """controller sees (and may refuse) every write from now on."""
        with self._lock:
            self._controllers.append(controller)

    def write_kubeconfig(self, path: str | Path) -> Path:
        """A kubeconfig whose current context reaches this stand-in with token test-token."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "standin", "user": {"token": "test-token"}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin"}}],
            "current-context": "standin",
        }
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        return path

    # ------------------------------------------------------------ direct access

    def seed(self, obj: Obj) -> Obj:
        """Store obj as a create would (its uid, creationTimestamp, generation and status
        are kept when given; resourceVersion is always the server's). Returns a copy.
        A namespaced object without a namespace goes to `default`."""
        kind = self._kind_of(obj)
        obj = _clone(obj)
        namespace = self._scope(kind, (obj.get("metadata") or {}).get("namespace"))
        with self._lock:
            return _clone(self._create(kind, namespace, obj, http=False))

    def seed_replace(self, obj: Obj) -> Obj:
        """Overwrite a stored object as is (bumping resourceVersion), for test set-up."""
        kind = self._kind_of(obj)
        obj = _clone(obj)
        meta = obj.setdefault("metadata", {})
        key = (self._scope(kind, meta.get("namespace")), meta["name"])
        with self._lock:
            old = self._objects[kind].get(key)
            if old is None:
                return _clone(self._create(kind, key[0], obj, http=False))
            if kind.namespaced:
                meta["namespace"] = key[0]
            meta["resourceVersion"] = self._next_rv()
            self._objects[kind][key] = obj
            self._record(kind, "MODIFIED", obj, old)
            return _clone(obj)

    def get(self, plural: str, namespace: str, name: str, group: str = FOREMAN) -> Obj | None:
        """A copy of one stored object, or None (namespace "" for cluster-scoped kinds)."""
        with self._lock:
            found = self._objects[self._kind(plural, group)].get((namespace, name))
            return _clone(found) if found is not None else None

    def list(self, plural: str, namespace: str | None = None, group: str = FOREMAN) -> Objs:
        """Copies of the stored objects, ordered by (namespace, name)."""
        with self._lock:
            kind = self._kind(plural, group)
            store = self._objects[kind]
            return [_clone(store[k]) for k in self._keys(kind) if namespace in (None, k[0])]

    def set_status(
        self, plural: str, namespace: str, name: str, status: Obj, group: str = FOREMAN
    ) -> Obj:
        """Replace an object's status (as its controller would), bumping resourceVersion."""
        with self._lock:
            store = self._objects[self._kind(plural, group)]
            if (namespace, name) not in store:
                raise KeyError(f"{group}/{plural} {namespace}/{name} is not stored")
            old = store[(namespace, name)]
            obj = _clone(old)
            obj["status"] = _clone(status)
            obj["metadata"]["resourceVersion"] = self._next_rv()
            store[(namespace, name)] = obj
            self._record(self._kind(plural, group), "MODIFIED", obj, old)
            return _clone(obj)

    def remove(self, plural: str, namespace: str, name: str, group: str = FOREMAN) -> bool:
        """Delete a stored object as a finished deletion would; False if it was not there."""
        with self._lock:
            kind = self._kind(plural, group)
            old = self._objects[kind].get((namespace, name))
            if old is None:
                return False
            self._drop(kind, old)
            return True

    def container_log(self, namespace: str, pod: str, container: str) -> ContainerLog:
        """The log of one container of a Pod (made empty on first use)."""
        with self._lock:
            return self._logs.setdefault((namespace, pod, container), ContainerLog())

    def write_log(self, log: ContainerLog, data: bytes) -> None:
        with self._lock:
            log.data.extend(data)
            self._changed.notify_all()

    def close_log(self, log: ContainerLog) -> None:
        """The container exited: followers get the rest and their stream ends."""
        with self._lock:
            log.closed = True
            self._changed.notify_all()

    # ------------------------------------------------------------ observation and faults

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def reset(self) -> None:
        """Back to an empty cluster, cheaply and without a restart: no objects, no faults,
        no hook, no calls, no watch history; every continue token handed out is expired.
        resourceVersions keep counting up, as a real server's do. Attached controllers
        stay attached."""
        with self._lock:
            self._objects = {k: {} for k in KINDS}
            self._sorted = {k: None for k in KINDS}
            self._faults.clear()
            self._hook = None
            self.calls.clear()
            self._epoch += 1
            self._history.clear()
            self._history_rvs.clear()
            self._history_floor = self._rv
            self._queue.clear()
            self._logs.clear()
            self._changed.notify_all()

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int,
        reason: str = "InternalError",
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """The next `times` requests whose method matches (`*` for any) and whose path
        matches path_regex (re.search) are answered with that Status error instead.

        A 429 is answered as API Priority and Fairness answers it: a plain-text body, not a
        Status, with `Retry-After: retry_after` seconds (no header when None, as
        EventRateLimit admission answers)."""
        with self._lock:
            self._faults.append(
                _Fault(
                    method.upper(),
                    re.compile(path_regex),
                    status,
                    reason,
                    times,
                    throttle=status == 429,
                    retry_after=retry_after,
                )
            )

    def deny(
        self, verb: str, resource: str, namespace: str | None = None, name: str | None = None
    ) -> None:
        """RBAC stops granting `verb` on `resource` (`workloads`, or with its group as
        kubectl spells it, `workloads.foreman.llmkube.dev`; `events` is any group's).
        With `namespace`, only there, which also denies it cluster-wide (across all
        namespaces); with `name`, only that object, which also denies what names no object
        (list, create), as RBAC grants those only to rules without resourceNames. Such
        requests are answered 403 Forbidden as the real server words it, and a
        SelfSubjectAccessReview asking about them answers `allowed: false`. Everything
        not denied stays granted."""
        plural, _, group = resource.partition(".")
        with self._lock:
            self._denials.append(_Denial(verb, plural, group or None, namespace, name))

    def _denied(
        self, verb: str, group: str, resource: str, namespace: str | None, name: str | None
    ) -> bool:
        return any(
            d.verb == verb
            and d.resource == resource
            and d.group in (None, group)
            and (d.namespace is None or namespace in (None, "", d.namespace))
            and (d.name is None or name in (None, "", d.name))
            for d in self._denials
        )

    def clear_faults(self) -> None:
        """Forget every injected fault not yet used up."""
        with self._lock:
            self._faults.clear()

    def on_request(self, hook: Hook | None) -> None:
        """hook(method, path, parsed JSON body or None) runs before each request is served
        (outside the lock); if it raises, the connection is closed without an answer."""
        self._hook = hook

    def expire_continue_tokens(self) -> None:
        """Every continue token handed out so far now answers 410 Expired."""
        with self._lock:
            self._epoch += 1

    def expire_on_page(self, plural: str, page: int, times: int = 1, group: str = FOREMAN) -> None:
        """The next `times` requests for page `page` (2 or more) of any listing of `plural`
        answer 410 Expired, as when etcd compacted the list's revision meanwhile."""
        with self._lock:
            self._expiries.append([self._kind(plural, group), page, times])

    def throttle(
        self, method: str, path_regex: str, times: int = 1, retry_after: int | None = 1
    ) -> None:
        """The next `times` matching requests are refused as API Priority and Fairness
        refuses them: 429, the plain-text body "Too many requests, please try again later."
        and `Retry-After` in seconds (None: no such header, as EventRateLimit answers)."""
        with self._lock:
            self._faults.append(
                _Fault(
                    method.upper(),
                    re.compile(path_regex),
                    429,
                    "TooManyRequests",
                    times,
                    throttle=True,
                    retry_after=retry_after,
                )
            )

    def _take_expiry(self, kind: Kind, page: int) -> bool:
        for expiry in self._expiries:
            if expiry[0] == kind and expiry[1] == page:
                expiry[2] -= 1
                if expiry[2] <= 0:
                    self._expiries.remove(expiry)
                return True
        return False

    # ------------------------------------------------------------ state helpers

    def _kind_of(self, obj: Obj) -> Kind:
        group, _, _version = str(obj.get("apiVersion", "")).rpartition("/")
        kind = BY_KIND.get((group, str(obj.get("kind"))))
        if kind is None:
            raise ValueError(f"unsupported object {obj.get('apiVersion')}/{obj.get('kind')}")
        return kind

    def _kind(self, plural: str, group: str) -> Kind:
        for k in KINDS:
            if k.plural == plural and k.group == group:
                return k
        raise ValueError(f"unsupported resource {group}/{plural}")

    @staticmethod
    def _scope(kind: Kind, namespace: str | None) -> str:
        return (namespace or "default") if kind.namespaced else ""

    def _keys(self, kind: Kind) -> Keys:
        keys = self._sorted[kind]
        if keys is None:
            keys = self._sorted[kind] = sorted(self._objects[kind])
        return keys

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _existing(self, kind: Kind, namespace: str, name: str) -> Obj:
        obj = self._objects[kind].get((namespace, name))
        if obj is None:
            raise _not_found(kind, name)
        return obj

    def _record(self, kind: Kind, type_: str, obj: Obj, old: Obj | None) -> None:
        """After every stored write: the watch history, then the controllers (one write
        at a time: a controller's own writes are dispatched after the current one)."""
        event = _Event(int(obj["metadata"]["resourceVersion"]), kind, type_, obj, old)
        if kind.watchable:
            self._history.append(event)
            self._history_rvs.append(event.rv)
            if len(self._history) > _WATCH_HISTORY:
                drop = len(self._history) // 2
                self._history_floor = self._history_rvs[drop - 1]
                del self._history[:drop], self._history_rvs[:drop]
            self._changed.notify_all()
        if not self._controllers:
            return
        self._queue.append(event)
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._queue:
                e = self._queue.pop(0)
                for controller in list(self._controllers):
                    controller.observe(e.kind, e.type, e.obj, e.old)
        finally:
            self._dispatching = False
            self._queue.clear()

    def _drop(self, kind: Kind, old: Obj) -> Obj:
        meta = old["metadata"]
        del self._objects[kind][(meta.get("namespace", ""), meta["name"])]
        self._sorted[kind] = None
        gone = {**old, "metadata": {**meta, "resourceVersion": self._next_rv()}}
        self._record(kind, "DELETED", gone, old)
        return gone

    # ------------------------------------------------------------ semantics

    def _check_body(self, kind: Kind, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise _bad_request("the request body must be a JSON object")
        if not isinstance(body.get("metadata", {}), dict):
            raise _bad_request("metadata must be an object")
        api_version, kind_name = body.get("apiVersion"), body.get("kind")
        if kind.custom and not (api_version and kind_name):
            raise _bad_request("Object 'Kind' or 'apiVersion' is missing")
        if (api_version and api_version != kind.api_version) or (
            kind_name and kind_name != kind.kind
        ):
            raise _bad_request(f"the body is a {api_version}/{kind_name}, not a {kind.kind}")
        return body

    def _create(self, kind: Kind, namespace: str, obj: Obj, http: bool) -> Obj:
        meta = obj.setdefault("metadata", {})
        if http and kind.namespaced and meta.get("namespace") not in (None, "", namespace):
            raise _bad_request("the namespace of the object does not match the request's")
        if http and meta.get("resourceVersion"):
            raise ApiError(
                500, "InternalError", "resourceVersion should not be set on objects to be created"
            )
        store = self._objects[kind]
        name = meta.get("name")
        if not name:
            prefix = meta.get("generateName")
            if not prefix:
                raise _invalid(kind, "", "metadata.name", "name or generateName is required")
            for _ in range(8):
                name = prefix[:58] + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
                if (namespace, name) not in store:
                    break
        if not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
            raise _invalid(kind, str(name), "metadata.name", "a lowercase RFC 1123 subdomain")
        if (namespace, name) in store:
            raise ApiError(
                409, "AlreadyExists", f'{kind.plural} "{name}" already exists', _details(kind, name)
            )
        meta["name"] = name
        if kind.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if http or not meta.get("uid"):
            meta["uid"] = str(uuid.uuid4())
        if http or not meta.get("creationTimestamp"):
            meta["creationTimestamp"] = _now()
        if http:
            meta.pop("deletionTimestamp", None)
            meta.pop("deletionGracePeriodSeconds", None)
        if kind.counts_generation and (http or not meta.get("generation")):
            meta["generation"] = 1
        if http and kind.status_subresource:
            obj.pop("status", None)
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        self._prepare(kind, obj, None)
        meta["resourceVersion"] = self._next_rv()
        store[(namespace, name)] = obj
        self._sorted[kind] = None
        self._record(kind, "ADDED", obj, None)
        return obj

    def _prepare(self, kind: Kind, obj: Obj, old: Obj | None) -> None:
        """The defaulting and the few validations of the built-in kinds the stand-in keeps
        (obj is the caller's copy), then the attached controllers' admission."""
        name = obj["metadata"].get("name") or ""
        if kind is NAMESPACES and old is None:
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        elif kind is SECRETS:
            _prepare_secret(obj, old)
        elif kind is JOBS:
            _prepare_job(obj, old)
        elif kind is CRONJOBS and old is None:
            spec = _spec(kind, obj)
            for key, value in (
                ("concurrencyPolicy", "Allow"),
                ("suspend", False),
                ("successfulJobsHistoryLimit", 3),
                ("failedJobsHistoryLimit", 1),
            ):
                spec.setdefault(key, value)
            obj.setdefault("status", {})
        elif (
            kind in (ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)
            and old is not None
            and obj.get("roleRef") != old.get("roleRef")
        ):
            raise _invalid(kind, name, "roleRef", "Invalid value: cannot change roleRef")
        for controller in self._controllers:
            controller.admit(kind, obj, old)

    def _update(self, kind: Kind, old: Obj, new: Obj, sub: str | None) -> Obj:
        """What PUT and PATCH share: preconditions, identity, status rules, counters.
        `new` is the caller's private copy."""
        old_meta = old["metadata"]
        name, namespace = old_meta["name"], old_meta.get("namespace", "")
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise _bad_request("metadata must be an object")
        if meta.get("name") != name:
            raise _bad_request(f"the name of the object does not match the URL's ({name})")
        if kind.namespaced and meta.get("namespace") not in (None, "", namespace):
            raise _bad_request(
                "the namespace of the object does not match the namespace on the URL"
            )
        wanted = meta.get("resourceVersion") or ""
        if not wanted and not kind.unconditional_update:
            raise _invalid(
                kind, name, "metadata.resourceVersion", "must be specified for an update"
            )
        if wanted and wanted != old_meta["resourceVersion"]:
            raise _conflict(
                kind,
                name,
                "the object has been modified; please apply your changes to the latest version "
                "and try again",
            )
        if meta.get("uid") and meta["uid"] != old_meta["uid"]:
            raise _conflict(kind, name, "Precondition failed: UID in object meta does not match")
        if sub == "status":
            result = _clone(old)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
        else:
            result = new
            for key in _SYSTEM_META:
                if key in old_meta:
                    meta[key] = old_meta[key]
                else:
                    meta.pop(key, None)
            if kind.status_subresource:
                if "status" in old:
                    result["status"] = _clone(old["status"])
                else:
                    result.pop("status", None)
            result["apiVersion"], result["kind"] = old["apiVersion"], old["kind"]
            if kind.counts_generation:
                changed = {k: v for k, v in result.items() if k != "metadata"} != {
                    k: v for k, v in old.items() if k != "metadata"
                }
                meta["generation"] = int(old_meta.get("generation") or 1) + int(changed)
        self._prepare(kind, result, old)
        result["metadata"]["resourceVersion"] = self._next_rv()
        self._objects[kind][(namespace, name)] = result
        self._record(kind, "MODIFIED", result, old)
        return result

    def _put(
        self, kind: Kind, namespace: str, name: str, sub: str | None, body: Any
    ) -> tuple[int, Obj]:
        new = _clone(self._check_body(kind, body))
        meta = new.setdefault("metadata", {})
        if meta.get("name") != name:
            raise _bad_request(f"the name of the object does not match the URL's ({name})")
        old = self._objects[kind].get((namespace, name))
        if old is None:
            if kind.create_on_update and sub is None:
                meta.pop("resourceVersion", None)
                return 201, self._create(kind, namespace, new, http=True)
            raise _not_found(kind, name)
        return 200, self._update(kind, old, new, sub)

    def _patch(
        self, kind: Kind, namespace: str, name: str, sub: str | None, body: Any, ctype: str
    ) -> Obj:
        old = self._existing(kind, namespace, name)
        if ctype == _MERGE:
            if not isinstance(body, dict):
                raise _bad_request("a merge patch must be a JSON object")
            new = merge_patch(_clone(old), body)
        elif ctype == _STRATEGIC and not kind.custom:
            if not isinstance(body, dict):
                raise _bad_request("a strategic merge patch must be a JSON object")
            try:
                new = strategic_merge(old, body, kind.kind)
            except _PatchFailed as err:
                raise _bad_request(f"the strategic merge patch does not apply: {err}") from None
        elif ctype == _JSON_PATCH:
            if not isinstance(body, list):
                raise _bad_request("a JSON patch must be a JSON array of operations")
            try:
                new = json_patch(old, body)
            except _PatchFailed as err:
                raise ApiError(422, "Invalid", f"the JSON patch does not apply: {err}") from None
            if not isinstance(new, dict):
                raise ApiError(422, "Invalid", "the JSON patch does not leave an object")
        else:
            accepted = [_JSON_PATCH, _MERGE] + ([] if kind.custom else [_STRATEGIC])
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format ({ctype or 'none'}); "
                f"accepted media types here include: {', '.join(accepted)}",
            )
        meta = new.setdefault("metadata", {})
        if isinstance(meta, dict) and not meta.get("resourceVersion"):
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]  # unconditional
        return self._update(kind, old, new, sub)

    def _delete(self, kind: Kind, namespace: str, name: str, body: Any) -> Obj:
        old = self._existing(kind, namespace, name)
        options = body if isinstance(body, dict) else {}
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
            raise _conflict(kind, name, "Precondition failed: UID does not match")
        if (
            pre.get("resourceVersion")
            and pre["resourceVersion"] != old["metadata"]["resourceVersion"]
        ):
            raise _conflict(kind, name, "Precondition failed: ResourceVersion does not match")
        self._drop(kind, old)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {**_details(kind, name), "uid": old["metadata"]["uid"]},
        }

    def _selection(
        self, kind: Kind, namespace: str | None, q: dict[str, str]
    ) -> Callable[[Obj], bool]:
        labels = label_matcher(q.get("labelSelector"))
        fields = field_matcher(kind, q.get("fieldSelector"))

        def selected(obj: Obj) -> bool:
            meta = obj["metadata"]
            return (
                (namespace is None or meta.get("namespace") == namespace)
                and (labels is None or labels(meta.get("labels") or {}))
                and (fields is None or fields(obj))
            )

        return selected

    def _list(self, kind: Kind, namespace: str | None, q: dict[str, str]) -> Obj:
        labels = label_matcher(q.get("labelSelector"))
        fields = field_matcher(kind, q.get("fieldSelector"))
        limit_text = q.get("limit") or "0"
        if not re.fullmatch(r"-?[0-9]+", limit_text):
            raise _bad_request(f"limit: invalid value {limit_text!r}")
        limit = int(limit_text) if int(limit_text) > 0 else None
        scope = namespace or ""
        keys = self._keys(kind)
        start = 0 if namespace is None else bisect.bisect_left(keys, (namespace, ""))
        page = 1
        if q.get("continue"):
            epoch, token_scope, after, page = _decode_token(q["continue"])
            if token_scope != scope:
                raise _bad_request("the continue token was issued for another list")
            if epoch != self._epoch or self._take_expiry(kind, page):
                raise ApiError(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter.",
                )
            start = max(start, bisect.bisect_right(keys, after))
        store = self._objects[kind]
        items: Objs = []
        more, i = False, start
        while i < len(keys):
            key = keys[i]
            if namespace is not None and key[0] != namespace:
                break
            obj = store[key]
            if (labels is None or labels(obj["metadata"].get("labels") or {})) and (
                fields is None or fields(obj)
            ):
                if limit is not None and len(items) == limit:
                    more = True
                    break
                items.append(obj)
            i += 1
        meta: Obj = {"resourceVersion": str(self._rv)}
        if more:
            last = items[-1]["metadata"]
            after_key = (last.get("namespace", ""), last["name"])
            meta["continue"] = _encode_token(self._epoch, scope, after_key, page + 1)
            if labels is None and fields is None:
                end = (
                    len(keys)
                    if namespace is None
                    else bisect.bisect_right(keys, namespace, key=lambda k: k[0])
                )
                meta["remainingItemCount"] = end - i
        return {
            "apiVersion": kind.api_version,
            "kind": f"{kind.kind}List",
            "metadata": meta,
            "items": items,
        }

    # ------------------------------------------------------------ watch

    def _watch(self, kind: Kind, namespace: str | None, q: dict[str, str]) -> _Stream:
        """The stream's first events are decided here, under the lock, so that nothing
        written between this and the stream's start is lost."""
        selected = self._selection(kind, namespace, q)
        timeout_text = q.get("timeoutSeconds") or "0"
        if not re.fullmatch(r"[0-9]+", timeout_text):
            raise _bad_request(f"timeoutSeconds: invalid value {timeout_text!r}")
        timeout = int(timeout_text) or None
        rv_text = q.get("resourceVersion") or ""
        first: list[Obj] = []
        expired = False
        current = [o for k in self._keys(kind) if selected(o := self._objects[kind][k])]
        if _truthy(q.get("sendInitialEvents")):
            if q.get("resourceVersionMatch") != "NotOlderThan" or not _truthy(
                q.get("allowWatchBookmarks")
            ):
                raise ApiError(
                    422,
                    "Invalid",
                    "sendInitialEvents needs resourceVersionMatch=NotOlderThan and "
                    "allowWatchBookmarks=true",
                )
            bookmark = {
                "kind": kind.kind,
                "apiVersion": kind.api_version,
                "metadata": {
                    "resourceVersion": str(self._rv),
                    "annotations": {"k8s.io/initial-events-end": "true"},
                },
            }
            first = [{"type": "ADDED", "object": o} for o in current]
            first.append({"type": "BOOKMARK", "object": bookmark})
            cursor = self._rv
        elif rv_text in ("", "0"):
            first = [{"type": "ADDED", "object": o} for o in current]
            cursor = self._rv
        elif re.fullmatch(r"[0-9]+", rv_text):
            cursor = int(rv_text)
            if cursor < self._history_floor:
                first, expired = [_expired_event(rv_text, self._history_floor)], True
        else:
            raise _bad_request(f"resourceVersion: invalid value {rv_text!r}")
        lines = [_line(e) for e in first]

        def translate(event: _Event) -> bytes | None:
            if event.kind is not kind:
                return None
            now = selected(event.obj)
            before = event.old is not None and selected(event.old)
            if event.type == "MODIFIED" and not now and before:
                assert event.old is not None
                meta = {**event.old["metadata"], "resourceVersion": str(event.rv)}
                return _line({"type": "DELETED", "object": {**event.old, "metadata": meta}})
            if event.type == "MODIFIED" and now and not before:
                return _line({"type": "ADDED", "object": event.obj})
            if now:
                return _line({"type": event.type, "object": event.obj})
            return None

        def run(write: Write, gone: Gone) -> None:
            nonlocal cursor
            pending = lines
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                for line in pending:
                    if not write(line):
                        return
                if expired:
                    return
                with self._changed:
                    while True:
                        if self._stopping:
                            return
                        if cursor < self._history_floor:
                            pending = [_line(_expired_event(str(cursor), self._history_floor))]
                            break
                        at = bisect.bisect_right(self._history_rvs, cursor)
                        events = self._history[at:]
                        if events:
                            cursor = events[-1].rv
                            pending = [b for e in events if (b := translate(e)) is not None]
                            break
                        wait = 0.25
                        if deadline is not None:
                            wait = min(wait, deadline - time.monotonic())
                            if wait <= 0:
                                return
                        self._changed.wait(wait)
                        if gone():
                            return
                if cursor < self._history_floor:
                    write(pending[0])
                    return

        return _Stream("application/json", run)

    # ------------------------------------------------------------ logs

    def _pod_log(self, namespace: str, name: str, q: dict[str, str]) -> Payload:
        pod = self._existing(PODS, namespace, name)
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = q.get("container") or ""
        if not container:
            if len(containers) != 1:
                raise _bad_request(
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(map(str, containers))}]"
                )
            container = str(containers[0])
        if container not in containers:
            raise _bad_request(f"container {container} is not valid for pod {name}")
        if _truthy(q.get("previous")):
            raise _bad_request(
                f'previous terminated container "{container}" in pod "{name}" not found'
            )
        for option in ("sinceSeconds", "sinceTime"):
            if q.get(option):
                raise _bad_request(f"{option} is not implemented by the stand-in")
        if _truthy(q.get("timestamps")):
            raise _bad_request("timestamps is not implemented by the stand-in")
        numbers: dict[str, int | None] = {}
        for option in ("tailLines", "limitBytes"):
            text = q.get(option)
            if text is not None and not re.fullmatch(r"[0-9]+", text):
                raise _bad_request(f"{option}: invalid value {text!r}")
            numbers[option] = None if text is None else int(text)
        statuses = ((pod.get("status") or {}).get("containerStatuses")) or []
        status = next((s for s in statuses if s.get("name") == container), None)
        state = (status or {}).get("state") or {"waiting": {}}
        if "waiting" in state:
            reason = (state["waiting"] or {}).get("reason") or "ContainerCreating"
            raise _bad_request(
                f'container "{container}" in pod "{name}" is waiting to start: {reason}'
            )
        log = self._logs.get((namespace, name, container))
        data = bytes(log.data) if log else b""
        start = 0
        tail = numbers["tailLines"]
        if tail is not None:
            kept = data.splitlines(keepends=True)[-tail:] if tail else []
            start = len(data) - sum(len(line) for line in kept)
        budget = numbers["limitBytes"]
        if log is None or log.closed or not _truthy(q.get("follow")):
            return data[start:][:budget] if budget is not None else data[start:]

        def run(write: Write, gone: Gone) -> None:
            offset, left = start, budget
            while True:
                with self._changed:
                    while len(log.data) == offset and not log.closed:
                        if self._stopping:
                            return
                        self._changed.wait(0.25)
                        if gone():
                            return
                    chunk, closed = bytes(log.data[offset:]), log.closed
                offset += len(chunk)
                if left is not None:
                    chunk, left = chunk[:left], left - min(left, len(chunk))
                if chunk and not write(chunk):
                    return
                if closed or left == 0:
                    return

        return _Stream("text/plain", run)

    # ------------------------------------------------------------ HTTP

    def _take_fault(self, method: str, path: str) -> ApiError | _Plain | None:
        for fault in self._faults:
            if fault.method in (method, "*") and fault.pattern.search(path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                if fault.throttle:
                    headers = (
                        {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
                    )
                    return _Plain(b"Too many requests, please try again later.\n", headers)
                return ApiError(
                    fault.status, fault.reason, f"injected {fault.status} {fault.reason}"
                )
        return None

    def _respond(
        self, method: str, path: str, query: Query, body: Any, ctype: str
    ) -> tuple[int, Payload]:
        """Serve one request under the lock: (HTTP status, JSON payload, plain text or a
        stream to run once the lock is released)."""
        try:
            fault = self._take_fault(method, path)
            if isinstance(fault, _Plain):
                return 429, fault
            if fault is not None:
                raise fault
            bare = path.rstrip("/") or "/"
            document = _discovery(bare, self.url.split("//", 1)[-1])
            if document is None and bare.startswith("/openapi/"):
                document = _openapi(bare)
                if document is None:
                    raise ApiError(404, "NotFound", f"no OpenAPI document at {path}")
            if document is not None:
                if method != "GET":
                    raise _not_allowed(f"{method} is not allowed on {path}")
                return 200, document
            route = _route(path)
            if route.kind is None:
                raise ApiError(
                    404, "NotFound", f"the server could not find the requested resource ({path})"
                )
            self._authorize(method, route, query)
            return self._serve_resource(method, route, query, body, ctype)
        except ApiError as err:
            return err.code, err.body()

    def _serve_resource(
        self, method: str, route: _Route, query: Query, body: Any, ctype: str
    ) -> tuple[int, Payload]:
        kind, namespace, name, sub = route.kind, route.namespace, route.name, route.subresource
        assert kind is not None
        q = {k: v[-1] for k, v in query.items()}
        verb = _verb(method, route, query)
        if isinstance(body, _Undecodable) and method != "PATCH":
            raise ApiError(415, "UnsupportedMediaType", body.why)
        if q.get("dryRun"):
            raise _bad_request("server-side dry-run is not implemented by the stand-in")
        validation = q.get("fieldValidation")
        if validation and validation not in ("Ignore", "Warn", "Strict"):
            raise _bad_request(
                f"fieldValidation: Unsupported value: {validation!r}: supported values: "
                '"Ignore", "Strict", "Warn"'
            )
        if verb == "deletecollection":
            raise _not_allowed("deletecollection is not implemented by the stand-in")
        if verb == "watch":
            if not kind.watchable:
                raise _not_allowed(f"watch of {kind.plural} is not implemented by the stand-in")
            return 200, self._watch(kind, namespace if kind.namespaced else None, q)
        if kind.namespaced and name is not None and namespace is None:
            raise _not_found(kind, name)
        scope = namespace if kind.namespaced else ""
        if sub == "log":
            if method != "GET":
                raise _not_allowed(f"{method} is not allowed on pods/log")
            assert scope is not None and name is not None
            return 200, self._pod_log(scope, name, q)
        if verb not in kind.verbs:
            raise _not_allowed(f"{verb} of {kind.plural} is not implemented by the stand-in")
        if kind is NAMESPACES:
            return self._serve_namespace(method, name, body, q)
        if kind is SELF_SUBJECT_ACCESS_REVIEWS:
            return self._review(body)
        if name is None:
            if method == "GET":
                return 200, self._list(kind, namespace if kind.namespaced else None, q)
            if method == "POST" and scope is not None:
                obj = _clone(self._check_body(kind, body))
                return 201, self._create(kind, scope, obj, http=True)
            raise _not_allowed(f"{method} is not allowed on a collection")
        assert scope is not None
        if method == "GET":
            return 200, self._existing(kind, scope, name)
        if method == "PUT":
            return self._put(kind, scope, name, sub, body)
        if method == "PATCH":
            if body is _INVALID_JSON:
                raise _bad_request("the patch is not valid JSON")
            return 200, self._patch(kind, scope, name, sub, body, ctype)
        if method == "DELETE" and sub is None:
            return 200, self._delete(kind, scope, name, body)
        raise _not_allowed(f"{method} is not allowed here")

    def _authorize(self, method: str, route: _Route, query: Query) -> None:
        """403 Forbidden for a request that `deny()` took away, worded as RBAC words it."""
        kind = route.kind
        assert kind is not None
        verb = _verb(method, route, query)
        resource = kind.plural + (f"/{route.subresource}" if route.subresource else "")
        if not self._denied(verb, kind.group, resource, route.namespace, route.name):
            return
        spelled = f"{kind.plural}.{kind.group}" if kind.group else kind.plural
        what = f'{spelled} "{route.name}"' if route.name else spelled
        where = (
            f'in the namespace "{route.namespace}"' if route.namespace else "at the cluster scope"
        )
        raise ApiError(
            403,
            "Forbidden",
            f'{what} is forbidden: User "standin" cannot {verb} resource "{resource}" in API '
            f'group "{kind.group}" {where}',
            _details(kind, route.name),
        )

    def _review(self, body: Any) -> tuple[int, Obj]:
        """A SelfSubjectAccessReview, answered from the denials and never stored."""
        obj = self._check_body(SELF_SUBJECT_ACCESS_REVIEWS, body)
        spec = obj.get("spec")
        attributes = spec.get("resourceAttributes") if isinstance(spec, dict) else None
        other = spec.get("nonResourceAttributes") if isinstance(spec, dict) else None
        if (attributes is None) == (other is None):
            raise _invalid(
                SELF_SUBJECT_ACCESS_REVIEWS,
                "",
                "spec",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        allowed = True
        if isinstance(attributes, dict):
            resource = str(attributes.get("resource") or "")
            if attributes.get("subresource"):
                resource += f"/{attributes['subresource']}"
            allowed = not self._denied(
                str(attributes.get("verb") or ""),
                str(attributes.get("group") or ""),
                resource,
                attributes.get("namespace") or None,
                attributes.get("name") or None,
            )
        status: Obj = {"allowed": allowed}
        if allowed:
            status["reason"] = "the stand-in grants everything not denied"
        return 201, {
            "kind": SELF_SUBJECT_ACCESS_REVIEWS.kind,
            "apiVersion": SELF_SUBJECT_ACCESS_REVIEWS.api_version,
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }

    def _serve_namespace(
        self, method: str, name: str | None, body: Any, q: dict[str, str]
    ) -> tuple[int, Obj]:
        store = self._objects[NAMESPACES]
        if method == "GET" and name is not None:
            return 200, store.get(("", name)) or _namespace(name)
        if method == "GET":
            used = {ns for store_ in self._objects.values() for ns, _ in store_ if ns}
            names = sorted(used | {n for _, n in store} | {"default"})
            selected = self._selection(NAMESPACES, None, q)
            items = [store.get(("", n)) or _namespace(n) for n in names]
            return 200, {
                "apiVersion": "v1",
                "kind": "NamespaceList",
                "metadata": {"resourceVersion": str(self._rv)},
                "items": [i for i in items if selected(i)],
            }
        if method == "POST" and name is None:
            obj = _clone(self._check_body(NAMESPACES, body))
            return 201, self._create(NAMESPACES, "", obj, http=True)
        raise _not_allowed(f"{method} is not allowed here")

    def _call(self, method: str, path: str, query: Query, status: int) -> Call:
        route = _route(path)
        kind = route.kind
        return Call(
            method=method,
            path=path,
            query=query,
            status=status,
            verb=_verb(method, route, query),
            resource=kind.plural if kind else "",
            group=kind.group if kind else "",
            namespace=route.namespace,
            name=route.name,
            subresource=route.subresource,
        )


def _line(event: Obj) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def _expired_event(asked: str, floor: int) -> Obj:
    status = ApiError(410, "Expired", f"too old resource version: {asked} ({floor})").body()
    return {"type": "ERROR", "object": status}


def _spec(kind: Kind, obj: Obj) -> Obj:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        raise _bad_request(f"{kind.kind}.spec must be an object")
    return spec


def _prepare_secret(obj: Obj, old: Obj | None) -> None:
    name = obj["metadata"].get("name") or ""
    data = obj.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _bad_request("Secret.data must be an object")
    for key, value in data.items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise _bad_request(f"Secret.data[{key!r}]: illegal base64 data") from None
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    if data or "data" in obj:
        obj["data"] = data
    obj.setdefault("type", "Opaque")
    if old is not None:
        if obj.get("type") != old.get("type"):
            raise _invalid(SECRETS, name, "type", "field is immutable")
        if old.get("immutable") and (
            obj.get("data") != old.get("data") or not obj.get("immutable")
        ):
            raise _invalid(SECRETS, name, "data", "field is immutable when `immutable` is set")


_JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
_CONTROLLER_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")


def _prepare_job(obj: Obj, old: Obj | None) -> None:
    """The real server's Job defaulting and selector generation on create; selector and
    template are immutable afterwards (the mutable-while-suspended cases are not kept)."""
    meta = obj["metadata"]
    name = meta.get("name") or ""
    spec = _spec(JOBS, obj)
    if old is not None:
        for field in ("selector", "template", "completionMode"):
            if spec.get(field) != (old.get("spec") or {}).get(field):
                raise _invalid(JOBS, name, f"spec.{field}", "field is immutable")
        return
    template = spec.setdefault("template", {})
    if not isinstance(template, dict):
        raise _bad_request("Job.spec.template must be an object")
    template_meta = template.get("metadata")
    if not isinstance(template_meta, dict):
        template_meta = template["metadata"] = {}
    had_labels = isinstance(template_meta.get("labels"), dict)
    labels = template_meta["labels"] = dict(template_meta.get("labels") or {})
    if spec.get("manualSelector"):
        if not spec.get("selector"):
            raise _invalid(JOBS, name, "spec.selector", "Required value")
    else:
        for key in _JOB_NAME_LABELS:
            labels.setdefault(key, name)
        for key in _CONTROLLER_UID_LABELS:
            labels.setdefault(key, meta["uid"])
        selector = spec.get("selector") if isinstance(spec.get("selector"), dict) else {}
        selector = dict(selector or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {})}
        selector["matchLabels"].setdefault(_CONTROLLER_UID_LABELS[0], meta["uid"])
        spec["selector"] = selector
    selector = spec["selector"]
    if selector.get("matchExpressions"):
        raise _bad_request(
            "Job selectors with matchExpressions are not implemented by the stand-in"
        )
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        raise _invalid(
            JOBS,
            name,
            "spec.template.metadata.labels",
            "`selector` does not match template `labels`",
        )
    if had_labels and not meta.get("labels"):
        meta["labels"] = dict(labels)  # the real defaulting shares the template's label map
    policy = (template.get("spec") or {}).get("restartPolicy")
    if policy not in ("Never", "OnFailure"):
        raise _invalid(
            JOBS,
            name,
            "spec.template.spec.restartPolicy",
            'Required value: valid values: "OnFailure", "Never"',
        )
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault(
        "podReplacementPolicy",
        "Failed" if spec.get("podFailurePolicy") else ("TerminatingOrFailed"),
    )
    obj.setdefault("status", {})


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    reason: str
    times: int
    throttle: bool = False  # a 429 as API Priority and Fairness answers it: plain text
    retry_after: int | None = None


@dataclass(frozen=True)
class _Denial:
    verb: str
    resource: str  # plural, with "/subresource" for one
    group: str | None  # None: any group
    namespace: str | None  # None: every namespace
    name: str | None  # None: every object


class _InvalidJson:
    """The body of a request that was not JSON."""


_INVALID_JSON = _InvalidJson()


class _Handler(QuietHandler):
    owner: KubeStandIn

    def _serve(self) -> None:
        owner = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        body: Any = None
        if raw and ctype == _PROTOBUF:
            try:
                body, ctype = decode_protobuf(raw), "application/json"
            except (_ProtoError, ValueError) as err:
                body = _Undecodable(f"protobuf: {err}")
        elif raw and ctype not in ("", "application/json", _MERGE, _JSON_PATCH, _STRATEGIC):
            body = _Undecodable(f"the body of the request was in an unknown format ({ctype})")
        elif raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                body = _INVALID_JSON
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        method = self.command
        if owner.latency_s:
            time.sleep(owner.latency_s)
        hook = owner._hook
        if hook is not None:
            try:
                hook(method, path, None if isinstance(body, _InvalidJson | _Undecodable) else body)
            except Exception:
                with owner._lock:
                    owner.calls.append(owner._call(method, path, query, 0))
                self.close_connection = True
                return
        call = owner._call(method, path, query, 0)
        payload: Payload
        with owner._lock:
            try:
                status, payload = owner._respond(method, path, query, body, ctype)
                if isinstance(payload, dict):
                    data = json.dumps(payload, separators=(",", ":")).encode()
                elif isinstance(payload, _Plain):
                    data = payload.text
                else:
                    data = payload if isinstance(payload, bytes) else b""
            except Exception as err:  # a stand-in bug: answer it rather than hang the client
                status, payload = 500, {}
                data = json.dumps(ApiError(500, "InternalError", repr(err)).body()).encode()
            owner.calls.append(replace(call, status=status))
        if isinstance(payload, _Stream):
            self._stream(status, payload)
            return
        self.send_response(status)
        self.send_header(
            "Content-Type",
            "application/json"
            if isinstance(payload, dict)
            else "text/plain; charset=utf-8"
            if isinstance(payload, _Plain)
            else "text/plain",
        )
        for name, value in (payload.headers if isinstance(payload, _Plain) else {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, status: int, stream: _Stream) -> None:
        """A chunked response; the connection closes after it."""
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", stream.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def write(data: bytes) -> bool:
            if not data:
                return True
            try:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            except OSError:
                return False
            return True

        def gone() -> bool:
            try:
                readable, _, _ = select.select([self.connection], [], [], 0)
                return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
            except OSError:
                return True

        try:
            stream.run(write, gone)
        finally:
            with contextlib.suppress(OSError):
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


KubeStandIn.handler = _Handler


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description="Serve the Kubernetes API stand-in until killed.")
    parser.add_argument("--kubeconfig", default="kubeconfig.standin", help="where to write it")
    args = parser.parse_args(argv)
    with KubeStandIn() as kube:
        path = kube.write_kubeconfig(args.kubeconfig)
        print(f"{kube.url}\nKUBECONFIG={path}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()
