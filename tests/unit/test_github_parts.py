"""The GitHub adapter's parts, each on its own: transport, limits and auth, without the rest."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import responses

from sweeper.budget import ALL, Bucket
from sweeper.github.auth import Auth, lacking
from sweeper.github.limits import Limits
from sweeper.github.transport import (
    GitHubConflict,
    GitHubNotFound,
    PermissionDenied,
    QueryTooBig,
    RateLimited,
    Transient,
    Transport,
    Unauthorized,
    ValidationFailed,
    error_for,
)
from sweeper.settings import AppCredentials, Tunables
from tests.fixtures.keys import private_pem, rsa_key

API = "https://api.github.com"
FAST = Tunables(read_retries=0, retry_backoff_s=0, max_rate_wait_s=120, secondary_wait_s=60)


def answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    """A `requests.Response` as GitHub would send it, built without a request."""
    import json

    response = requests.Response()
    response.status_code, response._content = status, json.dumps(body).encode()
    response.headers.update(headers or {})
    response.url = f"{API}/repos/acme/widgets/pulls"
    return response


LIMITED = {"x-ratelimit-remaining": "0", "x-ratelimit-resource": "core"}
SECONDARY = {"message": "You have exceeded a secondary rate limit."}


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "reason"),
    [
        pytest.param(
            401, {"message": "Bad credentials"}, {}, Unauthorized, "bad-credentials", id="401"
        ),
        pytest.param(403, {"message": "no"}, {}, PermissionDenied, "permission-denied", id="403"),
        pytest.param(404, {"message": "Not Found"}, {}, GitHubNotFound, "github-error", id="404"),
        pytest.param(
            409,
            {"message": "Git Repository is empty."},
            {},
            GitHubConflict,
            "github-error",
            id="409",
        ),
        pytest.param(
            422, {"message": "Validation Failed"}, {}, ValidationFailed, "github-error", id="422"
        ),
        pytest.param(502, {"message": "Bad Gateway"}, {}, Transient, "github-error", id="502"),
        pytest.param(403, {"message": "x"}, LIMITED, RateLimited, "rate-limited", id="primary"),
        pytest.param(429, SECONDARY, {}, RateLimited, "rate-limited", id="secondary"),
    ],
)
def test_every_answer_that_is_no_success_is_one_typed_error(
    status: int, body: dict[str, Any], headers: dict[str, str], error: type, reason: str
) -> None:
    """transport: the error type, and the reason it fails a branch with."""
    got = error_for("POST", f"{API}/repos/acme/widgets/pulls", answer(status, body, headers))
    assert type(got) is error and got.reason == reason
    assert str(got).startswith("POST /repos/acme/widgets/pulls: ")


@pytest.mark.parametrize(
    ("headers", "body", "stops"),
    [
        pytest.param(LIMITED, {"message": "x"}, Bucket("core", "acme"), id="primary"),
        pytest.param({}, SECONDARY, Bucket(ALL, "acme"), id="secondary"),
    ],
)
def test_a_rate_limit_names_the_bucket_it_stops(
    headers: dict[str, str], body: dict[str, Any], stops: Bucket
) -> None:
    """transport: a primary limit stops its bucket, a secondary one the installation's all."""
    got = error_for("GET", f"{API}/x", answer(403, body, headers), installation="acme")
    assert isinstance(got, RateLimited) and got.bucket == stops


@pytest.mark.parametrize(
    ("query", "error"),
    [pytest.param(True, QueryTooBig, id="query"), pytest.param(False, Transient, id="other")],
)
def test_a_timeout_is_a_query_too_big_or_transient(query: bool, error: type) -> None:
    """transport: a slow GraphQL query asks for less; any other timeout's outcome is unknown."""
    with responses.RequestsMock() as mock:
        mock.post(f"{API}/graphql", body=requests.ReadTimeout("slow"))
        with pytest.raises(error):
            Transport(FAST).send("POST", f"{API}/graphql", None, {}, "Bearer t", query=query)


def test_a_secondary_limit_is_waited_out_once_per_installation() -> None:
    """limits: each installation gets its one wait; a second hit of the same one stops."""
    slept: list[float] = []
    limits = Limits(FAST, sleep=slept.append, clock=lambda: 1.8e9)
    retry = {"retry-after": "5"}
    assert limits.waited_out(403, retry, SECONDARY, Bucket("core", "acme"))
    assert limits.waited_out(403, retry, SECONDARY, Bucket("core", "other"))
    assert not limits.waited_out(403, retry, SECONDARY, Bucket("graphql", "acme"))
    assert slept == [5, 5]


def test_the_reserve_holds_each_bucket_apart() -> None:
    """limits: at the reserve, acme's core stops; other's does not."""
    from sweeper.github.transport import ReserveReached
    from sweeper.settings import parse_reserve

    limits = Limits(FAST, parse_reserve("1000"), clock=lambda: 1.8e9)
    headers = {"x-ratelimit-remaining": "1000", "x-ratelimit-limit": "5000"}
    limits.note_headers(headers, "acme")
    limits.note_headers({**headers, "x-ratelimit-remaining": "4000"}, "other")
    with pytest.raises(ReserveReached) as caught:
        limits.before(Bucket("core", "acme"), 1, reserve=True, writing=False)
    assert caught.value.bucket == Bucket("core", "acme")
    limits.before(Bucket("core", "other"), 1, reserve=True, writing=False)


def test_an_installation_is_looked_up_once_per_owner_through_the_given_call() -> None:
    """auth: the App's calls go through `app_call`; an owner's installation is asked once."""
    asked: list[tuple[str, str]] = []

    def app_call(method: str, url: str) -> Any:
        asked.append((method, url))
        return {"id": 77}

    app = AppCredentials("4242", private_pem(rsa_key(0)).decode(), None)
    auth = Auth(API, "", app, FAST, [], clock=lambda: 1.8e9)
    auth.app_call = app_call
    assert auth.installation("acme/widgets") == auth.installation("ACME/gadgets") == 77
    assert asked == [("GET", f"{API}/repos/acme/widgets/installation")]
    assert auth.installation_of("ACME/gadgets") == "acme"
    assert Auth(API, "t", None, FAST, []).installation_of("acme/widgets") is None


@pytest.mark.parametrize(
    ("granted", "missing"),
    [
        pytest.param({"contents": "write", "pull_requests": "admin", "metadata": "read"}, ()),
        pytest.param({"contents": "read", "metadata": "read"}, ("pull_requests: write",)),
        pytest.param(
            {"pull_requests": "bogus"}, ("contents: read", "pull_requests: write", "metadata: read")
        ),
    ],
)
def test_the_permissions_an_installation_lacks_are_named(
    granted: dict[str, str], missing: tuple[str, ...]
) -> None:
    """auth: a higher level covers a lower one; every missing one is named."""
    assert lacking(granted) == missing
