"""The GitHub adapter, pinned with `responses`: method, URL, query, body, and error mapping.

Every exchange is also checked against GitHub's official OpenAPI description by the
`github_mock` fixture, so canned responses are shaped like GitHub's real ones.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from sweeper.budget import ALL, Bucket
from sweeper.github import (
    GitHub,
    GitHubError,
    GitHubNotFound,
    PermissionDenied,
    RateLimited,
    Rejection,
    RepoUnreachable,
    Transient,
    Unauthorized,
    ValidationFailed,
)
from sweeper.outcomes import Reason
from sweeper.settings import Tunables
from tests.standins.github import skeleton

API = "https://api.github.com"
TOKEN = "ghs_supersecret"
SHA = "a" * 40
BRANCH = "foreman/wl/issue-1"
FAST = Tunables(read_retries=2, retry_backoff_s=0, max_rate_wait_s=120, secondary_wait_s=60)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gh(clock: Clock) -> GitHub:
    return GitHub(API, TOKEN, FAST, write_interval_s=1.0, sleep=clock.sleep, clock=clock.time)


def pull(
    number: int, state: str = "open", merged: bool = False, full: bool = False
) -> dict[str, Any]:
    out = skeleton("pull-request" if full else "pull-request-simple")
    out.update(
        number=number,
        state=state,
        html_url=f"https://github.com/acme/widgets/pull/{number}",
        merged_at="2026-11-02T00:00:00Z" if merged else None,
        title="t",
    )
    out["head"].update(ref=BRANCH, sha=SHA, label=f"acme:{BRANCH}")
    return out


def ref(branch: str, sha: str = SHA) -> dict[str, Any]:
    return {
        "ref": f"refs/heads/{branch}",
        "node_id": "R",
        "url": f"{API}/r",
        "object": {"type": "commit", "sha": sha, "url": f"{API}/c"},
    }


def invalid(*errors: dict[str, Any], message: str = "Validation Failed") -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "documentation_url": "https://docs.github.com"}
    if errors:
        body["errors"] = list(errors)
    return body


def test_token_check_uses_rate_limit_with_the_pinned_headers(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """GET /rate_limit, which works for every token kind and costs no quota."""
    github_mock.get(f"{API}/rate_limit", json=skeleton("rate-limit-overview"))
    gh.check_token()
    sent = github_mock.calls[0].request.headers
    assert sent["Authorization"] == f"Bearer {TOKEN}"
    assert sent["X-GitHub-Api-Version"] == "2022-11-28"
    assert sent["Accept"] == "application/vnd.github+json"
    assert sent["User-Agent"].startswith("foreman-pr-sweeper/")


def test_pulls_for_head_filters_by_owner_and_branch_and_follows_links(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """state=all and an owner-qualified head; the Link header's next page is followed."""
    page2 = f"{API}/repos/acme/widgets/pulls?state=all&head=acme%3A{BRANCH}&per_page=100&page=2"
    github_mock.get(
        f"{API}/repos/acme/widgets/pulls",
        match=[
            matchers.query_param_matcher(
                {"state": "all", "head": f"acme:{BRANCH}", "per_page": "100"}
            )
        ],
        json=[pull(3, "closed", merged=True)],
        headers={"Link": f'<{page2}>; rel="next"'},
    )
    github_mock.get(
        f"{API}/repos/acme/widgets/pulls",
        match=[
            matchers.query_param_matcher(
                {"state": "all", "head": f"acme:{BRANCH}", "per_page": "100", "page": "2"}
            )
        ],
        json=[pull(1, "closed")],
    )
    got = gh.pulls_for_head("acme/widgets", f"acme:{BRANCH}")
    assert [(p.number, p.state, p.merged) for p in got] == [
        (3, "closed", True),
        (1, "closed", False),
    ]


