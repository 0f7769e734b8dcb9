"""A small Kubernetes API stand-in: just the paths and semantics the sweeper relies on.

Standard library only (the demo runs it with the runtime dependencies alone). It speaks
HTTP/1.1 on 127.0.0.1 to the official client through a kubeconfig and implements, as a
real API server does: discovery, list with label/field selectors and limit/continue
(410 Expired on a stale token), create answering 201 with server metadata, GET, PUT and
JSON merge patch with resourceVersion preconditions (409 Conflict), the status
subresource, core/v1 Events, coordination.k8s.io/v1 Leases, and Status error bodies.
See tests/standins/test_kube_standin.py for the contract, checked with the real client.

Not implemented (never rely on them): watch, strategic-merge or server-side apply,
schema validation, RBAC, admission, server-side dry-run, namespace lifecycle, GC.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.standins.serving import LocalServer, QuietHandler

Obj = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    kind: str
    status_subresource: bool


KINDS = [
    Kind("foreman.llmkube.dev", "v1alpha1", "workloads", "Workload", True),
    Kind("foreman.llmkube.dev", "v1alpha1", "agentictasks", "AgenticTask", True),
    Kind("", "v1", "events", "Event", False),
    Kind("coordination.k8s.io", "v1", "leases", "Lease", False),
]
BY_PATH = {(k.group, k.version, k.plural): k for k in KINDS}
BY_KIND = {(k.group, k.kind): k for k in KINDS}

_CORE = re.compile(
    r"^/api/v1/(?:namespaces/(?P<ns>[^/]+)/)?(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?$"
)
_GROUP = re.compile(
    r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/(?:namespaces/(?P<ns>[^/]+)/)?(?P<plural>[a-z]+)"
    r"(?:/(?P<name>[^/]+)(?:/(?P<sub>status))?)?$"
)
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    verb: str
    resource: str
    group: str
    namespace: str | None
    name: str | None
    subresource: str | None


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.call: Call | None = None

    def body(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": {},
            "code": self.code,
        }


class _Abort(Exception):
    """Close the connection without an answer."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ---------------------------------------------------------------- selectors

_SET_TERM = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")


