"""A stateful GitHub REST API stand-in: repositories, branches, commits and pull requests.

Standard library only (the demo runs it with the runtime dependencies alone). It answers
the endpoints the sweeper uses with GitHub's real semantics, among them:

- `GET .../pulls`: `head` filters only as `OWNER:branch` (a bare branch is silently
  ignored, as on GitHub), `state=open|closed|all`, `base`, list items without `merged`
  (merged means `merged_at` is set), `Link` pagination (`per_page` at most 100);
- `POST .../pulls`: the 422 shapes (already exists, no commits between, invalid head or
  base, missing title, too long, drafts unsupported), heads across forks
  (`forkowner:branch`), sequential numbers per repository;
- refs (`git/ref`, `git/matching-refs` prefix match), `commits/{ref}`, `branches/{b}`,
  `compare/{base}...{head}`, computed from a real commit graph (merging a PR moves its
  base, pushing to a branch moves its open PRs' head);
- primary and secondary rate limits, rate-limit headers on every answer, 401 on a bad
  token, a classic token's `X-OAuth-Scopes` (`oauth_scopes`), %2F-encoded path
  parameters, optional GitHub Enterprise `/api/v3` prefix;
- a GitHub App (`enable_app`, `install`): its JWT, installations (`GET
  /repos/{owner}/{repo}/installation` and `GET /users/{owner}/installation`, with their
  permissions), minted tokens that expire, and a quota per installation;
- GraphQL at `/graphql` (`/api/graphql` beside GHES's `/api/v3`): GitHub's schema
  executed over the same state, with its own bucket (tests/standins/graphql.py).

Response bodies are built from the skeletons of GitHub's own schemas. With
`validate=True` every exchange is checked against GitHub's official description
(tests/contract/openapi.py, imported lazily) and problems land in `violations`.

Faults (`inject`), a hook between storing a new PR and answering (`on_pull_created`) and
one before every request (`on_request`) let tests reproduce lost answers and crashes.
"""

from __future__ import annotations

import copy
import email.utils
import hashlib
import itertools
import json
import re
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from tests.standins.serving import LocalServer, QuietHandler

SPEC = Path(__file__).resolve().parents[1] / "contract" / "github" / "api.github.com.subset.json"
WEB = "https://github.example"
DOCS = "https://docs.github.com/rest"
BOT = "foreman-bot"  # the login every token of the stand-in belongs to
LIMIT = 5000
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
    "again. If you reach out to GitHub Support for help, please include the request ID."
)
PRIMARY_MESSAGE = (
    "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
    "please include the request ID."
)
_SHA = re.compile(r"^[0-9a-f]{40}$")
_counter = itertools.count(1)


@dataclass(frozen=True)
class Call:
    """One request the stand-in received. `status` 0: the connection was closed unanswered."""

    method: str
    path: str  # without the prefix, percent-decoded
    query: dict[str, list[str]]
    body: Any
    status: int

    @property
    def is_query(self) -> bool:
        """A GraphQL read: a POST to /graphql whose document is not a mutation."""
        if self.method != "POST" or not self.path.endswith("/graphql"):
            return False
        query = self.body.get("query") if isinstance(self.body, dict) else None
        return isinstance(query, str) and not query.lstrip().startswith("mutation")


@dataclass
class Commit:
    sha: str
    message: str
    parents: tuple[str, ...]
    at: str


@dataclass
class Repo:
    full_name: str
    default_branch: str
    fork_of: str | None
    drafts_supported: bool
    id: int
    network: str  # the root of the fork network: commits are shared within it
    branches: dict[str, str] = field(default_factory=dict)
    pulls: list[dict[str, Any]] = field(default_factory=list)  # number N at index N-1
    by_label: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "owner:branch"

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/")[1]


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    times: int
    action: str


@dataclass
class _Request:
    method: str
    segments: list[str]  # decoded, prefix removed
    query: dict[str, list[str]]
    body: Any
    raw_path: str  # as received, prefix included, still encoded


class _Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class _Drop(Exception):
    """Close the connection without an answer (after serving: the state has changed)."""


def _error(status: int, message: str, **extra: Any) -> _Reply:
    return _Reply(status, {"message": message, "documentation_url": DOCS, **extra})


def _not_found() -> _Reply:
    return _error(404, "Not Found")


def _invalid(*errors: dict[str, Any]) -> _Reply:
    return _error(422, "Validation Failed", errors=list(errors))


# ---------------------------------------------------------------- schema skeletons

_SCHEMAS: dict[str, Any] | None = None
_SKELETONS: dict[str, str] = {}


def _schemas() -> dict[str, Any]:
    global _SCHEMAS
    if _SCHEMAS is None:
        _SCHEMAS = json.loads(SPEC.read_text())["components"]["schemas"]
    return _SCHEMAS


def skeleton(schema: dict[str, Any] | str) -> Any:
    """The smallest value valid for a schema: required fields only, nullables as null.

    Pass a component name ("pull-request") or a schema. Every call returns a fresh copy.
    """
    if isinstance(schema, str):
        if schema not in _SKELETONS:
            # A component that may be null (GitHub's `integration`) is still built whole.
            whole = {k: v for k, v in _schemas()[schema].items() if k != "nullable"}
            _SKELETONS[schema] = json.dumps(_skeleton(whole))
        return json.loads(_SKELETONS[schema])
    return _skeleton(schema)


def _skeleton(schema: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _skeleton(_schemas()[schema["$ref"].rsplit("/", 1)[1]])
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = _skeleton(part)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _skeleton(schema[key][0])
    if schema.get("nullable"):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: _skeleton(props.get(name, {})) for name in schema.get("required", [])}
    if kind == "array":
        return []
    if kind == "integer":
        return 1
    if kind == "number":
        return 0
    if kind == "boolean":
        return False
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2026-11-01T00:00:00Z"
    if fmt == "uri":
        return f"{WEB}/x"
    if fmt == "email":
        return "nobody@example.com"
    return ""


