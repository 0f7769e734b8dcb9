"""Settings: built once from flags, environment and files, validated before any I/O.

`Raw` holds every setting as given, each a `Given` that knows where it came from (a
flag, a variable, a file or the default); `build` checks them one field at a time and
refuses the first that cannot work with a `ConfigError` naming its source.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sweeper import values as v
from sweeper.credentials import AppCredentials, credentials
from sweeper.fields import InvalidInput, parse_repo
from sweeper.lock import LEASE_NAME
from sweeper.values import ConfigError, Given, Invalid, check, each, optional, unique

__all__ = [
    "ALLOW_REPOS_PLACEHOLDER",
    "AppCredentials",
    "ConfigError",
    "Given",
    "Raw",
    "Reserve",
    "Settings",
    "Tunables",
    "build",
    "parse_duration",
    "parse_reserve",
    "unknown_variables",
    "validate_pushgateway_url",
]

_ALLOW = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/(\*|[A-Za-z0-9._-]{1,100})$")
SA_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
# deploy/cronjob.yaml's SWEEPER_ALLOW_REPOS until the operator sets it: the allowlist is
# required there, so a deployment left as shipped refuses to start rather than run wide open.
ALLOW_REPOS_PLACEHOLDER = "REQUIRED: set OWNER/NAME or OWNER/* (comma-separated)"

_NONE: Given[str | None] = Given(None)
_EMPTY: Given[tuple[str, ...]] = Given(())


@dataclass(frozen=True, repr=False)
class Raw:
    """Every setting as given, before any check; `build` turns it into `Settings`.

    Field names are the flags' argparse dests; the defaults here are the sweeper's.
    """

    namespaces: Given[tuple[str, ...]] = _EMPTY
    selector: Given[str | None] = _NONE
    github_token: Given[str | None] = _NONE  # GITHUB_TOKEN: a secret, never shown
    github_token_file: Given[str | None] = _NONE
    github_app_id: Given[str | None] = _NONE
    github_app_private_key_file: Given[str | None] = _NONE
    github_app_installation_id: Given[str | None] = _NONE
    github_api_url: Given[str] = Given("https://api.github.com")
    dry_run: Given[str] = Given("false")
    min_age: Given[str] = Given("10m")
    head_owner: Given[str | None] = _NONE
    allow_repos: Given[tuple[str, ...]] = _EMPTY
    draft_on_request_changes: Given[str] = Given("false")
    open_as_draft: Given[str] = Given("false")
    reviewers: Given[tuple[str, ...]] = _EMPTY
    team_reviewers: Given[tuple[str, ...]] = _EMPTY
    labels: Given[tuple[str, ...]] = _EMPTY
    write_interval: Given[str] = Given("1.0")
    max_create: Given[str] = Given("50")
    rate_reserve: Given[str] = Given("20%")
    pushgateway_url: Given[str | None] = _NONE
    page_size: Given[str] = Given("500")
    lock_namespace: Given[str | None] = _NONE
    lock_name: Given[str] = Given(LEASE_NAME)
    no_lock: Given[str] = Given("false")
    kubeconfig: Given[str | None] = _NONE
    log_format: Given[str] = Given("auto")
    pod_namespace: Given[str | None] = _NONE  # POD_NAMESPACE: the Lease's default namespace

    def __repr__(self) -> str:  # never the token
        return "Raw(...)"


@dataclass(frozen=True)
class Reserve:
    """What the sweeper leaves of each rate-limit bucket: a share of its limit, or a count."""

    amount: float = 20.0
    percent: bool = True

    def of(self, limit: int) -> int:
        """The calls (or points) never to be spent from a bucket of this limit."""
        if self.percent:
            return int(-(-limit * self.amount // 100))  # rounded up
        return int(self.amount)

    def __str__(self) -> str:
        return f"{self.amount:g}%" if self.percent else f"{self.amount:g}"


@dataclass(frozen=True)
class Tunables:
    """Timeouts, retries and pacing: data, so tests and benchmarks can change them."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    read_retries: int = 3
    retry_backoff_s: float = 0.5
    max_rate_wait_s: float = 120.0
    secondary_wait_s: float = 60.0
    record_attempts: int = 5
    lease_duration_s: int = 900
    # GitHub may not know a PR for a moment after creating it ("Could not resolve to a node").
    notify_retry_wait_s: float = 2.0
    # Pending Workloads planned, learned and acted on together: memory is bounded by this.
    plan_window: int = 1000
    # Workload names per AgenticTask list call (`workload in (...)`): a short URL still.
    task_batch: int = 100
    # Branches per GraphQL query: about one point per hundred.
    lookup_batch: int = 100
    # A sweep.progress line at least this often (and after each batch).
    progress_interval_s: float = 30.0
    # A GitHub App's installation token is minted again this long before it expires.
    token_margin_s: float = 300.0
    # A brand-new installation token GitHub refuses is tried again after this wait.
    new_token_wait_s: float = 2.0
    # The Pushgateway push at the end of a run: an unreachable gateway costs at most this.
    push_timeout_s: float = 10.0
    # Every Kubernetes call, writes included, is retried on a 429 (API Priority and
    # Fairness, EventRateLimit) this many times, as client-go does: after its Retry-After,
    # else after kube_throttle_backoff_s, doubling up to 16 s.
    kube_throttle_retries: int = 10
    kube_throttle_backoff_s: float = 1.0
    # ... and on a 5xx or a lost connection this many times, kube_backoff_s doubling.
    kube_retries: int = 2
    kube_backoff_s: float = 0.2
    # One call waits no longer than this in all: a longer Retry-After gives up at once.
    kube_max_wait_s: float = 300.0
    # Memory a tenant cannot grow. List pages are read raw, at most this many bytes each
    # (a bigger page is asked again with half the limit) ...
    kube_page_bytes: int = 8 * 1024 * 1024
    # ... an object bigger than this is refused (invalid-input) before it is decoded ...
    kube_object_bytes: int = 1024 * 1024
    # ... and the AgenticTasks of one list call (a task batch) hold at most this many bytes
    # (more: the batch is split, down to one Workload, which is then invalid-input).
    task_batch_bytes: int = 32 * 1024 * 1024
    # AgenticTasks per list page.
    task_page_size: int = 500


