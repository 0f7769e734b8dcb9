"""One tenant's object never stops the sweep: listing, planning and the run lock, each over
a fake adapter that answers what a hostile object (or a lost answer) makes it answer."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

from sweeper import listing
from sweeper.bounded import Unreadable
from sweeper.cli import settings_from
from sweeper.core import Policy
from sweeper.errors import AlreadyExists, Conflict, Refused
from sweeper.listing import pending
from sweeper.lock import RunLock
from sweeper.model import parse_workload
from sweeper.planning import plan_window
from sweeper.records import RECORD_ANNOTATION
from sweeper.runlog import Summary, configure
from tests.fixtures.foreman import issue_pipeline, workload

POLICY = Policy(min_age=timedelta(minutes=10))


class Pages:
    """A Kubernetes port that lists one page of Workloads and answers task listings."""

    def __init__(self, items: list[Any], bad: frozenset[str] = frozenset()) -> None:
        self.items, self.bad = items, bad
        self.task_calls: list[tuple[str, ...]] = []

    def workload_pages(self, *_: Any) -> Iterator[list[Any]]:
        yield self.items

    def tasks_of(self, namespace: str, names: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        self.task_calls.append(tuple(names))
        hit = self.bad.intersection(names)
        if hit:
            raise Refused(f"agentictasks {namespace}/{min(hit)}-code-1: nested 3001 levels deep")
        return {n: issue_pipeline(n, 1, namespace=namespace) for n in names}


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_unreadable_workload_in_a_page_leaves_the_others_pending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Refused unread, a too-deep annotation, or a bug: a line each; the others go on."""
    real = listing.parse_workload

    def buggy(obj: dict[str, Any]) -> Any:
        if obj["metadata"]["name"] == "buggy":
            raise RecursionError("maximum recursion depth exceeded")
        return real(obj)

    monkeypatch.setattr(listing, "parse_workload", buggy)
    deep = workload("deep", annotations={RECORD_ANNOTATION: "[" * 3000 + "]" * 3000})
    refused = Unreadable("tenant-a", "huge", "u1", "1,090,000 bytes, more than the cap")
    kube = Pages([workload("a"), refused, deep, workload("buggy"), workload("b")])
    settings, _ = settings_from([], {"GITHUB_TOKEN": "t"})
    out, summary = io.StringIO(), Summary()
    found = pending(kube, settings, POLICY, configure("json", stream=out), summary)  # type: ignore[arg-type]
    assert [wl.name for wl in found] == ["a", "b"]
    skipped = [(x["workload"], x["reason"], x["detail"]) for x in lines(out)]
    assert [(w, r) for w, r, _ in skipped] == [
        ("huge", "invalid-input"),
        ("deep", "invalid-input"),
        ("buggy", "invalid-input"),
    ]
    assert "1,090,000 bytes" in skipped[0][2] and "refused before it was decoded" in skipped[0][2]
    assert "nested 3000 levels deep" in skipped[1][2]
    assert "RecursionError" in skipped[2][2]
    assert summary.workloads["invalid-input"] == 3


def test_a_refused_task_batch_is_split_down_to_the_one_workload() -> None:
    """One tenant's task makes its batch unreadable: halves, then that Workload alone."""
    window = [parse_workload(workload(f"w{i}")) for i in range(8)]
    kube = Pages([], bad=frozenset({"w5"}))
    planned = plan_window(kube, window, POLICY, batch=8)  # type: ignore[arg-type]
    assert kube.task_calls == [
        tuple(f"w{i}" for i in range(8)),
        ("w0", "w1", "w2", "w3"),
        ("w4", "w5", "w6", "w7"),
        ("w4", "w5"),
        ("w4",),
        ("w5",),
        ("w6", "w7"),
    ]
    by_name = {p.workload.name: p for p in planned}
    assert by_name["w5"].refused is not None and "nested 3001 levels deep" in by_name["w5"].refused
    assert not by_name["w5"].plans and by_name["w5"].error is None
    assert all(by_name[f"w{i}"].plans and by_name[f"w{i}"].refused is None for i in (0, 4, 7))


class Store:
    """A Lease store whose writes land but whose answers can be lost (then 409 on repeat)."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.lose = 0
        self.rv = 0

    def read_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        return json.loads(json.dumps(self.lease)) if self.lease else None

    def _land(self, body: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        self.lease = {**body, "metadata": {**body["metadata"], "resourceVersion": str(self.rv)}}
        return json.loads(json.dumps(self.lease))

    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.lease is not None:
            raise AlreadyExists("create leases: 409 AlreadyExists", 409, "AlreadyExists")
        landed = self._land(body)
        if self.lose:  # the adapter retried a write whose answer was lost: 409 the second time
            self.lose -= 1
            raise AlreadyExists("create leases: 409 AlreadyExists", 409, "AlreadyExists")
        return landed

    def replace_lease(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        current = (self.lease or {}).get("metadata", {}).get("resourceVersion")
        if body["metadata"].get("resourceVersion") != current:
            raise Conflict("update leases: 409 Conflict", 409, "Conflict")
        landed = self._land(body)
        if self.lose:
            self.lose -= 1
            raise Conflict("update leases: 409 Conflict", 409, "Conflict")
        return landed


def test_a_lease_write_whose_answer_was_lost_is_still_ours() -> None:
    """Create, renew and release each meet a 409 on their retried repeat: still ours."""
    store = Store()
    lock = RunLock(store, "ops", "lock", 3, me="run-1")
    store.lose = 1
    lock.acquire()  # not LockHeld by ourselves
    assert (store.lease or {})["spec"]["holderIdentity"] == "run-1"
    lock._renewed = 0.0  # due
    store.lose = 1
    lock.renew_if_due()  # not LockLost
    store.lose = 1
    lock.release()  # not an error: it was released
    assert (store.lease or {})["spec"]["holderIdentity"] is None
