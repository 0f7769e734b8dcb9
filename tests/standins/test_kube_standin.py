"""The Kubernetes stand-in's contract, checked with the official client and our adapter.

These pin the behaviours the sweeper's correctness rests on (see the module docstring of
tests/standins/kube.py); assertions are on codes and reasons, never on message text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from sweeper.errors import AlreadyExists, Conflict, Expired, NotFound, Unavailable
from sweeper.kube import Kube, connect
from tests.fixtures.foreman import issue_pipeline, workload
from tests.standins.kube import KubeStandIn

G, V = "foreman.llmkube.dev", "v1alpha1"


@pytest.fixture
def kube() -> Iterator[KubeStandIn]:
    with KubeStandIn() as standin:
        yield standin


@pytest.fixture
def api(kube: KubeStandIn, tmp_path: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kube.write_kubeconfig(tmp_path / "kc")))


@pytest.fixture
def adapter(kube: KubeStandIn, tmp_path: Path) -> Kube:
    return connect(str(kube.write_kubeconfig(tmp_path / "kc")))


def reason(err: ApiException) -> tuple[int, str]:
    return err.status, json.loads(err.body)["reason"]


def test_discovery_with_and_without_trailing_slash(kube: KubeStandIn) -> None:
    """/version, /apis and /api answer in both spellings, as the client asks for them."""
    import urllib.request

    for path in ("/version", "/version/", "/apis", "/apis/", "/api", "/api/", f"/apis/{G}/{V}"):
        with urllib.request.urlopen(kube.url + path) as response:
            assert response.status == 200 and json.load(response)


def test_create_answers_201_with_server_metadata(api: client.ApiClient) -> None:
    """The client's create returns the object (not None) with uid, rv, timestamp, generation."""
    created = client.CustomObjectsApi(api).create_namespaced_custom_object(
        G, V, "team-a", "workloads", workload("wl", "team-a")
    )
    meta = created["metadata"]
    assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"]
    assert meta["generation"] == 1


def test_create_twice_is_already_exists(api: client.ApiClient) -> None:
    """A duplicate name is 409 AlreadyExists."""
    co = client.CustomObjectsApi(api)
    co.create_namespaced_custom_object(G, V, "default", "workloads", workload("wl"))
    with pytest.raises(ApiException) as caught:
        co.create_namespaced_custom_object(G, V, "default", "workloads", workload("wl"))
    assert reason(caught.value) == (409, "AlreadyExists")


def test_get_missing_is_not_found(api: client.ApiClient) -> None:
    """A missing object is 404 with a Status body."""
    with pytest.raises(ApiException) as caught:
        client.CustomObjectsApi(api).get_namespaced_custom_object(
            G, V, "default", "workloads", "no"
        )
    assert reason(caught.value) == (404, "NotFound")


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("team=a", {"w1", "w3"}),
        ("team==a", {"w1", "w3"}),
        ("team!=a", {"w2", "w4"}),
        ("team in (a,b)", {"w1", "w2", "w3"}),
        ("team notin (a)", {"w2", "w4"}),
        ("tier", {"w3"}),
        ("!tier", {"w1", "w2", "w4"}),
        ("team=a,tier=gold", {"w3"}),
    ],
)
def test_label_selectors(
    kube: KubeStandIn, api: client.ApiClient, selector: str, expected: set[str]
) -> None:
    """Equality, inequality, set and existence requirements, ANDed by commas."""
    for name, labels in (
        ("w1", {"team": "a"}),
        ("w2", {"team": "b"}),
        ("w3", {"team": "a", "tier": "gold"}),
        ("w4", {}),
    ):
        kube.seed(workload(name, labels=labels))
    found = client.CustomObjectsApi(api).list_cluster_custom_object(
        G, V, "workloads", label_selector=selector
    )
    assert {i["metadata"]["name"] for i in found["items"]} == expected


def test_list_envelope_namespaced_and_all(kube: KubeStandIn, api: client.ApiClient) -> None:
    """Namespaced and all-namespaces lists, with kind, apiVersion and resourceVersion."""
    kube.seed(workload("a", "ns1"))
    kube.seed(workload("b", "ns2"))
    co = client.CustomObjectsApi(api)
    everything = co.list_cluster_custom_object(G, V, "workloads")
    assert everything["kind"] == "WorkloadList" and everything["apiVersion"] == f"{G}/{V}"
    assert everything["metadata"]["resourceVersion"]
    assert len(everything["items"]) == 2
    assert [
        i["metadata"]["name"]
        for i in co.list_namespaced_custom_object(G, V, "ns2", "workloads")["items"]
    ] == ["b"]