@dataclass(frozen=True, repr=False)
class Settings:
    namespaces: tuple[str, ...]
    selector: str | None
    github_api_url: str
    github_token: str = field(repr=False)  # "" when authenticating as a GitHub App
    dry_run: bool
    min_age: timedelta
    head_owner: str | None
    allow_repos: tuple[str, ...]
    log_format: str
    write_interval_s: float
    max_create: int
    page_size: int
    lock_namespace: str
    lock_name: str
    use_lock: bool
    draft_on_request_changes: bool = False
    # Open reviewed PRs as drafts where the reviewer Agent does not say (Foreman's default
    # on releases whose Agents have openPullRequestsAsDraft).
    open_as_draft: bool = False
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = ()  # ORG/TEAM-SLUG
    labels: tuple[str, ...] = ()
    rate_reserve: Reserve = Reserve()
    app: AppCredentials | None = None
    pushgateway_url: str | None = None
    tunables: Tunables = Tunables()

    def __repr__(self) -> str:  # never print the token, even by accident
        return f"Settings(namespaces={self.namespaces!r}, dry_run={self.dry_run!r}, ...)"

    def public(self) -> dict[str, object]:
        """What the first log line shows about this run."""
        return {
            "namespaces": list(self.namespaces) or "all",
            "selector": self.selector,
            "github_api_url": self.github_api_url,
            "auth": "github-app" if self.app else "token",
            "github_app_id": self.app.app_id if self.app else None,
            "github_app_installation_id": self.app.installation_id if self.app else None,
            "dry_run": self.dry_run,
            "min_age_s": int(self.min_age.total_seconds()),
            "head_owner": self.head_owner,
            "allow_repos": list(self.allow_repos) or "any",
            "write_interval_s": self.write_interval_s,
            "max_create": self.max_create,
            "rate_reserve": str(self.rate_reserve),
            "lock": f"{self.lock_namespace}/{self.lock_name}" if self.use_lock else None,
            "draft_on_request_changes": self.draft_on_request_changes,
            "open_as_draft": self.open_as_draft,
            "reviewers": list(self.reviewers),
            "team_reviewers": list(self.team_reviewers),
            "labels": list(self.labels),
            "pushgateway_url": self.pushgateway_url,
        }


