"""Many branches in one GraphQL query: the query, its answer read, and the halving.

Building the query text and reading the answer are pure functions over plain data. One
query asks, for every branch, the PRs of its head name on the base repository (newest
first, filtered here on the head's owner, so merged PRs whose branch was deleted are found
too), the branch head and its commit message on the head repository, and the base
repository's default branch. GitHub prices such a query at about one point per hundred
branches.

GraphQL fails in parts: an error names the alias it belongs to, and only that branch is
affected. Errors without a path concern the whole query (a rate limit, a refusal of the
token, a resource limit). A query GitHub gives up on is split in halves and asked again
(`in_batches`), down to one branch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sweeper.core import Pull
from sweeper.fields import as_mapping, parse_stamp
from sweeper.github.limits import Rate
from sweeper.github.transport import GitHubError, GraphQLUnavailable, QueryTooBig, RateLimited
from sweeper.lookups import Lookup, Unanswered, View
from sweeper.outcomes import Reason

# PRs per head name in one answer; more (forks sharing a branch name) are read by REST.
PULLS_PER_HEAD = 10
PULL_FIELDS = "id number url state merged isDraft headRefOid body headRepositoryOwner { login }"
RATE_FIELDS = "cost remaining limit resetAt"
RATE_LIMIT_TYPES = frozenset({"RATE_LIMITED", "RATE_LIMIT"})
# The query asked for too much at once: the same lookups in smaller batches may pass.
RESOURCE_TYPES = frozenset({"RESOURCE_LIMITS_EXCEEDED", "MAX_NODE_LIMIT_EXCEEDED"})
# GitHub's typeless error for a query it gave up on ("This may be the result of a timeout,
# or it could be a GitHub bug"): like a 502, smaller batches may pass.
GAVE_UP = "something went wrong while executing your query"
_ALIAS = re.compile(r"^(?P<side>[ph])(?P<index>[0-9]+)$")


@dataclass(frozen=True)
class Answer:
    """One query's answer, read: per-branch views, and what concerns the whole query."""

    views: Mapping[int, View | Unanswered]
    retry: tuple[int, ...] = ()  # hit by a resource limit: ask again in smaller batches
    gave_up: str | None = None  # why GitHub gave up on the whole query, if it did
    rate_limited: str | None = None
    unavailable: str | None = None  # GraphQL refused to this token as a whole
    rate: Rate | None = None


# ---------------------------------------------------------------- the query


def build_query(lookups: Sequence[Lookup]) -> tuple[str, dict[str, str]]:
    """The query text and its variables; every name and branch travels as a variable."""
    variables: dict[str, str] = {}
    repo_vars: dict[str, str] = {}

    def repo(full_name: str) -> str:
        if full_name not in repo_vars:
            key = f"r{len(repo_vars)}"
            owner, name = full_name.split("/", 1)
            variables[f"{key}o"], variables[f"{key}n"] = owner, name
            repo_vars[full_name] = key
        key = repo_vars[full_name]
        return f"owner: ${key}o, name: ${key}n"

    fields = []
    for i, lookup in enumerate(lookups):
        variables[f"b{i}"] = lookup.branch
        variables[f"q{i}"] = f"refs/heads/{lookup.branch}"
        fields.append(
            f"p{i}: repository({repo(lookup.repo)}) {{ defaultBranchRef {{ name }} "
            f"pullRequests(headRefName: $b{i}, states: [OPEN, CLOSED, MERGED], "
            f"first: {PULLS_PER_HEAD}, orderBy: {{field: CREATED_AT, direction: DESC}}) "
            "{ pageInfo { hasNextPage } nodes { ...pull } } }"
        )
        fields.append(
            f"h{i}: repository({repo(lookup.head_repo)}) {{ ref(qualifiedName: $q{i}) "
            "{ target { oid ... on Commit { message } } } }"
        )
    declared = ", ".join(f"${name}: String!" for name in variables)
    query = (
        f"query SweeperHeads({declared}) {{ rateLimit {{ {RATE_FIELDS} }} "
        + " ".join(fields)
        + f" }} fragment pull on PullRequest {{ {PULL_FIELDS} }}"
    )
    return query, variables


