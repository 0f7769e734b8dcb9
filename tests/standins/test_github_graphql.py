"""The GitHub stand-in's GraphQL: GitHub's schema over the REST state, with GitHub's shapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sweeper.github.batch import build_query, read_answer
from sweeper.lookups import Lookup, View
from tests.standins.github import GitHubStandIn
from tests.standins.test_github_standin import BRANCH, HEADERS


@pytest.fixture
def gh() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(validate=True) as standin:
        standin.add_repo("acme/widgets")
        yield standin


def post(
    gh: GitHubStandIn, query: str, variables: dict[str, Any] | None = None
) -> requests.Response:
    payload = {"query": query, "variables": variables or {}}
    return requests.post(gh.url + "/graphql", json=payload, headers=HEADERS, timeout=10)


def ask(gh: GitHubStandIn, lookups: list[Lookup]) -> requests.Response:
    query, variables = build_query(lookups)
    return post(gh, query, variables)


def test_graphql_and_rest_answer_from_one_state(gh: GitHubStandIn) -> None:
    """A PR created by REST, a branch pushed: the sweeper's query sees both."""
    sha = gh.push("acme/widgets", BRANCH, message="Add the widget\n\nbody")
    created = requests.post(
        gh.url + "/repos/acme/widgets/pulls",
        json={"title": "t", "head": BRANCH, "base": "main"},
        headers=HEADERS,
        timeout=10,
    ).json()
    lookup = Lookup("acme/widgets", "acme", BRANCH)
    response = ask(gh, [lookup])
    assert response.status_code == 200 and response.headers["x-ratelimit-resource"] == "graphql"
    [view] = read_answer(response.json(), [lookup]).views.values()
    assert isinstance(view, View)
    assert view.head_sha == sha and view.head_message == "Add the widget\n\nbody"
    assert view.default_branch == "main"
    [pr] = view.pulls
    assert (pr.number, pr.state, pr.head_sha, pr.node_id) == (
        created["number"],
        "open",
        sha,
        created["node_id"],
    )
    assert gh.violations == []


def test_a_merged_pr_whose_branch_was_deleted_is_still_found(gh: GitHubStandIn) -> None:
    """headRefName survives the branch: merged, head gone."""
    sha = gh.push("acme/widgets", BRANCH)
    gh.add_pull("acme/widgets", f"acme:{BRANCH}", merged=True)
    gh.delete_branch("acme/widgets", BRANCH)
    lookup = Lookup("acme/widgets", "acme", BRANCH)
    [view] = read_answer(ask(gh, [lookup]).json(), [lookup]).views.values()
    assert isinstance(view, View) and view.head_sha is None
    assert [(p.merged, p.head_sha) for p in view.pulls] == [(True, sha)]


def test_a_missing_repository_is_null_with_not_found_and_the_rest_answers(
    gh: GitHubStandIn,
) -> None:
    """One alias null plus NOT_FOUND naming it; the others still answer."""
    gh.push("acme/widgets", BRANCH)
    body = ask(
        gh, [Lookup("acme/widgets", "acme", BRANCH), Lookup("acme/gone", "acme", BRANCH)]
    ).json()
    assert body["data"]["p0"] is not None and body["data"]["p1"] is None
    assert {(e["type"], e["path"][0]) for e in body["errors"]} == {
        ("NOT_FOUND", "p1"),
        ("NOT_FOUND", "h1"),
    }


def test_queries_are_priced_and_charged_to_the_graphql_bucket(gh: GitHubStandIn) -> None:
    """A hundred branches cost one point; rateLimit and the headers tell the same."""
    lookups = [Lookup("acme/widgets", "acme", f"foreman/wl/issue-{n}") for n in range(100)]
    body = ask(gh, lookups).json()
    rate = body["data"]["rateLimit"]
    assert rate["cost"] == 1 and rate["remaining"] == 4999 and rate["limit"] == 5000
    assert gh.graphql.used_points == 1
    rest = requests.get(gh.url + "/rate_limit", headers=HEADERS, timeout=10).json()
    assert rest["resources"]["graphql"]["remaining"] == 4999
    assert rest["resources"]["core"]["remaining"] == 5000


