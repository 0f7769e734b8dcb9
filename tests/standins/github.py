"""A stateful GitHub REST API stand-in: repositories, branches, commits and pull requests.

Standard library only (the demo runs it with the runtime dependencies alone). It answers
the endpoints the sweeper uses with GitHub's real semantics: the owner-qualified `head`
filter (a bare branch is silently ignored, as on GitHub), `state=all`, merged versus
closed-unmerged (`merged_at`), `Link` pagination, the 422 shapes of pull request
creation, rate-limit headers, primary and secondary limits. Response bodies are built
from the skeletons of GitHub's own schemas, and with `validate=True` every exchange is
checked against GitHub's official description (tests/contract/openapi.py).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests.standins.serving import LocalServer, QuietHandler

SPEC = Path(__file__).resolve().parents[1] / "contract" / "github" / "api.github.com.subset.json"
WEB = "https://github.example"
DOCS = "https://docs.github.com/rest"
_counter = itertools.count(1)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int


@dataclass
class Repo:
    full_name: str
    default_branch: str
    fork_of: str | None
    drafts_supported: bool
    id: int
    branches: dict[str, str] = field(default_factory=dict)


@dataclass
class Commit:
    sha: str
    message: str
    parent: str | None


class _Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class _Drop(Exception):
    """Close the connection without an answer."""


# ---------------------------------------------------------------- schema skeletons

_SCHEMAS: dict[str, Any] | None = None


def _schemas() -> dict[str, Any]:
    global _SCHEMAS
    if _SCHEMAS is None:
        _SCHEMAS = json.loads(SPEC.read_text())["components"]["schemas"]
    return _SCHEMAS


def skeleton(schema: dict[str, Any] | str) -> Any:
    """The smallest value valid for a schema: required fields only, nullables as null."""
    if isinstance(schema, str):
        schema = _schemas()[schema]
    if "$ref" in schema:
        return skeleton(_schemas()[schema["$ref"].rsplit("/", 1)[1]])
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = skeleton(part)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return skeleton(schema[key][0])
    if schema.get("nullable"):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: skeleton(props.get(name, {})) for name in schema.get("required", [])}
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


def _user(login: str) -> dict[str, Any]:
    user = skeleton("simple-user")
    user.update(login=login, id=abs(hash(login)) % 10**8, html_url=f"{WEB}/{login}", type="User")
    return user


# ---------------------------------------------------------------- the stand-in


class GitHubStandIn(LocalServer):
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
        self.rate_limit_remaining = 5000
        self._lock = threading.RLock()
        self._repos: dict[str, Repo] = {}
        self._commits: dict[str, Commit] = {}
        self._pulls: dict[str, list[dict[str, Any]]] = {}
        self._faults: list[dict[str, Any]] = []
        self._secondary: list[int | None] = []
        self._on_created: Callable[[dict[str, Any]], None] | None = None
        self._on_request: Callable[[str, str, Any], None] | None = None

    # ------------------------------------------------------------ state setup

    def _commit(self, message: str, parent: str | None) -> str:
        sha = hashlib.sha1(f"{next(_counter)}:{message}:{parent}".encode()).hexdigest()
        self._commits[sha] = Commit(sha, message, parent)
        return sha

    def add_repo(
        self,
        full_name: str,
        default_branch: str = "main",
        fork_of: str | None = None,
        drafts_supported: bool = True,
    ) -> None:
        with self._lock:
            repo = Repo(full_name, default_branch, fork_of, drafts_supported, next(_counter))
            if fork_of and fork_of in self._repos:
                repo.branches = dict(self._repos[fork_of].branches)
            else:
                repo.branches[default_branch] = self._commit("Initial commit", None)
            self._repos[full_name] = repo
            self._pulls.setdefault(full_name, [])

    def push(
        self, full_name: str, branch: str, message: str = "Fix the thing", parent: str | None = None
    ) -> str:
        with self._lock:
            repo = self._repos[full_name]
            base = parent or repo.branches.get(branch) or repo.branches.get(repo.default_branch)
            sha = self._commit(message, base)
            repo.branches[branch] = sha
            return sha

    def set_branch(self, full_name: str, branch: str, sha: str) -> None:
        with self._lock:
            assert sha in self._commits, sha
            self._repos[full_name].branches[branch] = sha

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
        with self._lock:
            repo = self._repos[full_name]
            owner, branch = self._split_head(full_name, head)
            head_repo = self._head_repo(full_name, owner)
            sha = head_sha or (head_repo.branches.get(branch) if head_repo else None) or "0" * 40
            pr = self._store_pull(
                repo, owner, branch, base or repo.default_branch, sha, title, body, draft=False
            )
            if state == "closed" or merged:
                self._close(pr, merged)
            return dict(pr)

    def pulls(self, full_name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(pr) for pr in self._pulls.get(full_name, [])]

    def close_pull(self, full_name: str, number: int, merged: bool = False) -> None:
        with self._lock:
            self._close(self._pulls[full_name][number - 1], merged)

    # ------------------------------------------------------------ observation, faults

    @property
    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method != "GET"]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls = []

    def count(self, method: str | None = None, path_regex: str | None = None) -> int:
        return sum(
            1
            for c in self.calls
            if (method is None or c.method == method)
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
        with self._lock:
            self._faults.append(
                {
                    "method": method.upper(),
                    "re": re.compile(path_regex),
                    "status": status,
                    "body": body,
                    "headers": headers or {},
                    "times": times,
                    "action": action,
                }
            )

    def on_pull_created(self, hook: Callable[[dict[str, Any]], None] | None) -> None:
        self._on_created = hook

    def on_request(self, hook: Callable[[str, str, Any], None] | None) -> None:
        self._on_request = hook

    def secondary_limit(self, times: int, retry_after: int | None = 60) -> None:
        with self._lock:
            self._secondary.extend([retry_after] * times)

    # ------------------------------------------------------------ semantics

    def _split_head(self, full_name: str, head: str) -> tuple[str, str]:
        owner, sep, branch = head.partition(":")
        return (owner, branch) if sep else (full_name.split("/")[0], head)

    def _head_repo(self, full_name: str, owner: str) -> Repo | None:
        if owner == full_name.split("/")[0]:
            return self._repos.get(full_name)
        fork = self._repos.get(f"{owner}/{full_name.split('/')[1]}")
        return fork if fork and fork.fork_of == full_name else None

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
    ) -> dict[str, Any]:
        pulls = self._pulls[repo.full_name]
        number = len(pulls) + 1
        pr = {
            "number": number,
            "state": "open",
            "merged": False,
            "draft": draft,
            "title": title,
            "body": body,
            "html_url": f"{WEB}/{repo.full_name}/pull/{number}",
            "node_id": f"PR_{repo.id}_{number}",
            "merged_at": None,
            "closed_at": None,
            "head": {
                "ref": branch,
                "sha": sha,
                "label": f"{owner}:{branch}",
                "repo": f"{owner}/{repo.full_name.split('/')[1]}",
            },
            "base": {"ref": base, "sha": repo.branches.get(base, "0" * 40), "repo": repo.full_name},
            "requested_reviewers": [],
            "requested_teams": [],
            "labels": [],
        }
        pulls.append(pr)
        return pr

    def _close(self, pr: dict[str, Any], merged: bool) -> None:
        pr.update(
            state="closed",
            closed_at="2026-11-02T00:00:00Z",
            merged=merged,
            merged_at="2026-11-02T00:00:00Z" if merged else None,
        )

    def _ancestors(self, sha: str | None) -> set[str]:
        seen: set[str] = set()
        while sha and sha not in seen:
            seen.add(sha)
            commit = self._commits.get(sha)
            sha = commit.parent if commit else None
        return seen

    def _pull_json(self, repo: Repo, pr: dict[str, Any], full: bool) -> dict[str, Any]:
        out = skeleton("pull-request" if full else "pull-request-simple")
        api = f"https://api.github.example/repos/{repo.full_name}/pulls/{pr['number']}"
        out.update(
            url=api,
            id=repo.id * 100000 + pr["number"],
            node_id=pr["node_id"],
            html_url=pr["html_url"],
            number=pr["number"],
            state=pr["state"],
            title=pr["title"],
            body=pr["body"],
            draft=pr["draft"],
            merged_at=pr["merged_at"],
            closed_at=pr["closed_at"],
            user=_user("foreman-bot"),
            created_at="2026-11-01T00:00:00Z",
            updated_at="2026-11-01T00:00:00Z",
            labels=[
                {
                    "id": i + 1,
                    "node_id": f"L{i}",
                    "url": f"{WEB}/l",
                    "name": name,
                    "description": None,
                    "color": "ededed",
                    "default": False,
                }
                for i, name in enumerate(pr["labels"])
            ],
            requested_reviewers=[_user(login) for login in pr["requested_reviewers"]],
        )
        for side in ("head", "base"):
            ref = (
                skeleton("pull-request-simple")["head"]
                if not full
                else skeleton("pull-request")["head"]
            )
            owner = pr[side]["repo"].split("/")[0]
            label = pr[side].get("label") or f"{owner}:{pr[side]['ref']}"
            ref.update(ref=pr[side]["ref"], sha=pr[side]["sha"], label=label, user=_user(owner))
            if "repo" in ref:
                ref["repo"] = self._repo_json(
                    self._repos.get(pr[side]["repo"]) or repo, "repository"
                )
            out[side] = ref
        if full:
            out.update(
                merged=pr["merged"],
                mergeable=None,
                comments=0,
                review_comments=0,
                commits=1,
                additions=1,
                deletions=0,
                changed_files=1,
                maintainer_can_modify=False,
                mergeable_state="clean",
            )
        return out

    def _repo_json(self, repo: Repo, schema: str = "full-repository") -> dict[str, Any]:
        out = skeleton(schema)
        owner, name = repo.full_name.split("/")
        out.update(
            id=repo.id,
            name=name,
            full_name=repo.full_name,
            owner=_user(owner),
            html_url=f"{WEB}/{repo.full_name}",
            fork=repo.fork_of is not None,
            default_branch=repo.default_branch,
            private=False,
        )
        return out

    def _ref_json(self, repo: Repo, branch: str) -> dict[str, Any]:
        sha = repo.branches[branch]
        return {
            "ref": f"refs/heads/{branch}",
            "node_id": f"REF_{sha[:8]}",
            "url": f"https://api.github.example/repos/{repo.full_name}/git/refs/heads/{branch}",
            "object": {
                "type": "commit",
                "sha": sha,
                "url": f"https://api.github.example/repos/{repo.full_name}/git/commits/{sha}",
            },
        }

    # ------------------------------------------------------------ routing

    def serve(
        self, method: str, segments: list[str], query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        q = {k: v[-1] for k, v in query.items()}
        if segments == ["rate_limit"]:
            out = skeleton("rate-limit-overview")
            core = {
                "limit": 5000,
                "remaining": self.rate_limit_remaining,
                "reset": 1893456000,
                "used": 0,
            }
            out["rate"] = core
            out["resources"] = {"core": core, "search": core}
            return 200, out, {}
        if self.rate_limit_remaining <= 0:
            raise _Reply(
                403,
                {"message": "API rate limit exceeded for user.", "documentation_url": DOCS},
                {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 3600)},
            )
        if method != "GET" and self._secondary:
            retry_after = self._secondary.pop(0)
            headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
            raise _Reply(
                403,
                {
                    "message": "You have exceeded a secondary rate limit. Please wait a "
                    "few minutes before you try again.",
                    "documentation_url": DOCS,
                },
                headers,
            )
        if segments == ["user"]:
            return (
                200,
                _user("foreman-bot") | skeleton("private-user") | {"login": "foreman-bot"},
                {},
            )
        if len(segments) < 3 or segments[0] != "repos":
            raise _Reply(404, {"message": "Not Found", "documentation_url": DOCS})
        full_name = f"{segments[1]}/{segments[2]}"
        repo = self._repos.get(full_name)
        if repo is None:
            raise _Reply(404, {"message": "Not Found", "documentation_url": DOCS})
        rest = segments[3:]
        if not rest and method == "GET":
            return 200, self._repo_json(repo), {}
        if rest == ["pulls"] and method == "GET":
            return self._list_pulls(repo, q, query)
        if rest == ["pulls"] and method == "POST":
            return self._create_pull(repo, body)
        if len(rest) == 2 and rest[0] == "pulls" and rest[1].isdigit():
            pr = self._pull(repo, int(rest[1]))
            if method == "PATCH":
                for key in ("title", "body"):
                    if key in body:
                        pr[key] = body[key]
                if "base" in body:
                    pr["base"]["ref"] = body["base"]
                if body.get("state") == "closed":
                    self._close(pr, merged=False)
                elif body.get("state") == "open":
                    pr.update(state="open", closed_at=None)
            return 200, self._pull_json(repo, pr, full=True), {}
        if len(rest) == 3 and rest[0] == "pulls" and rest[2] == "requested_reviewers":
            pr = self._pull(repo, int(rest[1]))
            pr["requested_reviewers"] += list(body.get("reviewers") or [])
            return 201, self._pull_json(repo, pr, full=False), {}
        if len(rest) == 3 and rest[0] == "issues" and rest[2] == "labels":
            pr = self._pull(repo, int(rest[1]))
            pr["labels"] += [name for name in body.get("labels") or [] if name not in pr["labels"]]
            labels = self._pull_json(repo, pr, full=False)["labels"]
            return 200, labels, {}
        if len(rest) == 2 and rest[0] == "commits":
            return self._get_commit(repo, rest[1])
        if len(rest) == 3 and rest[:2] == ["git", "ref"]:
            ref = rest[2]
            branch = ref.removeprefix("heads/")
            if not ref.startswith("heads/") or branch not in repo.branches:
                raise _Reply(404, {"message": "Not Found", "documentation_url": DOCS})
            return 200, self._ref_json(repo, branch), {}
        if len(rest) == 3 and rest[:2] == ["git", "matching-refs"]:
            prefix = rest[2].removeprefix("heads/")
            refs = [self._ref_json(repo, b) for b in sorted(repo.branches) if b.startswith(prefix)]
            return self._paged(refs, q, query)
        raise _Reply(404, {"message": "Not Found", "documentation_url": DOCS})

    def _pull(self, repo: Repo, number: int) -> dict[str, Any]:
        pulls = self._pulls[repo.full_name]
        if not 1 <= number <= len(pulls):
            raise _Reply(404, {"message": "Not Found", "documentation_url": DOCS})
        return pulls[number - 1]

    def _paged(
        self, items: list[Any], q: dict[str, str], query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(q.get("per_page", "30") or 30), 100)
        page = max(int(q.get("page", "1") or 1), 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        last = max(1, -(-len(items) // per_page))
        if page < last:

            def link(n: int) -> str:
                params = {k: v[-1] for k, v in query.items()} | {
                    "page": str(n),
                    "per_page": str(per_page),
                }
                qs = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
                return f"<{self.url}{self._current_path}?{qs}>"

            headers["link"] = f'{link(page + 1)}; rel="next", {link(last)}; rel="last"'
        return 200, chunk, headers

    def _list_pulls(
        self, repo: Repo, q: dict[str, str], query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        state = q.get("state", "open")
        pulls = list(reversed(self._pulls[repo.full_name]))  # newest first, as GitHub sorts
        if state != "all":
            pulls = [p for p in pulls if p["state"] == state]
        head = q.get("head")
        if head and ":" in head:  # without OWNER: GitHub ignores the filter
            pulls = [p for p in pulls if p["head"]["label"] == head]
        if q.get("base"):
            pulls = [p for p in pulls if p["base"]["ref"] == q["base"]]
        return self._paged([self._pull_json(repo, p, full=False) for p in pulls], q, query)

    def _create_pull(self, repo: Repo, body: Any) -> tuple[int, Any, dict[str, str]]:
        def invalid(
            errors: list[dict[str, Any]] | None = None, message: str = "Validation Failed"
        ) -> _Reply:
            payload: dict[str, Any] = {"message": message, "documentation_url": DOCS}
            if errors is not None:
                payload["errors"] = errors
            return _Reply(422, payload)

        if not isinstance(body, dict) or not body.get("head") or not body.get("base"):
            raise invalid([{"resource": "PullRequest", "field": "head", "code": "missing_field"}])
        if not body.get("title"):
            raise invalid([{"resource": "PullRequest", "field": "title", "code": "missing_field"}])
        if len(body["title"]) > 256 or len(body.get("body") or "") > 65536:
            raise invalid(
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": "title or body is too long",
                    }
                ]
            )
        owner, branch = self._split_head(repo.full_name, body["head"])
        head_repo = self._head_repo(repo.full_name, owner)
        if head_repo is None or branch not in head_repo.branches:
            raise invalid([{"resource": "PullRequest", "field": "head", "code": "invalid"}])
        base = body["base"]
        if base not in repo.branches:
            raise invalid([{"resource": "PullRequest", "field": "base", "code": "invalid"}])
        if body.get("draft") and not repo.drafts_supported:
            raise invalid(None, "Draft pull requests are not supported in this repository.")
        label = f"{owner}:{branch}"
        for pr in self._pulls[repo.full_name]:
            if pr["state"] == "open" and pr["head"]["label"] == label and pr["base"]["ref"] == base:
                raise invalid(
                    [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for {label}.",
                        }
                    ]
                )
        head_sha = head_repo.branches[branch]
        if head_sha in self._ancestors(repo.branches[base]):
            raise invalid(
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"No commits between {base} and {branch}",
                    }
                ]
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
        )
        hook = self._on_created
        if hook is not None:
            try:
                hook(dict(pr))
            except Exception:
                raise _Drop() from None
        return 201, self._pull_json(repo, pr, full=True), {"location": pr["html_url"]}

    def _get_commit(self, repo: Repo, ref: str) -> tuple[int, Any, dict[str, str]]:
        sha = repo.branches.get(ref, ref)
        commit = self._commits.get(sha)
        if commit is None or sha not in self._ancestors_any(repo):
            raise _Reply(
                422,
                {
                    "message": f"No commit found for SHA: {ref}",
                    "documentation_url": DOCS,
                    "errors": [],
                },
            )
        out = skeleton("commit")
        out.update(
            sha=sha, node_id=f"C_{sha[:10]}", html_url=f"{WEB}/{repo.full_name}/commit/{sha}"
        )
        out["commit"]["message"] = commit.message
        out["parents"] = (
            [{"sha": commit.parent, "url": f"{WEB}/c/{commit.parent}"}] if commit.parent else []
        )
        return 200, out, {}

    def _ancestors_any(self, repo: Repo) -> set[str]:
        found: set[str] = set()
        for sha in repo.branches.values():
            found |= self._ancestors(sha)
        return found

    # ------------------------------------------------------------ one exchange

    _current_path = ""

    def exchange(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, bytes, dict[str, str]] | None:
        """One request in, one response out (None: drop the connection)."""
        parts = urlsplit(raw_path)
        path = parts.path
        if self.prefix and path.startswith(self.prefix):
            path = path[len(self.prefix) :]
        query = parse_qs(parts.query)
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = None
        segments = [unquote(s) for s in path.strip("/").split("/")]
        decoded = "/" + "/".join(segments)
        if self.latency_s:
            time.sleep(self.latency_s)
        if self._on_request is not None:
            self._on_request(method, decoded, body)
        with self._lock:
            status, payload, extra, drop = self._answer(
                method, path, segments, query, headers, body
            )
            self.calls.append(Call(method, decoded, query, body, status))
            data = b"" if payload is None else json.dumps(payload).encode()
            out_headers = {
                "content-type": "application/json; charset=utf-8",
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": str(max(self.rate_limit_remaining, 0)),
                "x-ratelimit-used": str(5000 - max(self.rate_limit_remaining, 0)),
                "x-ratelimit-reset": "1893456000",
                "x-ratelimit-resource": "core",
            } | extra
            if self.validate and drop != "before":
                from tests.contract.openapi import check_exchange

                self.violations += check_exchange(
                    method, path, query, headers, raw_body, status, out_headers, data
                )
        if drop:
            return None
        return status, data, out_headers

    def _answer(
        self,
        method: str,
        path: str,
        segments: list[str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
    ) -> tuple[int, Any, dict[str, str], str | None]:
        self._current_path = path
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth not in (f"Bearer {self.token}", f"token {self.token}"):
            return 401, {"message": "Bad credentials", "documentation_url": DOCS}, {}, None
        for fault in self._faults:
            if (
                fault["times"] > 0
                and fault["method"] == method
                and fault["re"].search("/" + "/".join(segments))
            ):
                fault["times"] -= 1
                action = fault["action"]
                if action == "reset":
                    return 0, None, {}, "before"
                if action.startswith("delay:"):
                    time.sleep(float(action.split(":", 1)[1]))
                    break
                if action == "after":
                    status, payload, extra, _ = self._answer_real(method, segments, query, body)
                    return status, payload, extra, "after"
                payload = (
                    fault["body"]
                    if fault["body"] is not None
                    else {"message": "Server Error", "documentation_url": DOCS}
                )
                return fault["status"], payload, dict(fault["headers"]), None
        return self._answer_real(method, segments, query, body)

    def _answer_real(
        self, method: str, segments: list[str], query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any, dict[str, str], str | None]:
        try:
            status, payload, extra = self.serve(method, segments, query, body)
            return status, payload, extra, None
        except _Reply as reply:
            return reply.status, reply.body, reply.headers, None
        except _Drop:
            return 0, None, {}, "after"


class _Handler(QuietHandler):
    owner: GitHubStandIn

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            answer = self.owner.exchange(self.command, self.path, dict(self.headers.items()), raw)
        except Exception:
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

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


GitHubStandIn.handler = _Handler
