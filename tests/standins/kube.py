"""A small Kubernetes API stand-in: just the paths and semantics the sweeper relies on.

Standard library only (the demo runs it with the runtime dependencies alone). It speaks
HTTP/1.1 on 127.0.0.1 to the official client through a kubeconfig and does what a real
API server does for:

- discovery (`/version`, `/api`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`,
  `/api/v1`), with or without a trailing slash;
- Workloads and AgenticTasks (foreman.llmkube.dev/v1alpha1, namespaced, with a status
  subresource), core/v1 Events and coordination.k8s.io/v1 Leases;
- list, namespaced or across namespaces, ordered by (namespace, name), with label
  selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`, `>`, `<`), field selectors
  (`metadata.name`, `metadata.namespace`; for Events also `involvedObject.*`, `reason`,
  `type`, `source`, `reportingComponent`), `limit` and `continue` (410 Expired once
  `expire_continue_tokens()` is called) and `remainingItemCount` when no selector is set;
- create: 201 with uid, resourceVersion, creationTimestamp and, for custom resources,
  generation 1; `generateName`; 409 AlreadyExists; status dropped when status is a
  subresource; a body resourceVersion is refused as the real server refuses it;
- replace (PUT) and patch (merge patch; JSON patch; strategic merge patch of built-in
  kinds as a merge patch): a stale resourceVersion is 409 Conflict, a PUT without one is
  422 Invalid (custom resources and Leases; Events allow it), PUT creates a missing
  Lease or Event; the main resource ignores status and the status subresource changes
  only status; every write bumps resourceVersion and a custom resource's generation
  goes up when anything but metadata changes;
- delete (with uid/resourceVersion preconditions), answering a Success Status;
- read-only Namespaces: every name exists and is Active (for kubectl's sake);
- errors as `Status` objects with `code` and `reason`.

Deliberately not implemented, and refused loudly rather than faked: watch (405),
deletecollection (405), server-side apply (415), server-side dry-run (400),
strategic-merge directives (400). Not modelled at all: schema validation and
defaulting, RBAC, admission, namespace existence, finalizers and garbage collection,
consistent list snapshots across pages (a later page shows the current state).

See tests/standins/test_kube_standin.py for the contract, checked with the real client.
Run `python -m tests.standins.kube --kubeconfig PATH` to serve it by hand.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast
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

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

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


KINDS = (
    _custom("workloads", "Workload", "wl"),
    _custom("agentictasks", "AgenticTask", "at"),
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


def _check_strategic(patch: Any, path: str = "") -> None:
    """Strategic merge equals merge patch for Leases and Events, minus these features."""
    if isinstance(patch, dict):
        for key, value in patch.items():
            where = f"{path}.{key}"
            if key.startswith("$") or where in (
                ".metadata.ownerReferences",
                ".metadata.finalizers",
            ):
                raise _bad_request(f"strategic merge of {where} is not implemented by the stand-in")
            _check_strategic(value, where)


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


def _encode_token(epoch: int, scope: str, after: tuple[str, str]) -> str:
    raw = json.dumps({"v": 1, "e": epoch, "s": scope, "k": list(after)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token(token: str) -> tuple[int, str, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        epoch, scope, (namespace, name) = data["e"], data["s"], data["k"]
        if not (isinstance(epoch, int) and isinstance(scope, str)):
            raise TypeError
        return epoch, scope, (str(namespace), str(name))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _bad_request("invalid continue token") from None


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
                "namespaced": True,
                "kind": k.kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update"],
                **({"shortNames": list(k.short_names)} if k.short_names else {}),
            }
        )
        if k.status_subresource:
            resources.append(
                {
                    "name": f"{k.plural}/status",
                    "singularName": "",
                    "namespaced": True,
                    "kind": k.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    if not group:
        resources.append(
            {
                "name": "namespaces",
                "singularName": "namespace",
                "namespaced": False,
                "kind": "Namespace",
                "verbs": ["get", "list"],
                "shortNames": ["ns"],
            }
        )
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


# ---------------------------------------------------------------- routing

_NAMESPACES = re.compile(r"^/api/v1/namespaces(?:/([^/]+))?/?$")


def _namespace(name: str) -> Obj:
    """Every namespace exists and is Active: namespace lifecycle is not modelled."""
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
    if kind is None or not all(rest) or (sub and (sub != "status" or not kind.status_subresource)):
        return _Route(None)
    return _Route(kind, namespace, name, sub)


def _verb(method: str, route: _Route, query: Query) -> str:
    if route.kind is None:
        return method.lower()  # RBAC's verb for a non-resource URL
    if method == "GET":
        if route.name:
            return "get"
        return "watch" if query.get("watch", [""])[-1] in ("true", "1") else "list"
    if method == "DELETE":
        return "delete" if route.name else "deletecollection"
    return _METHOD_VERBS.get(method, method.lower())


# ---------------------------------------------------------------- the stand-in


class KubeStandIn(LocalServer):
    """The API server stand-in: start() it (or use it as a context manager), then point
    the official client at write_kubeconfig(). State is also reachable directly (seed,
    get, list, set_status), and every HTTP request is logged in `calls`."""

    def __init__(self, latency_s: float = 0.0) -> None:
        super().__init__()
        self.latency_s = latency_s
        self.calls: list[Call] = []
        self._lock = threading.RLock()
        self._objects: dict[Kind, dict[tuple[str, str], Obj]] = {k: {} for k in KINDS}
        self._sorted: dict[Kind, Keys | None] = {k: None for k in KINDS}
        self._rv = 1000
        self._epoch = 0
        self._faults: list[_Fault] = []
        self._hook: Hook | None = None

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
        are kept when given; resourceVersion is always the server's). Returns a copy."""
        kind = self._kind_of(obj)
        obj = _clone(obj)
        namespace = (obj.get("metadata") or {}).get("namespace") or "default"
        with self._lock:
            return _clone(self._create(kind, namespace, obj, http=False))

    def seed_replace(self, obj: Obj) -> Obj:
        """Overwrite a stored object as is (bumping resourceVersion), for test set-up."""
        kind = self._kind_of(obj)
        obj = _clone(obj)
        meta = obj.setdefault("metadata", {})
        key = (meta.get("namespace") or "default", meta["name"])
        with self._lock:
            if key not in self._objects[kind]:
                return _clone(self._create(kind, key[0], obj, http=False))
            meta["namespace"] = key[0]
            meta["resourceVersion"] = self._next_rv()
            self._objects[kind][key] = obj
            return _clone(obj)

    def get(self, plural: str, namespace: str, name: str, group: str = FOREMAN) -> Obj | None:
        """A copy of one stored object, or None."""
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
            obj = _clone(store[(namespace, name)])
            obj["status"] = _clone(status)
            obj["metadata"]["resourceVersion"] = self._next_rv()
            store[(namespace, name)] = obj
            return _clone(obj)

    # ------------------------------------------------------------ observation and faults

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int,
        reason: str = "InternalError",
        times: int = 1,
    ) -> None:
        """The next `times` requests whose method matches (`*` for any) and whose path
        matches path_regex (re.search) are answered with that Status error instead."""
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), re.compile(path_regex), status, reason, times)
            )

    def on_request(self, hook: Hook | None) -> None:
        """hook(method, path, parsed JSON body or None) runs before each request is served
        (outside the lock); if it raises, the connection is closed without an answer."""
        self._hook = hook

    def expire_continue_tokens(self) -> None:
        """Every continue token handed out so far now answers 410 Expired."""
        with self._lock:
            self._epoch += 1

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
        if http and meta.get("namespace") not in (None, "", namespace):
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
        meta["name"], meta["namespace"] = name, namespace
        if http or not meta.get("uid"):
            meta["uid"] = str(uuid.uuid4())
        if http or not meta.get("creationTimestamp"):
            meta["creationTimestamp"] = _now()
        if http:
            meta.pop("deletionTimestamp", None)
            meta.pop("deletionGracePeriodSeconds", None)
        if kind.custom and (http or not meta.get("generation")):
            meta["generation"] = 1
        if http and kind.status_subresource:
            obj.pop("status", None)
        meta["resourceVersion"] = self._next_rv()
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        store[(namespace, name)] = obj
        self._sorted[kind] = None
        return obj

    def _update(self, kind: Kind, old: Obj, new: Obj, sub: str | None) -> Obj:
        """What PUT and PATCH share: preconditions, identity, status rules, counters.
        `new` is the caller's private copy."""
        old_meta = old["metadata"]
        name, namespace = old_meta["name"], old_meta["namespace"]
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise _bad_request("metadata must be an object")
        if meta.get("name") != name:
            raise _bad_request(f"the name of the object does not match the URL's ({name})")
        if meta.get("namespace") not in (None, "", namespace):
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
            if kind.custom:
                changed = {k: v for k, v in result.items() if k != "metadata"} != {
                    k: v for k, v in old.items() if k != "metadata"
                }
                meta["generation"] = int(old_meta.get("generation") or 1) + int(changed)
        result["metadata"]["resourceVersion"] = self._next_rv()
        self._objects[kind][(namespace, name)] = result
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
        if ctype == _MERGE or (ctype == _STRATEGIC and not kind.custom):
            if not isinstance(body, dict):
                raise _bad_request("a merge patch must be a JSON object")
            if ctype == _STRATEGIC:
                _check_strategic(body)
            new = merge_patch(_clone(old), body)
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
        del self._objects[kind][(namespace, name)]
        self._sorted[kind] = None
        self._next_rv()
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {**_details(kind, name), "uid": old["metadata"]["uid"]},
        }

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
        if q.get("continue"):
            epoch, token_scope, after = _decode_token(q["continue"])
            if token_scope != scope:
                raise _bad_request("the continue token was issued for another list")
            if epoch != self._epoch:
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
            meta["continue"] = _encode_token(self._epoch, scope, (last["namespace"], last["name"]))
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

    # ------------------------------------------------------------ HTTP

    def _take_fault(self, method: str, path: str) -> ApiError | None:
        for fault in self._faults:
            if fault.method in (method, "*") and fault.pattern.search(path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return ApiError(
                    fault.status, fault.reason, f"injected {fault.status} {fault.reason}"
                )
        return None

    def _respond(
        self, method: str, path: str, query: Query, body: Any, ctype: str
    ) -> tuple[int, Obj]:
        """Serve one request under the lock: (HTTP status, JSON payload)."""
        try:
            fault = self._take_fault(method, path)
            if fault is not None:
                raise fault
            document = _discovery(path.rstrip("/") or "/", self.url.split("//", 1)[-1])
            if document is not None:
                if method != "GET":
                    raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
                return 200, document
            if m := _NAMESPACES.match(path):
                if method != "GET":
                    raise ApiError(405, "MethodNotAllowed", "namespaces are read-only here")
                if m[1]:
                    return 200, _namespace(unquote(m[1]))
                used = {ns for store in self._objects.values() for ns, _ in store}
                return 200, {
                    "apiVersion": "v1",
                    "kind": "NamespaceList",
                    "metadata": {"resourceVersion": str(self._rv)},
                    "items": [_namespace(ns) for ns in sorted(used | {"default"})],
                }
            route = _route(path)
            if route.kind is None:
                raise ApiError(
                    404, "NotFound", f"the server could not find the requested resource ({path})"
                )
            return self._serve_resource(method, route, query, body, ctype)
        except ApiError as err:
            return err.code, err.body()

    def _serve_resource(
        self, method: str, route: _Route, query: Query, body: Any, ctype: str
    ) -> tuple[int, Obj]:
        kind, namespace, name, sub = route.kind, route.namespace, route.name, route.subresource
        assert kind is not None
        q = {k: v[-1] for k, v in query.items()}
        verb = _verb(method, route, query)
        if q.get("dryRun"):
            raise _bad_request("server-side dry-run is not implemented by the stand-in")
        if verb in ("watch", "deletecollection"):
            raise ApiError(405, "MethodNotAllowed", f"{verb} is not implemented by the stand-in")
        if name is None:
            if method == "GET":
                return 200, self._list(kind, namespace, q)
            if method == "POST" and namespace is not None:
                obj = _clone(self._check_body(kind, body))
                return 201, self._create(kind, namespace, obj, http=True)
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on a collection")
        if namespace is None:
            raise _not_found(kind, name)
        if method == "GET":
            return 200, self._existing(kind, namespace, name)
        if method == "PUT":
            return self._put(kind, namespace, name, sub, body)
        if method == "PATCH":
            if body is _INVALID_JSON:
                raise _bad_request("the patch is not valid JSON")
            return 200, self._patch(kind, namespace, name, sub, body, ctype)
        if method == "DELETE" and sub is None:
            return 200, self._delete(kind, namespace, name, body)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed here")

    def _call(self, method: str, path: str, query: Query, status: int) -> Call:
        if m := _NAMESPACES.match(path):
            verb = ("get" if m[1] else "list") if method == "GET" else method.lower()
            name = unquote(m[1]) if m[1] else None
            return Call(method, path, query, status, verb, "namespaces", "", None, name, None)
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


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    reason: str
    times: int


class _InvalidJson:
    """The body of a request that was not JSON."""


_INVALID_JSON = _InvalidJson()


class _Handler(QuietHandler):
    owner: KubeStandIn

    def _serve(self) -> None:
        owner = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                body = _INVALID_JSON
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        method = self.command
        ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if owner.latency_s:
            time.sleep(owner.latency_s)
        hook = owner._hook
        if hook is not None:
            try:
                hook(method, path, None if body is _INVALID_JSON else body)
            except Exception:
                with owner._lock:
                    owner.calls.append(owner._call(method, path, query, 0))
                self.close_connection = True
                return
        call = owner._call(method, path, query, 0)
        with owner._lock:
            try:
                status, payload = owner._respond(method, path, query, body, ctype)
                data = json.dumps(payload, separators=(",", ":")).encode()
            except Exception as err:  # a stand-in bug: answer it rather than hang the client
                status = 500
                data = json.dumps(ApiError(500, "InternalError", repr(err)).body()).encode()
            owner.calls.append(replace(call, status=status))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

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
