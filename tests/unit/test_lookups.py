"""The batched GraphQL read, pure: the query the sweeper builds and how it reads the answer.

Every query is validated against GitHub's vendored schema and priced by GitHub's rule.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse

from sweeper.github.batch import PULLS_PER_HEAD, build_query, read_answer, read_rate
from sweeper.lookups import Lookup, Unanswered, View
from sweeper.outcomes import Reason
from tests.contract.graphql import check_graphql
from tests.standins.graphql import price

SHA = "a" * 40
OLD = "b" * 40
RESET = "2026-12-01T22:00:00Z"


def lookup(n: int = 1, repo: str = "acme/widgets", owner: str = "acme") -> Lookup:
    return Lookup(repo, owner, f"foreman/wl/issue-{n}")


def pull_node(
    number: int,
    state: str = "OPEN",
    owner: str | None = "acme",
    oid: str = SHA,
    body: str = "",
    draft: bool = False,
) -> dict[str, Any]:
    return {
        "id": f"PR_{number}",
        "number": number,
        "url": f"https://github.com/acme/widgets/pull/{number}",
        "state": state,
        "merged": state == "MERGED",
        "isDraft": draft,
        "headRefOid": oid,
        "body": body,
        "headRepositoryOwner": None if owner is None else {"login": owner},
    }


def base(nodes: list[dict[str, Any]] | None = None, more: bool = False) -> dict[str, Any]:
    return {
        "defaultBranchRef": {"name": "main"},
        "pullRequests": {"pageInfo": {"hasNextPage": more}, "nodes": nodes or []},
    }


def head(oid: str | None = SHA, message: str = "Fix it\n\nbody") -> dict[str, Any]:
    return {"ref": None if oid is None else {"target": {"oid": oid, "message": message}}}


RATE = {"cost": 1, "remaining": 4990, "limit": 5000, "resetAt": RESET, "used": 10}


def answer(data: dict[str, Any], errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"data": {"rateLimit": RATE, **data}}
    if errors:
        body["errors"] = errors
    return body


# ---------------------------------------------------------------- the query


@pytest.mark.parametrize(
    "lookups",
    [
        pytest.param([lookup()], id="one"),
        pytest.param([lookup(1), lookup(2, owner="forker")], id="fork-head"),
        pytest.param([lookup(n, repo=f"acme/r{n % 7}") for n in range(100)], id="hundred"),
        pytest.param([Lookup("a-b/c.d_e", "x", "foreman/w.x/issue-9-esc")], id="odd-names"),
    ],
)
def test_every_query_validates_against_githubs_schema(lookups: list[Lookup]) -> None:
    """The query, with its variables, is one GitHub accepts."""
    query, variables = build_query(lookups)
    assert check_graphql({"query": query, "variables": variables}) == []


def test_names_and_branches_travel_only_as_variables() -> None:
    """No repository or branch name is spliced into the query text."""
    query, variables = build_query([Lookup("acme/widgets", "forker", 'foreman/wl/issue-1"}')])
    assert "widgets" not in query and "foreman/" not in query and "forker" not in query
    assert variables["b0"] == 'foreman/wl/issue-1"}'
    assert variables["q0"] == 'refs/heads/foreman/wl/issue-1"}'
    assert {variables["r0o"], variables["r1o"]} == {"acme", "forker"}


def test_repositories_are_declared_once_per_query() -> None:
    """A hundred branches of one repository share its two variables."""
    _, variables = build_query([lookup(n) for n in range(100)])
    assert sum(1 for k in variables if k.startswith("r")) == 2


@pytest.mark.parametrize("count", [1, 50, 100])
def test_a_hundred_branches_cost_one_point(count: int) -> None:
    """GitHub's price: one request per PR connection, over 100, at least 1."""
    query, variables = build_query([lookup(n) for n in range(count)])
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    cost = price(document, operation, variables)
    assert cost.problem is None
    assert cost.points == 1
    assert cost.nodes == count * PULLS_PER_HEAD


# ---------------------------------------------------------------- the answer


