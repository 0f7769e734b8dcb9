"""The bottom of the Kubernetes adapter: the only module in it that imports the
`kubernetes` client. Configuration, one API call retried while the server asks for it
(`Calls`), API errors mapped to the typed errors of `sweeper.errors`, and answers read
raw within a byte cap and decoded by `sweeper.bounded`.

Every call is retried when the server asks for it (429, waiting at least `Retry-After`)
or fails on the way (5xx, a lost connection), writes included: each write of the adapter
is safe to repeat (a merge patch carries a resourceVersion, a Lease write too, an Event
at worst says the same twice). Retries are bounded (`Tunables`) and a stop request cuts a
wait short. An object a tenant made too big or too deep is refused by name instead of
costing memory or a RecursionError.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping
from itertools import count
from typing import Any, TypeVar

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from sweeper import bounded
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
from sweeper.model import GROUP
from sweeper.settings import Tunables
from sweeper.stopping import Stop

VERSION = "v1alpha1"
T = TypeVar("T")


def api_client(kubeconfig: str | None = None) -> client.ApiClient:
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
        return client.ApiClient(cfg)
    where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    paths = [os.path.expanduser(p) for p in where.split(os.pathsep) if p]
    if not any(os.path.isfile(p) for p in paths):
        pod = "" if kubeconfig else " (and KUBERNETES_SERVICE_HOST is unset: not in a pod)"
        raise KubeError(f"no kubeconfig at {where}: no such file{pod}")
    try:
        api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=cfg
        )
    except (ConfigException, OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as err:
        why = " ".join(str(err).split())[:300]
        raise KubeError(f"kubeconfig {where} is not usable: {why}") from None
    return api


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
        except (bounded.Undecodable, AttributeError):
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


class TooBig(Exception):
    """An answer over its byte cap, abandoned before it was read to the end."""


def read(response: Any, cap: int) -> bytearray:
    """The raw body, at most `cap` bytes; the connection is dropped, not drained, past it."""
    complete = False
    try:
        length = int(response.headers.get("Content-Length") or -1)
        if length > cap:
            raise TooBig(length)
        data = bytearray()
        for chunk in response.stream(64 * 1024):
            data += chunk
            if len(data) > cap:
                raise TooBig(len(data))
        complete = True
        return data
    finally:
        if not complete:
            response.close()
        response.release_conn()


def discard(response: Any) -> None:
    """A write's answer (the whole object) is not needed: read past it, never decode it."""
    response.drain_conn()
    response.release_conn()


class Calls:
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


class KubeTransport:
    """The API clients, the retrying `Calls` and the caps the adapter's parts share."""

    def __init__(
        self, api: client.ApiClient, tunables: Tunables | None = None, stop: Stop | None = None
    ) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._core = client.CoreV1Api(api)
        self._coord = client.CoordinationV1Api(api)
        self._authorization = client.AuthorizationV1Api(api)
        self._t = tunables or Tunables()
        self._timeout = (self._t.connect_timeout_s, self._t.read_timeout_s)
        self._do = Calls(self._t, stop or Stop())
        self.calls: Counter[str] = self._do.counts

    def _object(self, what: str, fn: Callable[[], Any]) -> dict[str, Any]:
        """One object read raw (`_preload_content=False`) and decoded within the caps."""
        cap = self._t.kube_object_bytes
        try:
            data = self._do(what, lambda: read(fn(), cap))
            obj = bounded.loads(data, cap)
        except TooBig:
            raise Refused(f"{what}: more than the {cap:,}-byte cap") from None
        except bounded.Undecodable as err:
            raise Refused(f"{what}: {err}") from None
        return obj if isinstance(obj, dict) else {}

    def _list(
        self, plural: str, namespace: str | None, kwargs: dict[str, Any], cap: int
    ) -> bytearray:
        """One list page of Foreman objects, raw, at most `cap` bytes (else TooBig)."""
        if namespace is None:
            response = self._custom.list_cluster_custom_object(
                GROUP, VERSION, plural, _preload_content=False, **kwargs
            )
        else:
            response = self._custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, _preload_content=False, **kwargs
            )
        return read(response, cap)