def test_pagination_never_follows_a_link_to_another_host(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """The token is not sent wherever a Link header points."""
    github_mock.get(
        f"{API}/repos/acme/widgets/pulls",
        json=[],
        headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'},
    )
    with pytest.raises(GitHubError, match="another host"):
        gh.pulls_for_head("acme/widgets", f"acme:{BRANCH}")


def test_branch_heads_come_from_one_listing_per_repo_and_prefix(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """matching-refs with the prefix %2F-encoded, once per repository, then served from memory."""
    github_mock.get(
        f"{API}/repos/acme/widgets/git/matching-refs/heads%2Fforeman%2F",
        json=[ref(BRANCH), ref("foreman/wl/issue-2", "b" * 40)],
    )
    assert gh.branch_head("acme/widgets", BRANCH) == SHA
    assert gh.branch_head("acme/widgets", "foreman/wl/issue-2") == "b" * 40
    assert gh.branch_head("acme/widgets", "foreman/wl/issue-3") is None
    assert len(github_mock.calls) == 1


def test_branch_without_a_slash_is_looked_up_alone(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """A branch outside any folder is one git/ref call; 404 in a repository that is there
    means missing."""
    github_mock.get(f"{API}/repos/acme/widgets/git/ref/heads%2Ffix-1", json=ref("fix-1"))
    github_mock.get(f"{API}/repos/acme/widgets/git/ref/heads%2Fgone", status=404, json=NOT_FOUND)
    repo = skeleton("full-repository") | {"default_branch": "main", "full_name": "acme/widgets"}
    github_mock.get(f"{API}/repos/acme/widgets", json=repo)
    assert gh.branch_head("acme/widgets", "fix-1") == SHA
    assert gh.branch_head("acme/widgets", "gone") is None


NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com"}
EMPTY = {"message": "Git Repository is empty.", "documentation_url": "https://docs.github.com"}
REFS = f"{API}/repos/acme-fork/widgets/git/matching-refs/heads%2Fforeman%2F"
REF = f"{API}/repos/acme-fork/widgets/git/ref/heads%2Ffix-1"
REPO = f"{API}/repos/acme-fork/widgets"


@pytest.mark.parametrize(
    ("branch", "answers", "expected"),
    [
        pytest.param(BRANCH, [(REFS, 404, NOT_FOUND)], RepoUnreachable, id="refs-404"),
        pytest.param(BRANCH, [(REFS, 409, EMPTY)], None, id="refs-409-empty"),
        pytest.param(
            "fix-1", [(REF, 404, NOT_FOUND), (REPO, 404, NOT_FOUND)], RepoUnreachable, id="ref-404"
        ),
        pytest.param("fix-1", [(REF, 409, EMPTY)], None, id="ref-409-empty"),
    ],
)
def test_a_missing_repository_is_not_a_missing_branch(
    gh: GitHub,
    github_mock: responses.RequestsMock,
    branch: str,
    answers: list[tuple[str, int, dict[str, str]]],
    expected: type[Exception] | None,
) -> None:
    """404 where the repository itself is gone raises RepoUnreachable; an empty one has none."""
    for url, status, body in answers:
        github_mock.get(url, status=status, json=body)
    if expected is None:
        assert gh.branch_head("acme-fork/widgets", branch) is None
        return
    with pytest.raises(RepoUnreachable) as caught:
        gh.branch_head("acme-fork/widgets", branch)
    assert str(caught.value) == (
        "acme-fork/widgets: repository not found or not visible to the token"
    )
    assert caught.value.reason is Reason.REPO_UNREACHABLE


def test_the_prs_of_a_missing_repository_are_unreachable(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """A 404 on a PR listing: the base repository is not there for the token."""
    github_mock.get(f"{API}/repos/acme/gone/pulls", status=404, json=NOT_FOUND)
    with pytest.raises(RepoUnreachable, match="acme/gone: repository not found"):
        gh.pulls_for_head("acme/gone", f"acme:{BRANCH}")


def test_a_refused_token_is_asked_nothing_more(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """401 once: Unauthorized (bad-credentials), and later calls fail alike without a request."""
    bad = {"message": "Bad credentials", "documentation_url": "https://docs.github.com"}
    github_mock.get(f"{API}/repos/acme/widgets", status=401, json=bad)
    with pytest.raises(Unauthorized) as first:
        gh.default_branch("acme/widgets")
    assert "GitHub refused the token (expired or revoked)" in str(first.value)
    assert first.value.reason is Reason.BAD_CREDENTIALS
    with pytest.raises(Unauthorized) as later:
        gh.create_pull("acme/other", f"acme:{BRANCH}", "main", "t", "b")
    assert str(later.value) == str(first.value)
    assert len(github_mock.calls) == 1


def test_default_branch_is_read_once(gh: GitHub, github_mock: responses.RequestsMock) -> None:
    """GET /repos/{o}/{r} once per repository per run."""
    repo = skeleton("full-repository") | {"default_branch": "trunk", "full_name": "acme/widgets"}
    github_mock.get(f"{API}/repos/acme/widgets", json=repo)
    assert gh.default_branch("acme/widgets") == gh.default_branch("acme/widgets") == "trunk"
    assert len(github_mock.calls) == 1


def test_commit_message(gh: GitHub, github_mock: responses.RequestsMock) -> None:
    """The head commit's full message, for the title."""
    commit = skeleton("commit") | {"sha": SHA}
    commit["commit"]["message"] = "Add the widget\n\nbody"
    github_mock.get(f"{API}/repos/acme/widgets/commits/{SHA}", json=commit)
    assert gh.commit_message("acme/widgets", SHA) == "Add the widget\n\nbody"


def test_create_pull_sends_exactly_the_documented_body(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """POST /pulls with head, base, title, body and nothing else; 201 parses to a Pull."""
    body = {"title": "Add widget", "head": f"acme:{BRANCH}", "base": "main", "body": "text"}
    github_mock.post(
        f"{API}/repos/acme/widgets/pulls",
        status=201,
        json=pull(7, full=True),
        match=[matchers.json_params_matcher(body)],
    )
    created = gh.create_pull("acme/widgets", f"acme:{BRANCH}", "main", "Add widget", "text")
    assert (created.number, created.state, created.head_sha) == (7, "open", SHA)


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        pytest.param(
            invalid(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for acme:{BRANCH}.",
                }
            ),
            Rejection.ALREADY_EXISTS,
            id="already-exists",
        ),
        pytest.param(
            invalid(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between main and {BRANCH}",
                }
            ),
            Rejection.NO_COMMITS,
            id="no-commits",
        ),
        pytest.param(
            invalid({"resource": "PullRequest", "field": "head", "code": "invalid"}),
            Rejection.INVALID_HEAD,
            id="invalid-head",
        ),
        pytest.param(
            invalid({"resource": "PullRequest", "field": "base", "code": "invalid"}),
            Rejection.OTHER,  # nothing reads it otherwise: the branch fails, its detail says
            id="invalid-base",
        ),
        pytest.param(
            invalid(message="Draft pull requests are not supported in this repository."),
            Rejection.DRAFTS_UNSUPPORTED,
            id="drafts",
        ),
        pytest.param(
            invalid({"resource": "PullRequest", "code": "missing_field", "field": "title"}),
            Rejection.OTHER,
            id="other",
        ),
    ],
)
def test_create_422_shapes(
    gh: GitHub, github_mock: responses.RequestsMock, payload: dict[str, Any], kind: Rejection
) -> None:
    """Each documented 422 becomes one named rejection."""
    github_mock.post(f"{API}/repos/acme/widgets/pulls", status=422, json=payload)
    with pytest.raises(ValidationFailed) as caught:
        gh.create_pull("acme/widgets", f"acme:{BRANCH}", "main", "t", "b")
    assert caught.value.kind is kind
    if payload.get("errors", [{}])[0].get("field") == "base":
        assert str(caught.value).endswith("base is invalid")


def test_reads_are_retried_on_5xx(gh: GitHub, github_mock: responses.RequestsMock) -> None:
    """A 502 on a read is retried by the transport and succeeds."""
    url = f"{API}/repos/acme/widgets/pulls"
    github_mock.get(url, status=502, json={"message": "Bad Gateway"})
    github_mock.get(url, json=[])
    assert gh.pulls_for_head("acme/widgets", f"acme:{BRANCH}") == []
    assert len(github_mock.calls) == 2


def test_a_failed_create_is_never_retried(gh: GitHub, github_mock: responses.RequestsMock) -> None:
    """A 502 on POST is reported as Transient after exactly one attempt."""
    github_mock.post(f"{API}/repos/acme/widgets/pulls", status=502, json={"message": "Bad Gateway"})
    with pytest.raises(Transient):
        gh.create_pull("acme/widgets", f"acme:{BRANCH}", "main", "t", "b")
    assert len(github_mock.calls) == 1


def test_a_lost_connection_on_create_is_transient(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """A reset connection on POST: outcome unknown, so Transient (the caller re-checks by head)."""
    github_mock.post(f"{API}/repos/acme/widgets/pulls", body=requests.ConnectionError("reset"))
    with pytest.raises(Transient):
        gh.create_pull("acme/widgets", f"acme:{BRANCH}", "main", "t", "b")


def test_writes_do_not_follow_redirects(gh: GitHub, github_mock: responses.RequestsMock) -> None:
    """requests would turn a redirected POST into a GET; the adapter refuses instead."""
    github_mock.post(
        f"{API}/repos/acme/widgets/pulls",
        status=307,
        headers={"Location": f"{API}/repos/acme/moved/pulls"},
    )
    with pytest.raises(GitHubError):
        gh.create_pull("acme/widgets", f"acme:{BRANCH}", "main", "t", "b")
    assert len(github_mock.calls) == 1


def test_writes_are_paced(gh: GitHub, clock: Clock, github_mock: responses.RequestsMock) -> None:
    """At least --write-interval between mutating requests."""
    github_mock.post(f"{API}/repos/acme/widgets/pulls", status=201, json=pull(1, full=True))
    gh.create_pull("acme/widgets", f"acme:{BRANCH}", "main", "t", "b")
    gh.create_pull("acme/widgets", f"acme:{BRANCH}", "main", "t", "b")
    assert clock.slept == [1.0]


@pytest.mark.parametrize(
    ("status", "payload", "headers", "error"),
    [
        pytest.param(401, {"message": "Bad credentials"}, {}, Unauthorized, id="401"),
        pytest.param(
            403,
            {"message": "Resource not accessible by integration"},
            {},
            PermissionDenied,
            id="permission",
        ),
        pytest.param(404, {"message": "Not Found"}, {}, GitHubNotFound, id="404"),
    ],
)
def test_error_mapping(
    gh: GitHub,
    github_mock: responses.RequestsMock,
    status: int,
    payload: dict[str, Any],
    headers: dict[str, str],
    error: type[GitHubError],
) -> None:
    """HTTP errors become typed errors; a permission 403 is not mistaken for a rate limit."""
    github_mock.get(f"{API}/repos/acme/widgets", status=status, json=payload, headers=headers)
    with pytest.raises(error):
        gh.default_branch("acme/widgets")


def test_secondary_limit_is_honoured_once_then_stops(
    gh: GitHub, clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """retry-after is waited out once; a second hit in the run raises RateLimited."""
    limited = {"message": "You have exceeded a secondary rate limit."}
    url = f"{API}/repos/acme/widgets/pulls"
    github_mock.post(url, status=403, json=limited, headers={"retry-after": "30"})
    github_mock.post(url, status=201, json=pull(1, full=True))
    gh.create_pull("acme/widgets", f"acme:{BRANCH}", "main", "t", "b")
    assert 30 in clock.slept
    github_mock.post(url, status=429, json=limited, headers={"retry-after": "30"})
    with pytest.raises(RateLimited) as caught:
        gh.create_pull("acme/widgets", f"acme:{BRANCH}", "main", "t", "b")
    assert caught.value.bucket == Bucket(ALL)  # a secondary limit stops every bucket


def test_primary_limit_waits_for_a_near_reset(
    gh: GitHub, clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """remaining 0 with a reset within the cap: wait, then go on."""
    url = f"{API}/repos/acme/widgets/pulls"
    reset = str(int(clock.now) + 50)
    github_mock.get(
        url,
        status=403,
        json={"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
    )
    github_mock.get(url, json=[])
    assert gh.pulls_for_head("acme/widgets", f"acme:{BRANCH}") == []
    assert clock.slept and 49 <= clock.slept[0] <= 52


def test_primary_limit_with_a_far_reset_stops(
    gh: GitHub, clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """remaining 0 for an hour: stop with RateLimited rather than hang the job."""
    github_mock.get(
        f"{API}/repos/acme/widgets/pulls",
        status=429,
        json={"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(clock.now) + 3600)},
    )
    with pytest.raises(RateLimited) as caught:
        gh.pulls_for_head("acme/widgets", f"acme:{BRANCH}")
    assert caught.value.bucket == Bucket("core")  # a primary limit: that bucket only


def test_enterprise_base_url(clock: Clock, github_mock: responses.RequestsMock) -> None:
    """GitHub Enterprise Server's https://HOST/api/v3 root is used as is."""
    ghe = GitHub("https://ghe.example/api/v3", TOKEN, FAST, 0, clock.sleep, clock.time)
    github_mock.get("https://ghe.example/api/v3/rate_limit", json=skeleton("rate-limit-overview"))
    ghe.check_token()


@pytest.mark.parametrize("status", [401, 403, 404, 422, 500])
def test_no_error_message_contains_the_token(
    gh: GitHub, github_mock: responses.RequestsMock, status: int
) -> None:
    """Whatever fails, the exception text never carries the token."""
    github_mock.get(f"{API}/repos/acme/widgets", status=status, json={"message": "nope"})
    with pytest.raises(GitHubError) as caught:
        gh.default_branch("acme/widgets")
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    assert all(TOKEN not in str(c.request.url) for c in github_mock.calls)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_timeouts_are_transient_and_bounded(
    gh: GitHub, github_mock: responses.RequestsMock, method: str
) -> None:
    """A timeout is Transient (a POST's outcome unknown), and every request carries a timeout."""
    url = f"{API}/repos/acme/widgets/pulls"
    github_mock.add(method, url, body=requests.ReadTimeout("slow"))
    with pytest.raises(Transient):
        if method == "GET":
            gh.pulls_for_head("acme/widgets", f"acme:{BRANCH}")
        else:
            gh.create_pull("acme/widgets", f"acme:{BRANCH}", "main", "t", "b")
    assert all(c.request.req_kwargs.get("timeout") for c in github_mock.calls)


# ---------------------------------------------------------------- drafts, refresh, notify

READY_MUTATION = "markPullRequestReadyForReview"


def test_create_draft_adds_only_the_draft_flag(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    body = {"title": "t", "head": f"acme:{BRANCH}", "base": "main", "body": "b", "draft": True}
    answer = pull(8, full=True)
    answer["draft"] = True
    github_mock.post(
        f"{API}/repos/acme/widgets/pulls",
        status=201,
        json=answer,
        match=[matchers.json_params_matcher(body)],
    )
    created = gh.create_pull("acme/widgets", f"acme:{BRANCH}", "main", "t", "b", draft=True)
    assert created.draft


def test_listed_pulls_carry_draft_body_and_node_id(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """The list already has what a refresh needs: no extra read per PR."""
    item = pull(4)
    item.update(draft=True, body="the body", node_id="PR_kwDOAB")
    github_mock.get(f"{API}/repos/acme/widgets/pulls", json=[item])
    (found,) = gh.pulls_for_head("acme/widgets", f"acme:{BRANCH}")
    assert (found.draft, found.body, found.node_id) == (True, "the body", "PR_kwDOAB")


def test_update_body_patches_only_the_body(gh: GitHub, github_mock: responses.RequestsMock) -> None:
    github_mock.patch(
        f"{API}/repos/acme/widgets/pulls/4",
        json=pull(4, full=True),
        match=[matchers.json_params_matcher({"body": "new"})],
    )
    assert gh.update_body("acme/widgets", 4, "new").number == 4


@pytest.mark.parametrize(
    ("api", "endpoint"),
    [
        pytest.param(API, f"{API}/graphql", id="github.com"),
        pytest.param(
            "https://ghe.example/api/v3", "https://ghe.example/api/graphql", id="enterprise"
        ),
    ],
)
def test_mark_ready_is_a_graphql_mutation(
    clock: Clock, github_mock: responses.RequestsMock, api: str, endpoint: str
) -> None:
    """REST cannot un-draft a PR; GraphQL's markPullRequestReadyForReview can."""
    client = GitHub(api, TOKEN, FAST, 0, clock.sleep, clock.time)
    call = github_mock.post(
        endpoint,
        json={"data": {READY_MUTATION: {"pullRequest": {"isDraft": False}}}},
    )
    client.mark_ready("PR_kwDOAB", "acme/widgets")
    sent = call.calls[0].request
    payload = json.loads(sent.body)
    assert READY_MUTATION in payload["query"] and payload["variables"] == {"id": "PR_kwDOAB"}
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        pytest.param(
            {
                "type": "NOT_FOUND",
                "message": "Could not resolve to a node with the global id of 'x'",
            },
            ValidationFailed,
            id="unresolved",
        ),
        pytest.param(
            {"type": "RATE_LIMITED", "message": "API rate limit exceeded"}, RateLimited, id="rate"
        ),
        pytest.param(
            {"type": "FORBIDDEN", "message": "Resource not accessible by integration"},
            PermissionDenied,
            id="forbidden",
        ),
        pytest.param({"message": "Something else"}, GitHubError, id="other"),
    ],
)
def test_graphql_errors_in_a_200_are_errors(
    gh: GitHub, github_mock: responses.RequestsMock, error: dict, raised: type
) -> None:
    github_mock.post(f"{API}/graphql", json={"data": {READY_MUTATION: None}, "errors": [error]})
    with pytest.raises(raised) as caught:
        gh.mark_ready("PR_x", "acme/widgets")
    assert "GraphQL" in str(caught.value)


def test_request_reviewers_and_labels_send_documented_bodies(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    github_mock.post(
        f"{API}/repos/acme/widgets/pulls/4/requested_reviewers",
        status=201,
        json=pull(4),
        match=[matchers.json_params_matcher({"reviewers": ["alice"], "team_reviewers": ["core"]})],
    )
    label = {
        "id": 1,
        "node_id": "L",
        "url": f"{API}/repos/acme/widgets/labels/swept",
        "name": "swept",
        "description": None,
        "color": "ededed",
        "default": False,
    }
    github_mock.post(
        f"{API}/repos/acme/widgets/issues/4/labels",
        json=[label],
        match=[matchers.json_params_matcher({"labels": ["swept"]})],
    )
    gh.request_reviewers("acme/widgets", 4, ("alice",), ("core",))
    gh.add_labels("acme/widgets", 4, ("swept",))


def test_unresolved_node_422_is_its_own_rejection(
    gh: GitHub, github_mock: responses.RequestsMock
) -> None:
    """GitHub's transient answer right after a create: the caller retries once."""
    github_mock.post(
        f"{API}/repos/acme/widgets/pulls/4/requested_reviewers",
        status=422,
        json={
            "message": "Could not resolve to a node with the global id of 'PR_kwDOAB'.",
            "documentation_url": "https://docs.github.com/rest",
        },
    )
    with pytest.raises(ValidationFailed) as caught:
        gh.request_reviewers("acme/widgets", 4, ("alice",), ())
    assert caught.value.kind is Rejection.UNRESOLVED_NODE
