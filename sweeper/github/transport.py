"""The bottom of the GitHub adapter: one HTTP exchange, its retries, and its errors.

The only module of the sweeper that calls `requests`. Reads are retried on the transport
for 5xx and connection errors; writes are never retried blindly and never follow
redirects. Everything GitHub answers that is not a success becomes one of the typed
errors below, so no HTTP code crosses the adapter's seam.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from sweeper import __version__
from sweeper.budget import CORE, Bucket
from sweeper.outcomes import Reason
from sweeper.settings import Tunables

API_VERSION = "2022-11-28"
USER_AGENT = f"foreman-pr-sweeper/{__version__}"


# ---------------------------------------------------------------- the errors


class GitHubError(Exception):
    """Any GitHub failure. Messages carry GitHub's text, never a request header.

    `reason`: what a branch the failure stops is `failed` with.
    """

    reason = Reason.GITHUB_ERROR

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unauthorized(GitHubError):
    """401: GitHub does not take the credential (bad, expired or revoked)."""

    reason = Reason.BAD_CREDENTIALS


class PermissionDenied(GitHubError):
    reason = Reason.PERMISSION_DENIED


class GitHubNotFound(GitHubError):
    pass


class RepoUnreachable(GitHubNotFound):
    """The repository is gone, or the token may not see it: not a missing branch."""

    reason = Reason.REPO_UNREACHABLE

    def __init__(self, repo: str) -> None:
        super().__init__(f"{repo}: repository not found or not visible to the token", 404)


class GitHubConflict(GitHubError):
    """409: on git refs, an empty repository (one with no branch at all)."""


class Transient(GitHubError):
    """5xx, timeout or connection failure: for a write, the outcome is unknown."""


class RateLimited(GitHubError):
    """GitHub said stop. `bucket`: what stops, one bucket for a primary limit, every
    bucket of the token (as a GitHub App: of the installation, `all@OWNER`) for a
    secondary one."""

    reason = Reason.RATE_LIMITED

    def __init__(self, message: str, status: int | None, bucket: Bucket) -> None:
        super().__init__(message, status)
        self.bucket = bucket


class ReserveReached(RateLimited):
    """The next call would take a bucket below the reserve left to others on the token."""

    reason = Reason.RATE_RESERVE

    def __init__(self, message: str, bucket: Bucket) -> None:
        super().__init__(message, None, bucket)


class Rejection(StrEnum):
    ALREADY_EXISTS = "already-exists"
    NO_COMMITS = "no-commits"
    INVALID_HEAD = "invalid-head"
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


# ---------------------------------------------------------------- reading answers (pure)


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
            return Rejection.OTHER, "base is invalid"
    details = "; ".join(
        str(e.get("message") or e.get("code")) for e in errors if isinstance(e, Mapping)
    )
    return Rejection.OTHER, f"{message}: {details}" if details else message


def graphql_url(api_url: str) -> str:
    """GitHub's GraphQL endpoint: /graphql, or /api/graphql beside GHES's /api/v3."""
    root = api_url.rstrip("/")
    if root.endswith("/api/v3"):
        return root.removesuffix("/v3") + "/graphql"
    return root + "/graphql"


def graphql_error(body: Any, bucket: Bucket) -> GitHubError | None:
    """GraphQL answers 200 even when it fails: the errors are in the body.

    `bucket`: the `graphql` bucket the call drew on, the one a RATE_LIMITED stops."""
    if not isinstance(body, Mapping):
        return GitHubError("GraphQL answered no JSON object")
    errors = body.get("errors")
    if not errors:
        return None
    first = errors[0] if isinstance(errors, list) and isinstance(errors[0], Mapping) else {}
    message = f"GraphQL: {str(first.get('message') or 'error')[:300]}"
    kind = first.get("type")
    if kind == "RATE_LIMITED":
        return RateLimited(message, 200, bucket)
    if "could not resolve to a node" in message.lower():
        return ValidationFailed(message, Rejection.UNRESOLVED_NODE)
    if kind == "FORBIDDEN":
        return PermissionDenied(message, 200)
    return GitHubError(message, 200)


def message_of(body: Any, status: int) -> str:
    if isinstance(body, Mapping) and body.get("message"):
        return str(body["message"])[:500]
    return f"HTTP {status}"


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def is_secondary_limit(status: int, headers: Mapping[str, str], body: Any) -> bool:
    text = message_of(body, status).lower()
    return status in (403, 429) and ("secondary rate limit" in text or "retry-after" in headers)


def is_primary_limit(status: int, headers: Mapping[str, str]) -> bool:
    return status in (403, 429) and headers.get("x-ratelimit-remaining") == "0"


def error_for(
    method: str, url: str, response: requests.Response, installation: str | None = None
) -> GitHubError:
    """The typed error for an answer that is not a success (`installation`: as an App, the
    owner whose installation made the call)."""
    status, body = response.status_code, json_of(response, strict=False)
    where = f"{method} {path_of(url)}"
    message = f"{where}: {message_of(body, status)}"
    if status == 401:
        return Unauthorized(message, status)
    primary = is_primary_limit(status, response.headers)
    if primary or is_secondary_limit(status, response.headers, body):
        bucket = Bucket(response.headers.get("x-ratelimit-resource") or CORE, installation)
        return RateLimited(message, status, bucket if primary else bucket.whole)
    if status == 403:
        return PermissionDenied(message, status)
    if status == 404:
        return GitHubNotFound(message, status)
    if status == 409:
        return GitHubConflict(message, status)
    if status == 422:
        kind, text = classify_422(body)
        return ValidationFailed(f"{where}: {text}", kind)
    if status >= 500:
        return Transient(message, status)
    return GitHubError(message if status < 300 or status >= 400 else f"{where}: redirect", status)


def json_of(response: requests.Response, strict: bool = True) -> Any:
    """The answer's JSON (None when empty); not JSON is an error, or None if not `strict`."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        if strict:
            raise GitHubError(
                f"{path_of(response.url)}: answer is not JSON", response.status_code
            ) from None
        return None


def path_of(url: str) -> str:
    return urlsplit(url).path


# ---------------------------------------------------------------- one exchange


class Transport:
    """One HTTP session with GitHub's pinned headers; `send` is one exchange."""

    def __init__(self, tunables: Tunables) -> None:
        self._t = tunables
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": USER_AGENT,
            }
        )
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

    def close(self) -> None:
        self._session.close()

    def send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        header: str | None,
        query: bool = False,
    ) -> requests.Response:
        """One request; any status is returned. A timeout on a GraphQL `query` means
        "ask for less" (QueryTooBig), elsewhere, like a lost connection, Transient."""
        headers = {"Authorization": header} if header else None
        try:
            return self._session.request(
                method,
                url,
                params=params,
                json=json,
                headers=headers,
                timeout=(self._t.connect_timeout_s, self._t.read_timeout_s),
                allow_redirects=method == "GET",
            )
        except requests.ReadTimeout:
            if query:  # GitHub gives up on slow queries too: ask for less
                raise QueryTooBig(f"{method} {path_of(url)}: timed out", None) from None
            raise Transient(f"{method} {path_of(url)}: ReadTimeout") from None
        except requests.RequestException as err:
            raise Transient(f"{method} {path_of(url)}: {type(err).__name__}") from None