def _split_terms(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    terms.append(current)
    return [t.strip() for t in terms if t.strip()]


def label_matcher(selector: str | None) -> Callable[[dict[str, str]], bool]:
    if not selector:
        return lambda labels: True
    checks: list[Callable[[dict[str, str]], bool]] = []
    for term in _split_terms(selector):
        m = _SET_TERM.match(term)
        if m:
            key, op, values = m[1], m[2], {v.strip() for v in m[3].split(",") if v.strip()}
            if op == "in":
                checks.append(lambda lb, k=key, vs=values: lb.get(k) in vs)
            else:
                checks.append(lambda lb, k=key, vs=values: lb.get(k) not in vs)
        elif "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            checks.append(lambda lb, k=key, v=value: lb.get(k) != v)
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            checks.append(lambda lb, k=key, v=value: lb.get(k) == v)
        elif term.startswith("!"):
            absent = term[1:].strip()
            checks.append(lambda lb, k=absent: k not in lb)
        elif re.match(r"^[A-Za-z0-9_./-]+$", term):
            checks.append(lambda lb, k=term: k in lb)
        else:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")
    return lambda labels: all(check(labels) for check in checks)


def field_matcher(selector: str | None) -> Callable[[Obj], bool]:
    if not selector:
        return lambda obj: True
    checks: list[Callable[[Obj], bool]] = []
    for term in _split_terms(selector):
        negate = "!=" in term
        key, value = (s.strip() for s in term.replace("==", "=").replace("!=", "=").split("=", 1))
        if key not in ("metadata.name", "metadata.namespace"):
            raise ApiError(400, "BadRequest", f"field label not supported: {key}")
        field = key.split(".", 1)[1]
        checks.append(lambda o, f=field, v=value, n=negate: (o["metadata"].get(f) == v) != n)
    return lambda obj: all(check(obj) for check in checks)


# ---------------------------------------------------------------- the stand-in


class KubeStandIn(LocalServer):
    def __init__(self, latency_s: float = 0.0) -> None:
        super().__init__()
        self.latency_s = latency_s
        self.calls: list[Call] = []
        self._lock = threading.RLock()
        self._objects: dict[Kind, dict[tuple[str, str], Obj]] = {k: {} for k in KINDS}
        self._rv = 1000
        self._epoch = 0
        self._faults: list[list[Any]] = []
        self._hook: Callable[[str, str, Any], None] | None = None

    def write_kubeconfig(self, path: str | Path) -> Path:
        path = Path(path)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "standin", "user": {"token": "test-token"}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin"}}],
            "current-context": "standin",
        }
        path.write_text(json.dumps(config))  # JSON is YAML
        return path

    # ------------------------------------------------------------ direct access

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

    def seed(self, obj: Obj) -> Obj:
        kind = self._kind_of(obj)
        namespace = obj.get("metadata", {}).get("namespace") or "default"
        with self._lock:
            return copy.deepcopy(self._create(kind, namespace, copy.deepcopy(obj)))

    def get(
        self, plural: str, namespace: str, name: str, group: str = "foreman.llmkube.dev"
    ) -> Obj | None:
        with self._lock:
            found = self._objects[self._kind(plural, group)].get((namespace, name))
            return copy.deepcopy(found) if found else None

    def list(
        self, plural: str, namespace: str | None = None, group: str = "foreman.llmkube.dev"
    ) -> list[Obj]:
        with self._lock:
            store = self._objects[self._kind(plural, group)]
            return [
                copy.deepcopy(o) for (ns, _), o in sorted(store.items()) if namespace in (None, ns)
            ]

    def seed_replace(self, obj: Obj) -> Obj:
        """Overwrite a stored object as is (bumping resourceVersion), for test set-up."""
        kind = self._kind_of(obj)
        meta = obj["metadata"]
        with self._lock:
            stored = copy.deepcopy(obj)
            stored["metadata"]["resourceVersion"] = self._next_rv()
            self._objects[kind][(meta["namespace"], meta["name"])] = stored
            return copy.deepcopy(stored)

    def set_status(
        self,
        plural: str,
        namespace: str,
        name: str,
        status: Obj,
        group: str = "foreman.llmkube.dev",
    ) -> Obj:
        with self._lock:
            obj = self._objects[self._kind(plural, group)][(namespace, name)]
            obj["status"] = copy.deepcopy(status)
            obj["metadata"]["resourceVersion"] = self._next_rv()
            return copy.deepcopy(obj)

    def reset_calls(self) -> None:
        with self._lock:
            self.calls = []

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int,
        reason: str = "InternalError",
        times: int = 1,
    ) -> None:
        with self._lock:
            self._faults.append([method.upper(), re.compile(path_regex), status, reason, times])

    def on_request(self, hook: Callable[[str, str, Any], None] | None) -> None:
        self._hook = hook

    def expire_continue_tokens(self) -> None:
        with self._lock:
            self._epoch += 1

    # ------------------------------------------------------------ semantics

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _create(self, kind: Kind, namespace: str, obj: Obj) -> Obj:
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            prefix = meta.get("generateName")
            if not prefix:
                raise ApiError(422, "Invalid", "metadata.name or generateName is required")
            meta["name"] = prefix + secrets.token_hex(3)[:5]
        key = (namespace, meta["name"])
        if key in self._objects[kind]:
            raise ApiError(409, "AlreadyExists", f'{kind.plural} "{meta["name"]}" already exists')
        meta.pop("generateName", None)
        meta["namespace"] = namespace
        meta["uid"] = meta.get("uid") or str(uuid.uuid4())
        meta["resourceVersion"] = self._next_rv()
        meta["creationTimestamp"] = meta.get("creationTimestamp") or _now()
        if kind.group:
            meta["generation"] = 1
        obj["apiVersion"] = f"{kind.group}/{kind.version}" if kind.group else kind.version
        obj["kind"] = kind.kind
        self._objects[kind][key] = obj
        return obj

    def _existing(self, kind: Kind, namespace: str, name: str) -> Obj:
        obj = self._objects[kind].get((namespace, name))
        if obj is None:
            raise ApiError(404, "NotFound", f'{kind.plural} "{name}" not found')
        return obj

    def _write(self, kind: Kind, old: Obj, new: Obj, sub: str | None) -> Obj:
        """Shared rules of PUT and PATCH: precondition, immutable fields, status, counters."""
        wanted_rv = (new.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                "the object has been modified; please apply your "
                "changes to the latest version and try again",
            )
        if sub == "status":
            result = copy.deepcopy(old)
            result["status"] = copy.deepcopy(new.get("status"))
        else:
            result = copy.deepcopy(new)
            meta = result.setdefault("metadata", {})
            for key in ("name", "namespace", "uid", "creationTimestamp", "generation"):
                if key in old["metadata"]:
                    meta[key] = old["metadata"][key]
            if kind.status_subresource:
                if "status" in old:
                    result["status"] = copy.deepcopy(old["status"])
                else:
                    result.pop("status", None)
            if kind.group and result.get("spec") != old.get("spec"):
                meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
        result["apiVersion"], result["kind"] = old["apiVersion"], old["kind"]
        result["metadata"]["resourceVersion"] = self._next_rv()
        self._objects[kind][(old["metadata"]["namespace"], old["metadata"]["name"])] = result
        return result

    def _list(self, kind: Kind, namespace: str | None, query: dict[str, list[str]]) -> Obj:
        q = {k: v[-1] for k, v in query.items()}
        labels = label_matcher(q.get("labelSelector"))
        fields = field_matcher(q.get("fieldSelector"))
        after: tuple[str, str] | None = None
        if q.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(q["continue"]))
                epoch, after = token["e"], (token["a"][0], token["a"][1])
            except (ValueError, KeyError, TypeError, IndexError):
                raise ApiError(400, "BadRequest", "invalid continue token") from None
            if epoch != self._epoch:
                raise ApiError(410, "Expired", "The provided continue parameter is too old")
        limit = int(q["limit"]) if q.get("limit", "").isdigit() and int(q["limit"]) > 0 else None
        store = self._objects[kind]
        keys = sorted(
            k for k in store if namespace in (None, k[0]) and (after is None or k > after)
        )
        items, next_after, remaining = [], None, 0
        for i, key in enumerate(keys):
            obj = store[key]
            if not labels(obj["metadata"].get("labels") or {}) or not fields(obj):
                continue
            if limit is not None and len(items) == limit:
                next_after = items[-1]["metadata"]
                remaining = sum(
                    1
                    for k in keys[i:]
                    if labels(store[k]["metadata"].get("labels") or {}) and fields(store[k])
                )
                break
            items.append(obj)
        meta: Obj = {"resourceVersion": str(self._rv)}
        if next_after is not None:
            raw = json.dumps({"e": self._epoch, "a": [next_after["namespace"], next_after["name"]]})
            meta["continue"] = base64.urlsafe_b64encode(raw.encode()).decode()
            meta["remainingItemCount"] = remaining
        api_version = f"{kind.group}/{kind.version}" if kind.group else kind.version
        return {
            "apiVersion": api_version,
            "kind": f"{kind.kind}List",
            "metadata": meta,
            "items": items,
        }

    # ------------------------------------------------------------ HTTP

    def handle(
        self, method: str, raw_path: str, body: Any, content_type: str
    ) -> tuple[int, Any, Call | None]:
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query)
        discovery = self._discovery(path)
        if discovery is not None:
            return 200, discovery, None
        route = self._route(path)
        if route is None:
            raise ApiError(
                404, "NotFound", f"the server could not find the requested resource ({path})"
            )
        kind, namespace, name, sub = route
        verb = _VERBS.get(method) or ("get" if name else "list")
        call = Call(method, path, query, 0, verb, kind.plural, kind.group, namespace, name, sub)
        try:
            return self._serve_resource(
                method, kind, namespace, name, sub, query, body, content_type, call
            )
        except ApiError as err:
            err.call = call
            raise

    def _serve_resource(
        self,
        method: str,
        kind: Kind,
        namespace: str | None,
        name: str | None,
        sub: str | None,
        query: dict[str, list[str]],
        body: Any,
        content_type: str,
        call: Call,
    ) -> tuple[int, Any, Call | None]:
        for fault in self._faults:
            if fault[0] == method and fault[1].search(call.path) and fault[4] > 0:
                fault[4] -= 1
                raise _Injected(fault[2], fault[3], call)
        if method == "GET" and name is None:
            return 200, self._list(kind, namespace, query), call
        if method == "POST" and name is None:
            if namespace is None or not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "a namespaced create needs an object body")
            return 201, self._create(kind, namespace, body), call
        if name is None or namespace is None:
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")
        if method == "GET":
            return 200, self._existing(kind, namespace, name), call
        if method == "DELETE":
            obj = self._existing(kind, namespace, name)
            del self._objects[kind][(namespace, name)]
            return 200, obj, call
        old = self._existing(kind, namespace, name)
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "body must be an object")
        if method == "PUT":
            return 200, self._write(kind, old, body, sub), call
        if method == "PATCH":
            if "merge-patch" not in content_type:
                raise ApiError(
                    415, "UnsupportedMediaType", f"unsupported patch type {content_type}"
                )
            patched = merge_patch(old, body)
            wanted = (body.get("metadata") or {}).get("resourceVersion")
            patched.setdefault("metadata", {})["resourceVersion"] = wanted
            return 200, self._write(kind, old, patched, sub), call
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")

    def _route(self, path: str) -> tuple[Kind, str | None, str | None, str | None] | None:
        m = _CORE.match(path)
        if m:
            kind = BY_PATH.get(("", "v1", m["plural"]))
            return (
                (kind, m["ns"], unquote(m["name"]) if m["name"] else None, None) if kind else None
            )
        m = _GROUP.match(path)
        if m:
            kind = BY_PATH.get((m["group"], m["version"], m["plural"]))
            if kind is None or (m["sub"] and not kind.status_subresource):
                return None
            return kind, m["ns"], unquote(m["name"]) if m["name"] else None, m["sub"]
        return None

    def _discovery(self, path: str) -> Obj | None:
        if path == "/version":
            return {
                "major": "1",
                "minor": "34",
                "gitVersion": "v1.34.0-standin",
                "platform": "linux/amd64",
            }
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        groups = sorted({(k.group, k.version) for k in KINDS if k.group})
        if path == "/apis":
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                        "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
                    }
                    for g, v in groups
                ],
            }
        for group, version in [("", "v1"), *groups]:
            prefix = f"/apis/{group}/{version}" if group else "/api/v1"
            if path == prefix:
                return {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": f"{group}/{version}" if group else version,
                    "resources": [
                        {
                            "name": k.plural,
                            "singularName": k.kind.lower(),
                            "namespaced": True,
                            "kind": k.kind,
                            "verbs": ["create", "delete", "get", "list", "patch", "update"],
                        }
                        for k in KINDS
                        if (k.group, k.version) == (group, version)
                    ],
                }
        return None