def test_a_spent_bucket_answers_rate_limited(gh: GitHubStandIn) -> None:
    """200 with RATE_LIMITED and remaining 0 once the points are spent."""
    gh.graphql.remaining = 0
    response = ask(gh, [Lookup("acme/widgets", "acme", BRANCH)])
    assert response.status_code == 200
    assert response.json()["errors"][0]["type"] == "RATE_LIMITED"
    assert response.headers["x-ratelimit-remaining"] == "0"


def test_an_invalid_query_is_refused_like_github_and_flagged(gh: GitHubStandIn) -> None:
    """A field GitHub does not have: 200 with errors, and a violation for the test."""
    body = post(gh, '{ repository(owner: "a", name: "b") { nope } }').json()
    assert "data" not in body and "nope" in body["errors"][0]["message"]
    assert gh.violations and "nope" in gh.violations[0]
    gh.violations.clear()


@pytest.mark.parametrize(
    ("size", "kind"), [(None, "MISSING_PAGINATION_BOUNDARIES"), (101, "EXCESSIVE_PAGINATION")]
)
def test_connections_need_a_page_size_of_at_most_100(
    gh: GitHubStandIn, size: int | None, kind: str
) -> None:
    """first is required on a connection and capped at 100."""
    first = "" if size is None else f"(first: {size})"
    pulls = f"pullRequests{first} {{ totalCount }}"
    query = f'{{ repository(owner: "acme", name: "widgets") {{ {pulls} }} }}'
    assert post(gh, query).json()["errors"][0]["type"] == kind


def test_a_query_over_the_timeout_knob_is_a_502(gh: GitHubStandIn) -> None:
    """More aliases than `timeout_over`: GitHub's gateway page, 502."""
    gh.graphql.timeout_over = 3
    lookups = [Lookup("acme/widgets", "acme", f"b{n}") for n in range(2)]
    response = ask(gh, lookups)  # 4 aliases and rateLimit
    assert response.status_code == 502 and "Bad Gateway" in response.text
    assert ask(gh, lookups[:1]).status_code == 200


def test_resource_limits_null_the_aliases_over_the_knob(gh: GitHubStandIn) -> None:
    """After `resource_limit` repositories, aliases are null with RESOURCE_LIMITS_EXCEEDED."""
    gh.graphql.resource_limit = 2
    lookups = [Lookup("acme/widgets", "acme", f"b{n}") for n in range(2)]
    body = ask(gh, lookups).json()
    assert body["data"]["p0"] is not None and body["data"]["h0"] is not None
    assert body["data"]["p1"] is None and body["data"]["h1"] is None
    assert {e["type"] for e in body["errors"]} == {"RESOURCE_LIMITS_EXCEEDED"}
    assert read_answer(body, lookups).retry == (1,)


def test_mark_ready_is_executed_against_the_state(gh: GitHubStandIn) -> None:
    """The mutation turns a stored draft ready; an unknown id is NOT_FOUND."""
    gh.push("acme/widgets", BRANCH)
    created = requests.post(
        gh.url + "/repos/acme/widgets/pulls",
        json={"title": "t", "head": BRANCH, "base": "main", "draft": True},
        headers=HEADERS,
        timeout=10,
    ).json()
    mutation = (
        "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id})"
        " { pullRequest { isDraft } } }"
    )
    done = post(gh, mutation, {"id": created["node_id"]}).json()
    assert done["data"]["markPullRequestReadyForReview"]["pullRequest"]["isDraft"] is False
    assert gh.pulls("acme/widgets")[0]["draft"] is False
    missing = post(gh, mutation, {"id": "PR_nope"}).json()
    assert missing["errors"][0]["type"] == "NOT_FOUND"


def test_enterprise_serves_graphql_at_api_graphql() -> None:
    """With the /api/v3 prefix, GraphQL lives at /api/graphql and nowhere under /api/v3."""
    with GitHubStandIn(prefix="/api/v3") as gh:
        gh.add_repo("acme/widgets")
        query, variables = build_query([Lookup("acme/widgets", "acme", BRANCH)])
        payload = {"query": query, "variables": variables}
        root = gh.url.removesuffix("/api/v3")
        good = requests.post(root + "/api/graphql", json=payload, headers=HEADERS, timeout=10)
        bad = requests.post(root + "/api/v3/graphql", json=payload, headers=HEADERS, timeout=10)
        assert good.status_code == 200 and "data" in good.json()
        assert bad.status_code == 404
