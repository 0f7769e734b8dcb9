"""The Kubernetes adapter: the only module that imports the `kubernetes` client.

Thin by design: list and read Foreman objects as plain dicts, merge-patch the sweeper's
annotations with a resourceVersion precondition, create Events, and read or write the
run lock's Lease. API errors become the typed errors below; no HTTP code leaves here.

Every call is retried when the server asks for it (429, waiting at least `Retry-After`)
or fails on the way (5xx, a lost connection), writes included: each write here is safe to
repeat (a merge patch carries a resourceVersion, a Lease write too, an Event at worst
says the same twice). Retries are bounded (`Tunables`) and a stop request cuts a wait
short. Answers are read raw and decoded by `sweeper.bounded`, so an object a tenant made
too big or too deep is refused by name instead of costing memory or a RecursionError.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from functools import partial
from itertools import count
from typing import Any, TypeVar, cast

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from sweeper import bounded
from sweeper.bounded import Unreadable
from sweeper.errors import (
    AlreadyExists,
    Conflict,
    Expired,
    Forbidden,
    KubeError,
    NotFound,
    Refused,
    Throttled,
    Unavailable,
)
from sweeper.model import GROUP, WORKLOAD_LABEL
from sweeper.settings import Tunables
from sweeper.stopping import Stop

__all__ = [
    "AlreadyExists",
    "Conflict",
    "Expired",
    "Kube",
    "KubeError",
    "NotFound",
    "Refused",
    "Throttled",
    "Unavailable",
    "Unreadable",
    "connect",
]

VERSION = "v1alpha1"
AGENT_PAGE_SIZE = 500
T = TypeVar("T")
Item = dict[str, Any] | Unreadable


def connect(
    kubeconfig: str | None = None, tunables: Tunables | None = None, stop: Stop | None = None
) -> Kube:
    """In-cluster config inside a pod, else KUBECONFIG or ~/.kube/config; an error names
    what was tried."""
    cfg = client.Configuration()
    # The adapter waits out a 429 itself (its Retry-After, cut short by a stop, bounded);
    # urllib3 would otherwise also wait it out for GETs and PUTs, three times, unstoppably.
    cfg.retries = urllib3.Retry(total=3, respect_retry_after_header=False)
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError, ValueError, TypeError) as err:
            raise KubeError(f"in-cluster configuration failed: {err}") from None
        return Kube(client.ApiClient(cfg), tunables, stop)
    where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    paths = [os.path.expanduser(p) for p in where.split(os.pathsep) if p]
    if not any(os.path.isfile(p) for p in paths):
        pod = "" if kubeconfig else " (and KUBERNETES_SERVICE_HOST is unset: not in a pod)"
        raise KubeError(f"no kubeconfig at {where}: no such file{pod}")
    try:
        api = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=cfg
        )
    except (ConfigException, OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as err:
        why = " ".join(str(err).split())[:300]
        raise KubeError(f"kubeconfig {where} is not usable: {why}") from None
    return Kube(api, tunables, stop)


def _retry_after(err: Exception) -> float | None:
    """The answer's Retry-After, in seconds (the only form the API server sends)."""
    headers = getattr(err, "headers", None)
    value = headers.get("Retry-After") if isinstance(headers, Mapping) else None
    try:
        seconds = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return seconds if seconds is not None and 0 <= seconds < 86_400 else None


def _error(err: Exception, what: str) -> KubeError:
    if isinstance(err, ApiException):
        reason = ""
        try:  # a Status object; a 429 from API Priority and Fairness is plain text
            body = bounded.loads(err.body or "{}", 64 * 1024)
            reason = str(body.get("reason") or "")
            message = str(body.get("message") or err.reason)
        except (bounded.Refused, AttributeError):
            message = str(err.reason)
        status = int(err.status or 0)
        wait = _retry_after(err)
        kind = {
            409: AlreadyExists if reason == "AlreadyExists" else Conflict,
            403: Forbidden,
            404: NotFound,
            410: Expired,
        }
        text = f"{what}: {status} {reason or message}"[:500]
        if status == 429 or (status >= 500 and wait is not None):
            return Throttled(text, status, reason or "TooManyRequests", wait)
        cls = kind.get(status, Unavailable if status >= 500 else KubeError)
        return cls(text, status, reason)
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
    if isinstance(cause, urllib3.exceptions.ResponseError):  # urllib3 gave up on 429s/5xx
        return f"the cluster{where} kept refusing: {cause} ({what})"
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


