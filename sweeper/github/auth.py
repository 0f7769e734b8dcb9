"""Who the sweeper is to GitHub: a token, or a GitHub App with an installation per owner.

As an App: an RS256 JWT (issued 60 s in the past, nine minutes long) signs the App's own
calls; each repository owner's installation is looked up once and its token minted, and
minted again a few minutes before it expires. GitHub's clock, read from its `Date`
header, corrects ours when a JWT is refused. A 401 is recovered once where GitHub says
how (`retry_refused`). The App's own calls are made through `app_call`, given by the
caller, so this module never sends a request itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import jwt

from sweeper.fields import as_mapping, parse_stamp
from sweeper.github.transport import AppNotInstalled, GitHubError, GitHubNotFound, PermissionDenied
from sweeper.settings import AppCredentials, Tunables

if TYPE_CHECKING:  # only `transport` sends: the others just read its answers
    import requests

# What the sweeper needs of an installation; Issues (labels) and Members (teams) are optional:
# without them notify fails as a warning.
REQUIRED_PERMISSIONS = {"contents": "read", "pull_requests": "write", "metadata": "read"}
_LEVEL = {"read": 1, "write": 2, "admin": 3}


def lacking(granted: Mapping[str, Any]) -> tuple[str, ...]:
    """Every required permission an installation's `granted` ones miss, as `name: level`."""
    return tuple(
        f"{name}: {level}"
        for name, level in REQUIRED_PERMISSIONS.items()
        if _LEVEL.get(str(granted.get(name)), 0) < _LEVEL[level]
    )


def owner_of(repo: str) -> str:
    return repo.split("/", 1)[0].lower()


@dataclass
class Minted:
    token: str
    expires_at: float
    minted_at: float

    def age(self, now: float) -> float:
        return now - self.minted_at


# (method, url) -> the JSON of an answer to a call signed with the App's JWT.
AppCall = Callable[[str, str], Any]
# (Authorization header, installation) of a token just minted: its quota is worth reading.
OnMinted = Callable[[str, str | None], None]


class Auth:
    def __init__(
        self,
        api_url: str,
        token: str,
        app: AppCredentials | None,
        tunables: Tunables,
        secrets: list[str],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url, self.app, self._token_value = api_url, app, token
        self._t, self._clock, self._sleep = tunables, clock, sleep
        # Every token or JWT minted is added here, so the log redacts it too.
        self._secrets = secrets
        self._skew = 0.0
        self._signed: tuple[str, int] | None = None
        self._installs: dict[str, int | None] = {}
        self._minted: dict[int, Minted] = {}
        self._denied: dict[int, str] = {}
        self.app_call: AppCall = _unset
        self.on_minted: OnMinted = lambda header, installation: None

    def installation_of(self, repo: str | None) -> str | None:
        """Whose quota a call for `repo` draws on: as an App, the owner's installation
        (named by the owner); None for a token, whose buckets are its own."""
        if self.app is None or repo is None:
            return None
        return owner_of(repo)

    def header(self, repo: str | None, as_app: bool) -> tuple[str, str | None]:
        """The Authorization header of one call, and the installation it draws on."""
        if self.app is None:
            return f"Bearer {self._token_value}", None
        if as_app:
            return f"Bearer {self.jwt()}", None
        if repo is None:
            raise GitHubError("as a GitHub App, every call needs a repository")
        token = self.token(self.installation(repo), repo)
        return f"Bearer {token}", self.installation_of(repo)

    def retry_refused(
        self, response: requests.Response, repo: str | None, as_app: bool, tried: set[str]
    ) -> bool:
        """After a 401: whether asking again may help (and what was done so it might)."""
        if self.app is None:
            return False
        if as_app:
            return self.correct_clock(response)
        if repo is None:
            return False
        installation = self.installation(repo)
        minted = self._minted.get(installation)
        if minted is not None and "wait" not in tried and minted.age(self.now()) < 10:
            tried.add("wait")  # GitHub needs a few seconds to know a new token
            self._sleep(self._t.new_token_wait_s)
            return True
        if "remint" not in tried:
            tried.add("remint")
            self._minted.pop(installation, None)
            return True
        return False

    # ------------------------------------------------------------ the App's JWT

    def now(self) -> float:
        """GitHub's clock, as far as its Date headers told."""
        return self._clock() + self._skew

    def jwt(self) -> str:
        """RS256, issued 60 s in the past, nine minutes long; reused until near its end."""
        app = self.app
        assert app is not None
        now = int(self.now())
        if self._signed is not None and self._signed[1] - 60 > now:
            return self._signed[0]
        claims = {"iat": now - 60, "exp": now + 540, "iss": app.app_id}
        signed = jwt.encode(claims, app.private_key, algorithm="RS256")
        self._signed = (signed, now + 540)
        self._secrets.append(signed)
        return signed

    def correct_clock(self, response: requests.Response) -> bool:
        """A refused JWT and a Date header far from our clock: sign again on GitHub's time."""
        try:
            server = parsedate_to_datetime(response.headers.get("date", "")).timestamp()
        except (TypeError, ValueError):
            return False
        skew = server - self._clock()
        if abs(skew - self._skew) < 5:
            return False
        self._skew, self._signed = skew, None
        return True

    # ------------------------------------------------------------ installations and tokens

    def installation(self, repo: str) -> int:
        """The installation on the repository's owner (looked up once per owner)."""
        app = self.app
        assert app is not None
        if app.installation_id is not None:
            return app.installation_id
        owner = owner_of(repo)
        if owner not in self._installs:
            try:
                body = self.app_call("GET", f"{self.api_url}/repos/{repo}/installation")
            except GitHubNotFound:
                self._installs[owner] = None
            else:
                found = body.get("id") if isinstance(body, Mapping) else None
                if not isinstance(found, int) or isinstance(found, bool):
                    raise GitHubError(f"GitHub answered no installation id for {owner}")
                self._installs[owner] = found
        installation = self._installs[owner]
        if installation is None:
            raise AppNotInstalled(
                f"the GitHub App is not installed on {owner}: install it there "
                "(Contents read, Pull requests read and write, Metadata read)"
            )
        return installation

    def token(self, installation: int, repo: str) -> str:
        """The installation's token, minted again a few minutes before it expires."""
        denied = self._denied.get(installation)
        if denied:
            raise PermissionDenied(denied, 403)
        minted = self._minted.get(installation)
        if minted is not None and minted.expires_at - self._t.token_margin_s > self.now():
            return minted.token
        url = f"{self.api_url}/app/installations/{installation}/access_tokens"
        body = as_mapping(self.app_call("POST", url))
        token, expires = body.get("token"), body.get("expires_at")
        if not isinstance(token, str) or not token or not isinstance(expires, str):
            raise GitHubError(f"GitHub minted no token for installation {installation}")
        self._secrets.append(token)
        missing = lacking(as_mapping(body.get("permissions")))
        if missing:
            owner = repo.split("/", 1)[0]
            self._denied[installation] = (
                f"the GitHub App's installation on {owner} lacks the permission {missing[0]}"
            )
            raise PermissionDenied(self._denied[installation], 403)
        expires_at = parse_stamp(expires).timestamp()
        self._minted[installation] = Minted(token, expires_at, self.now())
        # Its quota, before its first call.
        self.on_minted(f"Bearer {token}", self.installation_of(repo))
        return token


def _unset(method: str, url: str) -> Any:  # pragma: no cover - the caller sets app_call
    raise GitHubError("no way to make the App's calls was given")
