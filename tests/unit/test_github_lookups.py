"""The adapter's batched reads, pinned with `responses`: batching, halving, limits, fallback.

Every query the adapter sends is validated against GitHub's schema by `github_mock`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses

from sweeper.budget import Bucket
from sweeper.github import GitHub, GraphQLUnavailable, RateLimited
from sweeper.lookups import Lookup, Unanswered, View
from sweeper.outcomes import Reason
from sweeper.settings import Tunables
from tests.standins.github import skeleton

API = "https://api.github.com"
GRAPHQL = f"{API}/graphql"
SHA = "c" * 40
FAST = Tunables(read_retries=2, retry_backoff_s=0, max_rate_wait_s=120, secondary_wait_s=60)
RATE = {"cost": 1, "remaining": 4000, "limit": 5000, "resetAt": "2026-12-01T22:00:00Z", "used": 1}
HEADERS = {
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": "4000",
    "x-ratelimit-reset": "1796162400",
    "x-ratelimit-resource": "graphql",
}


class Slept:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def gh() -> GitHub:
    return GitHub(API, "ghs_x", FAST, write_interval_s=0, sleep=Slept(), clock=lambda: 1.7e9)


def lookups(count: int, owner: str = "acme") -> list[Lookup]:
    return [Lookup("acme/widgets", owner, f"foreman/wl/issue-{n}") for n in range(count)]


def indexes(body: dict[str, Any]) -> list[int]:
    return sorted(int(k[1:]) for k in body["variables"] if re.fullmatch(r"b[0-9]+", k))


def data_for(body: dict[str, Any], pulls: int = 0, more: bool = False) -> dict[str, Any]:
    """A GitHub-shaped answer for every alias of the query in `body`."""
    data: dict[str, Any] = {"rateLimit": RATE}
    for i in indexes(body):
        nodes = [
            {
                "id": f"PR_{i}_{n}",
                "number": 100 * i + n + 1,
                "url": f"https://github.com/acme/widgets/pull/{100 * i + n + 1}",
                "state": "MERGED",
                "merged": True,
                "isDraft": False,
                "headRefOid": SHA,
                "body": "",
                "headRepositoryOwner": {"login": "acme"},
            }
            for n in range(pulls)
        ]
        data[f"p{i}"] = {
            "defaultBranchRef": {"name": "main"},
            "pullRequests": {"pageInfo": {"hasNextPage": more}, "nodes": nodes},
        }
        data[f"h{i}"] = {"ref": {"target": {"oid": SHA, "message": f"Fix {i}"}}}
    return data


Reply = tuple[int, dict[str, str], str]


def graphql(mock: responses.RequestsMock, reply: Callable[[dict[str, Any]], Reply]) -> list[int]:
    """Answers every query with `reply(body)`; returns the batch sizes asked, in order."""
    sizes: list[int] = []

    def callback(request: requests.PreparedRequest) -> Reply:
        body = json.loads(request.body or b"{}")
        sizes.append(len(indexes(body)))
        return reply(body)

    mock.add_callback(responses.POST, GRAPHQL, callback=callback)
    return sizes


def ok(body: dict[str, Any]) -> Reply:
    return 200, HEADERS, json.dumps({"data": data_for(body)})


def test_one_query_answers_every_branch(gh: GitHub, github_mock: responses.RequestsMock) -> None:
    """A hundred branches: one POST /graphql, one view each, the points counted."""
    sizes = graphql(github_mock, ok)
    got = gh.lookup(lookups(100))
    assert sizes == [100]
    assert all(isinstance(v, View) and v.head_sha == SHA for v in got.values())
    assert gh.calls == {"graphql": 1, "graphql_points": 1}


def test_a_gateway_timeout_halves_the_batch(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """502 on a query of four: two queries of two, then every branch answered."""

    def reply(body: dict[str, Any]) -> Reply:
        if len(indexes(body)) > 2:
            return 502, {"content-type": "text/html"}, "<html>502 Bad Gateway</html>"
        return ok(body)

    sizes = graphql(github_mock, reply)
    got = gh.lookup(lookups(4))
    assert sizes == [4, 2, 2]
    assert len(got) == 4 and all(isinstance(v, View) for v in got.values())


def test_a_branch_that_times_out_even_alone_is_unanswered(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """Halving stops at one branch: it fails alone, the others answer."""

    def reply(body: dict[str, Any]) -> Reply:
        if "foreman/wl/issue-1" in body["variables"].values():
            return 504, {}, json.dumps({"message": "We couldn't respond in time"})
        return ok(body)

    graphql(github_mock, reply)
    got = gh.lookup(lookups(2))
    values = list(got.values())
    assert isinstance(values[0], View)
    assert isinstance(values[1], Unanswered) and "even alone" in values[1].message


def test_a_read_timeout_halves_too(gh: GitHub, github_mock: responses.RequestsMock) -> None:
    """The client's own timeout on a big query: smaller batches."""
    sizes: list[int] = []

    def callback(request: requests.PreparedRequest) -> Reply:
        body = json.loads(request.body or b"{}")
        sizes.append(len(indexes(body)))
        if len(indexes(body)) > 1:
            raise requests.ReadTimeout("slow")
        return ok(body)

    github_mock.add_callback(responses.POST, GRAPHQL, callback=callback)
    got = gh.lookup(lookups(2))
    assert sizes == [2, 1, 1] and all(isinstance(v, View) for v in got.values())


