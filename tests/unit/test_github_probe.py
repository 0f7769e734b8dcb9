"""Read-only looks at the credential, for a check command: `responses` pins each exchange."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from sweeper.github import GitHub, GitHubError, InstallationProbe, RateProbe
from sweeper.settings import AppCredentials, Tunables
from tests.fixtures.keys import private_pem, rsa_key
from tests.standins.github import skeleton

API = "https://api.github.com"
RESET = 1_800_003_600
FAST = Tunables(read_retries=0, retry_backoff_s=0)
PEM = private_pem(rsa_key(0)).decode()
FULL = {"contents": "read", "metadata": "read", "pull_requests": "write", "issues": "write"}


def token_client() -> GitHub:
    return GitHub(API, "ghp_classic", FAST, 0, lambda s: None, lambda: 1.8e9)


def app_client() -> GitHub:
    return GitHub(
        API, "", FAST, 0, lambda s: None, lambda: 1.8e9, app=AppCredentials("4242", PEM, None)
    )


def rate_limit() -> dict[str, Any]:
    body = skeleton("rate-limit-overview")
    core = {"limit": 5000, "remaining": 4321, "reset": RESET, "used": 679}
    graphql = {"limit": 5000, "remaining": 4999, "reset": RESET, "used": 1}
    search = {"limit": 30, "remaining": 30, "reset": RESET, "used": 0}
    body["rate"] = core
    body["resources"] = {"core": core, "graphql": graphql, "search": search}
    return body


@pytest.mark.parametrize(
    ("headers", "scopes"),
    [
        pytest.param({"X-OAuth-Scopes": "repo, read:org"}, ("repo", "read:org"), id="classic"),
        pytest.param({"X-OAuth-Scopes": ""}, (), id="classic-without-scopes"),
        pytest.param({}, None, id="fine-grained"),
    ],
)
def test_a_token_probe_reads_rate_limit_and_the_scopes(
    github_mock: responses.RequestsMock, headers: dict[str, str], scopes: tuple[str, ...] | None
) -> None:
    """GET /rate_limit: every resource's numbers, and a classic token's scopes (None: none sent)."""
    github_mock.get(f"{API}/rate_limit", json=rate_limit(), headers=headers)
    github = token_client()
    probe = github.probe_token()
    assert probe.scopes == scopes
    assert probe.rates == (
        RateProbe("core", 5000, 4321, 679, "2027-01-15T09:00:00Z"),
        RateProbe("graphql", 5000, 4999, 1, "2027-01-15T09:00:00Z"),
        RateProbe("search", 30, 30, 0, "2027-01-15T09:00:00Z"),
    )
    assert probe.rate("graphql") == probe.rates[1] and probe.rate("code_search") is None
    assert len(github_mock.calls) == 1 and sum(github.used.values()) == 0  # it costs nothing


def installation(permissions: dict[str, str]) -> dict[str, Any]:
    out = skeleton("installation")
    out.update(id=77, app_id=4242, permissions=permissions)
    return out


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        pytest.param(
            200,
            installation(FULL),
            InstallationProbe("acme/widgets", "acme", True, 77, FULL, ()),
            id="ready",
        ),
        pytest.param(
            200,
            installation({"contents": "read", "metadata": "read", "pull_requests": "read"}),
            InstallationProbe(
                "acme/widgets",
                "acme",
                True,
                77,
                {"contents": "read", "metadata": "read", "pull_requests": "read"},
                ("pull_requests: write",),
            ),
            id="pull-requests-read-only",
        ),
        pytest.param(
            200,
            installation({"metadata": "read"}),
            InstallationProbe(
                "acme/widgets",
                "acme",
                True,
                77,
                {"metadata": "read"},
                ("contents: read", "pull_requests: write"),
            ),
            id="metadata-only",
        ),
        pytest.param(
            404,
            {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
            InstallationProbe("acme/widgets", "acme", False),
            id="not-installed",
        ),
    ],
)
def test_an_installation_probe_uses_the_jwt_and_mints_nothing(
    github_mock: responses.RequestsMock,
    status: int,
    body: dict[str, Any],
    expected: InstallationProbe,
) -> None:
    """GET .../installation with the App's JWT: installed, granted what, missing what."""
    github_mock.get(f"{API}/repos/acme/widgets/installation", status=status, json=body)
    probe = app_client().probe_installation("acme/widgets")
    assert probe == expected
    assert probe.ready is (expected.installed and not expected.missing)
    [call] = github_mock.calls
    assert call.request.headers["Authorization"].startswith("Bearer eyJ")  # a JWT
    assert "access_tokens" not in str(call.request.url)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        pytest.param(
            200,
            installation(FULL),
            InstallationProbe("Acme-Labs/*", "acme-labs", True, 77, FULL, ()),
            id="installed",
        ),
        pytest.param(
            404,
            {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
            InstallationProbe("Acme-Labs/*", "acme-labs", False),
            id="not-installed",
        ),
    ],
)
def test_an_owner_probe_asks_for_the_accounts_installation(
    github_mock: responses.RequestsMock,
    status: int,
    body: dict[str, Any],
    expected: InstallationProbe,
) -> None:
    """For an allowlist entry OWNER/*: GET /users/{owner}/installation with the JWT."""
    github_mock.get(f"{API}/users/Acme-Labs/installation", status=status, json=body)
    assert app_client().probe_owner("Acme-Labs") == expected
    [call] = github_mock.calls
    assert call.request.headers["Authorization"].startswith("Bearer eyJ")


def test_each_probe_belongs_to_its_kind_of_credential() -> None:
    """No token to probe as an App, no installation with a token: said, and nothing sent."""
    with pytest.raises(GitHubError, match="as a GitHub App"):
        app_client().probe_token()
    with pytest.raises(GitHubError, match="with a token"):
        token_client().probe_installation("acme/widgets")
    with pytest.raises(GitHubError, match="with a token"):
        token_client().probe_owner("acme")
