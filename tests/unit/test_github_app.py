"""The adapter as a GitHub App, pinned with `responses`: JWT, installations, tokens, clock."""

from __future__ import annotations

import email.utils
from typing import Any

import jwt
import pytest
import responses

from sweeper.budget import Bucket
from sweeper.github import AppNotInstalled, GitHub, PermissionDenied, RateLimited, Unauthorized
from sweeper.lookups import Lookup
from sweeper.outcomes import Reason
from sweeper.settings import AppCredentials, Tunables
from tests.fixtures.keys import private_pem, rsa_key
from tests.standins.github import skeleton

API = "https://api.github.com"
NOW = 1_800_000_000.0
KEY = rsa_key(0)
PEM = private_pem(KEY).decode()
FAST = Tunables(read_retries=0, retry_backoff_s=0, new_token_wait_s=2.0, token_margin_s=300)
GRANTED = {"contents": "read", "metadata": "read", "pull_requests": "write"}


class Clock:
    def __init__(self) -> None:
        self.now = NOW
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def app_client(clock: Clock, installation: int | None = None) -> tuple[GitHub, list[str]]:
    secrets: list[str] = []
    github = GitHub(
        API,
        "",
        FAST,
        write_interval_s=0,
        sleep=clock.sleep,
        clock=clock.time,
        app=AppCredentials("4242", PEM, installation),
        secrets=secrets,
    )
    return github, secrets


