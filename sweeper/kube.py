"""The Kubernetes adapter: the only module that imports the `kubernetes` client.

Thin by design: list and read Foreman objects as plain dicts, merge-patch the sweeper's
annotations with a resourceVersion precondition, create Events, and read or write the
run lock's Lease. API errors become the typed errors below; no HTTP code leaves here.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar, cast

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from sweeper.errors import (
    AlreadyExists,
    Conflict,
    Expired,
    Forbidden,
    KubeError,
    NotFound,
    Unavailable,
)
from sweeper.model import GROUP, WORKLOAD_LABEL

__all__ = [
    "AlreadyExists",
    "Conflict",
    "Expired",
    "Kube",
    "KubeError",
    "NotFound",
    "Unavailable",
    "connect",
]

VERSION = "v1alpha1"
READ_ATTEMPTS = 3
T = TypeVar("T")


def connect(kubeconfig: str | None = None, timeout_s: float = 30.0) -> Kube:
    """In-cluster config inside a pod, else KUBECONFIG or ~/.kube/config."""
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        except (ConfigException, OSError, ValueError, TypeError) as err:
            raise KubeError(f"in-cluster configuration failed: {err}") from None
        return Kube(client.ApiClient(), timeout_s)
    where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    paths = [os.path.expanduser(p) for p in where.split(os.pathsep) if p]
    if not any(os.path.isfile(p) for p in paths):
        pod = "" if kubeconfig else " (and KUBERNETES_SERVICE_HOST is unset: not in a pod)"
        raise KubeError(f"no kubeconfig at {where}: no such file{pod}")
    try:
        api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as err:
        why = " ".join(str(err).split())[:300]
        raise KubeError(f"kubeconfig {where} is not usable: {why}") from None
    return Kube(api, timeout_s)


def _error(err: Exception, what: str) -> KubeError:
    if isinstance(err, ApiException):
        reason = ""
        try:
            body = json.loads(err.body or "{}")
            reason = str(body.get("reason") or "")
            message = str(body.get("message") or err.reason)
        except (ValueError, AttributeError):
            message = str(err.reason)
        status = int(err.status or 0)
        kind = {
            409: AlreadyExists if reason == "AlreadyExists" else Conflict,
            403: Forbidden,
            404: NotFound,
            410: Expired,
        }
        cls = kind.get(status, Unavailable if status >= 500 or status == 429 else KubeError)
        return cls(f"{what}: {status} {reason or message}"[:500], status, reason)
    return Unavailable(_unreachable(err, what))


def _unreachable(err: Exception, what: str) -> str:
    """What was tried and why it failed, in words: "cannot reach the cluster at
    https://127.0.0.1:1: connection refused (list workloads)"."""
    pool = getattr(err, "pool", None)
    where = f" at {pool.scheme}://{pool.host}:{pool.port}" if pool is not None else ""
    cause: BaseException | None = err
    while isinstance(cause, urllib3.exceptions.MaxRetryError) and cause.reason is not None:
        cause = cause.reason  # the last attempt's failure
    why = type(cause).__name__
    if isinstance(cause, urllib3.exceptions.SSLError):
        why = f"TLS failed: {cause}"[:200]
    elif isinstance(cause, urllib3.exceptions.TimeoutError) and not isinstance(
        cause,
        urllib3.exceptions.NewConnectionError,  # a subclass, for history's sake
    ):
        why = "timed out"
    else:  # the socket's own words: "connection refused", "name or service not known"
        while cause is not None and not (isinstance(cause, OSError) and cause.strerror):
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, OSError) and cause.strerror:
            why = cause.strerror[:1].lower() + cause.strerror[1:]
    return f"cannot reach the cluster{where}: {why} ({what})"


