"""Settings: built once from flags and environment, validated before any I/O."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sweeper.model import InvalidInput, parse_repo

_DURATION = re.compile(r"^\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")
_LABEL_SELECTOR = re.compile(r"^[A-Za-z0-9_./!=(), -]*$")
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_TEAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_ALLOW = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/(\*|[A-Za-z0-9._-]{1,100})$")
SA_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
# deploy/cronjob.yaml's SWEEPER_ALLOW_REPOS until the operator sets it: the allowlist is
# required there, so a deployment left as shipped refuses to start rather than run wide open.
ALLOW_REPOS_PLACEHOLDER = "REQUIRED: set OWNER/NAME or OWNER/* (comma-separated)"


class ConfigError(ValueError):
    """A setting that cannot work; the message is the one line the user sees."""


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


def parse_reserve(text: str) -> Reserve:
    """`20%` of each bucket's limit, an absolute `1000`, or `0` for none."""
    raw = text.strip()
    number = raw.removesuffix("%").strip()
    try:
        amount = float(number)
    except ValueError:
        amount = -1.0
    if not number or amount < 0 or amount != amount or (raw.endswith("%") and amount > 100):
        raise ConfigError(
            f"--rate-reserve {text!r} is not a share like 20% (0-100), a count like 1000, or 0"
        )
    if not raw.endswith("%") and amount != int(amount):
        raise ConfigError(f"--rate-reserve {text!r}: a count must be a whole number")
    return Reserve(amount, raw.endswith("%"))


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
class AppCredentials:
    """A GitHub App: its ID (or client ID), its private key (PEM), and maybe one installation."""

    app_id: str
    private_key: str = field(repr=False)
    installation_id: int | None = None

    def __repr__(self) -> str:  # never the key
        return f"AppCredentials(app_id={self.app_id!r}, ...)"


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


def parse_duration(text: str) -> timedelta:
    """`90s`, `10m`, `1h30m` or a bare number of seconds."""
    text = text.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    match = _DURATION.match(text)
    if not text or not match or not any(match.groups()):
        raise ConfigError(f"--min-age {text!r} is not a duration like 10m, 1h30m or 90s")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


_APP_ID = re.compile(r"^(?:[0-9]{1,12}|Iv[0-9A-Za-z.]{1,60})$")


def read_app(
    app_id: str | None, key_file: str | None, installation_id: str | None
) -> AppCredentials:
    """The App's ID and key, checked before any I/O; the key's content is never shown."""
    if not app_id or not key_file:
        raise ConfigError(
            "a GitHub App needs both --github-app-id and --github-app-private-key-file"
        )
    if not _APP_ID.match(app_id):
        raise ConfigError(f"--github-app-id {app_id[:40]!r} is not an App ID or client ID")
    try:
        pem = Path(key_file).read_bytes()
    except OSError as err:
        raise ConfigError(
            f"cannot read --github-app-private-key-file {key_file}: {err.strerror}"
        ) from None
    if not _is_rsa_private_key(pem):
        raise ConfigError(
            f"--github-app-private-key-file {key_file} is not an RSA private key (PEM)"
        )
    pinned = None
    if installation_id:
        if not installation_id.isdigit() or len(installation_id) > 15:
            raise ConfigError("--github-app-installation-id must be a number")
        pinned = int(installation_id)
    return AppCredentials(app_id, pem.decode("ascii"), pinned)


def _is_rsa_private_key(pem: bytes) -> bool:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return isinstance(key, RSAPrivateKey)


def read_token(token_file: str | None, env: Mapping[str, str]) -> str:
    if token_file:
        path = Path(token_file)
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ConfigError(
                f"cannot read --github-token-file {token_file}: {err.strerror}"
            ) from None
        if not token:
            raise ConfigError(f"--github-token-file {token_file} is empty")
    else:
        token = env.get("GITHUB_TOKEN", "").strip()
        if not token:
            raise ConfigError("no GitHub token: set GITHUB_TOKEN or --github-token-file")
    if any(ch.isspace() or ord(ch) < 32 for ch in token):
        raise ConfigError("the GitHub token contains whitespace or control characters")
    return token


def validate_api_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"--github-api-url {url!r} is not an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError("--github-api-url must use https (http is allowed only for loopback)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError("--github-api-url must not carry credentials, a query or a fragment")
    return url.rstrip("/")


def validate_pushgateway_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"--pushgateway-url {url!r} is not an http(s) URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError("--pushgateway-url must not carry credentials, a query or a fragment")
    return url.rstrip("/")


def default_lock_namespace(env: Mapping[str, str]) -> str:
    try:
        return SA_NAMESPACE_FILE.read_text(encoding="utf-8").strip() or "default"
    except OSError:
        return env.get("POD_NAMESPACE", "default") or "default"