def claims(request: Any) -> dict[str, Any]:
    token = request.headers["Authorization"].removeprefix("Bearer ")
    decoded: dict[str, Any] = jwt.decode(
        token,
        KEY.public_key(),
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    return decoded


def installation(number: int = 77) -> dict[str, Any]:
    out = skeleton("installation")
    out.update(id=number, app_id=4242, permissions=GRANTED)
    return out


def minted(token: str, expires: float, permissions: dict[str, str] | None = None) -> dict[str, Any]:
    out = skeleton("installation-token")
    out.update(
        token=token,
        expires_at=_iso(expires),
        permissions=permissions or GRANTED,
    )
    return out


def _iso(epoch: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def repo_json() -> dict[str, Any]:
    return skeleton("full-repository") | {"default_branch": "main"}


def rate_limit() -> dict[str, Any]:
    body = skeleton("rate-limit-overview")
    bucket = {"limit": 5000, "remaining": 4999, "reset": int(NOW) + 3600, "used": 1}
    body["rate"] = bucket
    body["resources"] = {"core": bucket, "graphql": bucket, "search": bucket}
    return body


def mock_installation(
    mock: responses.RequestsMock, token: str = "ghs_one", life: float = 3600
) -> None:
    mock.get(f"{API}/repos/acme/widgets/installation", json=installation())
    mock.post(
        f"{API}/app/installations/77/access_tokens", json=minted(token, NOW + life), status=201
    )
    mock.get(f"{API}/rate_limit", json=rate_limit())


def test_the_start_up_check_signs_a_short_rs256_jwt(
    clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """GET /app with a JWT: issued 60 s ago, at most ten minutes long, issued by the App."""
    github, secrets = app_client(clock)
    github_mock.get(f"{API}/app", json=skeleton("integration") | {"id": 4242})
    github.check_token()
    seen = claims(github_mock.calls[0].request)
    assert seen["iss"] == "4242"
    assert seen["iat"] == int(NOW) - 60 and seen["exp"] - seen["iat"] <= 600
    assert github_mock.calls[0].request.headers["Authorization"].removeprefix("Bearer ") in secrets


def test_a_key_that_does_not_match_the_id_is_unauthorized(
    clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """401 on /app (with GitHub's clock in step): the key and the ID do not match."""
    github, _ = app_client(clock)
    date = email.utils.formatdate(NOW, usegmt=True)
    github_mock.get(
        f"{API}/app", status=401, json={"message": "Integration not found"}, headers={"Date": date}
    )
    with pytest.raises(Unauthorized, match="do not match"):
        github.check_token()


def test_a_clock_off_by_an_hour_is_corrected_from_the_date_header(
    clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """A refused JWT and a Date an hour ahead: signed again on GitHub's time, accepted."""
    github, _ = app_client(clock)
    ahead = email.utils.formatdate(NOW + 3600, usegmt=True)
    github_mock.get(
        f"{API}/app",
        status=401,
        json={"message": "'Expiration time' claim"},
        headers={"Date": ahead},
    )
    github_mock.get(f"{API}/app", json=skeleton("integration") | {"id": 4242})
    github.check_token()
    first, second = (claims(c.request) for c in github_mock.calls)
    assert second["iat"] - first["iat"] == 3600


def test_each_owner_gets_its_installation_and_one_token(
    clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """Looked up once, minted once, the owner's installation token on every call."""
    github, secrets = app_client(clock)
    mock_installation(github_mock)
    github_mock.get(f"{API}/repos/acme/widgets", json=repo_json())
    github_mock.get(f"{API}/repos/acme/widgets/commits/main", json=skeleton("commit"))
    github.default_branch("acme/widgets")
    github.commit_message("acme/widgets", "main")
    used = [c.request for c in github_mock.calls if "/installation" not in c.request.url]
    repo_calls = [r for r in used if "/repos/acme/widgets" in r.url]
    assert {r.headers["Authorization"] for r in repo_calls} == {"Bearer ghs_one"}
    assert sum("access_tokens" in c.request.url for c in github_mock.calls) == 1
    assert "ghs_one" in secrets
    assert github.bucket_key("core", "acme/widgets") == Bucket("core", "acme")
    assert str(github.bucket_key("core", "acme/widgets")) == "core@acme"


def test_a_token_near_its_end_is_minted_again(
    clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """Within the margin of expires_at, the next call mints a fresh token first."""
    github, _ = app_client(clock)
    mock_installation(github_mock, "ghs_old", life=3600)
    github_mock.post(
        f"{API}/app/installations/77/access_tokens", json=minted("ghs_new", NOW + 7200), status=201
    )
    github_mock.get(f"{API}/repos/acme/widgets", json=repo_json())
    github_mock.get(f"{API}/repos/acme/widgets/commits/main", json=skeleton("commit"))
    github.default_branch("acme/widgets")
    clock.now += 3600 - 200  # 200 s left: inside the 300 s margin
    github.commit_message("acme/widgets", "main")
    last = github_mock.calls[-1].request
    assert last.headers["Authorization"] == "Bearer ghs_new"


def test_a_refused_token_is_minted_again_once(
    clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """A 401 with a token: a brand-new one gets a short wait, then a new token is minted."""
    github, _ = app_client(clock)
    mock_installation(github_mock, "ghs_one")
    github_mock.post(
        f"{API}/app/installations/77/access_tokens", json=minted("ghs_two", NOW + 3600), status=201
    )
    github_mock.get(f"{API}/repos/acme/widgets", status=401, json={"message": "Bad credentials"})
    github_mock.get(f"{API}/repos/acme/widgets", status=401, json={"message": "Bad credentials"})
    github_mock.get(f"{API}/repos/acme/widgets", json=repo_json())
    assert github.default_branch("acme/widgets") == "main"
    assert clock.slept == [2.0]
    assert github_mock.calls[-1].request.headers["Authorization"] == "Bearer ghs_two"


def test_an_installation_token_refused_after_a_new_mint_is_bad_credentials(
    clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """Re-minting comes first; refused again, acme's calls stop, and say why."""
    github, _ = app_client(clock)
    mock_installation(github_mock, "ghs_one")
    github_mock.post(
        f"{API}/app/installations/77/access_tokens", json=minted("ghs_two", NOW + 3600), status=201
    )
    bad = {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
    github_mock.get(f"{API}/repos/acme/widgets", status=401, json=bad)
    with pytest.raises(Unauthorized, match="installation token for acme") as caught:
        github.default_branch("acme/widgets")
    assert caught.value.reason is Reason.BAD_CREDENTIALS
    tried = [
        c.request.headers["Authorization"]
        for c in github_mock.calls
        if c.request.url == f"{API}/repos/acme/widgets"
    ]
    assert tried == ["Bearer ghs_one", "Bearer ghs_one", "Bearer ghs_two"]  # wait, mint
    sent = len(github_mock.calls)
    with pytest.raises(Unauthorized, match="installation token for acme"):
        github.commit_message("acme/widgets", "main")
    assert len(github_mock.calls) == sent


def test_an_owner_without_the_app_is_not_installed(
    clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """404 on the installation look-up: AppNotInstalled, asked once per owner."""
    github, _ = app_client(clock)
    github_mock.get(
        f"{API}/repos/other/thing/installation", status=404, json={"message": "Not Found"}
    )
    for _ in range(2):
        with pytest.raises(AppNotInstalled, match="not installed on other"):
            github.default_branch("other/thing")
    assert len(github_mock.calls) == 1


def test_a_missing_permission_is_named(clock: Clock, github_mock: responses.RequestsMock) -> None:
    """An installation without pull_requests: write is refused before any call, naming it."""
    github, _ = app_client(clock)
    github_mock.get(f"{API}/repos/acme/widgets/installation", json=installation())
    github_mock.post(
        f"{API}/app/installations/77/access_tokens",
        json=minted("ghs_x", NOW + 3600, {"contents": "read", "metadata": "read"}),
        status=201,
    )
    with pytest.raises(PermissionDenied, match="pull_requests: write"):
        github.default_branch("acme/widgets")


def test_a_pinned_installation_needs_no_look_up(
    clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """--github-app-installation-id: straight to minting."""
    github, _ = app_client(clock, installation=77)
    github_mock.post(
        f"{API}/app/installations/77/access_tokens", json=minted("ghs_p", NOW + 3600), status=201
    )
    github_mock.get(f"{API}/rate_limit", json=rate_limit())
    github_mock.get(f"{API}/repos/acme/widgets", json=repo_json())
    github.default_branch("acme/widgets")
    assert not any(c.request.url.endswith("/installation") for c in github_mock.calls)


# ---------------------------------------------------------------- quota per installation


def graphql_answer(remaining: int) -> dict[str, Any]:
    """An answer to a one-branch look-up, priced one point, `remaining` left."""
    rate = {"cost": 1, "remaining": remaining, "limit": 5000, "resetAt": _iso(NOW + 3600)}
    rate["used"] = 5000 - remaining
    return {
        "data": {
            "rateLimit": rate,
            "p0": {
                "defaultBranchRef": {"name": "main"},
                "pullRequests": {"pageInfo": {"hasNextPage": False}, "nodes": []},
            },
            "h0": {"ref": None},
        }
    }


def test_an_apps_quota_is_reported_per_installation_and_nowhere_else(
    clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """GraphQL points land in graphql@owner; the App's JWT calls make no bucket of their own."""
    github, _ = app_client(clock)
    app_headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4990"}
    app_headers |= {"x-ratelimit-reset": str(int(NOW) + 3600), "x-ratelimit-resource": "core"}
    github_mock.get(f"{API}/app", json=skeleton("integration") | {"id": 4242}, headers=app_headers)
    github_mock.get(
        f"{API}/repos/acme/widgets/installation", json=installation(), headers=app_headers
    )
    github_mock.post(
        f"{API}/app/installations/77/access_tokens", json=minted("ghs_one", NOW + 3600), status=201
    )
    github_mock.get(f"{API}/rate_limit", json=rate_limit())
    github_mock.post(f"{API}/graphql", json=graphql_answer(remaining=4998))
    github.check_token()
    github.lookup([Lookup("acme/widgets", "acme", "foreman/wl/issue-1")])
    resets = _iso(NOW + 3600)
    assert github.rate_report() == {
        "core@acme": {"used": 0, "remaining": 4999, "limit": 5000, "resets_at": resets},
        "graphql@acme": {"used": 1, "remaining": 4998, "limit": 5000, "resets_at": resets},
    }
    assert set(github.rate_buckets()) == {Bucket("core", "acme"), Bucket("graphql", "acme")}


def test_a_rate_limited_mutation_stops_the_installations_graphql_bucket(
    clock: Clock, github_mock: responses.RequestsMock
) -> None:
    """RATE_LIMITED on markPullRequestReadyForReview names graphql@owner, what must stop."""
    github, _ = app_client(clock)
    mock_installation(github_mock)
    limited = {"type": "RATE_LIMITED", "message": "API rate limit exceeded"}
    github_mock.post(f"{API}/graphql", json={"data": None, "errors": [limited]})
    with pytest.raises(RateLimited) as caught:
        github.mark_ready("PR_x", "acme/widgets")
    assert caught.value.bucket == Bucket("graphql", "acme")
