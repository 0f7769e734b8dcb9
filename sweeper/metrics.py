"""Metrics: the run's results pushed to a Prometheus Pushgateway at the end of every run.

Prometheus' guidance for a service-level batch job: push once, when it ends. The series
live in the group `job="foreman-pr-sweeper", mode="sweep"` (`mode="dry-run"` for a dry
run, so a rehearsal never overwrites the schedule's numbers). Every series describes the
last run, so all are gauges (no `_total`), and no label ever names a branch, a Workload
or a URL.

A run that succeeded replaces the whole group (PUT) and sets the last-success time. Any
other run replaces only the series it pushes (POST) and pushes no last-success time, so
the last success survives failed runs: `time() - last_success > 2 * schedule` is the
alert. A run that found the lock held did nothing: it pushes only the series that say
so (`last_run_*`, and whether an allowlist is set), never a success, and leaves the
previous run's decisions in place.
`RunFacts` is plain data; `families` turns it into metric families without I/O;
`Pushgateway` is the thin adapter, whose failures are a warning line, never the run's;
`check` only asks it whether it is ready.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit, urlunsplit
from urllib.request import urlopen

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import push_to_gateway, pushadd_to_gateway
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sweeper.budget import Bucket
from sweeper.runlog import Log

JOB = "foreman-pr-sweeper"
PREFIX = "foreman_pr_sweeper_"


@dataclass(frozen=True)
class RunFacts:
    """What one run did, as plain data: the closing line's numbers, for the gateway."""

    finished_at: float  # Unix time
    duration_s: float
    exit_code: int
    result: str  # success | failed | lock-held | config-error | aborted | terminated
    dry_run: bool
    version: str
    decisions: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (outcome, reason)
    workloads: Mapping[str, int] = field(default_factory=dict)  # by triage state
    record_failures: int = 0
    github_requests: Mapping[str, int] = field(default_factory=dict)  # by kind
    github_rate: Mapping[Bucket, Mapping[str, Any]] = field(default_factory=dict)  # by bucket
    kube_requests: Mapping[str, int] = field(default_factory=dict)  # by verb
    # The backlog after the run: the oldest waiting Workload's age, and why they wait.
    oldest_pending_age_s: float = 0.0
    waiting: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (why, reason)
    # A repository allowlist was set (--allow-repo): without one any repository may get PRs.
    allow_repos_configured: bool = False

    @property
    def mode(self) -> str:
        return "dry-run" if self.dry_run else "sweep"

    @property
    def succeeded(self) -> bool:
        """A pass ran and nothing failed: the only run that counts as a success."""
        return self.result == "success"

    @property
    def did_work(self) -> bool:
        """False for a run that found the lock held: it has no decisions to report."""
        return self.result != "lock-held"


def _gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, labels=list(labels))


def _single(name: str, doc: str, value: float) -> Metric:
    family = _gauge(name, doc)
    family.add_metric([], value)
    return family


def _labelled(
    name: str, doc: str, labels: list[str], counts: Mapping[Any, float]
) -> GaugeMetricFamily:
    """One sample per key of `counts` (a label value, or a tuple of them), sorted."""
    family = _gauge(name, doc, labels)
    for key, count in sorted(counts.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], count)
    return family


def families(run: RunFacts) -> list[Metric]:
    """The run as metric families; pure, so tests can read them without a gateway."""
    out = _how_it_ended(run)
    if not run.did_work:
        return out
    return out + _what_it_did(run) + _api_calls(run)


def _how_it_ended(run: RunFacts) -> list[Metric]:
    """Every run's families, a lock-held one's too."""
    out = [
        _single(
            "last_run_timestamp_seconds", "When the last run ended (Unix time).", run.finished_at
        )
    ]
    if run.succeeded:
        out.append(
            _single(
                "last_success_timestamp_seconds",
                "When the last run that exited 0 ended (Unix time); kept across failed runs.",
                run.finished_at,
            )
        )
    out.append(
        _single("last_run_exit_code", "Exit code of the last run (0, 1 or 2).", run.exit_code)
    )
    out.append(_single("last_run_duration_seconds", "Wall time of the last run.", run.duration_s))
    info = _gauge(
        "last_run_info",
        "Always 1: how the last run ended (success, failed, lock-held, config-error, "
        "aborted, terminated) and the sweeper's version.",
        ["result", "version"],
    )
    info.add_metric([run.result, run.version], 1)
    out.append(info)
    out.append(
        _single(
            "allow_repos_configured",
            "1 when the last run had a repository allowlist (--allow-repo), 0 when any "
            "repository could get PRs.",
            1 if run.allow_repos_configured else 0,
        )
    )
    return out