def now_micro() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Kube:
    def __init__(self, api: client.ApiClient, timeout_s: float = 30.0) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._core = client.CoreV1Api(api)
        self._coord = client.CoordinationV1Api(api)
        self._timeout = timeout_s
        self.calls: Counter[str] = Counter()

    def _do(self, what: str, fn: Callable[[], T], retry: bool = False) -> T:
        """One API call; reads are retried on 5xx and connection errors."""
        for attempt in range(READ_ATTEMPTS if retry else 1):
            self.calls[what.split(" ", 1)[0]] += 1
            try:
                return fn()
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as err:
                error = _error(err, what)
            if not isinstance(error, Unavailable) or attempt == READ_ATTEMPTS - 1:
                break
            time.sleep(0.2 * 2**attempt)
        raise error

    # ------------------------------------------------------------ workloads and tasks

    def check(self, namespaces: tuple[str, ...]) -> dict[str, KubeError]:
        """The cluster answers and lets us read Workloads: one cheap list per scope, after
        one GET of each named Namespace. Returns the named ones that cannot be swept (NotFound:
        no such namespace; Forbidden: its Workloads may not be listed); anything else raises."""
        problems: dict[str, KubeError] = {}
        for namespace in namespaces or (None,):
            kwargs: dict[str, Any] = {"limit": 1, "_request_timeout": self._timeout}
            try:
                if namespace is not None:
                    self._do("get namespaces", partial(self._namespace, namespace), True)
            except NotFound as err:
                problems[str(namespace)] = err
                continue
            try:
                self._do(
                    "list workloads", partial(self._list, "workloads", namespace, kwargs), True
                )
            except Forbidden as err:
                if namespace is None:
                    raise
                problems[namespace] = err
        return problems

    def _namespace(self, name: str) -> None:
        try:
            self._core.read_namespace(name, _request_timeout=self._timeout)
        except ApiException as err:
            if err.status != 403:  # may not get Namespaces: the list below still tells
                raise

    def workload_pages(
        self, namespaces: tuple[str, ...], selector: str | None, page_size: int
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of Workloads; an expired `continue` restarts the listing (callers dedupe)."""
        for namespace in namespaces or (None,):
            yield from self._pages("workloads", namespace, selector, page_size)

    def _pages(
        self, plural: str, namespace: str | None, selector: str | None, page_size: int
    ) -> Iterator[list[dict[str, Any]]]:
        token: str | None = None
        restarts = 0
        while True:
            kwargs: dict[str, Any] = {"limit": page_size, "_request_timeout": self._timeout}
            if selector:
                kwargs["label_selector"] = selector
            if token:
                kwargs["_continue"] = token
            try:
                page = self._do(
                    f"list {plural}", partial(self._list, plural, namespace, kwargs), True
                )
            except Expired:
                restarts += 1
                if restarts > 3:
                    raise
                token = None
                continue
            items = page.get("items") or []
            yield [item for item in items if isinstance(item, dict)]
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                return

    def _list(self, plural: str, namespace: str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        if namespace is None:
            result = self._custom.list_cluster_custom_object(GROUP, VERSION, plural, **kwargs)
        else:
            result = self._custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, **kwargs
            )
        return result if isinstance(result, dict) else {}

    def tasks_of(
        self, namespace: str, workloads: Sequence[str], page_size: int = 500
    ) -> dict[str, list[dict[str, Any]]]:
        """The AgenticTasks of several Workloads of one namespace, by name, in one listing."""
        selector = f"{WORKLOAD_LABEL} in ({','.join(workloads)})"
        found: dict[str, list[dict[str, Any]]] = {name: [] for name in workloads}
        for page in self._pages("agentictasks", namespace, selector, page_size):
            for task in page:
                labels = (task.get("metadata") or {}).get("labels") or {}
                owner = labels.get(WORKLOAD_LABEL) if isinstance(labels, dict) else None
                if isinstance(owner, str) and owner in found:
                    found[owner].append(task)
        return found

    def agents(self, namespace: str) -> dict[str, dict[str, Any]]:
        """The namespace's Foreman Agents by name, in one paged listing."""
        found: dict[str, dict[str, Any]] = {}
        for page in self._pages("agents", namespace, None, 500):
            for agent in page:
                name = (agent.get("metadata") or {}).get("name")
                if isinstance(name, str):
                    found[name] = agent
        return found

    def get_workload(self, namespace: str, name: str) -> dict[str, Any]:
        result = self._do(
            "get workloads",
            lambda: self._custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, "workloads", name, _request_timeout=self._timeout
            ),
            retry=True,
        )
        return result if isinstance(result, dict) else {}

    def patch_annotations(
        self,
        namespace: str,
        name: str,
        resource_version: str,
        annotations: Mapping[str, str | None],
    ) -> None:
        """Merge-patch annotations; a stale resourceVersion raises Conflict."""
        body = {"metadata": {"resourceVersion": resource_version, "annotations": dict(annotations)}}
        self._do(
            "patch workloads",
            lambda: self._custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                "workloads",
                name,
                body,
                _content_type="application/merge-patch+json",
                _request_timeout=self._timeout,
            ),
        )

    # ------------------------------------------------------------ events

    def create_event(
        self, workload: Mapping[str, str], reason: str, message: str, kind: str = "Normal"
    ) -> None:
        stamp = now_micro()
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "generateName": f"{workload['name']}.",
                "namespace": workload["namespace"],
            },
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Workload",
                "name": workload["name"],
                "namespace": workload["namespace"],
                "uid": workload["uid"],
            },
            "reason": reason,
            "message": message[:1024],
            "type": kind,
            "source": {"component": "foreman-pr-sweeper"},
            "reportingComponent": "foreman-pr-sweeper",
            "reportingInstance": os.environ.get("HOSTNAME", "foreman-pr-sweeper")[:128],
            "firstTimestamp": stamp[:19] + "Z",
            "lastTimestamp": stamp[:19] + "Z",
            "count": 1,
        }
        self._do(
            "create events",
            lambda: self._core.create_namespaced_event(
                workload["namespace"], cast(Any, body), _request_timeout=self._timeout
            ),
        )

    # ------------------------------------------------------------ leases

    def read_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            response = self._do(
                "get leases",
                lambda: self._coord.read_namespaced_lease(
                    name, namespace, _preload_content=False, _request_timeout=self._timeout
                ),
                retry=True,
            )
        except NotFound:
            return None
        return _raw_json(response)

    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._do(
            "create leases",
            lambda: self._coord.create_namespaced_lease(
                namespace, cast(Any, body), _preload_content=False, _request_timeout=self._timeout
            ),
        )
        return _raw_json(response)

    def replace_lease(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._do(
            "update leases",
            lambda: self._coord.replace_namespaced_lease(
                name,
                namespace,
                cast(Any, body),
                _preload_content=False,
                _request_timeout=self._timeout,
            ),
        )
        return _raw_json(response)

    # ------------------------------------------------------------ read-only looks, for `check`

    @property
    def server(self) -> str:
        """The API server's URL, as the configuration names it."""
        return str(self._core.api_client.configuration.host)

    def served_resources(self, group: str, version: str) -> frozenset[str] | None:
        """The resources (no subresources) one group version serves, by discovery; None
        when the cluster serves no such group version."""
        try:
            response = self._do(
                f"get {group}/{version}",
                lambda: self._custom.get_api_resources(
                    group, version, _preload_content=False, _request_timeout=self._timeout
                ),
            )
        except NotFound:
            return None
        listed = _raw_json(response).get("resources")
        names = [r.get("name") for r in listed or () if isinstance(r, dict)]
        return frozenset(n for n in names if isinstance(n, str) and "/" not in n)

    def access_review(
        self,
        verb: str,
        group: str,
        resource: str,
        namespace: str | None = None,
        name: str | None = None,
    ) -> bool:
        """Whether RBAC lets this client `verb` the resource (in `namespace`, else in all
        of them; `name`, else any), asked with a SelfSubjectAccessReview: nothing is
        stored."""
        attributes = {"verb": verb, "group": group, "resource": resource}
        if namespace:
            attributes["namespace"] = namespace
        if name:
            attributes["name"] = name
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        authorization = client.AuthorizationV1Api(self._core.api_client)
        response = self._do(
            "create selfsubjectaccessreviews",
            lambda: authorization.create_self_subject_access_review(
                cast(Any, body), _preload_content=False, _request_timeout=self._timeout
            ),
        )
        status = _raw_json(response).get("status")
        return isinstance(status, dict) and status.get("allowed") is True

    def namespace_exists(self, name: str) -> bool | None:
        """Whether the namespace exists; None when this client may not read it."""
        try:
            _raw_json(
                self._do(
                    "get namespaces",
                    lambda: self._core.read_namespace(
                        name, _preload_content=False, _request_timeout=self._timeout
                    ),
                )
            )
        except NotFound:
            return False
        except Forbidden:
            return None
        return True


def _raw_json(response: Any) -> dict[str, Any]:
    data = getattr(response, "data", response)
    if isinstance(data, bytes | bytearray):
        data = json.loads(data)
    return data if isinstance(data, dict) else {}
