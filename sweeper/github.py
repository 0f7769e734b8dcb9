"""The GitHub adapter: the only module that speaks HTTP to GitHub.

Parsing a response into data (errors, rate-limit state, pull requests) is pure; only
`GitHub._send` touches the network. Reads are retried on the transport for 5xx and
connection errors; writes are never retried blindly and never follow redirects.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlsplit

import jwt
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from sweeper import __version__
from sweeper.budget import ALL, scope_of
from sweeper.core import Pull
from sweeper.lookups import Answer, Lookup, Rate, Unanswered, View, build_query, read_answer
from sweeper.model import as_mapping
from sweeper.outcomes import Reason
from sweeper.settings import AppCredentials, Reserve, Tunables

API_VERSION = "2022-11-28"
USER_AGENT = f"foreman-pr-sweeper/{__version__}"
PER_PAGE = 100


class GitHubError(Exception):
    """Any GitHub failure. Messages carry GitHub's text, never a request header."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unauthorized(GitHubError):
    pass


class PermissionDenied(GitHubError):
    pass


class NotFound(GitHubError):
    pass


class Transient(GitHubError):
    """5xx, timeout or connection failure: for a write, the outcome is unknown."""


class RateLimited(GitHubError):
    reason = Reason.RATE_LIMITED

    def __init__(
        self, message: str, status: int | None, secondary: bool, bucket: str = ALL
    ) -> None:
        super().__init__(message, status)
        self.secondary = secondary
        # What stops: a primary limit one bucket, a secondary limit the whole token (as a
        # GitHub App: the whole installation, "all@OWNER").
        self.bucket = ALL + scope_of(bucket) if secondary else bucket


class ReserveReached(RateLimited):
    """The next call would take a bucket below the reserve left to others on the token."""

    reason = Reason.RATE_RESERVE

    def __init__(self, message: str, bucket: str) -> None:
        super().__init__(message, None, secondary=False, bucket=bucket)


class Rejection(StrEnum):
    ALREADY_EXISTS = "already-exists"
    NO_COMMITS = "no-commits"
    INVALID_HEAD = "invalid-head"
    INVALID_BASE = "invalid-base"
    DRAFTS_UNSUPPORTED = "drafts-unsupported"
    # Right after a create, GitHub's other services may not know the new PR yet.
    UNRESOLVED_NODE = "unresolved-node"
    OTHER = "other"


class ValidationFailed(GitHubError):
    def __init__(self, message: str, kind: Rejection) -> None:
        super().__init__(message, 422)
        self.kind = kind


class AppNotInstalled(GitHubError):
    """The GitHub App has no installation on a repository's owner."""

    reason = Reason.APP_NOT_INSTALLED


class GraphQLUnavailable(GitHubError):
    """The token may not use GraphQL at all (401/403/404 on the endpoint, FORBIDDEN)."""


class QueryTooBig(GitHubError):
    """GitHub gave up on a query (502/504, a timeout): smaller batches may pass."""


# ---------------------------------------------------------------- pure parsing


def classify_422(body: Any) -> tuple[Rejection, str]:
    """GitHub's 422 on creating a pull request, as one named kind and a message."""
    if not isinstance(body, Mapping):
        return Rejection.OTHER, "Validation Failed"
    message = str(body.get("message") or "Validation Failed")
    if "draft pull requests are not supported" in message.lower():
        return Rejection.DRAFTS_UNSUPPORTED, message
    raw_errors = body.get("errors")
    errors: list[Any] = raw_errors if isinstance(raw_errors, list) else []
    texts = [message] + [str(e.get("message") or "") for e in errors if isinstance(e, Mapping)]
    for text in texts:
        if "could not resolve to a node" in text.lower():
            return Rejection.UNRESOLVED_NODE, text[:300]
    for err in errors:
        if not isinstance(err, Mapping):
            continue
        text = str(err.get("message") or "")
        if text.startswith("A pull request already exists"):
            return Rejection.ALREADY_EXISTS, text
        if text.startswith("No commits between"):
            return Rejection.NO_COMMITS, text
        if err.get("field") == "head" and err.get("code") == "invalid":
            return Rejection.INVALID_HEAD, "head is invalid"
        if err.get("field") == "base" and err.get("code") == "invalid":
            return Rejection.INVALID_BASE, "base is invalid"
    details = "; ".join(
        str(e.get("message") or e.get("code")) for e in errors if isinstance(e, Mapping)
    )
    return Rejection.OTHER, f"{message}: {details}" if details else message


