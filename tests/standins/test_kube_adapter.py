"""The sweeper's Kubernetes adapter against the stand-in, as a real API server pushes back.

API Priority and Fairness' 429 (plain text, Retry-After), EventRateLimit's 429 without
one, 5xx, urllib3's own retries, expired continue tokens on a later page, and objects a
tenant made too big or too deep. Waits are recorded, never slept: the adapter's Stop is a
clock that only writes down how long it was asked to wait.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config

from sweeper.bounded import Unreadable
from sweeper.errors import Conflict, Refused, Throttled, Unavailable
from sweeper.kube import Kube, connect
from sweeper.settings import Tunables
from sweeper.stopping import Stop
from tests.fixtures.foreman import issue_pipeline, workload
from tests.standins.kube import KubeStandIn

COORD = "coordination.k8s.io"


class Clock(Stop):
    """A Stop whose waits are only recorded; `stop_after`: request a stop at that wait."""

    def __init__(self, stop_after: int | None = None) -> None:
        super().__init__()
        self.slept: list[float] = []
        self.stop_after = stop_after

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.stop_after is not None and len(self.slept) >= self.stop_after:
            self.request("SIGTERM")


@pytest.fixture
def kube() -> Any:
    with KubeStandIn() as standin:
        yield standin


@pytest.fixture
def kubeconfig(kube: KubeStandIn, tmp_path: Path) -> str:
    return str(kube.write_kubeconfig(tmp_path / "kc"))


def adapter(kubeconfig: str, clock: Stop | None = None, **tunables: Any) -> Kube:
    return connect(kubeconfig, replace(Tunables(), **tunables), clock or Clock())


def lease(holder: str = "me") -> dict[str, Any]:
    return {
        "apiVersion": f"{COORD}/v1",
        "kind": "Lease",
        "metadata": {"name": "lock", "namespace": "ops"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 60},
    }


def answered(kube: KubeStandIn, verb: str) -> list[int]:
    return [c.status for c in kube.calls if c.verb == verb]


# ---------------------------------------------------------------- 429 and 5xx


def test_throttled_patch_waits_retry_after_then_lands(kube: KubeStandIn, kubeconfig: str) -> None:
    """A 429 on the record's merge patch waits Retry-After and retries; no record.failed."""
    rv = kube.seed(workload("wl"))["metadata"]["resourceVersion"]
    clock = Clock()
    kube.throttle("PATCH", r"/workloads/wl$", times=2, retry_after=3)
    adapter(kubeconfig, clock).patch_annotations("default", "wl", rv, {"a": "b"})
    assert clock.slept == [3.0, 3.0]
    assert answered(kube, "patch") == [429, 429, 200]
    assert (kube.get("workloads", "default", "wl") or {})["metadata"]["annotations"] == {"a": "b"}


@pytest.mark.parametrize("call", ["event", "create-lease", "update-lease", "get", "list"])
def test_every_call_is_retried_when_throttled(
    kube: KubeStandIn, kubeconfig: str, call: str
) -> None:
    """Events, Lease writes and reads all wait out a 429 the same way."""
    kube.seed(workload("wl"))
    k = adapter(kubeconfig)
    if call == "update-lease":
        current = k.create_lease("ops", lease())
    kube.throttle("*", "/", times=1, retry_after=0)
    if call == "event":
        k.create_event({"namespace": "default", "name": "wl", "uid": "u"}, "Opened", "m")
        assert len(kube.list("events", "default", group="")) == 1
    elif call == "create-lease":
        assert k.create_lease("ops", lease())["spec"]["holderIdentity"] == "me"
    elif call == "update-lease":
        current["spec"]["holderIdentity"] = "next"
        assert k.replace_lease("ops", "lock", current)["spec"]["holderIdentity"] == "next"
    elif call == "get":
        assert k.get_workload("default", "wl")["metadata"]["name"] == "wl"
    else:
        assert [len(list(p)) for p in k.workload_pages((), None, 10)] == [1]
    assert [c.status for c in kube.calls][-2:] in ([429, 200], [429, 201])


def test_a_429_without_retry_after_backs_off(kube: KubeStandIn, kubeconfig: str) -> None:
    """EventRateLimit answers 429 with no Retry-After: a doubling backoff instead."""
    clock = Clock()
    kube.throttle("POST", r"/events$", times=3, retry_after=None)
    adapter(kubeconfig, clock).create_event(
        {"namespace": "default", "name": "wl", "uid": "u"}, "Opened", "m"
    )
    assert clock.slept == [1.0, 2.0, 4.0]
    assert answered(kube, "create") == [429, 429, 429, 201]


