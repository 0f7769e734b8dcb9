"""`check`, asked: read-only questions to the cluster, GitHub and the Pushgateway.

The three are asked at once, each call bounded by a short timeout and every answer by a
deadline, so the whole check answers within seconds. Their answers go to
`sweeper.checking` as plain data, which judges them. Nothing is written anywhere: the
cluster gets discovery, SelfSubjectAccessReviews (answered, never stored) and GETs;
GitHub gets `GET /rate_limit` (which costs no quota) or, as an App, `GET /app` and each
allowed owner's installation, with the App's JWT (no token is minted); the Pushgateway
gets `GET /-/ready`, never a push.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TextIO, TypeVar
from urllib.error import HTTPError, URLError

from sweeper.checking import (
    Access,
    ClusterFacts,
    Facts,
    GitHubFacts,
    document,
    evaluate,
    exit_code,
    questions,
    table,
)
from sweeper.errors import KubeError, NotFound
from sweeper.github import GitHub, GitHubError, InstallationProbe, Unauthorized
from sweeper.metrics import Pushgateway
from sweeper.model import GROUP
from sweeper.settings import Settings

if TYPE_CHECKING:
    from sweeper.kube import Kube

TIMEOUT_S = 3.0  # one call, connecting and reading
ANSWER_BY_S = 8.0  # every party's answer, or it is reported as not answering
T = TypeVar("T")


def run_check(
    settings: Settings,
    kubeconfig: str | None,
    output: str,
    env: Mapping[str, str],
    out: TextIO,
) -> int:
    """Ask, judge, print the table (or the JSON document); the exit code."""
    facts = gather(settings, kubeconfig, env)
    rows = evaluate(facts)
    text = document(rows) if output == "json" else table(rows)
    for secret in secrets_of(settings):
        text = text.replace(secret, "[redacted]")
    out.write(text)
    out.flush()
    return exit_code(rows)


def secrets_of(settings: Settings) -> list[str]:
    """The token and the key's lines: never printed, even inside an error GitHub sent."""
    found = [settings.github_token] if settings.github_token else []
    if settings.app is not None:
        found += [line for line in settings.app.private_key.splitlines() if len(line) > 16]
    return found


class Asking(threading.Thread, Generic[T]):
    """One party's questions in a daemon thread: one that never answers cannot hold up
    the answer, nor the exit."""

    def __init__(self, ask: Callable[[], T]) -> None:
        super().__init__(daemon=True)
        self._ask = ask
        self.answer: T | None = None
        self._failure: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.answer = self._ask()
        except BaseException as err:  # handed to the waiting thread: a bug stays loud
            self._failure = err

    def answered(self, deadline: float) -> bool:
        """Whether the answer came by the deadline (monotonic clock)."""
        self.join(max(0.0, deadline - time.monotonic()))
        if self._failure is not None:
            raise self._failure
        return not self.is_alive()


def gather(settings: Settings, kubeconfig: str | None, env: Mapping[str, str]) -> Facts:
    deadline = time.monotonic() + ANSWER_BY_S
    # The cluster stops asking in time for its last call to end by the deadline.
    cluster = Asking(lambda: ask_cluster(settings, kubeconfig, deadline - TIMEOUT_S))
    github = Asking(lambda: ask_github(settings))
    gateway = Asking(lambda: ask_pushgateway(settings.pushgateway_url))
    late = f"no answer within {ANSWER_BY_S:g} s"
    return Facts(
        settings,
        in_pod=bool(env.get("KUBERNETES_SERVICE_HOST")),
        now=datetime.now(UTC),
        cluster=(cluster.answer if cluster.answered(deadline) else None)
        or ClusterFacts(error=late),
        github=(github.answer if github.answered(deadline) else None) or GitHubFacts(error=late),
        pushgateway=gateway.answer if gateway.answered(deadline) else late,
    )


# ---------------------------------------------------------------- the cluster


