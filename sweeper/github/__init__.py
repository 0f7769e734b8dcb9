"""The GitHub adapter: the only package that speaks HTTP to GitHub.

Its modules, each named for its act, from the bottom up: `transport` (one HTTP exchange,
its retries, the typed errors), `limits` (the rate-limit buckets, the reserve, pacing and
waits), `auth` (a token, or a GitHub App's JWT, installations and tokens), `calls` (one
call, whole: credentials, limits, exchange, recovery), `batch` (many branches in one
GraphQL query, and the halving), `rest` (the endpoints the acts use), `probe` (read-only
looks at the credential, for a check) and `client`
(`GitHub`, all of them as the pipeline holds them). Nothing imports upward (import-linter).
"""

from sweeper.github.auth import REQUIRED_PERMISSIONS
from sweeper.github.client import GitHub
from sweeper.github.probe import InstallationProbe, RateProbe, TokenProbe
from sweeper.github.transport import (
    AppNotInstalled,
    GitHubError,
    GitHubNotFound,
    GraphQLUnavailable,
    PermissionDenied,
    RateLimited,
    Rejection,
    RepoUnreachable,
    ReserveReached,
    Transient,
    Unauthorized,
    ValidationFailed,
)

__all__ = [
    "REQUIRED_PERMISSIONS",
    "AppNotInstalled",
    "GitHub",
    "GitHubError",
    "GitHubNotFound",
    "GraphQLUnavailable",
    "InstallationProbe",
    "PermissionDenied",
    "RateLimited",
    "RateProbe",
    "Rejection",
    "RepoUnreachable",
    "ReserveReached",
    "TokenProbe",
    "Transient",
    "Unauthorized",
    "ValidationFailed",
]