def _what_it_did(run: RunFacts) -> list[Metric]:
    """The decisions, Workloads and backlog of a run that did a pass."""
    return [
        _labelled(
            "decisions",
            "Branch decisions of the last run, by outcome and reason.",
            ["outcome", "reason"],
            run.decisions,
        ),
        _labelled(
            "workloads", "Workloads the last run listed, by triage state.", ["state"], run.workloads
        ),
        _single(
            "record_failures",
            "Records (annotations) the last run could not write; the next run retries them.",
            run.record_failures,
        ),
        _single(
            "oldest_pending_age_seconds",
            "Age since completion of the oldest Completed Workload still waiting for its PR "
            "after the last run (0: none waits).",
            run.oldest_pending_age_s,
        ),
        _labelled(
            "waiting_workloads",
            "Completed Workloads still waiting after the last run, by why (too-young, "
            "deferred, failed, not-reached, unsettled) and the decision's reason.",
            ["why", "reason"],
            run.waiting,
        ),
    ]


def _api_calls(run: RunFacts) -> list[Metric]:
    """The run's requests to GitHub and Kubernetes, and GitHub's quota per bucket."""
    requests = _gauge(
        "github_requests",
        "GitHub API requests of the last run, by kind (read, write, graphql, auth).",
        ["kind"],
    )
    for kind, count in sorted(run.github_requests.items()):
        if kind != "graphql_points":  # points are quota, below
            requests.add_metric([kind], count)
    labels = ["bucket", "installation"]
    used = _gauge(
        "github_quota_used",
        "GitHub quota the last run spent (REST requests, GraphQL points), per bucket and "
        "installation.",
        labels,
    )
    remaining = _gauge(
        "github_quota_remaining", "GitHub quota left at the end of the last run.", labels
    )
    limit = _gauge("github_quota_limit", "GitHub quota per hour, per bucket.", labels)
    for bucket, rate in sorted(run.github_rate.items(), key=lambda item: str(item[0])):
        # An App's buckets are per installation, named by the owner it serves.
        key = [bucket.kind, bucket.installation or ""]
        used.add_metric(key, rate.get("used") or 0)
        for family, value in ((remaining, rate.get("remaining")), (limit, rate.get("limit"))):
            if isinstance(value, int | float):
                family.add_metric(key, value)
    kube = _gauge(
        "kubernetes_requests", "Kubernetes API requests of the last run, by verb.", ["verb"]
    )
    for verb, count in sorted(run.kube_requests.items()):
        kube.add_metric([verb], count)
    return [requests, used, remaining, limit, kube]


class _Facts(Collector):
    def __init__(self, run: RunFacts) -> None:
        self.run = run

    def collect(self) -> Iterable[Metric]:
        return families(self.run)


def public_url(url: str) -> str:
    """The URL as a log line may show it: no user, no password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Pushgateway:
    """Pushes one run's families; raises OSError (or ValueError) when the gateway fails."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url, self.timeout_s = url, timeout_s

    def push(self, run: RunFacts) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Facts(run))
        send = push_to_gateway if run.succeeded else pushadd_to_gateway
        send(
            self.url,
            job=JOB,
            registry=registry,
            grouping_key={"mode": run.mode},
            timeout=self.timeout_s,
        )

    def ready(self) -> None:
        """A look, never a push: `GET /-/ready` answers 2xx (a gateway without that path:
        `GET /api/v1/status`). Raises OSError naming what failed."""
        try:
            self._get("/-/ready")
        except HTTPError as err:
            if err.code != 404:
                raise
            self._get("/api/v1/status")

    def _get(self, path: str) -> None:
        with urlopen(self.url + path, timeout=self.timeout_s) as response:
            response.read(4096)


class Metrics:
    """The push at the end of a run, as the run sees it: a line saying how it went."""

    def __init__(self, gateway: Pushgateway, log: Log) -> None:
        self.gateway, self.log = gateway, log

    def push(self, run: RunFacts) -> None:
        url = public_url(self.gateway.url)
        try:
            self.gateway.push(run)
        except Exception as err:  # an unreachable gateway must never fail the run
            self.log.warning(
                "metrics.push_failed",
                url=url,
                reason="pushgateway-unreachable",
                detail=f"{type(err).__name__}: {err}"[:300],
            )
            return
        self.log.info("metrics.pushed", url=url, job=JOB, mode=run.mode, result=run.result)