def build(raw: Raw) -> Settings:
    """Checks every setting; raises ConfigError naming the first bad one and its source."""
    token, app = credentials(
        raw.github_token_file,
        raw.github_token,
        raw.github_app_id,
        raw.github_app_private_key_file,
        raw.github_app_installation_id,
    )
    return Settings(
        namespaces=unique(each(raw.namespaces, v.namespace)),
        selector=optional(raw.selector, v.selector),
        github_api_url=check(raw.github_api_url, _api_url),
        github_token=token,
        app=app,
        dry_run=check(raw.dry_run, v.boolean),
        min_age=check(raw.min_age, v.duration),
        head_owner=optional(raw.head_owner, v.owner),
        allow_repos=_allow_repos(raw.allow_repos),
        log_format=check(raw.log_format, v.log_format),
        write_interval_s=check(raw.write_interval, v.number(float, 0, 60)),
        max_create=check(raw.max_create, v.number(int, 0, None)),
        page_size=check(raw.page_size, v.number(int, 1, 5000)),
        lock_namespace=check(lock_namespace_of(raw), v.namespace),
        lock_name=check(raw.lock_name, v.object_name),
        use_lock=not check(raw.no_lock, v.boolean),
        draft_on_request_changes=check(raw.draft_on_request_changes, v.boolean),
        open_as_draft=check(raw.open_as_draft, v.boolean),
        reviewers=unique(each(raw.reviewers, v.login)),
        team_reviewers=unique(each(raw.team_reviewers, v.team)),
        labels=unique(each(raw.labels, v.label)),
        rate_reserve=check(raw.rate_reserve, _reserve),
        pushgateway_url=optional(raw.pushgateway_url, _pushgateway_url),
    )


def unknown_variables(env: Mapping[str, str], known: Iterable[str]) -> None:
    """Refuses a SWEEPER_* variable the sweeper does not read: a typo must not widen a run."""
    names = sorted(known)
    for name in sorted(env):
        if not name.upper().startswith("SWEEPER_") or name in names:
            continue
        close = difflib.get_close_matches(name.upper(), names, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else "; `--help` lists the variables"
        raise ConfigError(f"{name} is not a variable the sweeper knows{hint}", f"variable {name}")


def lock_namespace_of(raw: Raw) -> Given[str]:
    """The flag or variable, else the pod's own namespace (its service account's file, then
    POD_NAMESPACE), else `default`."""
    if raw.lock_namespace.value is not None:
        return Given(raw.lock_namespace.value, raw.lock_namespace.name)
    try:
        own = SA_NAMESPACE_FILE.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        own = ""
    if own:
        return Given(own, str(SA_NAMESPACE_FILE))
    if raw.pod_namespace.value:
        return Given(raw.pod_namespace.value, raw.pod_namespace.name)
    return Given("default")


def parse_duration(text: str) -> timedelta:
    """`90s`, `10m`, `1h30m` or a bare number of seconds."""
    return check(Given(text, "--min-age"), v.duration)


def _reserve(text: str) -> Reserve:
    raw = text.strip()
    number = raw.removesuffix("%").strip()
    try:
        amount = float(number)
    except ValueError:
        amount = -1.0
    if not number or amount < 0 or amount != amount or (raw.endswith("%") and amount > 100):
        raise Invalid("is not a share like 20% (0-100), a count like 1000, or 0")
    if not raw.endswith("%") and amount != int(amount):
        raise Invalid("is not a share, and a count must be a whole number")
    return Reserve(amount, raw.endswith("%"))


def parse_reserve(text: str) -> Reserve:
    """`20%` of each bucket's limit, an absolute `1000`, or `0` for none."""
    return check(Given(text, "--rate-reserve"), _reserve)


def _allow_repos(given: Given[tuple[str, ...]]) -> tuple[str, ...]:
    if any(item.strip() == ALLOW_REPOS_PLACEHOLDER for item in given.value):
        raise ConfigError(
            f"{given.name} still holds deploy/'s placeholder: set the repositories the "
            "sweeper may open PRs on (OWNER/NAME or OWNER/*, comma-separated) in the "
            "CronJob's env, in deploy/cronjob.yaml or an overlay "
            "(examples/overlay/allow-repos.yaml)",
            given.where,
        )
    return each(given, _allow_pattern)


def _allow_pattern(pattern: str) -> str:
    if not _ALLOW.match(pattern):
        raise Invalid("is not OWNER/NAME or OWNER/*")
    if not pattern.endswith("/*"):
        try:
            parse_repo(pattern)
        except InvalidInput as err:
            raise Invalid(f"is not a repository: {err}") from None
    return pattern


def _api_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Invalid("is not an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise Invalid("must use https (http is allowed only for loopback)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise Invalid("must not carry credentials, a query or a fragment")
    return url.rstrip("/")


def _pushgateway_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Invalid("is not an http(s) URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise Invalid("must not carry credentials, a query or a fragment")
    return url.rstrip("/")


def validate_pushgateway_url(url: str) -> str:
    return check(Given(url, "--pushgateway-url"), _pushgateway_url)
