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
