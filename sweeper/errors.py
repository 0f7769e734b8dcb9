"""Typed Kubernetes errors: what crosses the adapter seam instead of HTTP codes."""

from __future__ import annotations


class KubeError(Exception):
    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class Conflict(KubeError):
    pass


class Forbidden(KubeError):
    """403: RBAC does not grant the call."""


class NotFound(KubeError):
    pass


class AlreadyExists(KubeError):
    pass


class Expired(KubeError):
    pass


class Unavailable(KubeError):
    """5xx or no connection: transient."""


class Throttled(Unavailable):
    """429 (API Priority and Fairness, EventRateLimit), or a 5xx carrying Retry-After: the
    server asks to be called again later; `retry_after` is its wait in seconds, if it said."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        reason: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status, reason)
        self.retry_after = retry_after


class Refused(KubeError):
    """The answer holds content the sweeper will not decode: an object over the size cap,
    nested too deep, or not JSON. The message names the object and what was wrong."""