class _TooBig(Exception):
    """An answer over its byte cap, abandoned before it was read to the end."""


def _read(response: Any, cap: int) -> bytearray:
    """The raw body, at most `cap` bytes; the connection is dropped, not drained, past it."""
    complete = False
    try:
        length = int(response.headers.get("Content-Length") or -1)
        if length > cap:
            raise _TooBig(length)
        data = bytearray()
        for chunk in response.stream(64 * 1024):
            data += chunk
            if len(data) > cap:
                raise _TooBig(len(data))
        complete = True
        return data
    finally:
        if not complete:
            response.close()
        response.release_conn()


def _discard(response: Any) -> None:
    """A write's answer (the whole object) is not needed: read past it, never decode it."""
    response.drain_conn()
    response.release_conn()


def _first_time(item: Item, seen: set[tuple[Any, Any, Any]]) -> bool:
    """False for an item already yielded: a listing restarted after 410 reads it again.

    Keyed by uid, with namespace and name: the server gives every object its own uid, so
    a repeat is the same object read again, and two objects never fold into one."""
    if isinstance(item, Unreadable):
        key = (item.namespace, item.name, item.uid)
    else:
        meta = item.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        key = (meta.get("namespace"), meta.get("name"), meta.get("uid"))
    if not isinstance(key[2], str) or not key[2]:
        return True  # no uid (no server sends that): nothing safe to dedupe by
    if key in seen:
        return False
    seen.add(key)
    return True


def _decode_page(what: str, data: bytearray, cap: int) -> tuple[Iterator[Item], str | None]:
    """A list page's items (each within the caps, else Unreadable) and its continue token."""
    try:
        page = bounded.split_list(data)
    except bounded.Refused as err:
        raise Unavailable(f"{what}: {err}") from None
    token = (page.envelope.get("metadata") or {}).get("continue")
    items = bounded.decode_items(data, page, cap)
    return items, token if isinstance(token, str) and token else None


class _Calls:
    """Makes one API call, retried while the server asks for it (429, a 5xx with
    Retry-After) or fails on the way (5xx, a lost connection); counts every attempt."""

    def __init__(self, tunables: Tunables, stop: Stop) -> None:
        self._t, self._stop = tunables, stop
        self.counts: Counter[str] = Counter()

    def __call__(self, what: str, fn: Callable[[], T]) -> T:
        """One API call, retried while the server asks for it or fails on the way."""
        waited = 0.0
        for attempt in count():
            self.counts[what.split(" ", 1)[0]] += 1
            try:
                return fn()
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as err:
                error = _error(err, what)
            wait = self._wait(error, attempt, waited)
            if wait is None:
                if attempt:
                    error.args = (f"{error} (gave up after {attempt + 1} attempts)",)
                raise error
            self._stop.sleep(wait)
            if self._stop.requested:
                error.args = (f"{error} (gave up waiting: {self._stop.signal} received)",)
                raise error
            waited += wait
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, error: KubeError, attempt: int, waited: float) -> float | None:
        """How long to wait before trying again, or None to give up."""
        t = self._t
        if isinstance(error, Throttled):
            if attempt >= t.kube_throttle_retries:
                return None
            backoff = min(16.0, t.kube_throttle_backoff_s * 2**attempt)
            wait = backoff if error.retry_after is None else error.retry_after
        elif isinstance(error, Unavailable):
            if attempt >= t.kube_retries:
                return None
            wait = t.kube_backoff_s * 2**attempt
        else:
            return None
        return wait if waited + wait <= t.kube_max_wait_s else None