# ---------------------------------------------------------------- the answer


def read_answer(body: Any, lookups: Sequence[Lookup]) -> Answer:
    """Reads one answer (HTTP 200) to `build_query(lookups)`."""
    if not isinstance(body, Mapping):
        return _everyone(lookups, Unanswered("GraphQL answered no JSON object"))
    data = as_mapping(body.get("data"))
    errors = [e for e in body.get("errors") or [] if isinstance(e, Mapping)]
    by_alias: dict[str, Mapping[str, Any]] = {}
    whole: list[Mapping[str, Any]] = []
    for err in errors:
        path = err.get("path")
        alias = path[0] if isinstance(path, list) and path and isinstance(path[0], str) else None
        if alias is not None and _ALIAS.match(alias):
            by_alias.setdefault(alias, err)
        else:
            whole.append(err)
    rate = read_rate(data.get("rateLimit"))
    for err in whole:
        kind, message = err.get("type"), _text(err)
        if kind in RATE_LIMIT_TYPES:
            return Answer({}, rate_limited=message, rate=rate)
        if kind == "FORBIDDEN" and not data:
            return Answer({}, unavailable=message, rate=rate)
    if any(e.get("type") in RATE_LIMIT_TYPES for e in by_alias.values()):
        return Answer({}, rate_limited=_text(next(iter(by_alias.values()))), rate=rate)
    gave_up = next((e for e in whole if _gave_up(e)), None)
    resource_wide = gave_up is not None or any(_is_resource(e) for e in whole)
    other_wide = next((e for e in whole if not _is_resource(e) and not _gave_up(e)), None)
    views: dict[int, View | Unanswered] = {}
    retry: list[int] = []
    for i, lookup in enumerate(lookups):
        pulls_err, head_err = by_alias.get(f"p{i}"), by_alias.get(f"h{i}")
        if _is_resource(pulls_err) or _is_resource(head_err):
            retry.append(i)
            continue
        base, fork = data.get(f"p{i}"), data.get(f"h{i}")
        if (base is None and pulls_err is None) or (fork is None and head_err is None):
            if resource_wide:
                retry.append(i)
            else:
                reason = _text(other_wide) if other_wide else "GraphQL answered no data for it"
                views[i] = Unanswered(reason)
            continue
        views[i] = _view(lookup, base, fork, pulls_err, head_err)
    why = _text(gave_up) if gave_up is not None and retry else None
    return Answer(views, tuple(retry), gave_up=why, rate=rate)


def _view(
    lookup: Lookup,
    base: Any,
    fork: Any,
    pulls_err: Mapping[str, Any] | None,
    head_err: Mapping[str, Any] | None,
) -> View | Unanswered:
    if pulls_err is not None:
        return _failed(lookup.repo, pulls_err)
    if head_err is not None:  # a missing branch is a null ref, never an error
        return _failed(lookup.head_repo, head_err)
    if not isinstance(base, Mapping):
        return Unanswered("GraphQL answered no repository")
    connection = as_mapping(base.get("pullRequests"))
    nodes = connection.get("nodes")
    pulls = tuple(
        pull
        for pull in (read_pull(n, lookup.head_owner) for n in (nodes or []))
        if pull is not None
    )
    target = as_mapping(as_mapping(as_mapping(fork).get("ref")).get("target"))
    oid, message = target.get("oid"), target.get("message")
    default = as_mapping(base.get("defaultBranchRef")).get("name")
    return View(
        head_sha=oid if isinstance(oid, str) and oid else None,
        pulls=pulls,
        default_branch=default if isinstance(default, str) and default else None,
        head_message=message if isinstance(message, str) else None,
        pulls_complete=as_mapping(connection.get("pageInfo")).get("hasNextPage") is not True,
    )