def _stamp(n: int) -> str:
    """A deterministic, increasing timestamp: the n-th second of 2026-11-01."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1793491200 + n))


# ---------------------------------------------------------------- the stand-in


class GitHubStandIn(LocalServer):
    """GitHub's REST API for the sweeper, in memory, on a free loopback port.

    State changes and every request are serialised by one lock; `latency_s` and
    `delay:` faults sleep outside it.
    """

    def __init__(
        self,
        token: str = "test-token",
        validate: bool = False,
        latency_s: float = 0.0,
        prefix: str = "",
    ) -> None:
        super().__init__()
        self.token, self.validate, self.latency_s = token, validate, latency_s
        self.prefix = self.url_suffix = prefix.rstrip("/")
        self.calls: list[Call] = []
        self.violations: list[str] = []
        # Quota per principal: "token" (the plain token) or "inst:<id>" (an installation).
        self._quota: dict[str, dict[str, int]] = {}
        self._principal = "token"
        self.rate_limit_remaining = LIMIT
        # A GitHub App (enable_app): its id and public key, installations and their tokens.
        self.app_id: int | None = None
        self._app_key: Any = None
        self._installed: dict[int, tuple[set[str], dict[str, str]]] = {}
        self._inst_tokens: dict[str, tuple[int, float]] = {}
        self.token_lifetime_s = 3600.0
        self.clock_offset_s = 0.0  # the server's clock minus ours
        self.tokens_minted = 0
        self.rate_limit_reset = int(time.time()) + 3600  # epoch seconds, settable
        # The plain token as a classic one: its scopes, in every answer's X-OAuth-Scopes
        # ("repo, read:org"; "" for none). None: a fine-grained token, which has no scopes
        # and gets no such header (neither does an App's installation token).
        self.oauth_scopes: str | None = None
        self._lock = threading.RLock()
        self._repos: dict[str, Repo] = {}
        self._hidden: dict[str, Repo] = {}  # hide_repo(): gone to every request, kept here
        self._commits: dict[str, Commit] = {}
        self._network: dict[str, set[str]] = {}  # network root -> its commits
        self._nodes: dict[str, tuple[str, int]] = {}  # PR node_id -> (repo, number)
        self._faults: list[_Fault] = []
        self._secondary: list[int | None] = []
        self._ticks = itertools.count(1)
        self._on_created: Callable[[dict[str, Any]], None] | None = None
        self._on_request: Callable[[str, str, Any], None] | None = None
        self._users: dict[str, str] = {}
        self._repo_json_cache: dict[tuple[str, str], dict[str, Any]] = {}
        self._graphql: Any = None

    @property
    def rate_limit_remaining(self) -> int:
        """The REST (core) bucket of the principal being served, else of the plain token."""
        return self.quota(self._principal)["core"]

    @rate_limit_remaining.setter
    def rate_limit_remaining(self, value: int) -> None:
        self.quota(self._principal)["core"] = value

    def quota(self, principal: str) -> dict[str, int]:
        """The buckets of one principal: "token", or "inst:<installation id>"."""
        return self._quota.setdefault(principal, {"core": LIMIT, "graphql": LIMIT})

    # ------------------------------------------------------------ a GitHub App

    def enable_app(self, app_id: int, public_key_pem: bytes) -> None:
        """Accept JWTs of this App, signed by the private half of `public_key_pem`."""
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        with self._lock:
            self.app_id, self._app_key = app_id, load_pem_public_key(public_key_pem)

    def install(self, *owners: str, permissions: dict[str, str] | None = None) -> int:
        """Install the App on these owners (one installation); its id."""
        granted = permissions or {
            "contents": "read",
            "metadata": "read",
            "pull_requests": "write",
            "issues": "write",
        }
        with self._lock:
            installation = 1000 + len(self._installed) + 1
            self._installed[installation] = ({o.lower() for o in owners}, dict(granted))
            return installation

    def revoke_tokens(self) -> None:
        """Every installation token minted so far stops working (as if expired)."""
        with self._lock:
            self._inst_tokens.clear()

    def now(self) -> float:
        return time.time() + self.clock_offset_s

    def _installation_of(self, owner: str) -> int | None:
        return next((i for i, (o, _) in self._installed.items() if owner.lower() in o), None)

    def _check_jwt(self, token: str) -> str | None:
        """None if the JWT is good for this App now, else GitHub's complaint."""
        import jwt

        try:
            claims = jwt.decode(
                token,
                self._app_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            return "A JSON web token could not be decoded"
        now, iat, exp = self.now(), claims.get("iat"), claims.get("exp")
        if str(claims.get("iss")) != str(self.app_id):
            return "Integration not found"
        if not isinstance(exp, int) or exp <= now:
            return (
                "'Expiration time' claim ('exp') must be a numeric value representing the "
                "future time at which the assertion expires"
            )
        if not isinstance(iat, int) or iat > now + 60:
            return "'Issued at' claim ('iat') must be an Integer representing a time in the past"
        if exp - iat > 600:
            return "'Expiration time' claim ('exp') is too far in the future"
        return None

    def _authenticate(self, header: str, segments: list[str]) -> tuple[str | None, str]:
        """(principal, complaint): "token", "inst:<id>", "jwt", or None with why."""
        if header in (f"Bearer {self.token}", f"token {self.token}"):
            return "token", ""
        value = header.removeprefix("Bearer ").removeprefix("token ")
        minted = self._inst_tokens.get(value)
        if minted is not None:
            installation, expires = minted
            if expires > self.now():
                return f"inst:{installation}", ""
            return None, "Bad credentials"
        if self.app_id is not None and value.count(".") == 2:
            problem = self._check_jwt(value)
            app_routes = (
                segments == ["app"]
                or segments[:2] == ["app", "installations"]
                or (len(segments) == 4 and segments[0] == "repos" and segments[3] == "installation")
                or (len(segments) == 3 and segments[0] == "users" and segments[2] == "installation")
            )
            if problem is None and app_routes:
                return "jwt", ""
            return None, problem or "A JSON web token cannot be used for this endpoint"
        return None, "Bad credentials"

    def _app_json(self) -> dict[str, Any]:
        out = skeleton("integration")
        out.update(
            id=self.app_id,
            slug="foreman-pr-sweeper",
            name="foreman-pr-sweeper",
            node_id=f"A_{self.app_id}",
            owner=self._user_json("acme"),
            description="Opens the missing pull requests of Foreman Workloads",
            external_url=f"{WEB}/acme",
            html_url=f"{WEB}/apps/foreman-pr-sweeper",
            created_at="2026-01-01T00:00:00Z",
            updated_at="2026-01-01T00:00:00Z",
            permissions={"contents": "read", "pull_requests": "write", "metadata": "read"},
            events=[],
        )
        return out

    def _installation_json(self, installation: int, owner: str) -> dict[str, Any]:
        out = skeleton("installation")
        out.update(
            id=installation,
            account=self._user_json(owner),
            app_id=self.app_id,
            target_id=1,
            target_type="Organization",
            permissions=self._installed[installation][1],
            access_tokens_url=self._api(f"/app/installations/{installation}/access_tokens"),
            repositories_url=self._api("/installation/repositories"),
            html_url=f"{WEB}/organizations/{owner}/settings/installations/{installation}",
            app_slug="foreman-pr-sweeper",
            created_at="2026-01-01T00:00:00Z",
            updated_at="2026-01-01T00:00:00Z",
            repository_selection="all",
            events=[],
            single_file_name=None,
        )
        return out

    def _mint(self, installation: str) -> tuple[int, Any, dict[str, str]]:
        if not installation.isdigit() or int(installation) not in self._installed:
            raise _not_found()
        number = int(installation)
        self.tokens_minted += 1
        token = (
            f"ghs_standin{number}x{self.tokens_minted:04d}"
            + hashlib.sha1(f"{number}:{self.tokens_minted}".encode()).hexdigest()[:20]
        )
        expires = self.now() + self.token_lifetime_s
        self._inst_tokens[token] = (number, expires)
        out = skeleton("installation-token")
        out.update(
            token=token,
            expires_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
            permissions=self._installed[number][1],
            repository_selection="all",
        )
        return 201, out, {}

    def _may_read(self, owner: str) -> bool:
        """An installation token sees only its installation's owners."""
        if not self._principal.startswith("inst:"):
            return True
        installation = int(self._principal.split(":", 1)[1])
        return owner.lower() in self._installed.get(installation, (set(), {}))[0]

    @property
    def graphql(self) -> Any:
        """The GraphQL endpoint (tests.standins.graphql.GraphQL): its bucket and its knobs."""
        if self._graphql is None:
            from tests.standins.graphql import GraphQL  # graphql-core: loaded when asked

            self._graphql = GraphQL(self)
        return self._graphql

    # ------------------------------------------------------------ state setup

    def _commit(self, network: str, message: str, parents: tuple[str, ...]) -> str:
        n = next(_counter)
        sha = hashlib.sha1(f"{n}:{message}:{parents}".encode()).hexdigest()
        self._commits[sha] = Commit(sha, message, parents, _stamp(n))
        self._network.setdefault(network, set()).add(sha)
        return sha

    def add_repo(
        self,
        full_name: str,
        default_branch: str = "main",
        fork_of: str | None = None,
        drafts_supported: bool = True,
    ) -> None:
        """A repository with `default_branch` at an initial commit (a fork: the parent's)."""
        with self._lock:
            parent = self._repos.get(fork_of) if fork_of else None
            network = parent.network if parent else (fork_of or full_name)
            repo = Repo(
                full_name, default_branch, fork_of, drafts_supported, next(_counter), network
            )
            if parent is not None:
                repo.branches = dict(parent.branches)
                repo.default_branch = parent.default_branch
            else:
                repo.branches[default_branch] = self._commit(network, "Initial commit", ())
            self._repos[full_name] = repo
            self._repo_json_cache.clear()

    def push(
        self, full_name: str, branch: str, message: str = "Fix the thing", parent: str | None = None
    ) -> str:
        """A new commit on `branch` (created from the default branch if new); its SHA."""
        with self._lock:
            repo = self._repos[full_name]
            base = parent or repo.branches.get(branch) or repo.branches.get(repo.default_branch)
            sha = self._commit(repo.network, message, (base,) if base else ())
            self._move(repo, branch, sha)
            return sha

    def set_branch(self, full_name: str, branch: str, sha: str) -> None:
        """Force-push `branch` to an existing commit."""
        with self._lock:
            if sha not in self._commits:
                raise KeyError(f"no commit {sha}")
            self._move(self._repos[full_name], branch, sha)

    def delete_repo(self, full_name: str) -> None:
        """The repository is gone (or no longer visible to the token)."""
        with self._lock:
            self._repos.pop(full_name, None)
            self._repo_json_cache.clear()

    def delete_branch(self, full_name: str, branch: str) -> None:
        with self._lock:
            self._repos[full_name].branches.pop(branch, None)

    def add_pull(
        self,
        full_name: str,
        head: str,
        base: str | None = None,
        state: str = "open",
        merged: bool = False,
        title: str = "t",
        body: str = "",
        head_sha: str | None = None,
    ) -> dict[str, Any]:
        """A PR made behind the sweeper's back (no checks); returns the stored PR."""
        with self._lock:
            repo = self._repos[full_name]
            owner, branch = self._split_head(repo, head)
            head_repo = self._head_repo(repo, owner)
            sha = head_sha or (head_repo.branches.get(branch) if head_repo else None) or "0" * 40
            pr = self._store_pull(
                repo, owner, branch, base or repo.default_branch, sha, title, body, False
            )
            if state == "closed" or merged:
                self._close(repo, pr, merged)
            return copy.deepcopy(pr)

    def pulls(self, full_name: str) -> list[dict[str, Any]]:
        """The stored PRs by number: number, state, merged, merged_at, draft, title, body,
        html_url, node_id, head {ref, sha, label, repo}, base {ref, sha, repo},
        requested_reviewers, requested_teams, labels, comments (copies)."""
        with self._lock:
            repo = self._repos.get(full_name)
            return [self._stored(repo, pr) for pr in repo.pulls] if repo else []

    def close_pull(self, full_name: str, number: int, merged: bool = False) -> None:
        """Close a PR; merged=True also merges its head into its base branch."""
        with self._lock:
            repo = self._repos[full_name]
            self._close(repo, repo.pulls[number - 1], merged)

    # ------------------------------------------------------------ observation, faults

    @property
    def writes(self) -> list[Call]:
        """Requests that may change something: every non-GET but GraphQL queries and the
        minting of an App's installation token."""
        return [
            c
            for c in self.calls
            if c.method != "GET" and not c.is_query and not c.path.endswith("/access_tokens")
        ]

    @property
    def queries(self) -> list[Call]:
        """GraphQL queries (reads sent as POST)."""
        return [c for c in self.calls if c.is_query]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls = []

    def reset(self) -> None:
        """Back to a new stand-in's state, without a restart: no repositories, commits or
        pull requests, no faults, hooks, calls or violations, full quotas, no App. The token,
        `validate`, `latency_s` and the prefix stay as they were."""
        with self._lock:
            self.calls = []
            self.violations = []
            self._quota.clear()
            self._principal = "token"
            self.app_id, self._app_key = None, None
            self._installed.clear()
            self._inst_tokens.clear()
            self.token_lifetime_s = 3600.0
            self.clock_offset_s = 0.0
            self.tokens_minted = 0
            self.rate_limit_reset = int(time.time()) + 3600
            self.oauth_scopes = None
            self._repos.clear()
            self._hidden.clear()
            self._commits.clear()
            self._network.clear()
            self._nodes.clear()
            self._faults.clear()
            self._secondary.clear()
            self._on_created = None
            self._on_request = None
            self._users.clear()
            self._repo_json_cache.clear()
            self._graphql = None

    def hide_repo(self, full_name: str) -> None:
        """The repository answers as gone (REST 404, GraphQL NOT_FOUND) until unhide_repo():
        as when the token loses sight of it for a while. Its state is kept."""
        with self._lock:
            repo = self._repos.pop(full_name, None)
            if repo is not None:
                self._hidden[full_name] = repo
                self._repo_json_cache.clear()

    def unhide_repo(self, full_name: str) -> None:
        with self._lock:
            repo = self._hidden.pop(full_name, None)
            if repo is not None:
                self._repos[full_name] = repo
                self._repo_json_cache.clear()

    def count(self, method: str | None = None, path_regex: str | None = None) -> int:
        with self._lock:
            calls = list(self.calls)
        return sum(
            1
            for c in calls
            if (method is None or c.method == method.upper())
            and (path_regex is None or re.search(path_regex, c.path))
        )

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int = 500,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        action: str = "respond",
    ) -> None:
        """The next `times` requests matching (method, regex on the decoded path) misbehave.

        action "respond": answer status/body/headers instead of serving; "reset": close the
        connection without serving or answering; "after": serve (state changes), then
        close without answering; "delay:<seconds>": sleep, then serve.
        """
        if action not in ("respond", "reset", "after") and not action.startswith("delay:"):
            raise ValueError(f"unknown action {action!r}")
        with self._lock:
            self._faults.append(
                _Fault(
                    method.upper(),
                    re.compile(path_regex),
                    status,
                    body,
                    dict(headers or {}),
                    times,
                    action,
                )
            )

    def clear_faults(self) -> None:
        """Forget every injected fault and pending secondary limit not yet used up."""
        with self._lock:
            self._faults.clear()
            self._secondary.clear()

    def on_pull_created(self, hook: Callable[[dict[str, Any]], None] | None) -> None:
        """Called with the stored PR after a create is stored, before the 201 is sent.

        If the hook raises, the connection is closed without an answer.
        """
        self._on_created = hook

    def on_request(self, hook: Callable[[str, str, Any], None] | None) -> None:
        """Called with (method, decoded path, body) before each request is handled.

        If the hook raises, the connection is closed without an answer (nothing served).
        """
        self._on_request = hook

    def secondary_limit(self, times: int, retry_after: int | None = 60) -> None:
        """The next `times` content-creating requests answer 403 "secondary rate limit"."""
        with self._lock:
            self._secondary.extend([retry_after] * times)

    # ------------------------------------------------------------ the commit graph

    def _ancestors(self, sha: str | None) -> set[str]:
        seen: set[str] = set()
        todo = [sha] if sha else []
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            commit = self._commits.get(current)
            if commit:
                todo.extend(commit.parents)
        return seen

    def _order(self, shas: set[str]) -> list[str]:
        return sorted(shas, key=lambda s: self._commits[s].at if s in self._commits else "")

    def _move(self, repo: Repo, branch: str, sha: str) -> None:
        repo.branches[branch] = sha
        label = f"{repo.owner}:{branch}"
        # An open PR follows its head branch, in this repository or the fork's parent.
        targets = [repo] + ([self._repos[repo.fork_of]] if repo.fork_of in self._repos else [])
        for target in targets:
            for pr in target.by_label.get(label, []):
                if pr["state"] == "open":
                    pr["head"]["sha"] = sha

    def _resolve(self, repo: Repo, ref: str) -> str | None:
        """A branch name, `heads/branch` or a full SHA of the repository's network."""
        if ref in repo.branches:
            return repo.branches[ref]
        if ref.startswith("heads/") and ref[6:] in repo.branches:
            return repo.branches[ref[6:]]
        if _SHA.match(ref) and ref in self._network.get(repo.network, set()):
            return ref
        return None

    # ------------------------------------------------------------ pull requests

    def _split_head(self, repo: Repo, head: str) -> tuple[str, str]:
        owner, sep, branch = head.partition(":")
        return (owner, branch) if sep else (repo.owner, head)

    def _head_repo(self, repo: Repo, owner: str) -> Repo | None:
        """The repository `owner:branch` names: this one, or owner's fork of it."""
        if owner == repo.owner:
            return repo
        for candidate in self._repos.values():
            if candidate.owner == owner and candidate.fork_of == repo.full_name:
                return candidate
        return None

    def _store_pull(
        self,
        repo: Repo,
        owner: str,
        branch: str,
        base: str,
        sha: str,
        title: str,
        body: str,
        draft: bool,
        maintainer_can_modify: bool = False,
    ) -> dict[str, Any]:
        number = len(repo.pulls) + 1
        label = f"{owner}:{branch}"
        head_repo = self._head_repo(repo, owner)
        pr: dict[str, Any] = {
            "number": number,
            "state": "open",
            "merged": False,
            "draft": draft,
            "title": title,
            "body": body,
            "html_url": f"{WEB}/{repo.full_name}/pull/{number}",
            "node_id": f"PR_kwDO{repo.id:06d}{number:06d}",
            "created_at": _stamp(next(self._ticks)),
            "merged_at": None,
            "closed_at": None,
            "maintainer_can_modify": maintainer_can_modify,
            "head": {
                "ref": branch,
                "sha": sha,
                "label": label,
                "repo": head_repo.full_name if head_repo else f"{owner}/{repo.name}",
            },
            "base": {"ref": base, "sha": repo.branches.get(base, "0" * 40), "repo": repo.full_name},
            "requested_reviewers": [],
            "requested_teams": [],
            "labels": [],
            "comments": [],
        }
        pr["updated_at"] = pr["created_at"]
        repo.pulls.append(pr)
        repo.by_label.setdefault(label, []).append(pr)
        self._nodes[pr["node_id"]] = (repo.full_name, number)
        return pr

    def _close(self, repo: Repo, pr: dict[str, Any], merged: bool) -> None:
        now = _stamp(next(self._ticks))
        pr.update(state="closed", closed_at=now, updated_at=now, merged=merged)
        pr["merged_at"] = now if merged else None
        base = pr["base"]["ref"]
        head_sha = pr["head"]["sha"]
        if (
            merged
            and base in repo.branches
            and head_sha in self._commits
            and head_sha not in self._ancestors(repo.branches[base])
        ):
            message = f"Merge pull request #{pr['number']} from {pr['head']['label']}"
            merge = self._commit(repo.network, message, (repo.branches[base], head_sha))
            self._move(repo, base, merge)

    def _stored(self, repo: Repo, pr: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(pr)
        out["base"]["sha"] = repo.branches.get(pr["base"]["ref"], pr["base"]["sha"])
        return out

    def _pull(self, repo: Repo, number: str) -> dict[str, Any]:
        if not number.isdigit() or not 1 <= int(number) <= len(repo.pulls):
            raise _not_found()
        return repo.pulls[int(number) - 1]

    # ------------------------------------------------------------ JSON renderings

    def _api(self, path: str) -> str:
        return f"{self.url}{path}"

    def _user_json(self, login: str) -> dict[str, Any]:
        if login not in self._users:
            user = skeleton("simple-user")
            number = int(hashlib.sha1(login.encode()).hexdigest()[:7], 16)
            user.update(
                login=login,
                id=number,
                node_id=f"U_{number}",
                html_url=f"{WEB}/{login}",
                url=self._api(f"/users/{login}"),
                avatar_url=f"{WEB}/{login}.png",
                type="Bot" if login == BOT else "User",
                site_admin=False,
            )
            self._users[login] = json.dumps(user)
        value: dict[str, Any] = json.loads(self._users[login])
        return value

    def _repo_json(self, repo: Repo, schema: str = "full-repository") -> dict[str, Any]:
        key = (repo.full_name, schema)
        if key not in self._repo_json_cache:
            out = skeleton(schema)
            out.update(
                id=repo.id,
                node_id=f"R_{repo.id}",
                name=repo.name,
                full_name=repo.full_name,
                owner=self._user_json(repo.owner),
                html_url=f"{WEB}/{repo.full_name}",
                url=self._api(f"/repos/{repo.full_name}"),
                clone_url=f"{WEB}/{repo.full_name}.git",
                fork=repo.fork_of is not None,
                default_branch=repo.default_branch,
                private=False,
                visibility="public",
            )
            if schema == "full-repository" and repo.fork_of in self._repos:
                parent = self._repo_json(self._repos[repo.fork_of], "repository")
                out.update(parent=parent, source=parent)
            self._repo_json_cache[key] = out
        return self._repo_json_cache[key]  # shared: serialised, never mutated

    def _label_json(self, repo: Repo, name: str) -> dict[str, Any]:
        number = int(hashlib.sha1(name.encode()).hexdigest()[:7], 16)
        return {
            "id": number,
            "node_id": f"LA_{number}",
            "url": self._api(f"/repos/{repo.full_name}/labels/{quote(name)}"),
            "name": name,
            "description": None,
            "color": "ededed",
            "default": False,
        }

    def _pull_json(self, repo: Repo, pr: dict[str, Any], full: bool) -> dict[str, Any]:
        schema = "pull-request" if full else "pull-request-simple"
        out = skeleton(schema)
        api = self._api(f"/repos/{repo.full_name}/pulls/{pr['number']}")
        issue = self._api(f"/repos/{repo.full_name}/issues/{pr['number']}")
        out.update(
            url=api,
            id=repo.id * 100000 + pr["number"],
            node_id=pr["node_id"],
            html_url=pr["html_url"],
            diff_url=pr["html_url"] + ".diff",
            patch_url=pr["html_url"] + ".patch",
            issue_url=issue,
            comments_url=issue + "/comments",
            commits_url=api + "/commits",
            review_comments_url=api + "/comments",
            statuses_url=self._api(f"/repos/{repo.full_name}/statuses/{pr['head']['sha']}"),
            number=pr["number"],
            state=pr["state"],
            locked=False,
            title=pr["title"],
            body=pr["body"] or None,
            draft=pr["draft"],
            merged_at=pr["merged_at"],
            closed_at=pr["closed_at"],
            created_at=pr["created_at"],
            updated_at=pr["updated_at"],
            user=self._user_json(BOT),
            author_association="NONE",
            labels=[self._label_json(repo, name) for name in pr["labels"]],
            requested_reviewers=[self._user_json(login) for login in pr["requested_reviewers"]],
        )
        for side in ("head", "base"):
            ref = out[side]
            stored = pr[side]
            owner = stored["repo"].split("/")[0]
            sha = stored["sha"]
            if side == "base":
                sha = repo.branches.get(stored["ref"], sha)
            side_repo = self._repos.get(stored["repo"])
            ref.update(
                ref=stored["ref"],
                sha=sha,
                label=stored.get("label") or f"{owner}:{stored['ref']}",
                user=self._user_json(owner),
            )
            if side_repo is not None:
                ref["repo"] = self._repo_json(side_repo, "repository")
        if full:
            out.update(
                merged=pr["merged"],
                mergeable=None,
                rebaseable=None,
                mergeable_state="unknown",
                merged_by=None,
                comments=len(pr["comments"]),
                review_comments=0,
                commits=1,
                additions=1,
                deletions=0,
                changed_files=1,
                maintainer_can_modify=pr["maintainer_can_modify"],
            )
        return out

    def _commit_json(self, repo: Repo, sha: str) -> dict[str, Any]:
        commit = self._commits[sha]
        out = skeleton("commit")
        out.update(
            sha=sha,
            node_id=f"C_{sha[:16]}",
            url=self._api(f"/repos/{repo.full_name}/commits/{sha}"),
            html_url=f"{WEB}/{repo.full_name}/commit/{sha}",
            comments_url=self._api(f"/repos/{repo.full_name}/commits/{sha}/comments"),
            parents=[
                {
                    "sha": p,
                    "url": self._api(f"/repos/{repo.full_name}/commits/{p}"),
                    "html_url": f"{WEB}/{repo.full_name}/commit/{p}",
                }
                for p in commit.parents
            ],
        )
        person = {"name": "Foreman Agent", "email": "agent@example.com", "date": commit.at}
        out["commit"].update(
            message=commit.message,
            author=person,
            committer=person,
            url=self._api(f"/repos/{repo.full_name}/git/commits/{sha}"),
            comment_count=0,
        )
        out["commit"]["tree"] = {
            "sha": hashlib.sha1(sha.encode()).hexdigest(),
            "url": self._api(f"/repos/{repo.full_name}/git/trees/{sha}"),
        }
        return out

    def _ref_json(self, repo: Repo, branch: str) -> dict[str, Any]:
        sha = repo.branches[branch]
        return {
            "ref": f"refs/heads/{branch}",
            "node_id": f"REF_{hashlib.sha1(branch.encode()).hexdigest()[:12]}",
            "url": self._api(f"/repos/{repo.full_name}/git/refs/heads/{quote(branch)}"),
            "object": {
                "type": "commit",
                "sha": sha,
                "url": self._api(f"/repos/{repo.full_name}/git/commits/{sha}"),
            },
        }

    # ------------------------------------------------------------ routing

    def _refill(self) -> None:
        """A bucket whose reset time has passed is full again, with a new window."""
        now = time.time()
        if now >= self.rate_limit_reset:
            self.rate_limit_remaining, self.rate_limit_reset = LIMIT, int(now) + 3600
        gq = self._graphql
        if gq is not None and now >= gq.reset:
            gq.remaining, gq.reset = gq.limit, int(now) + 3600

    def _serve(self, req: _Request) -> tuple[int, Any, dict[str, str]]:
        self._refill()
        method, seg = req.method, req.segments
        if seg == ["rate_limit"] and method == "GET":
            return 200, self._rate_limit_json(), {}
        if self._principal == "jwt":  # the App's own calls: limits of their own
            return self._serve_app(method, seg)
        if seg == ["graphql"] and method == "POST":  # its own bucket and its own limits
            if req.body is _BAD_JSON:
                raise _error(400, "Problems parsing JSON")
            return self.graphql.answer(req.body)
        if self.rate_limit_remaining <= 0:
            raise _Reply(
                403,
                {
                    "message": PRIMARY_MESSAGE,
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                },
            )
        self.rate_limit_remaining -= 1  # every REST request but /rate_limit costs one
        if method != "GET" and self._secondary:
            retry_after = self._secondary.pop(0)
            headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
            raise _Reply(
                403,
                {
                    "message": SECONDARY_MESSAGE,
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                },
                headers,
            )
        if req.body is _BAD_JSON:
            raise _error(400, "Problems parsing JSON")
        if seg == ["user"] and method == "GET":
            return 200, self._private_user_json(), {}
        if len(seg) < 3 or seg[0] != "repos":
            raise _not_found()
        repo = self._repos.get(f"{seg[1]}/{seg[2]}")
        if repo is None or not self._may_read(repo.owner):
            raise _not_found()
        rest, body, q = seg[3:], req.body, {k: v[-1] for k, v in req.query.items()}
        route = (method, len(rest), rest[0] if rest else "")
        if route == ("GET", 0, ""):
            return 200, self._repo_json(repo), {}
        if route == ("GET", 1, "pulls"):
            return self._list_pulls(repo, q, req)
        if route == ("POST", 1, "pulls"):
            return self._create_pull(repo, body)
        if route == ("GET", 2, "pulls"):
            return 200, self._pull_json(repo, self._pull(repo, rest[1]), full=True), {}
        if route == ("PATCH", 2, "pulls"):
            return self._update_pull(repo, self._pull(repo, rest[1]), body)
        if route == ("POST", 3, "pulls") and rest[2] == "requested_reviewers":
            return self._request_reviewers(repo, self._pull(repo, rest[1]), body)
        if route == ("POST", 3, "issues") and rest[2] == "labels":
            return self._add_labels(repo, self._pull(repo, rest[1]), body)
        if route == ("POST", 3, "issues") and rest[2] == "comments":
            return self._add_comment(repo, self._pull(repo, rest[1]), body)
        if route == ("GET", 2, "commits"):
            sha = self._resolve(repo, rest[1])
            if sha is None:
                raise _error(422, f"No commit found for SHA: {rest[1]}")
            return 200, self._commit_json(repo, sha), {}
        if route == ("GET", 2, "branches"):
            return self._branch(repo, rest[1])
        if route == ("GET", 2, "compare"):
            return self._compare(repo, rest[1])
        if route == ("GET", 3, "git") and rest[1] == "ref":
            branch = rest[2].removeprefix("heads/")
            if not rest[2].startswith("heads/") or branch not in repo.branches:
                raise _not_found()
            return 200, self._ref_json(repo, branch), {}
        if route == ("GET", 3, "git") and rest[1] == "matching-refs":
            refs = [
                self._ref_json(repo, b)
                for b in sorted(repo.branches)
                if f"heads/{b}".startswith(rest[2])
            ]
            return self._paged(refs, q, req)
        raise _not_found()

    def _serve_app(self, method: str, seg: list[str]) -> tuple[int, Any, dict[str, str]]:
        """What the App itself (its JWT) may do: introduce itself, find and mint."""
        if seg == ["app"] and method == "GET":
            return 200, self._app_json(), {}
        if len(seg) == 4 and seg[0] == "repos" and seg[3] == "installation" and method == "GET":
            installation = self._installation_of(seg[1])
            if installation is None or f"{seg[1]}/{seg[2]}" not in self._repos:
                raise _not_found()
            return 200, self._installation_json(installation, seg[1]), {}
        if len(seg) == 3 and seg[0] == "users" and seg[2] == "installation" and method == "GET":
            installation = self._installation_of(seg[1])  # a user's or an organisation's
            if installation is None:
                raise _not_found()
            return 200, self._installation_json(installation, seg[1]), {}
        minting = len(seg) == 4 and seg[:2] == ["app", "installations"]
        if minting and seg[3] == "access_tokens" and method == "POST":
            return self._mint(seg[2])
        raise _not_found()

    def _rate_limit_json(self) -> dict[str, Any]:
        out = skeleton("rate-limit-overview")
        remaining = max(self.rate_limit_remaining, 0)
        core = {
            "limit": LIMIT,
            "remaining": remaining,
            "reset": self.rate_limit_reset,
            "used": LIMIT - remaining,
        }
        gq = self.graphql
        left = max(gq.remaining, 0)
        graphql = {"limit": gq.limit, "remaining": left, "reset": gq.reset, "used": gq.limit - left}
        search = {"limit": 30, "remaining": 30, "reset": self.rate_limit_reset, "used": 0}
        out["rate"] = core
        out["resources"] = {"core": core, "search": search, "graphql": graphql}
        return out

    def _private_user_json(self) -> dict[str, Any]:
        out = skeleton("private-user") | self._user_json(BOT)
        out.update(
            created_at="2026-01-01T00:00:00Z",
            updated_at="2026-01-01T00:00:00Z",
            public_repos=0,
            public_gists=0,
            followers=0,
            following=0,
            private_gists=0,
            total_private_repos=0,
            owned_private_repos=0,
            disk_usage=0,
            collaborators=0,
            two_factor_authentication=True,
            user_view_type="private",
        )
        return out

    def _paged(
        self, items: list[Any], q: dict[str, str], req: _Request
    ) -> tuple[int, list[Any], dict[str, str]]:
        per_page, page = _page_params(q)
        chunk = items[(page - 1) * per_page : page * per_page]
        return 200, chunk, self._links(len(items), per_page, page, req)

    def _links(self, total: int, per_page: int, page: int, req: _Request) -> dict[str, str]:
        last = max(1, -(-total // per_page))
        origin = self.url[: len(self.url) - len(self.prefix)] if self.prefix else self.url

        def link(n: int, rel: str) -> str:
            pairs = [(k, v) for k, vs in req.query.items() if k != "page" for v in vs]
            qs = urlencode([*pairs, ("page", str(n))])
            return f'<{origin}{req.raw_path}?{qs}>; rel="{rel}"'

        rels = []
        if page > 1:
            rels += [link(min(page - 1, last), "prev"), link(1, "first")]
        if page < last:
            rels += [link(page + 1, "next"), link(last, "last")]
        return {"link": ", ".join(rels)} if rels else {}

    def _list_pulls(
        self, repo: Repo, q: dict[str, str], req: _Request
    ) -> tuple[int, Any, dict[str, str]]:
        head = q.get("head", "")
        if ":" in head:
            owner, _, branch = head.partition(":")
            if owner and not branch:  # "owner:" alone: every head of that owner
                pulls = [p for p in repo.pulls if p["head"]["label"].startswith(head)]
            else:
                pulls = list(repo.by_label.get(head, []))
        else:  # GitHub ignores a head without its owner: every PR
            pulls = list(repo.pulls)
        state = q.get("state") or "open"
        if state != "all":
            pulls = [p for p in pulls if p["state"] == state]
        if q.get("base"):
            pulls = [p for p in pulls if p["base"]["ref"] == q["base"]]
        sort = q.get("sort") or "created"
        direction = q.get("direction") or ("desc" if sort == "created" else "asc")
        key = "updated_at" if sort in ("updated", "long-running") else "created_at"
        pulls.sort(key=lambda p: (p[key], p["number"]), reverse=direction == "desc")
        per_page, page = _page_params(q)
        chunk = pulls[(page - 1) * per_page : page * per_page]
        items = [self._pull_json(repo, p, full=False) for p in chunk]
        return 200, items, self._links(len(pulls), per_page, page, req)

    def _check_text(self, body: dict[str, Any]) -> None:
        title, text = body.get("title"), body.get("body")
        if isinstance(title, str) and len(title) > 256:
            raise _invalid(
                {
                    "resource": "Issue",
                    "code": "custom",
                    "field": "title",
                    "message": "title is too long (maximum is 256 characters)",
                }
            )
        if isinstance(text, str) and len(text) > 65536:
            raise _invalid(
                {
                    "resource": "Issue",
                    "code": "custom",
                    "field": "body",
                    "message": "body is too long (maximum is 65536 characters)",
                }
            )

    def _create_pull(self, repo: Repo, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict):
            raise _error(400, "Problems parsing JSON")
        for key in ("head", "base"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise _invalid({"resource": "PullRequest", "field": key, "code": "missing_field"})
        if not isinstance(body.get("title"), str) or not body["title"].strip():
            raise _invalid({"resource": "Issue", "field": "title", "code": "missing_field"})
        self._check_text(body)
        owner, branch = self._split_head(repo, body["head"])
        head_repo = self._head_repo(repo, owner)
        if head_repo is None or branch not in head_repo.branches:
            raise _invalid({"resource": "PullRequest", "field": "head", "code": "invalid"})
        base = body["base"]
        if base not in repo.branches:
            raise _invalid({"resource": "PullRequest", "field": "base", "code": "invalid"})
        if body.get("draft") and not repo.drafts_supported:
            raise _error(422, "Draft pull requests are not supported in this repository.")
        label = f"{owner}:{branch}"
        if any(
            p["state"] == "open" and p["base"]["ref"] == base for p in repo.by_label.get(label, [])
        ):
            raise _invalid(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for {label}.",
                }
            )
        head_sha = head_repo.branches[branch]
        if head_sha in self._ancestors(repo.branches[base]):
            raise _invalid(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base} and {body['head']}",
                }
            )
        pr = self._store_pull(
            repo,
            owner,
            branch,
            base,
            head_sha,
            body["title"],
            body.get("body") or "",
            bool(body.get("draft")),
            bool(body.get("maintainer_can_modify", False)),
        )
        hook = self._on_created
        if hook is not None:
            try:
                hook(self._stored(repo, pr))
            except Exception:
                raise _Drop() from None
        api = self._api(f"/repos/{repo.full_name}/pulls/{pr['number']}")
        return 201, self._pull_json(repo, pr, full=True), {"location": api}

    def _update_pull(
        self, repo: Repo, pr: dict[str, Any], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict):
            raise _error(400, "Problems parsing JSON")
        self._check_text(body)
        if "base" in body and body["base"] not in repo.branches:
            raise _invalid({"resource": "PullRequest", "field": "base", "code": "invalid"})
        if body.get("state") == "open" and pr["state"] == "closed":
            if pr["merged"]:
                raise _invalid(
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": "state cannot be changed. The pull request has been merged.",
                    }
                )
            base = body.get("base", pr["base"]["ref"])
            if any(
                p is not pr and p["state"] == "open" and p["base"]["ref"] == base
                for p in repo.by_label.get(pr["head"]["label"], [])
            ):
                raise _invalid(
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {pr['head']['label']}.",
                    }
                )
        for key in ("title", "body", "maintainer_can_modify"):
            if key in body:
                pr[key] = body[key] if key != "body" else (body[key] or "")
        if "base" in body:
            pr["base"]["ref"] = body["base"]
        if body.get("state") == "closed" and pr["state"] == "open":
            self._close(repo, pr, merged=False)
        elif body.get("state") == "open" and pr["state"] == "closed":
            pr.update(state="open", closed_at=None)
        pr["updated_at"] = _stamp(next(self._ticks))
        return 200, self._pull_json(repo, pr, full=True), {}

    def _request_reviewers(
        self, repo: Repo, pr: dict[str, Any], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict):
            raise _error(400, "Problems parsing JSON")
        reviewers = list(body.get("reviewers") or [])
        if BOT in reviewers:
            raise _error(422, "Review cannot be requested from pull request author.")
        for login in reviewers:
            if login not in pr["requested_reviewers"]:
                pr["requested_reviewers"].append(login)
        for team in body.get("team_reviewers") or []:
            if team not in pr["requested_teams"]:
                pr["requested_teams"].append(team)
        return 201, self._pull_json(repo, pr, full=False), {}

    def _add_labels(
        self, repo: Repo, pr: dict[str, Any], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        raw = body.get("labels") if isinstance(body, dict) else body
        if not isinstance(raw, list) or not raw:
            raise _invalid({"resource": "Label", "field": "labels", "code": "missing_field"})
        for item in raw:
            name = item.get("name") if isinstance(item, dict) else item
            if isinstance(name, str) and name not in pr["labels"]:
                pr["labels"].append(name)
        return 200, [self._label_json(repo, name) for name in pr["labels"]], {}

    def _add_comment(
        self, repo: Repo, pr: dict[str, Any], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            raise _invalid({"resource": "IssueComment", "field": "body", "code": "missing_field"})
        pr["comments"].append(body["body"])
        number = repo.id * 1000 + len(pr["comments"])
        now = _stamp(next(self._ticks))
        out = skeleton("issue-comment")
        issue = self._api(f"/repos/{repo.full_name}/issues/{pr['number']}")
        out.update(
            id=number,
            node_id=f"IC_{number}",
            url=self._api(f"/repos/{repo.full_name}/issues/comments/{number}"),
            html_url=f"{pr['html_url']}#issuecomment-{number}",
            issue_url=issue,
            body=body["body"],
            user=self._user_json(BOT),
            created_at=now,
            updated_at=now,
            author_association="NONE",
        )
        return 201, out, {}

    def _branch(self, repo: Repo, branch: str) -> tuple[int, Any, dict[str, str]]:
        if branch not in repo.branches:
            raise _error(404, "Branch not found")
        out = skeleton("branch-with-protection")
        api = self._api(f"/repos/{repo.full_name}/branches/{quote(branch, safe='')}")
        out.update(
            name=branch,
            commit=self._commit_json(repo, repo.branches[branch]),
            protected=False,
            protection_url=api + "/protection",
        )
        out["_links"] = {"html": f"{WEB}/{repo.full_name}/tree/{branch}", "self": api}
        return 200, out, {}

    def _compare(self, repo: Repo, basehead: str) -> tuple[int, Any, dict[str, str]]:
        base_ref, sep, head_ref = basehead.partition("...")
        if not sep:
            raise _not_found()
        shas = []
        for ref in (base_ref, head_ref):
            owner, colon, branch = ref.partition(":")
            side = self._head_repo(repo, owner) if colon else repo
            sha = self._resolve(side, branch if colon else ref) if side else None
            if sha is None:
                raise _not_found()
            shas.append((side or repo, sha))
        (_, base_sha), (_, head_sha) = shas
        base_anc, head_anc = self._ancestors(base_sha), self._ancestors(head_sha)
        ahead = self._order(head_anc - base_anc)
        behind = base_anc - head_anc  # base's commits the head lacks
        common = head_anc & base_anc
        merge_base = max(common, key=lambda s: self._commits[s].at) if common else base_sha
        if base_sha == head_sha:
            status = "identical"
        elif not behind:
            status = "ahead"
        elif not ahead:
            status = "behind"
        else:
            status = "diverged"
        out = skeleton("commit-comparison")
        out.update(
            url=self._api(f"/repos/{repo.full_name}/compare/{quote(basehead, safe='.:')}"),
            html_url=f"{WEB}/{repo.full_name}/compare/{basehead}",
            permalink_url=f"{WEB}/{repo.full_name}/compare/{base_sha}...{head_sha}",
            diff_url=f"{WEB}/{repo.full_name}/compare/{basehead}.diff",
            patch_url=f"{WEB}/{repo.full_name}/compare/{basehead}.patch",
            base_commit=self._commit_json(repo, base_sha),
            merge_base_commit=self._commit_json(repo, merge_base),
            status=status,
            ahead_by=len(ahead),
            behind_by=len(behind),
            total_commits=len(ahead),
            commits=[self._commit_json(repo, s) for s in ahead[-250:]],
            files=[],
        )
        return 200, out, {}

    # ------------------------------------------------------------ one exchange

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.method == method and fault.pattern.search(path):
                fault.times -= 1
                return fault
        return None

    def _headers(self, extra: dict[str, str]) -> dict[str, str]:
        remaining = max(self.rate_limit_remaining, 0)
        return {
            "content-type": "application/json; charset=utf-8",
            "x-github-api-version-selected": "2022-11-28",
            "x-github-media-type": "github.v3; format=json",
            "x-github-request-id": f"STANDIN:{next(_counter):08X}",
            "x-ratelimit-limit": str(LIMIT),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(LIMIT - remaining),
            "x-ratelimit-reset": str(self.rate_limit_reset),
            "x-ratelimit-resource": "core",
        } | {k.lower(): v for k, v in extra.items()}

    def exchange(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, bytes, dict[str, str]] | None:
        """One request in, one response out (None: close the connection unanswered)."""
        method = method.upper()
        parts = urlsplit(raw_path)
        path = parts.path
        inside = not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")
        if self.prefix == "/api/v3" and path == "/api/graphql":  # GHES puts GraphQL there
            path, inside = "/api/v3/graphql", True
        elif self.prefix == "/api/v3" and path == "/api/v3/graphql":
            inside = False  # and only there: GHES has no GraphQL under /api/v3
        if self.prefix and inside:
            path = path[len(self.prefix) :]
        segments = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
        if not inside:
            segments = ["", *segments]  # unroutable: 404
        decoded = "/" + "/".join(segments)
        query = parse_qs(parts.query, keep_blank_values=True)
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = _BAD_JSON
        if self.latency_s:
            time.sleep(self.latency_s)
        hook = self._on_request
        if hook is not None:
            hook(method, decoded, None if body is _BAD_JSON else body)  # raising: dropped
        lower = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            principal, complaint = self._authenticate(lower.get("authorization", ""), segments)
            authorized = principal is not None
            fault = self._take_fault(method, decoded) if authorized else None
        if fault is not None and fault.action.startswith("delay:"):
            time.sleep(float(fault.action.split(":", 1)[1]))
            fault = None
        recorded_body = None if body is _BAD_JSON else body
        drop = False
        with self._lock:
            self._principal = principal or "token"
            if not authorized:
                status, payload, extra = (
                    401,
                    {"message": complaint, "documentation_url": DOCS},
                    {},
                )
            elif fault is not None and fault.action == "reset":
                self.calls.append(Call(method, decoded, query, recorded_body, 0))
                return None
            elif fault is not None and fault.action == "respond":
                payload = fault.body
                if payload is None:
                    payload = {"message": "Server Error", "documentation_url": DOCS}
                status, extra = fault.status, dict(fault.headers)
            else:
                req = _Request(method, segments, query, body, parts.path)
                status, payload, extra, drop = self._serve_safely(req)
                drop = drop or (fault is not None and fault.action == "after")
            self.calls.append(Call(method, decoded, query, recorded_body, status))
            if isinstance(payload, str):  # a gateway's HTML page
                data = payload.encode()
                extra = {"content-type": "text/html", **extra}
            else:
                data = b"" if payload is None else json.dumps(payload).encode()
            out_headers = self._headers(extra)
            if principal == "token" and self.oauth_scopes is not None:
                out_headers["x-oauth-scopes"] = self.oauth_scopes
            self._principal = "token"
        if self.validate:
            self._check(method, raw_path, headers, raw_body, status, out_headers, data)
        return None if drop else (status, data, out_headers)

    def _serve_safely(self, req: _Request) -> tuple[int, Any, dict[str, str], bool]:
        try:
            status, payload, extra = self._serve(req)
            return status, payload, extra, False
        except _Reply as reply:
            return reply.status, reply.body, reply.headers, False
        except _Drop:
            return 201, None, {}, True
        except Exception:
            problem = traceback.format_exc()
            self.violations.append(f"stand-in crashed on {req.method} {req.raw_path}:\n{problem}")
            return 500, {"message": "Server Error", "documentation_url": DOCS}, {}, False

    def _check(
        self,
        method: str,
        raw_path: str,
        headers: dict[str, str],
        raw_body: bytes,
        status: int,
        out_headers: dict[str, str],
        data: bytes,
    ) -> None:
        from tests.contract.openapi import contract_for  # needs openapi-core: tests only

        problems = contract_for(self.url).check_exchange(
            method, raw_path, headers, raw_body, status, out_headers, data
        )
        self.violations.extend(problems)


class _BadJson:
    """Marks a request body that is not JSON."""


_BAD_JSON: Any = _BadJson()


def _page_params(q: dict[str, str]) -> tuple[int, int]:
    per_page = int(q["per_page"]) if q.get("per_page", "").isdigit() else 30
    page = int(q["page"]) if q.get("page", "").isdigit() else 1
    return (min(per_page, 100) if per_page > 0 else 30), max(page, 1)


class _Handler(QuietHandler):
    owner: GitHubStandIn

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header tells the stand-in's clock (see `clock_offset_s`)."""
        return email.utils.formatdate(self.owner.now(), usegmt=True)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            answer = self.owner.exchange(self.command, self.path, dict(self.headers.items()), raw)
        except Exception:  # an on_request hook asked to drop the connection
            answer = None
        if answer is None:
            self.close_connection = True
            return
        status, data, headers = answer
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle


GitHubStandIn.handler = _Handler