def test_limit_and_continue_return_every_object_once(
    kube: KubeStandIn, api: client.ApiClient
) -> None:
    """Paging 25 objects by 10 yields all 25 exactly once, with a continue token between."""
    for i in range(25):
        kube.seed(workload(f"w{i:02d}", f"ns{i % 3}"))
    co = client.CustomObjectsApi(api)
    names, token, pages = [], None, 0
    while True:
        kwargs: dict[str, Any] = {"limit": 10}
        if token:
            kwargs["_continue"] = token
        page = co.list_cluster_custom_object(G, V, "workloads", **kwargs)
        pages += 1
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert pages == 3 and sorted(names) == sorted(set(names)) and len(names) == 25


def test_expired_continue_is_410(kube: KubeStandIn, api: client.ApiClient) -> None:
    """A stale continue token is 410 Expired."""
    for i in range(3):
        kube.seed(workload(f"w{i}"))
    co = client.CustomObjectsApi(api)
    token = co.list_cluster_custom_object(G, V, "workloads", limit=1)["metadata"]["continue"]
    kube.expire_continue_tokens()
    with pytest.raises(ApiException) as caught:
        co.list_cluster_custom_object(G, V, "workloads", limit=1, _continue=token)
    assert reason(caught.value) == (410, "Expired")


def test_merge_patch_semantics_and_conflict(kube: KubeStandIn, api: client.ApiClient) -> None:
    """Nested merge, null deletes, lists replace; a stale resourceVersion is 409 Conflict."""
    obj = workload("wl", annotations={"keep": "1", "drop": "2"})
    rv = kube.seed(obj)["metadata"]["resourceVersion"]
    co = client.CustomObjectsApi(api)
    patch = {
        "metadata": {"resourceVersion": rv, "annotations": {"drop": None, "new": "3"}},
        "spec": {"issues": [9]},
    }
    out = co.patch_namespaced_custom_object(
        G, V, "default", "workloads", "wl", patch, _content_type="application/merge-patch+json"
    )
    assert out["metadata"]["annotations"] == {"keep": "1", "new": "3"}
    assert out["spec"]["issues"] == [9] and out["spec"]["repo"] == "acme/widgets"
    assert out["metadata"]["resourceVersion"] != rv and out["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as caught:
        co.patch_namespaced_custom_object(
            G, V, "default", "workloads", "wl", patch, _content_type="application/merge-patch+json"
        )
    assert reason(caught.value) == (409, "Conflict")


def test_status_is_a_subresource(kube: KubeStandIn, api: client.ApiClient) -> None:
    """Patching the main resource ignores status; the status subresource changes only status."""
    kube.seed(workload("wl"))
    co = client.CustomObjectsApi(api)
    out = co.patch_namespaced_custom_object(
        G,
        V,
        "default",
        "workloads",
        "wl",
        {"status": {"phase": "Failed"}},
        _content_type="application/merge-patch+json",
    )
    assert out["status"]["phase"] == "Completed"
    out = co.patch_namespaced_custom_object_status(
        G,
        V,
        "default",
        "workloads",
        "wl",
        {"status": {"phase": "Failed"}, "spec": {"issues": [5]}},
        _content_type="application/merge-patch+json",
    )
    assert out["status"]["phase"] == "Failed" and out["spec"]["issues"] == [1]


def test_put_has_the_same_conflict_rule(kube: KubeStandIn, api: client.ApiClient) -> None:
    """PUT with a stale resourceVersion is 409; with the current one it replaces."""
    stored = kube.seed(workload("wl"))
    co = client.CustomObjectsApi(api)
    fresh = json.loads(json.dumps(stored))
    fresh["spec"]["intent"] = "changed"
    out = co.replace_namespaced_custom_object(G, V, "default", "workloads", "wl", fresh)
    assert out["spec"]["intent"] == "changed"
    with pytest.raises(ApiException) as caught:
        co.replace_namespaced_custom_object(G, V, "default", "workloads", "wl", fresh)
    assert reason(caught.value) == (409, "Conflict")


def test_events_with_generate_name(kube: KubeStandIn, adapter: Kube) -> None:
    """Events are created with generateName (201) and listed back."""
    kube.seed(workload("wl"))
    adapter.create_event(
        {"namespace": "default", "name": "wl", "uid": "u"}, "PullRequestOpened", "m"
    )
    [event] = kube.list("events", "default", group="")
    assert event["metadata"]["name"].startswith("wl.") and event["reason"] == "PullRequestOpened"
    assert event["involvedObject"]["kind"] == "Workload"


def test_leases_create_read_replace_and_conflict(adapter: Kube) -> None:
    """Leases: create 201, read, replace, and 409 on a stale replace."""
    assert adapter.read_lease("ops", "lock") is None
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "lock", "namespace": "ops"},
        "spec": {"holderIdentity": "a"},
    }
    created = adapter.create_lease("ops", body)
    with pytest.raises(AlreadyExists):
        adapter.create_lease("ops", body)
    created["spec"]["holderIdentity"] = "b"
    adapter.replace_lease("ops", "lock", created)
    with pytest.raises(Conflict):
        adapter.replace_lease("ops", "lock", created)
    assert (adapter.read_lease("ops", "lock") or {})["spec"]["holderIdentity"] == "b"