def read_pull(node: Any, head_owner: str) -> Pull | None:
    """A PR node, if its head lives on `head_owner`'s repository (else None)."""
    if not isinstance(node, Mapping):
        return None
    owner = as_mapping(node.get("headRepositoryOwner")).get("login")
    if not isinstance(owner, str) or owner.lower() != head_owner.lower():
        return None  # another fork with the same branch name, or a deleted fork
    number, url, state = node.get("number"), node.get("url"), node.get("state")
    if not isinstance(number, int) or not isinstance(url, str) or not isinstance(state, str):
        return None
    oid, body, node_id = node.get("headRefOid"), node.get("body"), node.get("id")
    return Pull(
        number=number,
        url=url,
        state="open" if state == "OPEN" else "closed",
        merged=state == "MERGED" or node.get("merged") is True,
        head_sha=oid if isinstance(oid, str) else None,
        draft=node.get("isDraft") is True,
        body=body if isinstance(body, str) else None,
        node_id=node_id if isinstance(node_id, str) and node_id else None,
    )


def read_rate(raw: Any) -> Rate | None:
    """The `rateLimit` object of an answer."""
    rate = as_mapping(raw)
    remaining, limit, reset = rate.get("remaining"), rate.get("limit"), rate.get("resetAt")
    if not isinstance(remaining, int) or not isinstance(limit, int) or not isinstance(reset, str):
        return None
    try:
        reset_at = parse_stamp(reset).timestamp()
    except ValueError:
        return None
    cost = rate.get("cost")
    return Rate(remaining, limit, reset_at, cost if isinstance(cost, int) else None)


def _failed(repo: str, err: Mapping[str, Any]) -> Unanswered:
    """An alias that came back with an error: its repository unreachable, or GitHub's word."""
    kind, path = err.get("type"), err.get("path")
    if kind == "NOT_FOUND" and isinstance(path, list) and len(path) == 1:
        return Unanswered(
            f"{repo}: repository not found or not visible to the token",
            Reason.REPO_UNREACHABLE,
        )
    reason = Reason.PERMISSION_DENIED if kind == "FORBIDDEN" else Reason.GITHUB_ERROR
    return Unanswered(_text(err), reason)


def _gave_up(err: Mapping[str, Any]) -> bool:
    return err.get("type") is None and str(err.get("message") or "").lower().startswith(GAVE_UP)


def _everyone(lookups: Sequence[Lookup], failure: Unanswered) -> Answer:
    return Answer(dict.fromkeys(range(len(lookups)), failure))


def _is_resource(err: Mapping[str, Any] | None) -> bool:
    return err is not None and err.get("type") in RESOURCE_TYPES


def _text(err: Mapping[str, Any] | None) -> str:
    if not err:
        return "GraphQL error"
    kind = err.get("type")
    message = str(err.get("message") or "error")[:300]
    return f"GraphQL {kind}: {message}" if isinstance(kind, str) else f"GraphQL: {message}"


# ---------------------------------------------------------------- halving


Results = dict[Lookup, View | Unanswered]


def in_batches(groups: Sequence[list[Lookup]], ask: Callable[[list[Lookup]], Answer]) -> Results:
    """Every lookup answered, asking `ask` one batch at a time.

    A query GitHub gives up on (502/504, a timeout, a resource limit, its typeless
    "Something went wrong") is split in halves and asked again; a branch that fails even
    alone is Unanswered, and so is one whose
    alias came back with an error. RateLimited and GraphQLUnavailable concern every batch
    and are raised.
    """
    results: Results = {}
    todo = list(groups)
    while todo:
        batch = todo.pop(0)
        try:
            answer = ask(batch)
        except QueryTooBig as err:
            if len(batch) == 1:
                results[batch[0]] = Unanswered(f"{err}; even alone")
            else:
                todo[:0] = _halves(batch)
            continue
        except (RateLimited, GraphQLUnavailable):
            raise
        except GitHubError as err:  # refused, not installed...: every branch of the batch
            results.update(dict.fromkeys(batch, Unanswered(str(err), err.reason)))
            continue
        results.update((batch[i], view) for i, view in answer.views.items())
        again = [batch[i] for i in answer.retry]
        if len(again) == 1 and len(batch) == 1:
            why = answer.gave_up or "GraphQL resource limits exceeded"
            results[again[0]] = Unanswered(f"{why}, even alone")
        elif again:
            todo[:0] = _halves(again) if len(again) == len(batch) else [again]
    return results


def _halves(batch: list[Lookup]) -> list[list[Lookup]]:
    middle = len(batch) // 2
    return [batch[:middle], batch[middle:]]