class Kube:
    def __init__(
        self, api: client.ApiClient, tunables: Tunables | None = None, stop: Stop | None = None
    ) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._core = client.CoreV1Api(api)
        self._coord = client.CoordinationV1Api(api)
        self._t = tunables or Tunables()
        self._timeout = (self._t.connect_timeout_s, self._t.read_timeout_s)
        self._do = _Calls(self._t, stop or Stop())
        self.calls: Counter[str] = self._do.counts

    def _object(self, what: str, fn: Callable[[], Any]) -> dict[str, Any]:
        """One object read raw (`_preload_content=False`) and decoded within the caps."""
        cap = self._t.kube_object_bytes
        try:
            data = self._do(what, lambda: _read(fn(), cap))
            obj = bounded.loads(data, cap)
        except _TooBig:
            raise Refused(f"{what}: more than the {cap:,}-byte cap") from None
        except bounded.Refused as err:
            raise Refused(f"{what}: {err}") from None
        return obj if isinstance(obj, dict) else {}

    # ------------------------------------------------------------ workloads and tasks

    def check(self, namespaces: tuple[str, ...]) -> dict[str, KubeError]:
        """The cluster answers and lets us read Workloads: one cheap list per scope, after
        one GET of each named Namespace. Returns the named ones that cannot be swept (NotFound:
        no such namespace; Forbidden: its Workloads may not be listed); anything else raises."""
        problems: dict[str, KubeError] = {}
        for namespace in namespaces or (None,):
            if namespace is not None and self.namespace_exists(namespace) is False:
                problems[namespace] = NotFound(f"get namespaces {namespace}: 404 NotFound")
                continue
            kwargs: dict[str, Any] = {"limit": 1, "_request_timeout": self._timeout}
            cap = self._t.kube_page_bytes
            try:
                # A page too big for the cap still answered: the listing refuses its object.
                with suppress(_TooBig):
                    self._do(
                        "list workloads", partial(self._list, "workloads", namespace, kwargs, cap)
                    )
            except Forbidden as err:
                if namespace is None:
                    raise
                problems[namespace] = err
        return problems

    def workload_pages(
        self, namespaces: tuple[str, ...], selector: str | None, page_size: int
    ) -> Iterator[Iterator[Item]]:
        """Pages of Workloads, each once (an expired `continue` restarts the listing, and
        what was read already is left out); an object refused by the caps is Unreadable."""
        for namespace in namespaces or (None,):
            for items, _ in self._pages("workloads", namespace, selector, page_size):
                yield items

    def _pages(
        self, plural: str, namespace: str | None, selector: str | None, page_size: int
    ) -> Iterator[tuple[Iterator[Item], int]]:
        """(items, bytes) per page. A page over `kube_page_bytes` is asked again with half
        the limit (then grows back); a 410 Expired restarts the listing, deduped by uid."""
        seen: set[tuple[Any, Any, Any]] = set()
        token: str | None = None
        restarts, limit = 0, max(1, page_size)
        while True:
            kwargs: dict[str, Any] = {"limit": limit, "_request_timeout": self._timeout}
            if selector:
                kwargs["label_selector"] = selector
            if token:
                kwargs["_continue"] = token
            cap = self._t.kube_page_bytes * (1 if limit > 1 else 4)
            what = f"list {plural}"
            try:
                data = self._do(what, partial(self._list, plural, namespace, kwargs, cap))
            except Expired:
                restarts += 1
                if restarts > 3:
                    raise
                token = None
                continue
            except _TooBig:
                if limit == 1:
                    raise Refused(f"{what}: one object is more than {cap:,} bytes") from None
                limit //= 2
                continue
            items, token = _decode_page(what, data, self._t.kube_object_bytes)
            size = len(data)
            del data  # held by `items` only until the caller has read them
            yield (item for item in items if _first_time(item, seen)), size
            del items  # nothing of this page is kept while the next one is read
            if limit < page_size and size < self._t.kube_page_bytes // 4:
                limit = min(page_size, limit * 2)
            if not token:
                return

    def _list(
        self, plural: str, namespace: str | None, kwargs: dict[str, Any], cap: int
    ) -> bytearray:
        if namespace is None:
            response = self._custom.list_cluster_custom_object(
                GROUP, VERSION, plural, _preload_content=False, **kwargs
            )
        else:
            response = self._custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, _preload_content=False, **kwargs
            )
        return _read(response, cap)

    def tasks_of(
        self, namespace: str, workloads: Sequence[str], page_size: int | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """The AgenticTasks of several Workloads of one namespace, by name, in one listing.

        Refused when a task is refused by the caps, or when the tasks are more than
        `task_batch_bytes` in all: the caller splits the batch to find whose they are."""
        selector = f"{WORKLOAD_LABEL} in ({','.join(workloads)})"
        found: dict[str, list[dict[str, Any]]] = {name: [] for name in workloads}
        size, budget = page_size or self._t.task_page_size, self._t.task_batch_bytes
        spent = 0
        for page, nbytes in self._pages("agentictasks", namespace, selector, size):
            spent += nbytes
            if spent > budget:
                raise Refused(f"their AgenticTasks are more than {budget:,} bytes in all")
            for task in page:
                if isinstance(task, Unreadable):
                    raise Refused(task.describe("agentictasks"))
                labels = (task.get("metadata") or {}).get("labels") or {}
                owner = labels.get(WORKLOAD_LABEL) if isinstance(labels, dict) else None
                if isinstance(owner, str) and owner in found:
                    found[owner].append(task)
        return found

    def agents(self, namespace: str) -> dict[str, dict[str, Any]]:
        """The namespace's Foreman Agents by name, in one paged listing (an Agent refused by
        the caps is left out: a missing Agent, whose draft setting the default decides)."""
        found: dict[str, dict[str, Any]] = {}
        for page, _ in self._pages("agents", namespace, None, AGENT_PAGE_SIZE):
            for agent in page:
                meta = {} if isinstance(agent, Unreadable) else agent.get("metadata")
                name = meta.get("name") if isinstance(meta, dict) else None
                if isinstance(name, str) and not isinstance(agent, Unreadable):
                    found[name] = agent
        return found

    def get_workload(self, namespace: str, name: str) -> dict[str, Any]:
        return self._object(
            f"get workloads {namespace}/{name}",
            lambda: self._custom.get_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                "workloads",
                name,
                _preload_content=False,
                _request_timeout=self._timeout,
            ),
        )

    def patch_annotations(
        self,
        namespace: str,
        name: str,
        resource_version: str,
        annotations: Mapping[str, str | None],
    ) -> None:
        """Merge-patch annotations; a stale resourceVersion raises Conflict (so a repeat
        of a patch that landed but whose answer was lost is a Conflict, never a double)."""
        body = {"metadata": {"resourceVersion": resource_version, "annotations": dict(annotations)}}
        self._do(
            "patch workloads",
            lambda: _discard(
                self._custom.patch_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    namespace,
                    "workloads",
                    name,
                    body,
                    _content_type="application/merge-patch+json",
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
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
            lambda: _discard(
                self._core.create_namespaced_event(
                    workload["namespace"],
                    cast(Any, body),
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
            ),
        )

    # ------------------------------------------------------------ leases

    def read_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._object(
                "get leases",
                lambda: self._coord.read_namespaced_lease(
                    name, namespace, _preload_content=False, _request_timeout=self._timeout
                ),
            )
        except NotFound:
            return None

    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._object(
            "create leases",
            lambda: self._coord.create_namespaced_lease(
                namespace, cast(Any, body), _preload_content=False, _request_timeout=self._timeout
            ),
        )

    def replace_lease(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._object(
            "update leases",
            lambda: self._coord.replace_namespaced_lease(
                name,
                namespace,
                cast(Any, body),
                _preload_content=False,
                _request_timeout=self._timeout,
            ),
        )

    # ------------------------------------------------------------ read-only looks, for `check`

    @property
    def server(self) -> str:
        """The API server's URL, as the configuration names it."""
        return str(self._core.api_client.configuration.host)

    def served_resources(self, group: str, version: str) -> frozenset[str] | None:
        """The resources (no subresources) one group version serves, by discovery; None
        when the cluster serves no such group version."""
        try:
            found = self._object(
                f"get {group}/{version}",
                lambda: self._custom.get_api_resources(
                    group, version, _preload_content=False, _request_timeout=self._timeout
                ),
            )
        except NotFound:
            return None
        listed = found.get("resources")
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
        answer = self._object(
            "create selfsubjectaccessreviews",
            lambda: authorization.create_self_subject_access_review(
                cast(Any, body), _preload_content=False, _request_timeout=self._timeout
            ),
        )
        status = answer.get("status")
        return isinstance(status, dict) and status.get("allowed") is True

    def namespace_exists(self, name: str) -> bool | None:
        """Whether the namespace exists; None when this client may not read it."""
        try:
            self._object(
                "get namespaces",
                lambda: self._core.read_namespace(
                    name, _preload_content=False, _request_timeout=self._timeout
                ),
            )
        except NotFound:
            return False
        except Forbidden:
            return None
        return True