def ask_cluster(settings: Settings, kubeconfig: str | None, deadline: float) -> ClusterFacts:
    from sweeper.kube import VERSION, connect  # the client is slow to import

    group_version = f"{GROUP}/{VERSION}"
    try:
        # Short calls and short waits: check answers within its deadline, not a sweep's.
        quick = replace(
            settings.tunables,
            connect_timeout_s=TIMEOUT_S,
            read_timeout_s=TIMEOUT_S,
            kube_retries=1,
            kube_throttle_retries=1,
            kube_max_wait_s=2.0,
        )
        kube = connect(kubeconfig, quick)
    except KubeError as err:
        return ClusterFacts(error=str(err), group_version=group_version)
    try:
        served = kube.served_resources(GROUP, VERSION)
    except KubeError as err:  # the first question: no answer means no cluster to ask
        return ClusterFacts(kube.server, str(err), group_version)
    lease, lease_error = _lease(kube, settings, deadline)
    return ClusterFacts(
        kube.server,
        group_version=group_version,
        served=served,
        access=tuple(_answer(kube, q, deadline) for q in questions(settings)),
        namespaces=tuple((ns, _exists(kube, ns, deadline)) for ns in settings.namespaces),
        lock_namespace=(
            _exists(kube, settings.lock_namespace, deadline) if settings.use_lock else None
        ),
        lease=lease,
        lease_error=lease_error,
    )


def _answer(kube: Kube, q: Access, deadline: float) -> Access:
    if time.monotonic() > deadline:
        return replace(
            q, error=f"not asked: the cluster answered too slowly to ask all in {ANSWER_BY_S:g} s"
        )
    try:
        allowed = kube.access_review(q.verb, q.group, q.resource, q.namespace, q.name)
    except KubeError as err:
        return replace(q, error=str(err))
    return replace(q, allowed=allowed)


def _exists(kube: Kube, namespace: str, deadline: float) -> bool | None:
    if time.monotonic() > deadline:
        return None
    try:
        return kube.namespace_exists(namespace)
    except KubeError:
        return None


def _lease(kube: Kube, settings: Settings, deadline: float) -> tuple[Mapping[str, Any] | None, str]:
    if not settings.use_lock or time.monotonic() > deadline:
        return None, ""
    try:
        return kube.read_lease(settings.lock_namespace, settings.lock_name), ""
    except NotFound:
        return None, ""
    except KubeError as err:
        return None, str(err)


# ---------------------------------------------------------------- GitHub


def ask_github(settings: Settings) -> GitHubFacts:
    quick = replace(
        settings.tunables,
        connect_timeout_s=TIMEOUT_S,
        read_timeout_s=TIMEOUT_S,
        read_retries=0,
        max_rate_wait_s=0.0,
        secondary_wait_s=0.0,
    )
    github = GitHub(
        settings.github_api_url,
        settings.github_token,
        quick,
        0.0,
        reserve=settings.rate_reserve,
        app=settings.app,
        secrets=secrets_of(settings),
    )
    try:
        if settings.app is None:
            return GitHubFacts(token=github.probe_token())
        github.check_token()  # GET /app: the key and the ID belong together
        return GitHubFacts(installations=_installations(github, settings.allow_repos))
    except Unauthorized as err:
        return GitHubFacts(error=str(err), refused=True)
    except GitHubError as err:
        return GitHubFacts(error=str(err))
    finally:
        github.close()


def _installations(github: GitHub, allowed: tuple[str, ...]) -> tuple[InstallationProbe, ...]:
    """Per allowlist entry: `OWNER/NAME` asks about the repository, `OWNER/*` the owner."""
    return tuple(
        github.probe_owner(entry.split("/", 1)[0])
        if entry.endswith("/*")
        else github.probe_installation(entry)
        for entry in dict.fromkeys(allowed)
    )


# ---------------------------------------------------------------- the Pushgateway


def ask_pushgateway(url: str | None) -> str | None:
    """None when it is ready (or not set), else what went wrong."""
    if url is None:
        return None
    try:
        Pushgateway(url, TIMEOUT_S).ready()
    except HTTPError as err:
        return f"HTTP {err.code} {err.reason}"
    except URLError as err:
        return str(err.reason)
    except (OSError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    return None