def test_a_full_answer_gives_each_branch_its_view() -> None:
    """Head, head message, default branch and the head owner's PRs, newest first."""
    lookups = [lookup(1), lookup(2)]
    body = answer(
        {
            "p0": base([pull_node(7, "MERGED", oid=OLD), pull_node(3, "CLOSED")]),
            "h0": head(None),
            "p1": base([pull_node(9, body="hello", draft=True)]),
            "h1": head(SHA, "Add the widget\n\nlonger"),
        }
    )
    read = read_answer(body, lookups)
    assert read.retry == () and read.rate_limited is None and read.unavailable is None
    gone, live = read.views[0], read.views[1]
    assert isinstance(gone, View) and isinstance(live, View)
    assert gone.head_sha is None and [p.number for p in gone.pulls] == [7, 3]
    assert (
        gone.pulls[0].merged and gone.pulls[0].state == "closed" and gone.pulls[0].head_sha == OLD
    )
    assert not gone.pulls[1].merged and gone.pulls[1].state == "closed"
    assert live.head_sha == SHA and live.head_message == "Add the widget\n\nlonger"
    assert live.default_branch == "main" and live.pulls_complete
    [pr] = live.pulls
    assert (pr.state, pr.draft, pr.body, pr.node_id) == ("open", True, "hello", "PR_9")


def test_prs_from_other_forks_with_the_same_branch_name_are_not_ours() -> None:
    """headRefName matches the name only: the head owner is filtered here (deleted forks too)."""
    nodes = [pull_node(1, owner="someone"), pull_node(2, owner=None), pull_node(3, owner="ACME")]
    read = read_answer(answer({"p0": base(nodes), "h0": head()}), [lookup()])
    view = read.views[0]
    assert isinstance(view, View) and [p.number for p in view.pulls] == [3]


def test_more_prs_than_one_page_is_flagged_for_a_rest_read() -> None:
    """hasNextPage: the view says its PR list is incomplete."""
    read = read_answer(answer({"p0": base([pull_node(1)], more=True), "h0": head()}), [lookup()])
    assert isinstance(read.views[0], View) and not read.views[0].pulls_complete


def test_a_missing_alias_fails_only_its_branch() -> None:
    """NOT_FOUND on one base repository: that branch is Unanswered, the other answers."""
    body = answer(
        {"p0": None, "h0": head(), "p1": base(), "h1": head()},
        [{"type": "NOT_FOUND", "path": ["p0"], "message": "Could not resolve to a Repository"}],
    )
    read = read_answer(body, [lookup(1, repo="acme/gone"), lookup(2)])
    failed, fine = read.views[0], read.views[1]
    assert isinstance(failed, Unanswered) and "acme/gone" in failed.message
    assert failed.reason is Reason.REPO_UNREACHABLE
    assert isinstance(fine, View)


@pytest.mark.parametrize(
    ("data", "path", "named"),
    [
        pytest.param({"p0": None, "h0": head()}, ["p0"], "acme/widgets", id="base"),
        pytest.param({"p0": base(), "h0": None}, ["h0"], "forker/widgets", id="head-fork"),
    ],
)
def test_a_repository_the_token_cannot_see_is_unreachable_not_a_missing_branch(
    data: dict[str, Any], path: list[str], named: str
) -> None:
    """NOT_FOUND on a repository alias fails the branch repo-unreachable, naming it."""
    error = {"type": "NOT_FOUND", "path": path, "message": "Could not resolve to a Repository"}
    view = read_answer(answer(data, [error]), [lookup(owner="forker")]).views[0]
    assert view == Unanswered(
        f"{named}: repository not found or not visible to the token", Reason.REPO_UNREACHABLE
    )


def test_a_missing_branch_is_a_null_ref_without_an_error() -> None:
    """The head repository answers, its ref is null: the branch is missing (a View)."""
    view = read_answer(answer({"p0": base(), "h0": head(None)}), [lookup(owner="forker")])
    assert view.views[0] == View(None, (), "main", None)


@pytest.mark.parametrize("alias", ["p0", "h0"])
def test_forbidden_on_one_alias_is_a_permission_problem_of_that_branch(alias: str) -> None:
    """FORBIDDEN naming an alias: that branch only, marked forbidden."""
    data: dict[str, Any] = {"p0": base(), "h0": head(), alias: None}
    error = {"type": "FORBIDDEN", "path": [alias], "message": "Resource not accessible"}
    view = read_answer(answer(data, [error]), [lookup()]).views[0]
    assert isinstance(view, Unanswered) and view.reason is Reason.PERMISSION_DENIED