class _Injected(Exception):
    def __init__(self, code: int, reason: str, call: Call) -> None:
        super().__init__(reason)
        self.error = ApiError(code, reason, f"injected {code} {reason}")
        self.call = call


class _Handler(QuietHandler):
    owner: KubeStandIn

    def _serve(self) -> None:
        owner = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if owner.latency_s:
            time.sleep(owner.latency_s)
        hook = owner._hook
        if hook is not None:
            try:
                hook(self.command, urlsplit(self.path).path, body)
            except Exception:
                self.close_connection = True
                return
        call: Call | None = None
        with owner._lock:
            try:
                status, payload, call = owner.handle(
                    self.command, self.path, body, self.headers.get("Content-Type", "")
                )
                payload = json.dumps(payload).encode()
            except _Injected as injected:
                status, payload, call = (
                    injected.error.code,
                    json.dumps(injected.error.body()).encode(),
                    injected.call,
                )
            except ApiError as err:
                status, payload, call = err.code, json.dumps(err.body()).encode(), err.call
            if call is not None:
                owner.calls.append(Call(**{**call.__dict__, "status": status}))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


KubeStandIn.handler = _Handler


def main() -> None:  # pragma: no cover - manual use
    import argparse

    p = argparse.ArgumentParser(description="Serve the Kubernetes API stand-in until killed.")
    p.add_argument("--kubeconfig", default="kubeconfig.standin")
    args = p.parse_args()
    with KubeStandIn() as kube:
        print(
            f"serving {kube.url}; kubeconfig {kube.write_kubeconfig(args.kubeconfig)}", flush=True
        )
        threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()