def test_retries_are_bounded_and_say_so(kube: KubeStandIn, kubeconfig: str) -> None:
    """Beyond kube_throttle_retries the call gives up with a Throttled error."""
    rv = kube.seed(workload("wl"))["metadata"]["resourceVersion"]
    clock = Clock()
    kube.throttle("PATCH", r"/workloads/wl$", times=50, retry_after=1)
    with pytest.raises(Throttled, match="gave up after 11 attempts"):
        adapter(kubeconfig, clock).patch_annotations("default", "wl", rv, {"a": "b"})
    assert len(answered(kube, "patch")) == 11 and clock.slept == [1.0] * 10


def test_a_retry_after_longer_than_the_run_waits_gives_up_at_once(
    kube: KubeStandIn, kubeconfig: str
) -> None:
    """A Retry-After beyond kube_max_wait_s is not waited out, nor cut short."""
    kube.seed(workload("wl"))
    clock = Clock()
    kube.throttle("GET", r"/workloads/wl$", times=1, retry_after=600)
    with pytest.raises(Throttled):
        adapter(kubeconfig, clock).get_workload("default", "wl")
    assert clock.slept == []


def test_a_stop_cuts_the_wait_short(kube: KubeStandIn, kubeconfig: str) -> None:
    """SIGTERM during a throttled wait: the call gives up at once, saying why."""
    rv = kube.seed(workload("wl"))["metadata"]["resourceVersion"]
    clock = Clock(stop_after=1)
    kube.throttle("PATCH", r"/workloads/wl$", times=5, retry_after=30)
    with pytest.raises(Throttled, match="SIGTERM received"):
        adapter(kubeconfig, clock).patch_annotations("default", "wl", rv, {"a": "b"})
    assert answered(kube, "patch") == [429]


def test_a_5xx_on_a_write_is_retried(kube: KubeStandIn, kubeconfig: str) -> None:
    """A merge patch with a resourceVersion is safe to repeat: a 500 is retried."""
    rv = kube.seed(workload("wl"))["metadata"]["resourceVersion"]
    clock = Clock()
    kube.inject("PATCH", r"/workloads/wl$", 500, times=1)
    adapter(kubeconfig, clock).patch_annotations("default", "wl", rv, {"a": "b"})
    assert answered(kube, "patch") == [500, 200] and clock.slept == [0.2]
    with pytest.raises(Conflict):  # the repeat of a patch that landed is a 409, never a double
        adapter(kubeconfig).patch_annotations("default", "wl", rv, {"a": "c"})


def test_urllib3s_own_retries_end_in_maxretryerror_which_is_unavailable(
    kube: KubeStandIn, kubeconfig: str
) -> None:
    """A client whose urllib3 retries 429s itself ends in MaxRetryError: retried as a 5xx."""
    kube.seed(workload("wl"))
    cfg = client.Configuration()
    cfg.retries = urllib3.Retry(total=3, status_forcelist=[429], respect_retry_after_header=False)
    api = config.new_client_from_config(config_file=kubeconfig, client_configuration=cfg)
    clock = Clock()
    k = Kube(api, Tunables(), clock)
    kube.throttle("GET", r"/workloads/wl$", times=4, retry_after=0)  # urllib3 tries 1 + 3
    assert k.get_workload("default", "wl")["metadata"]["name"] == "wl"
    assert answered(kube, "get") == [429, 429, 429, 429, 200]
    assert k.calls["get"] == 2 and clock.slept == [0.2]
    kube.throttle("GET", r"/workloads/wl$", times=12, retry_after=0)
    with pytest.raises(Unavailable, match=r"kept refusing: .*429.*3 attempts"):
        k.get_workload("default", "wl")


def test_a_connection_refused_after_urllib3s_retries_is_unavailable(tmp_path: Path) -> None:
    """No API server at all: urllib3's MaxRetryError, retried, then Unavailable."""
    with KubeStandIn() as gone:
        path = str(gone.write_kubeconfig(tmp_path / "kc"))
    clock = Clock()
    with pytest.raises(Unavailable, match=r"cannot reach the cluster at .*: connection refused"):
        adapter(path, clock).get_workload("default", "wl")
    assert clock.slept == [0.2, 0.4]


def test_connect_leaves_429s_to_the_adapter(kube: KubeStandIn, kubeconfig: str) -> None:
    """connect()'s client never waits out a 429 inside urllib3, unstoppably."""
    kube.seed(workload("wl"))
    k = adapter(kubeconfig)
    kube.throttle("GET", r"/workloads/wl$", times=2, retry_after=0)
    k.get_workload("default", "wl")
    assert answered(kube, "get") == [429, 429, 200] and k.calls["get"] == 3


# ---------------------------------------------------------------- 410 on a later page