def build(
    *,
    namespaces: Sequence[str],
    selector: str | None,
    github_api_url: str,
    token_file: str | None,
    dry_run: bool,
    min_age: str,
    head_owner: str | None,
    allow_repos: Sequence[str],
    log_format: str,
    write_interval_s: float,
    max_create: int,
    page_size: int,
    lock_namespace: str | None,
    lock_name: str,
    use_lock: bool,
    draft_on_request_changes: bool = False,
    reviewers: Sequence[str] = (),
    team_reviewers: Sequence[str] = (),
    labels: Sequence[str] = (),
    rate_reserve: str = "20%",
    app_id: str | None = None,
    app_key_file: str | None = None,
    app_installation_id: str | None = None,
    pushgateway_url: str | None = None,
    env: Mapping[str, str] = os.environ,
) -> Settings:
    """Checks every setting; raises ConfigError naming the first bad one."""
    as_app = bool(app_id or app_key_file or app_installation_id)
    has_token = bool(token_file or env.get("GITHUB_TOKEN", "").strip())
    if as_app and has_token:
        raise ConfigError("both a GitHub token and a GitHub App are configured: give exactly one")
    if not as_app and not has_token:
        raise ConfigError(
            "no GitHub credentials: set GITHUB_TOKEN or --github-token-file, or "
            "--github-app-id with --github-app-private-key-file"
        )
    for ns in namespaces:
        if not _DNS_LABEL.match(ns):
            raise ConfigError(f"--namespace {ns!r} is not a valid namespace name")
    if selector is not None and (not selector.strip() or not _LABEL_SELECTOR.match(selector)):
        raise ConfigError(f"--selector {selector!r} is not a label selector")
    if head_owner is not None and not _OWNER.match(head_owner):
        raise ConfigError(f"--head-owner {head_owner!r} is not a GitHub owner name")
    if ALLOW_REPOS_PLACEHOLDER in allow_repos:
        raise ConfigError(
            "SWEEPER_ALLOW_REPOS still holds deploy/'s placeholder: set the repositories the "
            "sweeper may open PRs on (OWNER/NAME or OWNER/*, comma-separated) in the CronJob's "
            "env, in deploy/cronjob.yaml or an overlay (examples/overlay/allow-repos.yaml)"
        )
    for pattern in allow_repos:
        if not _ALLOW.match(pattern):
            raise ConfigError(f"--allow-repo {pattern!r} is not OWNER/NAME or OWNER/*")
        if not pattern.endswith("/*"):
            try:
                parse_repo(pattern)
            except InvalidInput as err:
                raise ConfigError(f"--allow-repo: {err}") from None
    if log_format not in ("auto", "json", "console"):
        raise ConfigError(f"--log-format {log_format!r} is not auto, json or console")
    if not 0 <= write_interval_s <= 60:
        raise ConfigError("--write-interval must be between 0 and 60 seconds")
    if max_create < 0:
        raise ConfigError("--max-create must not be negative")
    if not 1 <= page_size <= 5000:
        raise ConfigError("--page-size must be between 1 and 5000")
    for login in reviewers:
        if not _OWNER.match(login) or "--" in login or login.endswith("-"):
            raise ConfigError(f"--reviewer {login!r} is not a GitHub login")
    for team in team_reviewers:
        if not _TEAM.match(team):
            raise ConfigError(f"--team-reviewer {team!r} is not ORG/TEAM-SLUG")
    for label in labels:
        if not label.strip() or len(label) > 50 or any(ord(ch) < 32 for ch in label):
            raise ConfigError(f"--label {label[:60]!r} is not a label name (1-50 characters)")
    lock_ns = lock_namespace or default_lock_namespace(env)
    if not _DNS_LABEL.match(lock_ns):
        raise ConfigError(f"--lock-namespace {lock_ns!r} is not a valid namespace name")
    if not _DNS_LABEL.match(lock_name):
        raise ConfigError(f"--lock-name {lock_name!r} is not a valid object name")
    return Settings(
        namespaces=tuple(dict.fromkeys(namespaces)),
        selector=selector,
        github_api_url=validate_api_url(github_api_url),
        github_token="" if as_app else read_token(token_file, env),
        app=read_app(app_id, app_key_file, app_installation_id) if as_app else None,
        dry_run=dry_run,
        min_age=parse_duration(min_age),
        head_owner=head_owner,
        allow_repos=tuple(allow_repos),
        log_format=log_format,
        write_interval_s=write_interval_s,
        max_create=max_create,
        page_size=page_size,
        lock_namespace=lock_ns,
        lock_name=lock_name,
        use_lock=use_lock,
        draft_on_request_changes=draft_on_request_changes,
        reviewers=tuple(dict.fromkeys(reviewers)),
        team_reviewers=tuple(dict.fromkeys(team_reviewers)),
        labels=tuple(dict.fromkeys(labels)),
        rate_reserve=parse_reserve(rate_reserve),
        pushgateway_url=validate_pushgateway_url(pushgateway_url) if pushgateway_url else None,
    )