def parse_pull(item: Any) -> Pull | None:
    """A list or single PR object; merged means `merged_at` is set (lists have no `merged`)."""
    if not isinstance(item, Mapping):
        return None
    number, url = item.get("number"), item.get("html_url")
    if not isinstance(number, int) or not isinstance(url, str):
        return None
    head = as_mapping(item.get("head"))
    sha, body, node = head.get("sha"), item.get("body"), item.get("node_id")
    return Pull(
        number=number,
        url=url,
        state=str(item.get("state")),
        merged=bool(item.get("merged_at")) or item.get("merged") is True,
        head_sha=sha if isinstance(sha, str) else None,
        draft=item.get("draft") is True,
        body=body if isinstance(body, str) else None,
        node_id=node if isinstance(node, str) and node else None,
    )


def graphql_url(api_url: str) -> str:
    """GitHub's GraphQL endpoint: /graphql, or /api/graphql beside GHES's /api/v3."""
    root = api_url.rstrip("/")
    if root.endswith("/api/v3"):
        return root.removesuffix("/v3") + "/graphql"
    return root + "/graphql"


def graphql_error(body: Any) -> GitHubError | None:
    """GraphQL answers 200 even when it fails: the errors are in the body."""
    if not isinstance(body, Mapping):
        return GitHubError("GraphQL answered no JSON object")
    errors = body.get("errors")
    if not errors:
        return None
    first = errors[0] if isinstance(errors, list) and isinstance(errors[0], Mapping) else {}
    message = f"GraphQL: {str(first.get('message') or 'error')[:300]}"
    kind = first.get("type")
    if kind == "RATE_LIMITED":
        return RateLimited(message, 200, secondary=False, bucket="graphql")
    if "could not resolve to a node" in message.lower():
        return ValidationFailed(message, Rejection.UNRESOLVED_NODE)
    if kind == "FORBIDDEN":
        return PermissionDenied(message, 200)
    return GitHubError(message, 200)


def _message(body: Any, status: int) -> str:
    if isinstance(body, Mapping) and body.get("message"):
        return str(body["message"])[:500]
    return f"HTTP {status}"


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def is_secondary_limit(status: int, headers: Mapping[str, str], body: Any) -> bool:
    text = _message(body, status).lower()
    return status in (403, 429) and ("secondary rate limit" in text or "retry-after" in headers)


def is_primary_limit(status: int, headers: Mapping[str, str]) -> bool:
    return status in (403, 429) and headers.get("x-ratelimit-remaining") == "0"


# ---------------------------------------------------------------- the client


@dataclass
class _Bucket:
    """One rate-limit bucket (`core` for REST, `graphql`), as the last answer left it."""

    remaining: int | None = None
    limit: int | None = None
    reset_at: float | None = None


@dataclass
class _Minted:
    token: str
    expires_at: float
    minted_at: float

    def age(self, now: float) -> float:
        return now - self.minted_at


# What the sweeper needs of an installation; Issues (labels) and Members (teams) are optional:
# without them notify fails as a warning.
REQUIRED_PERMISSIONS = {"contents": "read", "pull_requests": "write", "metadata": "read"}
_LEVEL = {"read": 1, "write": 2, "admin": 3}


def _missing_permissions(granted: Mapping[str, Any]) -> str:
    """The first required permission the installation lacks, as `name: level` (or "")."""
    for name, level in REQUIRED_PERMISSIONS.items():
        if _LEVEL.get(str(granted.get(name)), 0) < _LEVEL[level]:
            return f"{name}: {level}"
    return ""


@dataclass
class _Limits:
    buckets: dict[str, _Bucket] = field(default_factory=dict)
    # Per scope (an App's installation, or "" for a token): GitHub counts them apart.
    secondary_hits: Counter[str] = field(default_factory=Counter)
    last_write: dict[str, float] = field(default_factory=dict)

    def bucket(self, name: str) -> _Bucket:
        return self.buckets.setdefault(name, _Bucket())


