"""`GitHub`, the adapter as the pipeline holds it: one object over the package's parts.

It wires a transport, the run's rate limits, the credentials and the caller together,
serves the REST endpoints (`rest`), and reads many branches at once in batched GraphQL
queries (`batch`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sweeper.budget import GRAPHQL, Bucket
from sweeper.github.auth import Auth
from sweeper.github.batch import Answer, build_query, in_batches, read_answer
from sweeper.github.calls import Caller
from sweeper.github.limits import Limits
from sweeper.github.probe import (
    InstallationProbe,
    TokenProbe,
    probe_installation,
    probe_owner,
    probe_token,
)
from sweeper.github.rest import Rest
from sweeper.github.transport import (
    GitHubError,
    GraphQLUnavailable,
    RateLimited,
    Transport,
    Unauthorized,
    json_of,
)
from sweeper.lookups import Lookup, Unanswered, View
from sweeper.settings import AppCredentials, Reserve, Tunables


class GitHub(Rest):
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
        t = tunables or Tunables()
        self._app = app
        self._transport = Transport(t)
        self._limits = Limits(t, reserve, write_interval_s, sleep, clock)
        self._auth = Auth(
            self.api_url, token, app, t, secrets if secrets is not None else [], clock, sleep
        )
        caller = Caller(self.api_url, self._transport, self._limits, self._auth, t, sleep)
        super().__init__(caller)
        self.calls: Counter[str] = caller.calls
        self.used: Counter[Bucket] = self._limits.used  # what this run spent, per bucket

    def close(self) -> None:
        self._transport.close()

    def check_token(self) -> None:
        """One authenticated call that works for every token kind and costs no quota.

        Its answer also tells what is left in every bucket, before the first call is made.
        As a GitHub App: `GET /app` with the JWT, proving the key and the ID belong together.
        """
        if self._app is not None:
            try:
                self._call.request("GET", self.api_url + "/app", kind="auth", cost=0, as_app=True)
            except Unauthorized as err:
                raise Unauthorized(
                    f"{err}: the GitHub App ID {self._app.app_id} and its private key do not match",
                    401,
                ) from None
            return
        response = self._call.request("GET", self.api_url + "/rate_limit", cost=0)
        self._limits.seed(json_of(response, strict=False), None)

    def probe_token(self) -> TokenProbe:
        """What `GET /rate_limit` says, and a classic token's scopes; writes nothing."""
        return probe_token(self._call)

    def probe_installation(self, repo: str) -> InstallationProbe:
        """As a GitHub App: installed on the repository's owner, and granted what (read with
        the JWT; no token is minted)."""
        return probe_installation(self._call, repo)

    def probe_owner(self, owner: str) -> InstallationProbe:
        """As a GitHub App: installed on this owner (user or organisation), and granted
        what; for an allowlist entry `OWNER/*`."""
        return probe_owner(self._call, owner)

    def rate_buckets(self) -> dict[Bucket, dict[str, Any]]:
        """Per bucket: what this run used and what is left (`used`, `remaining`, `limit`,
        `resets_at`)."""
        return self._limits.report()

    def rate_report(self) -> dict[str, dict[str, Any]]:
        """The same, keyed as the closing line spells the buckets (`core`, `core@acme`)."""
        return {str(bucket): rate for bucket, rate in self.rate_buckets().items()}

    def bucket_key(self, kind: str, repo: str) -> Bucket:
        """The rate-limit bucket of `kind` a call for `repo` draws on: per owner as an App."""
        return self._call.bucket_for(kind, repo)

    # ------------------------------------------------------------ batched reads

    def lookup(self, lookups: Sequence[Lookup]) -> dict[Lookup, View | Unanswered]:
        """GitHub's view of many branches, in as few GraphQL queries as GitHub will answer.

        As a GitHub App, one installation per query. Raises RateLimited (stop all GitHub
        work) and GraphQLUnavailable (read by REST instead); see `batch.in_batches`.
        """
        by_owner: dict[str | None, list[Lookup]] = {}
        for lookup in dict.fromkeys(lookups):
            by_owner.setdefault(self._auth.installation_of(lookup.repo), []).append(lookup)
        results = in_batches(list(by_owner.values()), self._ask)
        return {lookup: self._complete(lookup, view) for lookup, view in results.items()}

    def _ask(self, batch: Sequence[Lookup]) -> Answer:
        query, variables = build_query(batch)
        payload = {"query": query, "variables": variables}
        cost = max(1, round(len(batch) / 100))
        answer = read_answer(self._call.query(payload, cost, batch[0].repo), batch)
        # The bucket of the installation that answered: its own quota, not a token's.
        bucket = self.bucket_key(GRAPHQL, batch[0].repo)
        points = self._limits.note_rate(bucket, answer.rate)
        if points:
            self.calls["graphql_points"] += points
        if answer.unavailable:
            raise GraphQLUnavailable(answer.unavailable, 200)
        if answer.rate_limited:
            self._limits.quota(bucket).remaining = 0
            raise RateLimited(answer.rate_limited, 200, bucket)
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
            return Unanswered(str(err), err.reason)
        return replace(view, pulls=tuple(pulls), pulls_complete=True)