def test_an_expired_task_listing_restarts_without_counting_a_task_twice(
    kube: KubeStandIn, kubeconfig: str
) -> None:
    """410 on page 2 of the task listing: restarted, and every task is there once."""
    for t in issue_pipeline("wl", 1) + issue_pipeline("wl", 2):
        kube.seed(t)
    kube.expire_on_page("agentictasks", 2)
    found = adapter(kubeconfig).tasks_of("default", ["wl"], page_size=3)
    names = [t["metadata"]["name"] for t in found["wl"]]
    assert len(names) == 8 and len(set(names)) == 8
    assert 410 in answered(kube, "list")


def test_an_expired_workload_listing_yields_each_workload_once(
    kube: KubeStandIn, kubeconfig: str
) -> None:
    """410 on page 3 of the Workloads: every Workload once, across the restart."""
    for i in range(7):
        kube.seed(workload(f"w{i}"))
    kube.expire_on_page("workloads", 3)
    items = [i for p in adapter(kubeconfig).workload_pages((), None, 2) for i in p]
    assert sorted(i["metadata"]["name"] for i in items) == [f"w{i}" for i in range(7)]


# ---------------------------------------------------------------- size and depth caps


def huge(name: str, issues: int, namespace: str = "default") -> dict[str, Any]:
    return workload(name, namespace, issues=list(range(1, issues + 1)))


def test_a_large_page_is_asked_again_smaller_then_grows_back(
    kube: KubeStandIn, kubeconfig: str
) -> None:
    """Over kube_page_bytes, a page is read no further and asked again with half the
    limit; small pages after it double the limit again. Every object comes once."""
    for i in range(4):
        kube.seed(huge(f"a{i}", 2_000))  # about 11 KiB each
    for i in range(40):
        kube.seed(workload(f"b{i:02d}"))  # about 1 KiB each
    k = adapter(kubeconfig, kube_page_bytes=25_000)
    items = [i for p in k.workload_pages((), None, 500) for i in p]
    assert len(items) == 44 and len({i["metadata"]["name"] for i in items}) == 44
    limits = [int(c.query["limit"][0]) for c in kube.calls]
    assert limits[:3] == [500, 250, 125]
    smallest = limits.index(min(limits))
    assert max(limits[smallest:]) > min(limits)  # grew back on the small ones


def test_an_object_over_the_cap_is_refused_unread_by_name(
    kube: KubeStandIn, kubeconfig: str
) -> None:
    """A Workload over kube_object_bytes comes back as Unreadable, named; the rest decoded."""
    kube.seed(workload("small"))
    kube.seed(huge("big", 20_000, "tenant-a"))
    items = [
        i
        for p in adapter(kubeconfig, kube_object_bytes=50_000).workload_pages((), None, 10)
        for i in p
    ]
    [refused] = [i for i in items if isinstance(i, Unreadable)]
    assert (refused.namespace, refused.name) == ("tenant-a", "big")
    assert refused.uid and "more than the 50,000-byte cap" in refused.why
    assert [i["metadata"]["name"] for i in items if isinstance(i, dict)] == ["small"]


def test_a_task_nested_too_deep_refuses_the_listing_by_name(
    kube: KubeStandIn, kubeconfig: str
) -> None:
    """A task whose result nests 200 deep: tasks_of raises Refused naming it."""
    tasks = issue_pipeline("wl", 1)
    nested: Any = "leaf"
    for _ in range(200):
        nested = {"x": nested}
    tasks[-1]["status"]["result"]["deep"] = nested
    for t in tasks:
        kube.seed(t)
    with pytest.raises(Refused, match=r"wl-review-1-2: nested 20\d levels deep"):
        adapter(kubeconfig).tasks_of("default", ["wl"])


def test_task_bytes_over_the_batch_budget_refuse_the_batch(
    kube: KubeStandIn, kubeconfig: str
) -> None:
    """The tasks of one list call are capped in all: over it, the caller must split."""
    for name in ("a", "b"):
        for t in issue_pipeline(name, 1):
            kube.seed(t)
    k = adapter(kubeconfig, task_batch_bytes=4_000, task_page_size=2)
    with pytest.raises(Refused, match="more than 4,000 bytes in all"):
        k.tasks_of("default", ["a", "b"])


def test_a_deep_lease_or_workload_read_is_refused_not_a_recursion_error(
    kube: KubeStandIn, kubeconfig: str
) -> None:
    """A single-object read goes through the same caps."""
    obj = workload("wl")
    obj["metadata"]["annotations"] = {"x": json.dumps(list(range(10)))}
    kube.seed(obj)
    assert adapter(kubeconfig).get_workload("default", "wl")["metadata"]["name"] == "wl"
    with pytest.raises(Refused, match="get workloads default/wl: more than the 100-byte cap"):
        adapter(kubeconfig, kube_object_bytes=100).get_workload("default", "wl")