class GitHub:
    def __init__(
        self,
        api_url: str,
        token: str,
        tunables: Tunables | None = None,
        write_interval_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        reserve: Reserve | None = None,
        app: AppCredentials | None = None,
        secrets: list[str] | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._reserve = reserve
        self._app = app
        # Every token or JWT minted is added here, so the log redacts it too.
        self._secrets = secrets if secrets is not None else []
        self._skew = 0.0
        self._signed: tuple[str, int] | None = None
        self._installs: dict[str, int | None] = {}
        self._minted: dict[int, _Minted] = {}
        self._denied: dict[int, str] = {}
        self._origin = urlsplit(self.api_url)[:2]
        self._t = tunables = tunables or Tunables()
        self._write_interval = write_interval_s
        self._sleep, self._clock = sleep, clock
        self._limits = _Limits()
        self.calls: Counter[str] = Counter()
        self.used: Counter[str] = Counter()  # what this run spent, per bucket
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": USER_AGENT,
            }
        )
        if app is None:
            self._session.headers["Authorization"] = f"Bearer {token}"
        retry = Retry(
            total=tunables.read_retries,
            backoff_factor=tunables.retry_backoff_s,
            backoff_max=10,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._default_branches: dict[str, str] = {}
        self._heads: dict[tuple[str, str], dict[str, str]] = {}

    def close(self) -> None:
        self._session.close()

    # ------------------------------------------------------------ reads

    def check_token(self) -> None:
        """One authenticated call that works for every token kind and costs no quota.

        Its answer also tells what is left in every bucket, before the first call is made.
        As a GitHub App: `GET /app` with the JWT, proving the key and the ID belong together.
        """
        if self._app is not None:
            try:
                self._request("GET", self.api_url + "/app", kind="auth", cost=0, as_app=True)
            except Unauthorized as err:
                raise Unauthorized(
                    f"{err}: the GitHub App ID {self._app.app_id} and its private key do not match",
                    401,
                ) from None
            return
        response = self._request("GET", self.api_url + "/rate_limit", cost=0)
        self._seed_limits(response, "")

    def _seed_limits(self, response: requests.Response, scope: str) -> None:
        """What /rate_limit says is left in every bucket, before the first call of a scope."""
        resources = as_mapping(as_mapping(_json(response, strict=False)).get("resources"))
        for name in ("core", "graphql"):
            bucket = as_mapping(resources.get(name))
            remaining, limit, reset = (bucket.get(k) for k in ("remaining", "limit", "reset"))
            if all(isinstance(v, int) and not isinstance(v, bool) for v in (remaining, limit)):
                state = self._limits.bucket(name + scope)
                state.remaining, state.limit = remaining, limit
                state.reset_at = reset if isinstance(reset, int) else None

    def rate_report(self) -> dict[str, dict[str, Any]]:
        """Per bucket: what this run used and what is left, for the closing line."""
        report = {}
        for name, state in sorted(self._limits.buckets.items()):
            reset = state.reset_at
            report[name] = {
                "used": self.used[name],
                "remaining": state.remaining,
                "limit": state.limit,
                "resets_at": None if reset is None else _iso(reset),
            }
        return report

    def default_branch(self, repo: str) -> str:
        if repo not in self._default_branches:
            body = self._send("GET", f"/repos/{repo}")
            branch = body.get("default_branch") if isinstance(body, Mapping) else None
            if not isinstance(branch, str) or not branch:
                raise GitHubError(f"{repo} reports no default branch")
            self._default_branches[repo] = branch
        return self._default_branches[repo]

    def branch_head(self, repo: str, branch: str) -> str | None:
        """The branch's head SHA, from one listing per repository and branch prefix."""
        prefix = branch.split("/", 1)[0] + "/" if "/" in branch else None
        if prefix is None:
            try:
                body = self._send(
                    "GET", f"/repos/{repo}/git/ref/{quote('heads/' + branch, safe='')}"
                )
            except NotFound:
                return None
            return _ref_sha(body)
        key = (repo, prefix)
        if key not in self._heads:
            self._heads[key] = self._list_heads(repo, prefix)
        return self._heads[key].get(branch)

    def _list_heads(self, repo: str, prefix: str) -> dict[str, str]:
        heads: dict[str, str] = {}
        path = f"/repos/{repo}/git/matching-refs/{quote('heads/' + prefix, safe='')}"
        try:
            for item in self._pages(path, {"per_page": PER_PAGE}):
                ref = item.get("ref") if isinstance(item, Mapping) else None
                sha = _ref_sha(item)
                if isinstance(ref, str) and ref.startswith("refs/heads/") and sha:
                    heads[ref.removeprefix("refs/heads/")] = sha
        except NotFound:
            pass  # an empty repository, or no such head repository: no branches
        return heads

    def pulls_for_head(self, repo: str, head: str) -> list[Pull]:
        """Every PR of `repo` whose head is `owner:branch` (the owner prefix is required)."""
        params = {"state": "all", "head": head, "per_page": PER_PAGE}
        pulls = (parse_pull(item) for item in self._pages(f"/repos/{repo}/pulls", params))
        return [p for p in pulls if p is not None]

    def commit_message(self, repo: str, ref: str) -> str | None:
        try:
            body = self._send("GET", f"/repos/{repo}/commits/{quote(ref, safe='')}")
        except NotFound:
            return None
        message = body.get("commit", {}).get("message") if isinstance(body, Mapping) else None
        return message if isinstance(message, str) else None

    def lookup(self, lookups: Sequence[Lookup]) -> dict[Lookup, View | Unanswered]:
        """GitHub's view of many branches, in as few GraphQL queries as GitHub will answer.

        A query GitHub gives up on (502/504, a timeout, a resource limit) is split in halves
        and asked again; a branch that fails even alone is Unanswered, and so is one whose
        alias came back with an error. Raises RateLimited (stop all GitHub work) and
        GraphQLUnavailable (read by REST instead).
        """
        results: dict[Lookup, View | Unanswered] = {}
        by_owner: dict[str, list[Lookup]] = {}
        for lookup in dict.fromkeys(lookups):  # as an App, one installation per query
            by_owner.setdefault(self._scope(lookup.repo), []).append(lookup)
        todo = list(by_owner.values())
        while todo:
            batch = todo.pop(0)
            try:
                answer = self._ask(batch)
            except QueryTooBig as err:
                if len(batch) == 1:
                    results[batch[0]] = Unanswered(f"{err}; even alone")
                else:
                    todo[:0] = _halves(batch)
                continue
            except (RateLimited, GraphQLUnavailable):
                raise
            except AppNotInstalled as err:
                results.update(dict.fromkeys(batch, Unanswered(str(err), not_installed=True)))
                continue
            except GitHubError as err:
                forbidden = isinstance(err, PermissionDenied)
                results.update(dict.fromkeys(batch, Unanswered(str(err), forbidden=forbidden)))
                continue
            results.update((batch[i], view) for i, view in answer.views.items())
            again = [batch[i] for i in answer.retry]
            if len(again) == 1 and len(batch) == 1:
                results[again[0]] = Unanswered("GraphQL resource limits exceeded, even alone")
            elif again:
                todo[:0] = _halves(again) if len(again) == len(batch) else [again]
        return {lookup: self._complete(lookup, view) for lookup, view in results.items()}

    def _ask(self, batch: Sequence[Lookup]) -> Answer:
        query, variables = build_query(batch)
        payload = {"query": query, "variables": variables}
        cost = max(1, round(len(batch) / 100))
        answer = read_answer(self._query(payload, cost, batch[0].repo), batch)
        self._note_rate("graphql", answer.rate)
        if answer.unavailable:
            raise GraphQLUnavailable(answer.unavailable, 200)
        if answer.rate_limited:
            bucket = self.bucket_key("graphql", batch[0].repo)
            self._limits.bucket(bucket).remaining = 0
            raise RateLimited(answer.rate_limited, 200, secondary=False, bucket=bucket)
        return answer

    def _complete(self, lookup: Lookup, view: View | Unanswered) -> View | Unanswered:
        """More PRs share the head's name than one answer holds: REST filters by owner."""
        if isinstance(view, Unanswered) or view.pulls_complete:
            return view
        try:
            pulls = self.pulls_for_head(lookup.repo, lookup.head)
        except RateLimited:
            raise
        except GitHubError as err:
            return Unanswered(str(err), forbidden=isinstance(err, PermissionDenied))
        return replace(view, pulls=tuple(pulls), pulls_complete=True)

    def lookup_rest(self, lookup: Lookup) -> View:
        """The same view by REST, for a token GraphQL refuses: two reads per branch at most."""
        head = self.branch_head(lookup.head_repo, lookup.branch)
        return View(head, tuple(self.pulls_for_head(lookup.repo, lookup.head)))

    # ------------------------------------------------------------ writes

    def create_pull(
        self, repo: str, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> Pull:
        """POST once. A lost answer raises Transient: the caller re-checks by head."""
        payload: dict[str, Any] = {"title": title, "head": head, "base": base, "body": body}
        if draft:
            payload["draft"] = True
        created = parse_pull(self._send("POST", f"/repos/{repo}/pulls", json=payload))
        if created is None:
            raise GitHubError("GitHub answered the create without a pull request")
        return created

    def update_body(self, repo: str, number: int, body: str) -> Pull:
        """PATCH the body only: title, state and base stay as people left them."""
        answer = self._send("PATCH", f"/repos/{repo}/pulls/{number}", json={"body": body})
        updated = parse_pull(answer)
        if updated is None:
            raise GitHubError("GitHub answered the update without a pull request")
        return updated

    def close_pull(self, repo: str, number: int, body: str) -> Pull:
        """Close a PR and say why in its body, in one PATCH."""
        # Safety, not work: the reserve never keeps unreviewed code open.
        url = f"{self.api_url}/repos/{repo}/pulls/{number}"
        payload = {"state": "closed", "body": body}
        answer = _json(
            self._request("PATCH", url, json=payload, kind="write", reserve=False, repo=repo)
        )
        closed = parse_pull(answer)
        if closed is None:
            raise GitHubError("GitHub answered the close without a pull request")
        return closed

    def comment(self, repo: str, number: int, text: str) -> None:
        """A comment on a PR (to GitHub, every PR is an issue)."""
        self._send("POST", f"/repos/{repo}/issues/{number}/comments", json={"body": text})

    def mark_ready(self, node_id: str, repo: str) -> None:
        """Draft to ready for review: only GraphQL can (REST's `draft` is read-only)."""
        query = (
            "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id})"
            " { pullRequest { isDraft } } }"
        )
        payload = {"query": query, "variables": {"id": node_id}}
        url = graphql_url(self.api_url)
        answer = _json(self._request("POST", url, json=payload, kind="write", repo=repo))
        error = graphql_error(answer)
        if error is not None:
            raise error

    def request_reviewers(
        self, repo: str, number: int, reviewers: Sequence[str], teams: Sequence[str]
    ) -> None:
        payload: dict[str, Any] = {}
        if reviewers:
            payload["reviewers"] = list(reviewers)
        if teams:
            payload["team_reviewers"] = list(teams)
        self._send("POST", f"/repos/{repo}/pulls/{number}/requested_reviewers", json=payload)

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        """Labels a PR through the issues API (to it, every PR is an issue)."""
        self._send("POST", f"/repos/{repo}/issues/{number}/labels", json={"labels": list(labels)})

    # ------------------------------------------------------------ transport

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[Any]:
        url: str | None = self.api_url + path
        query: dict[str, Any] | None = params
        while url:
            response = self._request("GET", url, params=query, repo=_repo_of(path))
            body = _json(response)
            if not isinstance(body, list):
                raise GitHubError(f"GET {path} did not answer a list")
            yield from body
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query
            if url and urlsplit(url)[:2] != self._origin:
                raise GitHubError("pagination link points to another host; not followed")

    def _send(self, method: str, path: str, json: Any = None) -> Any:
        kind = "read" if method == "GET" else "write"
        url = self.api_url + path
        return _json(self._request(method, url, json=json, kind=kind, repo=_repo_of(path)))

    def _query(self, payload: dict[str, Any], cost: int, repo: str) -> Any:
        """One GraphQL read. It changes nothing, so 500/503 and lost answers are retried."""
        url = graphql_url(self.api_url)
        attempts = self._t.read_retries + 1
        for attempt in range(attempts):
            try:
                response = self._request(
                    "POST", url, json=payload, kind="graphql", cost=cost, repo=repo
                )
                return _json(response)
            except (Unauthorized, PermissionDenied, NotFound) as err:
                raise GraphQLUnavailable(str(err), err.status) from None
            except Transient as err:
                if err.status in (502, 504):
                    raise QueryTooBig(str(err), err.status) from None
                if attempt == attempts - 1:
                    raise
            self._sleep(self._t.retry_backoff_s * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        kind: str = "read",
        cost: int = 1,
        reserve: bool = True,
        repo: str | None = None,
        as_app: bool = False,
    ) -> requests.Response:
        """kind: "read" (REST GET), "write" (any mutation, paced), "graphql" (a query) or
        "auth" (the App's own calls). `cost`: what the call takes from its bucket.

        As a GitHub App, `repo` picks the installation (and its token and quota); `as_app`
        signs the call with the App's JWT instead. A 401 is recovered once where GitHub
        says how: a clock corrected from its Date header, a brand-new token given a
        moment, an expired one minted again.
        """
        reminted = waited = False
        for _ in range(3):
            header, scope = self._auth(repo, as_app)
            response = self._exchange(method, url, params, json, kind, cost, reserve, header, scope)
            if response.status_code != 401 or self._app is None:
                break
            if as_app:
                if not self._correct_clock(response):
                    break
            elif repo is not None:
                minted = self._minted.get(self._installation(repo))
                if minted is not None and not waited and minted.age(self._now()) < 10:
                    waited = True  # GitHub needs a few seconds to know a new token
                    self._sleep(self._t.new_token_wait_s)
                elif not reminted:
                    reminted = True
                    self._minted.pop(self._installation(repo), None)
                else:
                    break
        if response.status_code < 300:
            return response
        raise self._error(method, url, response, scope)

    def _exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        kind: str,
        cost: int,
        reserve: bool,
        header: str | None,
        scope: str,
    ) -> requests.Response:
        """One call, waited and repeated once on a rate limit; any status is returned."""
        writing = kind == "write"
        bucket = ("graphql" if url == graphql_url(self.api_url) else "core") + scope
        headers = {"Authorization": header} if header else None
        for attempt in range(2):
            self._wait_for_primary_reset(bucket)
            if reserve:
                self._keep_reserve(bucket, cost)
            if writing:
                self._pace_write(scope)
            self.calls[kind] += 1
            self.used[bucket] += cost if bucket.startswith("core") or writing else 0
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=headers,
                    timeout=(self._t.connect_timeout_s, self._t.read_timeout_s),
                    allow_redirects=method == "GET",
                )
            except requests.ReadTimeout:
                if kind == "graphql":  # GitHub gives up on slow queries too: ask for less
                    raise QueryTooBig(f"{method} {_path(url)}: timed out", None) from None
                raise Transient(f"{method} {_path(url)}: ReadTimeout") from None
            except requests.RequestException as err:
                raise Transient(f"{method} {_path(url)}: {type(err).__name__}") from None
            self._note_limits(response.headers, scope)
            if response.status_code < 300:
                return response
            if attempt or not self._limited_and_waited(response, bucket):
                break
        return response

    # ------------------------------------------------------------ as a GitHub App

    def bucket_key(self, bucket: str, repo: str) -> str:
        """The rate-limit bucket a call for `repo` draws on: per owner as an App."""
        return bucket + self._scope(repo)

    def _scope(self, repo: str | None) -> str:
        if self._app is None or repo is None:
            return ""
        return "@" + repo.split("/", 1)[0].lower()

    def _auth(self, repo: str | None, as_app: bool) -> tuple[str | None, str]:
        """The Authorization header and the bucket scope of one call."""
        if self._app is None:
            return None, ""
        if as_app:
            return f"Bearer {self._jwt()}", ""
        if repo is None:
            raise GitHubError("as a GitHub App, every call needs a repository")
        return f"Bearer {self._token(self._installation(repo), repo)}", self._scope(repo)

    def _now(self) -> float:
        """GitHub's clock, as far as its Date headers told."""
        return self._clock() + self._skew

    def _jwt(self) -> str:
        """RS256, issued 60 s in the past, nine minutes long; reused until near its end."""
        app = self._app
        assert app is not None
        now = int(self._now())
        if self._signed is not None and self._signed[1] - 60 > now:
            return self._signed[0]
        claims = {"iat": now - 60, "exp": now + 540, "iss": app.app_id}
        signed = jwt.encode(claims, app.private_key, algorithm="RS256")
        self._signed = (signed, now + 540)
        self._secrets.append(signed)
        return signed

    def _correct_clock(self, response: requests.Response) -> bool:
        """A refused JWT and a Date header far from our clock: sign again on GitHub's time."""
        try:
            server = parsedate_to_datetime(response.headers.get("date", "")).timestamp()
        except (TypeError, ValueError):
            return False
        skew = server - self._clock()
        if abs(skew - self._skew) < 5:
            return False
        self._skew, self._signed = skew, None
        return True

    def _installation(self, repo: str) -> int:
        """The installation on the repository's owner (looked up once per owner)."""
        app = self._app
        assert app is not None
        if app.installation_id is not None:
            return app.installation_id
        owner = repo.split("/", 1)[0].lower()
        if owner not in self._installs:
            try:
                url = f"{self.api_url}/repos/{repo}/installation"
                body = _json(self._request("GET", url, kind="auth", cost=0, as_app=True))
            except NotFound:
                self._installs[owner] = None
            else:
                found = body.get("id") if isinstance(body, Mapping) else None
                if not isinstance(found, int) or isinstance(found, bool):
                    raise GitHubError(f"GitHub answered no installation id for {owner}")
                self._installs[owner] = found
        installation = self._installs[owner]
        if installation is None:
            raise AppNotInstalled(
                f"the GitHub App is not installed on {owner}: install it there "
                "(Contents read, Pull requests read and write, Metadata read)"
            )
        return installation

    def _token(self, installation: int, repo: str) -> str:
        """The installation's token, minted again a few minutes before it expires."""
        denied = self._denied.get(installation)
        if denied:
            raise PermissionDenied(denied, 403)
        minted = self._minted.get(installation)
        if minted is not None and minted.expires_at - self._t.token_margin_s > self._now():
            return minted.token
        url = f"{self.api_url}/app/installations/{installation}/access_tokens"
        body = _json(self._request("POST", url, kind="auth", cost=0, as_app=True))
        body = body if isinstance(body, Mapping) else {}
        token, expires = body.get("token"), body.get("expires_at")
        if not isinstance(token, str) or not token or not isinstance(expires, str):
            raise GitHubError(f"GitHub minted no token for installation {installation}")
        self._secrets.append(token)
        missing = _missing_permissions(as_mapping(body.get("permissions")))
        if missing:
            owner = repo.split("/", 1)[0]
            self._denied[installation] = (
                f"the GitHub App's installation on {owner} lacks the permission {missing}"
            )
            raise PermissionDenied(self._denied[installation], 403)
        expires_at = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
        self._minted[installation] = _Minted(token, expires_at, self._now())
        # The installation's own quota, before its first call (this costs none).
        scope = self._scope(repo)
        header = f"Bearer {token}"
        url = self.api_url + "/rate_limit"
        limits = self._exchange("GET", url, None, None, "read", 0, False, header, scope)
        if limits.status_code < 300:
            self._seed_limits(limits, scope)
        return token

    def _error(
        self, method: str, url: str, response: requests.Response, scope: str = ""
    ) -> GitHubError:
        status, body = response.status_code, _json(response, strict=False)
        where = f"{method} {_path(url)}"
        message = f"{where}: {_message(body, status)}"
        if status == 401:
            return Unauthorized(message, status)
        if is_primary_limit(status, response.headers) or is_secondary_limit(
            status, response.headers, body
        ):
            return RateLimited(
                message,
                status,
                secondary=not is_primary_limit(status, response.headers),
                bucket=(response.headers.get("x-ratelimit-resource") or "core") + scope,
            )
        if status == 403:
            return PermissionDenied(message, status)
        if status == 404:
            return NotFound(message, status)
        if status == 422:
            kind, text = classify_422(body)
            return ValidationFailed(f"{where}: {text}", kind)
        if status >= 500:
            return Transient(message, status)
        return GitHubError(
            message if status < 300 or status >= 400 else f"{where}: redirect", status
        )

    def _limited_and_waited(self, response: requests.Response, bucket: str) -> bool:
        """On a rate limit GitHub did nothing, so one wait and retry is safe, even for a POST."""
        status, headers = response.status_code, response.headers
        if is_primary_limit(status, headers):
            wait = self._until_reset(bucket)
            if wait is None or wait > self._t.max_rate_wait_s:
                return False
            self._sleep(wait)
            return True
        if not is_secondary_limit(status, headers, _json(response, strict=False)):
            return False
        scope = scope_of(bucket)
        self._limits.secondary_hits[scope] += 1
        if self._limits.secondary_hits[scope] > 1:
            return False  # repeated hits: stop, as GitHub asks, before the token is banned
        wait = _header_int(headers, "retry-after") or self._t.secondary_wait_s
        if wait > self._t.max_rate_wait_s:
            return False
        self._sleep(wait)
        return True

    def _note_limits(self, headers: Mapping[str, str], scope: str = "") -> None:
        remaining = _header_int(headers, "x-ratelimit-remaining")
        if remaining is None:
            return
        bucket = self._limits.bucket((headers.get("x-ratelimit-resource") or "core") + scope)
        bucket.remaining = remaining
        bucket.limit = _header_int(headers, "x-ratelimit-limit")
        bucket.reset_at = _header_int(headers, "x-ratelimit-reset")

    def _note_rate(self, name: str, rate: Rate | None) -> None:
        """A GraphQL answer's own `rateLimit`, the freshest word on its bucket."""
        if rate is None:
            return
        bucket = self._limits.bucket(name)
        bucket.remaining, bucket.limit, bucket.reset_at = rate.remaining, rate.limit, rate.reset_at
        if rate.cost is not None:
            self.calls["graphql_points"] += rate.cost
            self.used[name] += rate.cost

    def _refilled(self, name: str) -> _Bucket:
        """The bucket, counted as full again once its reset time has passed."""
        state = self._limits.bucket(name)
        if state.reset_at is not None and state.reset_at <= self._clock():
            state.remaining, state.reset_at = state.limit, None
        return state

    def _keep_reserve(self, name: str, cost: int) -> None:
        """Never drive a bucket below the reserve: the token is shared with Foreman."""
        state = self._refilled(name)
        if self._reserve is None or not cost or state.remaining is None or not state.limit:
            return
        keep = self._reserve.of(state.limit)
        if keep and state.remaining - cost < keep:
            resets = "" if state.reset_at is None else f", resets at {_iso(state.reset_at)}"
            raise ReserveReached(
                f"{name} bucket: {state.remaining} of {state.limit} left, reserve {keep}"
                f" (--rate-reserve {self._reserve}){resets}",
                name,
            )

    def _until_reset(self, bucket: str) -> float | None:
        reset_at = self._limits.bucket(bucket).reset_at
        return None if reset_at is None else max(0.0, reset_at - self._clock() + 1)

    def _wait_for_primary_reset(self, bucket: str) -> None:
        """Before a request: an exhausted quota is waited out if the reset is near, else fatal."""
        state = self._refilled(bucket)
        if state.remaining != 0:
            return
        wait = self._until_reset(bucket)
        if wait is None or wait > self._t.max_rate_wait_s:
            raise RateLimited(
                f"primary rate limit ({bucket}) exhausted until reset",
                None,
                secondary=False,
                bucket=bucket,
            )
        self._sleep(wait)
        state.remaining = None

    def _pace_write(self, scope: str = "") -> None:
        """At least `write_interval` between mutating requests of one token, as GitHub asks."""
        gap = self._clock() - self._limits.last_write.get(scope, 0.0)
        if gap < self._write_interval:
            self._sleep(self._write_interval - gap)
        self._limits.last_write[scope] = self._clock()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_REPO_PATH = re.compile(r"^/repos/([^/]+)/([^/]+)")


def _repo_of(path: str) -> str | None:
    """OWNER/NAME of a /repos/... path: as a GitHub App, it picks the installation."""
    match = _REPO_PATH.match(path)
    return f"{match.group(1)}/{match.group(2)}" if match else None


def _halves(batch: list[Lookup]) -> list[list[Lookup]]:
    middle = len(batch) // 2
    return [batch[:middle], batch[middle:]]


def _ref_sha(item: Any) -> str | None:
    sha = item.get("object", {}).get("sha") if isinstance(item, Mapping) else None
    return sha if isinstance(sha, str) else None


def _json(response: requests.Response, strict: bool = True) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        if strict:
            raise GitHubError(
                f"{_path(response.url)}: answer is not JSON", response.status_code
            ) from None
        return None


def _path(url: str) -> str:
    return urlsplit(url).path