def test_a_500_is_retried_as_it_is(gh: GitHub, github_mock: responses.RequestsMock) -> None:
    """A query changes nothing: a 500 is asked again, same batch, a bounded number of times."""
    answers = iter([500, 500, 200])

    def reply(body: dict[str, Any]) -> Reply:
        status = next(answers)
        return ok(body) if status == 200 else (status, {}, json.dumps({"message": "boom"}))

    sizes = graphql(github_mock, reply)
    got = gh.lookup(lookups(3))
    assert sizes == [3, 3, 3] and all(isinstance(v, View) for v in got.values())


def test_persistent_500s_fail_the_batch_not_the_run(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """After its retries, every branch of the batch is Unanswered; nothing raises."""
    sizes = graphql(github_mock, lambda body: (503, {}, json.dumps({"message": "down"})))
    got = gh.lookup(lookups(3))
    assert sizes == [3, 3, 3]
    assert all(isinstance(v, Unanswered) for v in got.values())


def test_rate_limited_stops_and_the_bucket_stays_shut(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """RATE_LIMITED in a 200 raises; the next query is not even sent."""
    limited = {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]}
    headers = {**HEADERS, "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1900000000"}
    sizes = graphql(github_mock, lambda body: (200, headers, json.dumps(limited)))
    with pytest.raises(RateLimited):
        gh.lookup(lookups(2))
    with pytest.raises(RateLimited):
        gh.lookup(lookups(2))
    assert sizes == [2]


@pytest.mark.parametrize("status", [403, 404])
def test_graphql_refused_to_the_token_is_unavailable(
    gh: GitHub, github_mock: responses.RequestsMock, status: int
) -> None:
    """403/404 on the endpoint: GraphQLUnavailable, so the caller reads by REST."""
    graphql(github_mock, lambda body: (status, {}, json.dumps({"message": "no"})))
    with pytest.raises(GraphQLUnavailable):
        gh.lookup(lookups(1))


def test_a_refused_token_fails_every_branch_and_is_asked_nothing_more(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """401 on the endpoint is bad credentials, not "no GraphQL": no REST fallback, no retry."""
    bad = {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
    sizes = graphql(github_mock, lambda body: (401, {}, json.dumps(bad)))
    first = gh.lookup(lookups(2))
    later = gh.lookup(lookups(3, owner="other"))
    assert sizes == [2] and len(github_mock.calls) == 1
    views = [*first.values(), *later.values()]
    assert len(views) == 5 and all(isinstance(v, Unanswered) for v in views)
    assert {v.reason for v in views if isinstance(v, Unanswered)} == {Reason.BAD_CREDENTIALS}
    assert {v.message for v in views if isinstance(v, Unanswered)} == {
        "POST /graphql: Bad credentials: GitHub refused the token (expired or revoked); "
        "this run asks GitHub nothing more with it"
    }


GAVE_UP = (
    "Something went wrong while executing your query. This may be the result of a timeout, "
    "or it could be a GitHub bug. Please include `C0A1:3F2B:1D4E5:2A6B7C:674E2B1A` when "
    "reporting this issue."
)


def gave_up(body: dict[str, Any]) -> Reply:
    return 200, HEADERS, json.dumps({"data": None, "errors": [{"message": GAVE_UP}]})


def test_githubs_typeless_error_halves_the_batch_like_a_502(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """200, data null, a typeless "Something went wrong": halves, then every branch answers."""
    sizes = graphql(github_mock, lambda body: gave_up(body) if len(indexes(body)) > 2 else ok(body))
    got = gh.lookup(lookups(4))
    assert sizes == [4, 2, 2]
    assert len(got) == 4 and all(isinstance(v, View) for v in got.values())


def test_githubs_typeless_error_even_alone_fails_that_branch_only(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """Down to one branch, then Unanswered (github-error) with GitHub's words; not all 100."""

    def reply(body: dict[str, Any]) -> Reply:
        return gave_up(body) if "foreman/wl/issue-2" in body["variables"].values() else ok(body)

    sizes = graphql(github_mock, reply)
    got = gh.lookup(lookups(4))
    assert sizes == [4, 2, 2, 1, 1]
    failed = got[lookups(4)[2]]
    assert isinstance(failed, Unanswered) and failed.reason is Reason.GITHUB_ERROR
    assert failed.message.startswith("GraphQL: Something went wrong") and "even alone" in (
        failed.message
    )
    assert sum(isinstance(v, View) for v in got.values()) == 3


def test_forbidden_for_the_whole_query_is_unavailable(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """FORBIDDEN without data: GraphQLUnavailable."""
    forbidden = {"errors": [{"type": "FORBIDDEN", "message": "Resource not accessible"}]}
    graphql(github_mock, lambda body: (200, HEADERS, json.dumps(forbidden)))
    with pytest.raises(GraphQLUnavailable):
        gh.lookup(lookups(1))


def test_a_secondary_limit_on_a_query_is_a_rate_limit(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """403 "secondary rate limit": waited once, then RateLimited, never 'unavailable'."""
    message = {"message": "You have exceeded a secondary rate limit."}
    sizes = graphql(github_mock, lambda body: (403, {"retry-after": "5"}, json.dumps(message)))
    with pytest.raises(RateLimited):
        gh.lookup(lookups(1))
    assert sizes == [1, 1]


def test_resource_limits_on_some_aliases_ask_for_those_again(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """RESOURCE_LIMITS_EXCEEDED on two of four aliases: those two are asked again."""

    def reply(body: dict[str, Any]) -> Reply:
        data = data_for(body)
        errors = []
        if len(indexes(body)) == 4:
            for i in (2, 3):
                data[f"p{i}"] = None
                errors.append(
                    {"type": "RESOURCE_LIMITS_EXCEEDED", "path": [f"p{i}"], "message": "limits"}
                )
        return (
            200,
            HEADERS,
            json.dumps({"data": data, "errors": errors} if errors else {"data": data}),
        )

    sizes = graphql(github_mock, reply)
    got = gh.lookup(lookups(4))
    assert sizes == [4, 2]
    assert all(isinstance(v, View) for v in got.values())


def test_more_prs_than_a_page_are_read_by_rest(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """hasNextPage: REST lists the PRs for OWNER:branch, filtered by GitHub."""
    graphql(github_mock, lambda body: (200, HEADERS, json.dumps({"data": data_for(body, 1, True)})))
    listed = skeleton("pull-request-simple")
    listed.update(number=42, state="open", html_url="https://github.com/acme/widgets/pull/42")
    listed["head"].update(ref="foreman/wl/issue-0", sha=SHA, label="acme:foreman/wl/issue-0")
    github_mock.get(f"{API}/repos/acme/widgets/pulls", json=[listed])
    [view] = gh.lookup(lookups(1)).values()
    assert isinstance(view, View) and [p.number for p in view.pulls] == [42]
    assert view.pulls_complete


def test_enterprise_queries_go_to_api_graphql(github_mock: responses.RequestsMock) -> None:
    """GHES: https://HOST/api/graphql beside /api/v3."""
    github = GitHub("https://ghe.example/api/v3", "t", FAST, write_interval_s=0)
    github_mock.add_callback(
        responses.POST,
        "https://ghe.example/api/graphql",
        callback=lambda r: ok(json.loads(r.body or b"{}")),
    )
    assert all(isinstance(v, View) for v in github.lookup(lookups(2)).values())


def test_rest_lookup_reads_the_head_and_the_prs(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """The fallback view: one matching-refs listing per repository, one PR list per head."""
    ref = {
        "ref": "refs/heads/foreman/wl/issue-0",
        "node_id": "R",
        "url": f"{API}/r",
        "object": {"type": "commit", "sha": SHA, "url": f"{API}/c"},
    }
    github_mock.get(f"{API}/repos/acme/widgets/git/matching-refs/heads%2Fforeman%2F", json=[ref])
    github_mock.get(f"{API}/repos/acme/widgets/pulls", json=[])
    view = gh.lookup_rest(lookups(1)[0])
    assert view == View(SHA, ())


# ---------------------------------------------------------------- the rate reserve


def reserved(clock: list[float], reserve: str = "20%") -> GitHub:
    from sweeper.settings import parse_reserve

    return GitHub(
        API,
        "ghs_x",
        FAST,
        write_interval_s=0,
        sleep=Slept(),
        clock=lambda: clock[0],
        reserve=parse_reserve(reserve),
    )


def rate_limit_body(core: int, graphql: int, reset: int = 1_900_000_000) -> dict[str, Any]:
    body = skeleton("rate-limit-overview")
    core_bucket = {"limit": 5000, "remaining": core, "reset": reset, "used": 5000 - core}
    gql = {"limit": 5000, "remaining": graphql, "reset": reset, "used": 5000 - graphql}
    body["rate"] = core_bucket
    body["resources"] = {"core": core_bucket, "graphql": gql, "search": core_bucket}
    return body


def test_the_token_check_tells_every_bucket_and_the_reserve_holds_before_any_call(
    github_mock: responses.RequestsMock,
) -> None:
    """/rate_limit seeds both buckets: at the reserve, not one REST call is sent."""
    from sweeper.github import ReserveReached

    github = reserved([1.8e9])
    github_mock.get(f"{API}/rate_limit", json=rate_limit_body(core=1000, graphql=4000))
    github.check_token()
    with pytest.raises(ReserveReached) as caught:
        github.default_branch("acme/widgets")
    assert caught.value.bucket == Bucket("core") and caught.value.reason == "rate-reserve"
    assert "1000 of 5000 left, reserve 1000" in str(caught.value)
    assert len(github_mock.calls) == 1
    assert github.rate_report()["core"]["remaining"] == 1000


def test_rest_calls_stop_at_the_reserve_as_the_headers_count_down(
    github_mock: responses.RequestsMock,
) -> None:
    """Each answer's x-ratelimit-remaining is the truth; the call that would cross waits."""
    from sweeper.github import ReserveReached

    github = reserved([1.8e9], reserve="1000")
    for left in (1002, 1001, 1000):
        headers = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(left),
            "x-ratelimit-reset": "1900000000",
            "x-ratelimit-resource": "core",
        }
        github_mock.get(
            f"{API}/repos/acme/r{left}",
            json=skeleton("full-repository") | {"default_branch": "main"},
            headers=headers,
        )
    github.default_branch("acme/r1002")
    github.default_branch("acme/r1001")
    github.default_branch("acme/r1000")  # allowed: 1001 - 1 is not below 1000
    with pytest.raises(ReserveReached):
        github.default_branch("acme/other")
    assert github.used[Bucket("core")] == 3


def test_a_bucket_past_its_reset_counts_as_refilled(github_mock: responses.RequestsMock) -> None:
    """Once the reset time has passed, the reserve no longer holds the bucket."""
    clock = [1.8e9]
    github = reserved(clock)
    github_mock.get(f"{API}/rate_limit", json=rate_limit_body(1000, 4000, reset=1_800_000_100))
    github_mock.get(
        f"{API}/repos/acme/widgets", json=skeleton("full-repository") | {"default_branch": "main"}
    )
    github.check_token()
    clock[0] = 1_800_000_101
    assert github.default_branch("acme/widgets") == "main"


def test_the_graphql_reserve_uses_the_answers_own_rate_limit(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """rateLimit in the answer updates the graphql bucket; the next query respects it."""
    from sweeper.github import ReserveReached

    github = reserved([1.7e9])
    low = {**RATE, "remaining": 1000}
    graphql(
        github_mock,
        lambda body: (200, HEADERS, json.dumps({"data": {**data_for(body), "rateLimit": low}})),
    )
    github.lookup(lookups(3))
    with pytest.raises(ReserveReached) as caught:
        github.lookup(lookups(3))
    assert caught.value.bucket == Bucket("graphql")
    assert github.rate_report()["graphql"] == {
        "used": 1,
        "remaining": 1000,
        "limit": 5000,
        "resets_at": "2026-12-01T22:00:00Z",
    }


def test_a_withdrawal_is_never_held_back_by_the_reserve(
    github_mock: responses.RequestsMock,
) -> None:
    """Closing a PR at unreviewed code is safety, not work: it goes through at the reserve."""
    github = reserved([1.8e9])
    github_mock.get(f"{API}/rate_limit", json=rate_limit_body(core=1000, graphql=4000))
    closed = skeleton("pull-request")
    closed.update(number=3, state="closed", html_url="https://github.com/acme/widgets/pull/3")
    github_mock.patch(
        f"{API}/repos/acme/widgets/pulls/3",
        match=[responses.matchers.json_params_matcher({"state": "closed", "body": "why"})],
        json=closed,
    )
    github.check_token()
    assert github.close_pull("acme/widgets", 3, "why").state == "closed"
