"""GitHub's GraphQL API for the stand-in: GitHub's own schema, executed over the REST state.

Every query is parsed and validated against the vendored schema (graphql-core 3.2, the
version that builds GitHub's schema) and executed with resolvers that read the stand-in's
repositories, branches, commits and pull requests, so REST and GraphQL answer from one
state. GitHub's shapes:

- HTTP 200 with `errors` for invalid queries and failed fields; a missing repository is
  `null` plus a NOT_FOUND error naming its alias, while the other aliases answer;
- points priced by GitHub's rule (every connection counts the requests needed to fill it
  as if each `first` were met; the sum over 100, rounded, at least 1), `rateLimit` and the
  `x-ratelimit-*` headers of the separate `graphql` bucket, and RATE_LIMITED once spent;
  one such bucket per principal, as on GitHub: the plain token's, and each GitHub App
  installation's (its tokens share it), charged and reported apart;
- `first`/`last` required on connections and at most 100, at most 500,000 nodes;
- knobs for the failures of large queries: `timeout_over` (more aliases than this: 502
  after "10 s", as GitHub's gateway answers) and `resource_limit` (the aliases after the
  first N are `null` with RESOURCE_LIMITS_EXCEEDED).
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_client_schema,
    execute_sync,
    get_named_type,
    parse,
    validate,
    value_from_ast_untyped,
)

if TYPE_CHECKING:
    from tests.standins.github import GitHubStandIn, Repo

SCHEMA = Path(__file__).resolve().parents[1] / "contract" / "github" / "graphql" / "schema.json"
LIMIT = 5000
MAX_NODES = 500_000
GATEWAY_TIMEOUT = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


@cache
def schema() -> GraphQLSchema:
    """GitHub's schema, built once per process (about 0.25 s)."""
    data = json.loads(SCHEMA.read_text())
    return build_client_schema(data.get("data") or data)


@lru_cache(maxsize=256)
def checked(query: str) -> tuple[Any, tuple[GraphQLError, ...]]:
    """A query's document and what validation says of it, once per distinct text: the
    sweeper sends few distinct texts, and validating against GitHub's schema is most of
    the cost of an answer. Documents are never changed by execution."""
    document = parse(query)
    return document, tuple(validate(schema(), document))


class Failure(Exception):
    """Raised by a resolver: becomes an error with GitHub's `type` at the field's path."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Price:
    requests: int = 0
    nodes: int = 0
    problem: tuple[str, str] | None = None  # (type, message): the query is refused

    @property
    def points(self) -> int:
        return max(1, round(self.requests / 100))


def price(document: Any, operation: OperationDefinitionNode, variables: dict[str, Any]) -> Price:
    """GitHub's price of a query: connections and nodes, assuming every `first` is met."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    out = Price()
    root = schema().mutation_type if operation.operation == OperationType.MUTATION else None
    _walk(operation.selection_set, root or schema().query_type, 1, fragments, variables, out)
    if out.nodes > MAX_NODES and out.problem is None:
        out.problem = (
            "MAX_NODE_LIMIT_EXCEEDED",
            f"This query requests up to {out.nodes:,} possible nodes which exceeds the "
            f"maximum limit of {MAX_NODES:,}.",
        )
    return out


def _walk(
    selections: SelectionSetNode,
    parent: Any,
    multiplier: int,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    out: Price,
) -> None:
    for node in selections.selections:
        if isinstance(node, FragmentSpreadNode):
            fragment = fragments[node.name.value]
            kind = schema().get_type(fragment.type_condition.name.value)
            _walk(fragment.selection_set, kind, multiplier, fragments, variables, out)
            continue
        if isinstance(node, InlineFragmentNode):
            kind = (
                schema().get_type(node.type_condition.name.value) if node.type_condition else parent
            )
            _walk(node.selection_set, kind, multiplier, fragments, variables, out)
            continue
        assert isinstance(node, FieldNode)
        name = node.name.value
        fields = getattr(parent, "fields", {})
        if name.startswith("__") or name not in fields:
            continue
        kind = get_named_type(fields[name].type)
        inner = multiplier
        if kind.name.endswith("Connection"):
            out.requests += multiplier
            args = {
                a.name.value: value_from_ast_untyped(a.value, variables) for a in node.arguments
            }
            size = args.get("first", args.get("last"))
            if size is None and out.problem is None:
                out.problem = (
                    "MISSING_PAGINATION_BOUNDARIES",
                    f"You must provide a `first` or `last` value to properly paginate the "
                    f"`{name}` connection.",
                )
            elif isinstance(size, int) and not 1 <= size <= 100 and out.problem is None:
                out.problem = (
                    "EXCESSIVE_PAGINATION",
                    f"Requesting {size} records on the `{name}` connection exceeds the "
                    "`first` limit of 100 records.",
                )
            inner = multiplier * (size if isinstance(size, int) else 0)
            out.nodes += inner
        if node.selection_set is not None:
            _walk(node.selection_set, kind, inner, fragments, variables, out)


