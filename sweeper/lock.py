"""The run lock: a coordination.k8s.io Lease held for the duration of one pass.

A manual `kubectl create job --from=cronjob/...` and the scheduled run must never write
at the same time. The Lease is taken with a resourceVersion precondition (create, or
replace an expired one), renewed during long passes, and released at the end. A Lease
left by a killed run is taken over once `leaseDurationSeconds` have passed since its
last renewal. The adapter retries a write whose answer was lost; the repeat then meets
a 409, and a Lease that names this run as its holder is this run's all the same.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sweeper.errors import AlreadyExists, Conflict, KubeError
from sweeper.fields import parse_stamp

# The Lease's name unless --lock-name says otherwise; the RBAC Role grants only it.
LEASE_NAME = "foreman-pr-sweeper"


class LeaseStore(Protocol):
    def read_lease(self, namespace: str, name: str) -> dict[str, Any] | None: ...
    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def replace_lease(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]: ...


def holder_identity() -> str:
    return f"{socket.gethostname()[:60]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _micro(stamp: datetime) -> str:
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(stamp: Any) -> datetime | None:
    if not isinstance(stamp, str):
        return None
    try:
        return parse_stamp(stamp)
    except ValueError:
        return None


def held_by_other(lease: Mapping[str, Any], me: str, now: datetime) -> str | None:
    """The other live holder of the lease, or None when it is free, expired or ours."""
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity")
    if not holder or holder == me:
        return None
    renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds")
    if renewed is None or not isinstance(duration, int):
        return None
    if now >= renewed + timedelta(seconds=duration):
        return None
    return str(holder)


class LockHeld(Exception):
    def __init__(self, holder: str) -> None:
        super().__init__(f"the run lock is held by {holder}")
        self.holder = holder


class LockLost(KubeError):
    """Our Lease was taken over (it lapsed): another run may be writing, so stop."""


class RunLock:
    def __init__(
        self, store: LeaseStore, namespace: str, name: str, duration_s: int, me: str | None = None
    ) -> None:
        self._store, self.namespace, self.name = store, namespace, name
        self._duration = duration_s
        self.me = me or holder_identity()
        self._lease: dict[str, Any] | None = None
        self._renewed = 0.0

    def _spec(self, now: datetime, transitions: int, acquire: str | None = None) -> dict[str, Any]:
        return {
            "holderIdentity": self.me,
            "leaseDurationSeconds": self._duration,
            "acquireTime": acquire or _micro(now),
            "renewTime": _micro(now),
            "leaseTransitions": transitions,
        }

    def acquire(self) -> None:
        """Take the lease or raise LockHeld; a lost race (409) is the other run's win."""
        now = datetime.now(UTC)
        current = self._store.read_lease(self.namespace, self.name)
        try:
            if current is None:
                body = {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": self._spec(now, 0),
                }
                self._lease = self._store.create_lease(self.namespace, body)
            else:
                holder = held_by_other(current, self.me, now)
                if holder:
                    raise LockHeld(holder)
                transitions = int((current.get("spec") or {}).get("leaseTransitions") or 0) + 1
                body = dict(current)
                body["spec"] = self._spec(now, transitions)
                self._lease = self._store.replace_lease(self.namespace, self.name, body)
        except (Conflict, AlreadyExists):
            latest = self._store.read_lease(self.namespace, self.name) or {}
            holder = (latest.get("spec") or {}).get("holderIdentity")
            if holder != self.me:
                raise LockHeld(str(holder or "another run")) from None
            self._lease = latest  # our write landed; its answer was lost and it was retried
        self._renewed = time.monotonic()

    def renew_if_due(self) -> None:
        """Renew once a third of the duration has passed, so the lease never lapses mid-pass."""
        if self._lease is None or time.monotonic() - self._renewed < self._duration / 3:
            return
        spec = self._lease.get("spec") or {}
        body = dict(self._lease)
        body["spec"] = self._spec(
            datetime.now(UTC), int(spec.get("leaseTransitions") or 0), spec.get("acquireTime")
        )
        try:
            self._lease = self._store.replace_lease(self.namespace, self.name, body)
        except Conflict:
            latest = self._store.read_lease(self.namespace, self.name) or {}
            if (latest.get("spec") or {}).get("holderIdentity") != self.me:
                self._lease = None  # not ours any more: never release another run's Lease
                raise LockLost(
                    f"the run lock {self.namespace}/{self.name} was taken over by another run"
                ) from None
            self._lease = latest  # our renewal landed; its answer was lost and it was retried
        self._renewed = time.monotonic()

    def release(self) -> None:
        """Hand the lease back at once, so the next run need not wait for it to expire."""
        if self._lease is None:
            return
        body = dict(self._lease)
        spec = dict(body.get("spec") or {})
        spec.update({"holderIdentity": None, "leaseDurationSeconds": 1})
        body["spec"] = spec
        try:
            self._store.replace_lease(self.namespace, self.name, body)
        except Conflict:
            latest = self._store.read_lease(self.namespace, self.name) or {}
            if (latest.get("spec") or {}).get("holderIdentity") == self.me:
                raise  # still ours, changed by someone: it lapses after its duration
            # released already (a retried release whose answer was lost), or taken over
        self._lease = None