def test_another_error_inside_an_alias_fails_that_branch() -> None:
    """An error deep in one alias's fields: that branch is Unanswered with GitHub's message."""
    body = answer(
        {"p0": None, "h0": head(), "p1": base(), "h1": head()},
        [{"type": "SERVICE_UNAVAILABLE", "path": ["p0", "pullRequests"], "message": "try later"}],
    )
    read = read_answer(body, [lookup(1), lookup(2)])
    assert isinstance(read.views[0], Unanswered) and "try later" in read.views[0].message
    assert isinstance(read.views[1], View)


@pytest.mark.parametrize("kind", ["RATE_LIMITED", "RATE_LIMIT"])
def test_rate_limited_concerns_the_whole_query(kind: str) -> None:
    """RATE_LIMITED (or GitHub's newer RATE_LIMIT): stop, no views."""
    body = {"errors": [{"type": kind, "message": "API rate limit already exceeded"}]}
    read = read_answer(body, [lookup()])
    assert read.rate_limited and "rate limit" in read.rate_limited and read.views == {}


def test_forbidden_without_data_means_graphql_is_unavailable() -> None:
    """FORBIDDEN for the whole query: the token may not use GraphQL."""
    body = {"errors": [{"type": "FORBIDDEN", "message": "Resource not accessible by integration"}]}
    assert read_answer(body, [lookup()]).unavailable


def test_a_resource_limit_on_some_aliases_asks_for_them_again() -> None:
    """RESOURCE_LIMITS_EXCEEDED on one alias: the others answer, that one is retried."""
    body = answer(
        {"p0": base(), "h0": head(), "p1": None, "h1": head()},
        [{"type": "RESOURCE_LIMITS_EXCEEDED", "path": ["p1"], "message": "Resource limits"}],
    )
    read = read_answer(body, [lookup(1), lookup(2)])
    assert read.retry == (1,) and set(read.views) == {0}


def test_a_resource_limit_for_the_whole_query_retries_every_unanswered_branch() -> None:
    """A resource-limit error without a path: every branch without data is asked again."""
    body = {
        "data": {"rateLimit": RATE, "p0": base(), "h0": head()},
        "errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": "too many nodes"}],
    }
    read = read_answer(body, [lookup(1), lookup(2), lookup(3)])
    assert read.retry == (1, 2) and set(read.views) == {0}


GAVE_UP = (
    "Something went wrong while executing your query. This may be the result of a timeout, "
    "or it could be a GitHub bug. Please include `C0A1:3F2B:1D4E5:2A6B7C:674E2B1A` when "
    "reporting this issue."
)


def test_githubs_typeless_error_asks_for_every_branch_again() -> None:
    """GitHub gave up on the query (200, data null, no type): like a 502, ask again."""
    body = {"data": None, "errors": [{"message": GAVE_UP}]}
    read = read_answer(body, [lookup(1), lookup(2), lookup(3)])
    assert read.retry == (0, 1, 2) and read.views == {}
    assert read.gave_up is not None and read.gave_up.startswith("GraphQL: Something went wrong")


def test_a_query_wide_error_without_data_fails_every_branch() -> None:
    """Any other error and no data: each branch Unanswered with GitHub's message."""
    body = {"data": None, "errors": [{"message": "Something went wrong while executing"}]}
    read = read_answer(body, [lookup(1), lookup(2)])
    assert all(
        isinstance(v, Unanswered) and "Something went wrong" in v.message
        for v in read.views.values()
    )
    assert len(read.views) == 2


def test_an_answer_that_is_not_an_object_fails_every_branch() -> None:
    """A body that is not JSON's object: Unanswered, never a crash."""
    read = read_answer(["odd"], [lookup()])
    assert isinstance(read.views[0], Unanswered)


def test_hostile_nodes_are_ignored() -> None:
    """Nodes of the wrong shape are dropped, the rest read."""
    nodes: list[Any] = [None, "x", {"number": "1"}, pull_node(4)]
    view = read_answer(answer({"p0": base(nodes), "h0": head()}), [lookup()]).views[0]
    assert isinstance(view, View) and [p.number for p in view.pulls] == [4]


def test_the_rate_limit_object_is_read() -> None:
    """rateLimit gives remaining, limit, reset (epoch) and cost."""
    rate = read_rate(RATE)
    assert rate is not None and (rate.remaining, rate.limit, rate.cost) == (4990, 5000, 1)
    assert rate.reset_at == 1796162400.0
    assert read_rate({"remaining": "x"}) is None
    assert read_rate({**RATE, "resetAt": "never"}) is None