class GraphQL:
    """The /graphql endpoint of one stand-in. Called under the stand-in's lock."""

    def __init__(self, standin: GitHubStandIn) -> None:
        self.gh = standin
        self.limit = LIMIT
        self.reset = standin.rate_limit_reset
        self.used_points = 0  # points charged since the stand-in started, every principal's
        self._points: Counter[str] = Counter()  # the same, per principal
        self.queries = 0
        self.timeout_over: int | None = None
        self.resource_limit: int | None = None
        self._resolved = 0

    def points_of(self, principal: str) -> int:
        """Points charged to one principal's bucket: "token", or "inst:<installation id>"."""
        return self._points[principal]

    def _charge(self, points: int) -> None:
        self.remaining -= points
        self.used_points += points
        self._points[self.gh._principal] += points

    @property
    def remaining(self) -> int:
        """The graphql bucket of the principal being served, else of the plain token."""
        return self.gh.quota(self.gh._principal)["graphql"]

    @remaining.setter
    def remaining(self, value: int) -> None:
        self.gh.quota(self.gh._principal)["graphql"] = value

    def headers(self) -> dict[str, str]:
        remaining = max(self.remaining, 0)
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(self.limit - remaining),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-resource": "graphql",
        }

    def answer(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        status, payload = self._answer(body)
        return status, payload, self.headers()

    def _answer(self, body: Any) -> tuple[int, Any]:
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str):
            return 200, {"errors": [{"message": "A query attribute must be specified"}]}
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return 200, {"errors": [{"message": "Variables are invalid JSON."}]}
        try:
            document, problems = checked(query)
        except GraphQLError as err:
            return 200, {"errors": [_format(err)]}
        if problems:
            if self.gh.validate:
                self.gh.violations += [f"GraphQL query invalid: {p.message}" for p in problems]
            return 200, {"errors": [_format(p) for p in problems]}
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        cost = price(document, operation, variables)
        if cost.problem:
            kind, message = cost.problem
            return 200, {"errors": [{"type": kind, "message": message}]}
        mutation = operation.operation == OperationType.MUTATION
        points = 1 if mutation else cost.points
        if self.remaining < points:
            self.remaining = 0
            message = "API rate limit already exceeded for user ID 1."
            return 200, {
                "errors": [
                    {"type": "RATE_LIMITED", "code": "graphql_rate_limit", "message": message}
                ]
            }
        aliases = len([s for s in operation.selection_set.selections if isinstance(s, FieldNode)])
        if self.timeout_over is not None and aliases > self.timeout_over:
            self._charge(points)  # since mid-2025 the time counts against the limit
            return 502, GATEWAY_TIMEOUT
        self._charge(points)
        self.queries += 1
        self._resolved = 0
        root = self._mutation_root() if mutation else self._query_root(points, cost.nodes)
        result = execute_sync(schema(), document, root_value=root, variable_values=variables)
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [_format(e) for e in result.errors]
        return 200, out

    # ------------------------------------------------------------ resolvers

    def _query_root(self, points: int, nodes: int) -> dict[str, Any]:
        def repository(info: Any, owner: str, name: str, **_: Any) -> dict[str, Any]:
            self._resolved += 1
            if self.resource_limit is not None and self._resolved > self.resource_limit:
                raise Failure(
                    "RESOURCE_LIMITS_EXCEEDED", "Resource limits for this query exceeded."
                )
            repo = self._find(owner, name)
            if repo is None:
                raise Failure(
                    "NOT_FOUND",
                    f"Could not resolve to a Repository with the name '{owner}/{name}'.",
                )
            return self._repository(repo)

        def rate_limit(info: Any, dryRun: bool = False, **_: Any) -> dict[str, Any]:
            reset = datetime.fromtimestamp(self.reset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return {
                "cost": points,
                "limit": self.limit,
                "remaining": max(self.remaining, 0),
                "used": self.limit - max(self.remaining, 0),
                "resetAt": reset,
                "nodeCount": nodes,
            }

        return {"repository": repository, "rateLimit": rate_limit}

    def _mutation_root(self) -> dict[str, Any]:
        def ready(info: Any, input: dict[str, Any], **_: Any) -> dict[str, Any]:
            node = input.get("pullRequestId")
            found = self.gh._nodes.get(node) if isinstance(node, str) else None
            if found is None:
                raise Failure(
                    "NOT_FOUND", f"Could not resolve to a node with the global id of '{node}'."
                )
            full_name, number = found
            repo = self.gh._repos.get(full_name)
            if repo is None:  # hidden (hide_repo): gone to every request
                raise Failure(
                    "NOT_FOUND", f"Could not resolve to a node with the global id of '{node}'."
                )
            pr = repo.pulls[number - 1]
            pr["draft"] = False
            return {
                "pullRequest": self._pull(repo, pr),
                "clientMutationId": input.get("clientMutationId"),
            }

        return {"markPullRequestReadyForReview": ready}

    def _find(self, owner: str, name: str) -> Repo | None:
        if not self.gh._may_read(owner):
            return None
        wanted = f"{owner}/{name}".lower()
        return next((r for k, r in self.gh._repos.items() if k.lower() == wanted), None)

    def _repository(self, repo: Repo) -> dict[str, Any]:
        def ref(info: Any, qualifiedName: str, **_: Any) -> dict[str, Any] | None:
            if not qualifiedName.startswith("refs/heads/"):
                return None
            return self._ref(repo, qualifiedName.removeprefix("refs/heads/"))

        def pull_requests(info: Any, **args: Any) -> dict[str, Any]:
            return self._pulls(repo, **args)

        return {
            "__typename": "Repository",
            "id": f"R_{repo.id}",
            "name": repo.name,
            "nameWithOwner": repo.full_name,
            "isFork": repo.fork_of is not None,
            "owner": _owner(repo.owner),
            "defaultBranchRef": self._ref(repo, repo.default_branch),
            "ref": ref,
            "pullRequests": pull_requests,
        }

    def _ref(self, repo: Repo, branch: str) -> dict[str, Any] | None:
        sha = repo.branches.get(branch)
        if sha is None:
            return None
        commit = self.gh._commits[sha]
        return {
            "__typename": "Ref",
            "id": f"REF_{repo.id}_{branch}",
            "name": branch,
            "prefix": "refs/heads/",
            "target": {
                "__typename": "Commit",
                "id": f"C_{sha[:16]}",
                "oid": sha,
                "message": commit.message,
                "messageHeadline": commit.message.split("\n", 1)[0][:72],
            },
        }

    def _pulls(
        self,
        repo: Repo,
        states: list[str] | None = None,
        headRefName: str | None = None,
        baseRefName: str | None = None,
        orderBy: dict[str, str] | None = None,
        first: int | None = None,
        after: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        pulls = [
            p
            for p in repo.pulls
            if (headRefName is None or p["head"]["ref"] == headRefName)
            and (baseRefName is None or p["base"]["ref"] == baseRefName)
            and (not states or _state(p) in states)
        ]
        order = orderBy or {"field": "CREATED_AT", "direction": "ASC"}
        key = "updated_at" if order.get("field") == "UPDATED_AT" else "created_at"
        pulls.sort(key=lambda p: (p[key], p["number"]), reverse=order.get("direction") == "DESC")
        start = _offset(after)
        chunk = pulls[start : start + (first or 0)]
        cursors = [_cursor(start + i + 1) for i in range(len(chunk))]
        nodes = [self._pull(repo, p) for p in chunk]
        return {
            "totalCount": len(pulls),
            "nodes": nodes,
            "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
            "pageInfo": {
                "hasNextPage": start + len(chunk) < len(pulls),
                "hasPreviousPage": start > 0,
                "startCursor": cursors[0] if cursors else None,
                "endCursor": cursors[-1] if cursors else None,
            },
        }

    def _pull(self, repo: Repo, pr: dict[str, Any]) -> dict[str, Any]:
        owner = pr["head"]["label"].split(":", 1)[0]
        return {
            "__typename": "PullRequest",
            "id": pr["node_id"],
            "number": pr["number"],
            "url": pr["html_url"],
            "title": pr["title"],
            "body": pr["body"] or "",
            "state": _state(pr),
            "merged": pr["merged"],
            "isDraft": pr["draft"],
            "headRefName": pr["head"]["ref"],
            "headRefOid": pr["head"]["sha"],
            "baseRefName": pr["base"]["ref"],
            "headRepositoryOwner": _owner(owner),
            "createdAt": pr["created_at"],
        }


def _owner(login: str) -> dict[str, Any]:
    return {"__typename": "Organization", "login": login, "id": f"O_{login}"}


def _state(pr: dict[str, Any]) -> str:
    if pr["merged"]:
        return "MERGED"
    return "OPEN" if pr["state"] == "open" else "CLOSED"


def _cursor(n: int) -> str:
    return base64.b64encode(f"cursor:v2:{n}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1])
    except (ValueError, IndexError):
        return 0


def _format(err: GraphQLError) -> dict[str, Any]:
    out: dict[str, Any] = {"message": err.message}
    if err.path is not None:
        out["path"] = list(err.path)
    if err.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in err.locations]
    original = err.original_error
    if isinstance(original, Failure):
        out["type"] = original.kind
    return out
