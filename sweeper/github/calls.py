"""One call to GitHub, whole: credentials, rate limits, the exchange, recovery, errors.

`Caller.request` signs the call (`auth`), waits or stops as the buckets say (`limits`),
sends it (`transport`), notes what the answer says of the buckets, retries once after a
rate limit GitHub asked to wait out and once after a 401 GitHub says how to recover
from, and turns any other failure into a typed error. `send`, `pages` and `query` are
the shapes the endpoints use: one REST call, a paginated listing, one GraphQL read.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sweeper.budget import CORE, GRAPHQL, Bucket
from sweeper.github.auth import Auth
from sweeper.github.limits import Limits
from sweeper.github.transport import (
    GitHubError,
    GitHubNotFound,
    GraphQLUnavailable,
    PermissionDenied,
    QueryTooBig,
    Transient,
    Transport,
    Unauthorized,
    error_for,
    graphql_url,
    json_of,
)
from sweeper.settings import Tunables

if TYPE_CHECKING:  # only `transport` sends: the others just read its answers
    import requests

_REPO_PATH = re.compile(r"^/repos/([^/]+)/([^/]+)")


def _refused(as_app: bool, installation: str | None) -> str:
    if as_app:
        whose = "the GitHub App's JWT (is the key revoked?)"
    elif installation is not None:
        whose = f"the installation token for {installation}, minted again (revoked?)"
    else:
        whose = "the token (expired or revoked)"
    return f"GitHub refused {whose}; this run asks GitHub nothing more with it"


def repo_of(path: str) -> str | None:
    """OWNER/NAME of a /repos/... path: as a GitHub App, it picks the installation."""
    match = _REPO_PATH.match(path)
    return f"{match.group(1)}/{match.group(2)}" if match else None


class Caller:
    def __init__(
        self,
        api_url: str,
        transport: Transport,
        limits: Limits,
        auth: Auth,
        tunables: Tunables,
        sleep: Callable[[float], None],
    ) -> None:
        self.api_url = api_url
        self.transport, self.limits, self.auth = transport, limits, auth
        self._t, self._sleep = tunables, sleep
        self._origin = urlsplit(api_url)[:2]
        self._graphql = graphql_url(api_url)
        self.calls: Counter[str] = Counter()
        # Credentials GitHub refused for good (a token, an installation's, the App's JWT):
        # no more calls with them this run, each failing with the first refusal's words.
        self._refused: dict[tuple[bool, str | None], str] = {}
        auth.app_call = self._app_call
        auth.on_minted = self._seed_installation

    def request(
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
        moment, an expired one minted again. A 401 that stays is Unauthorized, and the
        credential is asked nothing more.
        """
        principal = (as_app, None if as_app else self.auth.installation_of(repo))
        if principal in self._refused:
            raise Unauthorized(self._refused[principal], 401)
        tried: set[str] = set()
        for _ in range(3):
            header, installation = self.auth.header(repo, as_app)
            # The App's own calls (its JWT) draw on no bucket of a token or installation.
            bucket = None if as_app else self.bucket_of(url, installation)
            response = self.exchange(method, url, params, json, kind, cost, reserve, header, bucket)
            if response.status_code != 401:
                break
            if not self.auth.retry_refused(response, repo, as_app, tried):
                break
        if response.status_code < 300:
            return response
        error = error_for(method, url, response, installation)
        if isinstance(error, Unauthorized):
            self._refused[principal] = f"{error}: {_refused(*principal)}"
            raise Unauthorized(self._refused[principal], 401)
        raise error

    def bucket_of(self, url: str, installation: str | None) -> Bucket:
        return Bucket(GRAPHQL if url == self._graphql else CORE, installation)

    def bucket_for(self, kind: str, repo: str) -> Bucket:
        """The bucket of `kind` a call for `repo` draws on: per owner as a GitHub App."""
        return Bucket(kind, self.auth.installation_of(repo))

    def exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        kind: str,
        cost: int,
        reserve: bool,
        header: str,
        bucket: Bucket | None,
    ) -> requests.Response:
        """One call, waited and repeated once on a rate limit; any status is returned.

        `bucket`: the one the call draws on (None: none the run tracks, the App's own)."""
        writing = kind == "write"
        for attempt in range(2):
            if bucket is not None:
                self.limits.before(bucket, cost, reserve, writing)
                # A query's points are counted from its answer's own `rateLimit`.
                self.limits.used[bucket] += cost if bucket.kind == CORE or writing else 0
            self.calls[kind] += 1
            response = self.transport.send(
                method, url, params, json, header, query=kind == "graphql"
            )
            if bucket is not None:
                self.limits.note_headers(response.headers, bucket.installation)
            if response.status_code < 300:
                return response
            body = json_of(response, strict=False)
            if attempt or not self.limits.waited_out(
                response.status_code, response.headers, body, bucket or Bucket(CORE)
            ):
                break
        return response

    # ------------------------------------------------------------ the shapes of a call

    def send(self, method: str, path: str, json: Any = None) -> Any:
        """One REST call; its JSON."""
        kind = "read" if method == "GET" else "write"
        url = self.api_url + path
        return json_of(self.request(method, url, json=json, kind=kind, repo=repo_of(path)))

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[Any]:
        """A listing's items, following the Link header's next page (never to another host)."""
        url: str | None = self.api_url + path
        query: dict[str, Any] | None = params
        while url:
            response = self.request("GET", url, params=query, repo=repo_of(path))
            body = json_of(response)
            if not isinstance(body, list):
                raise GitHubError(f"GET {path} did not answer a list")
            yield from body
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query
            if url and urlsplit(url)[:2] != self._origin:
                raise GitHubError("pagination link points to another host; not followed")

    def query(self, payload: dict[str, Any], cost: int, repo: str) -> Any:
        """One GraphQL read. It changes nothing, so 500/503 and lost answers are retried."""
        attempts = self._t.read_retries + 1
        for attempt in range(attempts):
            try:
                response = self.request(
                    "POST", self._graphql, json=payload, kind="graphql", cost=cost, repo=repo
                )
                return json_of(response)
            except (PermissionDenied, GitHubNotFound) as err:  # a 401 is no refusal of GraphQL
                raise GraphQLUnavailable(str(err), err.status) from None
            except Transient as err:
                if err.status in (502, 504):
                    raise QueryTooBig(str(err), err.status) from None
                if attempt == attempts - 1:
                    raise
            self._sleep(self._t.retry_backoff_s * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def mutate(self, payload: dict[str, Any], repo: str) -> Any:
        """One GraphQL mutation: a write, paced, never retried blindly; its JSON."""
        return json_of(self.request("POST", self._graphql, json=payload, kind="write", repo=repo))

    # ------------------------------------------------------------ as a GitHub App

    def _app_call(self, method: str, url: str) -> Any:
        return json_of(self.request(method, url, kind="auth", cost=0, as_app=True))

    def _seed_installation(self, header: str, installation: str | None) -> None:
        """The installation's own quota, before its first call (this costs none)."""
        url = self.api_url + "/rate_limit"
        bucket = Bucket(CORE, installation)
        response = self.exchange("GET", url, None, None, "read", 0, False, header, bucket)
        if response.status_code < 300:
            self.limits.seed(json_of(response, strict=False), installation)