def test_adapter_pages_and_restarts_after_an_expired_continue(
    kube: KubeStandIn, adapter: Kube
) -> None:
    """The adapter lists in pages and, on 410, restarts the listing instead of failing."""
    for i in range(7):
        kube.seed(workload(f"w{i}"))
    pages = adapter.workload_pages((), None, 3)
    first = next(pages)
    kube.expire_continue_tokens()
    rest = [item for page in pages for item in page]
    names = [i["metadata"]["name"] for i in first + rest]
    assert set(names) == {f"w{i}" for i in range(7)}


def test_adapter_maps_errors_and_retries_reads(kube: KubeStandIn, adapter: Kube) -> None:
    """5xx on a read is retried; 404 and 409 become typed errors."""
    kube.seed(workload("wl"))
    kube.inject("GET", r"/workloads/wl$", 503, "ServiceUnavailable", times=1)
    assert adapter.get_workload("default", "wl")["metadata"]["name"] == "wl"
    kube.inject("GET", r"/workloads/wl$", 503, "ServiceUnavailable", times=5)
    with pytest.raises(Unavailable):
        adapter.get_workload("default", "wl")
    with pytest.raises(NotFound):
        adapter.get_workload("default", "nope")
    with pytest.raises(Conflict):
        adapter.patch_annotations("default", "wl", "1", {"a": "b"})


def test_adapter_lists_tasks_by_workload_label(kube: KubeStandIn, adapter: Kube) -> None:
    """Tasks are found by the workload label, not by name."""
    for t in issue_pipeline("wl", 1) + issue_pipeline("other", 1):
        kube.seed(t)
    names = {t["metadata"]["name"] for t in adapter.list_tasks("default", "wl")}
    assert names == {"wl-code-1", "wl-verify-1", "wl-review-1-1", "wl-review-1-2"}


def test_expired_is_a_typed_error(kube: KubeStandIn, adapter: Kube) -> None:
    """Beyond its restart budget the adapter raises Expired rather than looping."""
    for i in range(3):
        kube.seed(workload(f"w{i}"))
    kube.inject("GET", r"/workloads$", 410, "Expired", times=10)
    with pytest.raises(Expired):
        list(adapter.workload_pages((), None, 1))


def test_call_log_and_hooks(kube: KubeStandIn, adapter: Kube) -> None:
    """Every request is logged with its RBAC verb; an on_request hook runs before serving."""
    kube.seed(workload("wl"))
    seen: list[str] = []
    kube.on_request(lambda method, path, body: seen.append(method))
    adapter.get_workload("default", "wl")
    list(adapter.workload_pages(("default",), None, 10))
    assert seen == ["GET", "GET"]
    assert [(c.verb, c.resource, c.namespace, c.name) for c in kube.calls] == [
        ("get", "workloads", "default", "wl"),
        ("list", "workloads", "default", None),
    ]


def test_ten_thousand_objects_page_quickly(kube: KubeStandIn, adapter: Kube) -> None:
    """Seeding and paging 10,000 objects is fast enough for the benchmark (a sanity bound)."""
    started = time.monotonic()
    for i in range(10_000):
        kube.seed(workload(f"w{i:05d}", f"ns{i % 10}"))
    count = sum(len(page) for page in adapter.workload_pages((), None, 500))
    assert count == 10_000
    assert time.monotonic() - started < 30
