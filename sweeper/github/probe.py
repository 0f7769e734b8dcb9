"""Read-only looks at the credential, for a check before any sweep: nothing is written.

For a token: what `GET /rate_limit` says of every bucket (it costs no quota) and, for a
classic token, its scopes (`X-OAuth-Scopes`; fine-grained and installation tokens send
none). For a GitHub App, per repository owner: whether the App is installed there and
what its installation was granted, read with the App's JWT, so no token is minted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sweeper.fields import as_mapping
from sweeper.github.auth import lacking, owner_of
from sweeper.github.calls import Caller
from sweeper.github.limits import iso
from sweeper.github.transport import GitHubError, GitHubNotFound, json_of


@dataclass(frozen=True)
class RateProbe:
    """One resource of `GET /rate_limit` (`core`, `graphql`, `search`, ...)."""

    resource: str
    limit: int
    remaining: int
    used: int | None
    resets_at: str | None  # ISO 8601, UTC


@dataclass(frozen=True)
class TokenProbe:
    rates: tuple[RateProbe, ...]  # by resource name
    # A classic token's scopes. None: GitHub sent no X-OAuth-Scopes header, as for a
    # fine-grained token (its permissions are per repository and not listed here).
    scopes: tuple[str, ...] | None

    def rate(self, resource: str) -> RateProbe | None:
        return next((r for r in self.rates if r.resource == resource), None)


@dataclass(frozen=True)
class InstallationProbe:
    """The GitHub App on one repository's owner, as its JWT sees it."""

    repo: str  # OWNER/NAME; OWNER/* when the owner itself was asked (`probe_owner`)
    owner: str
    installed: bool
    installation_id: int | None = None
    permissions: Mapping[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()  # required permissions not granted, as `name: level`

    @property
    def ready(self) -> bool:
        """Installed, with every permission the sweeper needs."""
        return self.installed and not self.missing


def probe_token(caller: Caller) -> TokenProbe:
    """`GET /rate_limit` with the token, and the scopes its answer names (if any)."""
    if caller.auth.app is not None:
        raise GitHubError("as a GitHub App there is no token to probe: probe each owner")
    response = caller.request("GET", caller.api_url + "/rate_limit", cost=0)
    resources = as_mapping(as_mapping(json_of(response)).get("resources"))
    rates = tuple(
        rate
        for name, raw in sorted(resources.items())
        if (rate := _rate(str(name), as_mapping(raw))) is not None
    )
    header = response.headers.get("x-oauth-scopes")
    scopes = None if header is None else tuple(s.strip() for s in header.split(",") if s.strip())
    return TokenProbe(rates, scopes)


def probe_installation(caller: Caller, repo: str) -> InstallationProbe:
    """`GET /repos/{owner}/{repo}/installation` with the JWT: installed, and granted what.

    GitHub answers 404 both when the App is not installed there and when the repository
    does not exist: either way, nothing the App could sweep.
    """
    return _installation(caller, f"/repos/{repo}/installation", repo, owner_of(repo))


def probe_owner(caller: Caller, owner: str) -> InstallationProbe:
    """`GET /users/{owner}/installation` with the JWT: the App's installation on an owner,
    for an allowlist entry `OWNER/*` that names no repository. GitHub answers there for an
    organisation as for a user (a 404: the App is not installed on that account)."""
    return _installation(caller, f"/users/{owner}/installation", f"{owner}/*", owner.lower())


def _installation(caller: Caller, path: str, repo: str, owner: str) -> InstallationProbe:
    if caller.auth.app is None:
        raise GitHubError("with a token there is no GitHub App installation to probe")
    url = caller.api_url + path
    try:
        body = as_mapping(json_of(caller.request("GET", url, kind="auth", cost=0, as_app=True)))
    except GitHubNotFound:
        return InstallationProbe(repo, owner, installed=False)
    found = body.get("id")
    granted = {
        str(k): str(v) for k, v in as_mapping(body.get("permissions")).items() if isinstance(v, str)
    }
    return InstallationProbe(
        repo,
        owner,
        installed=True,
        installation_id=_int(found),
        permissions=granted,
        missing=lacking(granted),
    )


def _rate(name: str, raw: Mapping[str, Any]) -> RateProbe | None:
    limit, remaining, used, reset = (
        _int(raw.get(k)) for k in ("limit", "remaining", "used", "reset")
    )
    if limit is None or remaining is None:
        return None
    return RateProbe(name, limit, remaining, used, None if reset is None else iso(reset))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
