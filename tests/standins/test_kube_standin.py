"""The Kubernetes stand-in's contract, checked with the official client (and our adapter).

These pin the behaviours the sweeper's correctness rests on (see the module docstring of
tests/standins/kube.py and shared/kubernetes-testing.md); assertions are on HTTP codes
and Status reasons, never on message text.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from sweeper.errors import AlreadyExists, Conflict, Expired, Forbidden, NotFound, Unavailable
from sweeper.kube import Kube, connect
from tests.fixtures.foreman import agent, issue_pipeline, workload
from tests.real.tools import kubectl_or_skip
from tests.standins.kube import KubeStandIn

G, V = "foreman.llmkube.dev", "v1alpha1"
COORD = "coordination.k8s.io"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def wl(
    name: str,
    namespace: str = "default",
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A minimal Workload, independent of the project's richer fixtures."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if annotations is not None:
        meta["annotations"] = dict(annotations)
    obj: dict[str, Any] = {
        "apiVersion": f"{G}/{V}",
        "kind": "Workload",
        "metadata": meta,
        "spec": {"repo": "acme/widgets", "issues": [1, 2], "intent": "fix"},
    }
    if status is not None:
        obj["status"] = status
    return obj


def lease_body(
    name: str = "lock", holder: str = "a", rv: str | None = None, namespace: str = "ops"
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if rv:
        meta["resourceVersion"] = rv
    return {
        "apiVersion": f"{COORD}/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 60},
    }


@pytest.fixture
def kube() -> Iterator[KubeStandIn]:
    with KubeStandIn() as standin:
        yield standin


@pytest.fixture
def api(kube: KubeStandIn, tmp_path: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kube.write_kubeconfig(tmp_path / "kc")))


@pytest.fixture
def co(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def coord(api: client.ApiClient) -> client.CoordinationV1Api:
    return client.CoordinationV1Api(api)


@pytest.fixture
def adapter(kube: KubeStandIn, tmp_path: Path) -> Kube:
    return connect(str(kube.write_kubeconfig(tmp_path / "kc")))


def status_of(err: ApiException) -> tuple[int, str]:
    body = json.loads(err.body)
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["code"] == err.status
    return err.status, body["reason"]


def raw(kube: KubeStandIn, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request without the official client (no Authorization header at all)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(kube.url + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["metadata"]["name"] for i in items]


# ---------------------------------------------------------------- discovery and errors


@pytest.mark.parametrize(
    "path",
    ["/version", "/api", "/api/v1", "/apis", f"/apis/{G}", f"/apis/{G}/{V}", f"/apis/{COORD}/v1"],
)
def test_discovery_with_and_without_trailing_slash(kube: KubeStandIn, path: str) -> None:
    """Every discovery document answers 200 in both spellings, identically."""
    slashed, unslashed = raw(kube, "GET", path + "/"), raw(kube, "GET", path)
    assert slashed[0] == unslashed[0] == 200
    assert slashed[1] == unslashed[1]


def test_discovery_through_the_official_client(api: client.ApiClient) -> None:
    """The client's discovery calls (which ask for slashed paths) parse and list our kinds."""
    assert client.VersionApi(api).get_code().git_version.startswith("v1.")
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {G, COORD} <= groups
    assert client.CoordinationApi(api).get_api_group().preferred_version.version == "v1"
    foreman = {r.name: r for r in client.CustomObjectsApi(api).get_api_resources(G, V).resources}
    assert set(foreman) == {
        "workloads",
        "workloads/status",
        "agentictasks",
        "agentictasks/status",
        "agents",
        "agents/status",
    }
    assert foreman["workloads"].kind == "Workload" and foreman["workloads"].namespaced
    assert foreman["agents"].kind == "Agent" and foreman["agents"].namespaced
    assert "ag" in foreman["agents"].short_names
    assert "wl" in foreman["workloads"].short_names
    leases = client.CoordinationV1Api(api).get_api_resources().resources
    assert [r.name for r in leases] == ["leases"]
    assert "events" in {r.name for r in client.CoreV1Api(api).get_api_resources().resources}


def test_unknown_paths_are_not_found_statuses(kube: KubeStandIn) -> None:
    """Unknown groups, resources and subresources are 404 with a NotFound Status body."""
    for path in (
        "/apis/nope.example/v1/namespaces/a/things",
        f"/apis/{G}/{V}/namespaces/a/widgets",
        f"/apis/{G}/{V}/namespaces/a/workloads/x/scale",
        f"/apis/{COORD}/v1/namespaces/a/leases/x/status",
        "/api/v1/namespaces/a/configmaps",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/a/clusterroles",
        "/api/v1/namespaces/a/pods/p/exec",
    ):
        code, body = raw(kube, "GET", path)
        assert (code, body["kind"], body["reason"], body["code"]) == (
            404,
            "Status",
            "NotFound",
            404,
        )


def test_get_missing_is_not_found(co: client.CustomObjectsApi) -> None:
    """A missing object is 404 NotFound, with details naming it."""
    with pytest.raises(ApiException) as caught:
        co.get_namespaced_custom_object(G, V, "default", "workloads", "no")
    assert status_of(caught.value) == (404, "NotFound")
    assert json.loads(caught.value.body)["details"] == {
        "name": "no",
        "group": G,
        "kind": "workloads",
    }


# ---------------------------------------------------------------- create


def test_create_answers_201_with_server_metadata(co: client.CustomObjectsApi) -> None:
    """Create is 201 and returns the object with uid, resourceVersion, timestamp, generation 1."""
    created, code, _ = co.create_namespaced_custom_object_with_http_info(
        G, V, "team-a", "workloads", wl("wl", "team-a")
    )
    assert code == 201
    meta = created["metadata"]
    assert meta["uid"] and meta["resourceVersion"].isdigit()
    assert RFC3339.match(meta["creationTimestamp"]) and meta["generation"] == 1
    assert co.create_namespaced_custom_object(G, V, "team-a", "workloads", wl("w2", "team-a"))


def test_create_ignores_status_and_client_system_fields(co: client.CustomObjectsApi) -> None:
    """With a status subresource, create drops status; uid and timestamp are the server's."""
    body = wl("wl", status={"phase": "Completed"})
    body["metadata"] |= {"uid": "mine", "creationTimestamp": "2001-01-01T00:00:00Z"}
    created = co.create_namespaced_custom_object(G, V, "default", "workloads", body)
    assert "status" not in created
    assert created["metadata"]["uid"] != "mine"
    assert not created["metadata"]["creationTimestamp"].startswith("2001")


def test_generate_name(co: client.CustomObjectsApi) -> None:
    """generateName gets five random characters appended; two creates get two names."""
    body = wl("")
    body["metadata"] = {"generateName": "batch-"}
    first = co.create_namespaced_custom_object(G, V, "default", "workloads", body)
    second = co.create_namespaced_custom_object(G, V, "default", "workloads", body)
    for created in (first, second):
        assert re.match(r"^batch-[a-z0-9]{5}$", created["metadata"]["name"])
    assert first["metadata"]["name"] != second["metadata"]["name"]


def test_create_twice_is_already_exists(co: client.CustomObjectsApi) -> None:
    """A duplicate name is 409 AlreadyExists."""
    co.create_namespaced_custom_object(G, V, "default", "workloads", wl("wl"))
    with pytest.raises(ApiException) as caught:
        co.create_namespaced_custom_object(G, V, "default", "workloads", wl("wl"))
    assert status_of(caught.value) == (409, "AlreadyExists")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"metadata": {"name": "wl", "namespace": "elsewhere"}}, (400, "BadRequest")),
        ({"metadata": {"name": "wl", "resourceVersion": "5"}}, (500, "InternalError")),
        ({"metadata": {"name": "Not_A_Name"}}, (422, "Invalid")),
        ({"metadata": {}}, (422, "Invalid")),
        ({"kind": "AgenticTask"}, (400, "BadRequest")),
    ],
    ids=["namespace-mismatch", "resource-version-set", "bad-name", "no-name", "wrong-kind"],
)
def test_create_refuses_what_the_real_server_refuses(
    co: client.CustomObjectsApi, change: dict[str, Any], expected: tuple[int, str]
) -> None:
    """Bodies a real API server rejects on create are rejected with the same code and reason."""
    with pytest.raises(ApiException) as caught:
        co.create_namespaced_custom_object(G, V, "default", "workloads", wl("wl") | change)
    assert status_of(caught.value) == expected


# ---------------------------------------------------------------- list


def test_list_envelope_namespaced_and_all(kube: KubeStandIn, co: client.CustomObjectsApi) -> None:
    """Lists carry kind, apiVersion and the current resourceVersion, ordered by (ns, name)."""
    for name, ns in (("b", "ns1"), ("a", "ns2"), ("c", "ns1")):
        kube.seed(wl(name, ns))
    everything = co.list_cluster_custom_object(G, V, "workloads")
    assert everything["kind"] == "WorkloadList" and everything["apiVersion"] == f"{G}/{V}"
    assert int(everything["metadata"]["resourceVersion"]) >= max(
        int(i["metadata"]["resourceVersion"]) for i in everything["items"]
    )
    assert not everything["metadata"].get("continue")
    assert names(everything["items"]) == ["b", "c", "a"]
    assert names(co.list_namespaced_custom_object(G, V, "ns1", "workloads")["items"]) == ["b", "c"]
    assert co.list_namespaced_custom_object(G, V, "empty", "workloads")["items"] == []
    tasks = co.list_cluster_custom_object(G, V, "agentictasks")
    assert tasks["kind"] == "AgenticTaskList" and tasks["items"] == []


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("team=a", {"w1", "w3"}),
        ("team==a", {"w1", "w3"}),
        ("team!=a", {"w2", "w4"}),
        ("team in (a,b)", {"w1", "w2", "w3"}),
        ("team in ( a , b )", {"w1", "w2", "w3"}),
        ("team notin (a)", {"w2", "w4"}),
        ("tier", {"w3"}),
        ("!tier", {"w1", "w2", "w4"}),
        ("team=a,tier=gold", {"w3"}),
        ("team,!tier", {"w1", "w2"}),
        ("example.com/rank>1", {"w2"}),
        ("example.com/rank<2", {"w1"}),
    ],
)
def test_label_selectors(
    kube: KubeStandIn, co: client.CustomObjectsApi, selector: str, expected: set[str]
) -> None:
    """Equality, inequality, set, existence and numeric requirements, ANDed by commas."""
    for name, labels in (
        ("w1", {"team": "a", "example.com/rank": "1"}),
        ("w2", {"team": "b", "example.com/rank": "3"}),
        ("w3", {"team": "a", "tier": "gold"}),
        ("w4", {}),
    ):
        kube.seed(wl(name, labels=labels))
    found = co.list_cluster_custom_object(G, V, "workloads", label_selector=selector)
    assert set(names(found["items"])) == expected


@pytest.mark.parametrize("selector", ["team in (a", "=a", "team=a=b", "team in ()", "a,,b"])
def test_unparsable_label_selector_is_bad_request(
    co: client.CustomObjectsApi, selector: str
) -> None:
    """A selector the real parser rejects is 400 BadRequest, not an empty or full list."""
    with pytest.raises(ApiException) as caught:
        co.list_cluster_custom_object(G, V, "workloads", label_selector=selector)
    assert status_of(caught.value) == (400, "BadRequest")


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=w1", {"w1@a"}),
        ("metadata.name==w1", {"w1@a"}),
        ("metadata.name!=w1", {"w2@a", "w2@b"}),
        ("metadata.namespace=b", {"w2@b"}),
        ("metadata.namespace!=b,metadata.name=w2", {"w2@a"}),
    ],
)
def test_field_selectors(
    kube: KubeStandIn, co: client.CustomObjectsApi, selector: str, expected: set[str]
) -> None:
    """metadata.name and metadata.namespace select with =, == and !=."""
    for name, ns in (("w1", "a"), ("w2", "a"), ("w2", "b")):
        kube.seed(wl(name, ns))
    found = co.list_cluster_custom_object(G, V, "workloads", field_selector=selector)
    assert {f"{i['metadata']['name']}@{i['metadata']['namespace']}" for i in found["items"]} == (
        expected
    )


def test_unsupported_field_selector_is_bad_request(co: client.CustomObjectsApi) -> None:
    """The CRDs declare no selectableFields, so status.phase cannot be a field selector."""
    with pytest.raises(ApiException) as caught:
        co.list_cluster_custom_object(G, V, "workloads", field_selector="status.phase=Completed")
    assert status_of(caught.value) == (400, "BadRequest")


def collect(co: client.CustomObjectsApi, limit: int, **kwargs: Any) -> list[dict[str, Any]]:
    """All pages of a workload list; each page's envelope is returned."""
    pages, token = [], None
    while True:
        extra = {"_continue": token} if token else {}
        page = co.list_cluster_custom_object(G, V, "workloads", limit=limit, **kwargs, **extra)
        pages.append(page)
        token = page["metadata"].get("continue")
        if not token:
            return pages


def test_limit_and_continue_return_every_object_once(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """Paging 25 objects by 10 yields all 25 exactly once, in order, with remainingItemCount."""
    for i in range(25):
        kube.seed(wl(f"w{i:02d}", f"ns{i % 3}"))
    pages = collect(co, 10)
    assert [len(p["items"]) for p in pages] == [10, 10, 5]
    assert [p["metadata"].get("remainingItemCount") for p in pages] == [15, 5, None]
    listed = [
        (i["metadata"]["namespace"], i["metadata"]["name"]) for p in pages for i in p["items"]
    ]
    assert listed == sorted(listed) and len(set(listed)) == 25


def test_namespaced_paging_and_paging_with_a_selector(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """A namespaced list pages within its namespace; a selector pages over matches only."""
    for i in range(30):
        kube.seed(wl(f"w{i:02d}", f"ns{i % 2}", labels={"odd": str(i % 3 == 1).lower()}))
    token, seen = None, []
    while True:
        extra = {"_continue": token} if token else {}
        page = co.list_namespaced_custom_object(G, V, "ns1", "workloads", limit=4, **extra)
        seen += names(page["items"])
        token = page["metadata"].get("continue")
        if not token:
            break
    assert seen == [f"w{i:02d}" for i in range(1, 30, 2)]
    pages = collect(co, 3, label_selector="odd=true")
    matched = [i for p in pages for i in p["items"]]
    assert names(matched) == [f"w{i:02d}" for i in (4, 10, 16, 22, 28, 1, 7, 13, 19, 25)]
    assert all("remainingItemCount" not in p["metadata"] for p in pages)


def test_expired_continue_is_410(kube: KubeStandIn, co: client.CustomObjectsApi) -> None:
    """After expire_continue_tokens() an outstanding token is 410 Expired; a fresh list works."""
    for i in range(3):
        kube.seed(wl(f"w{i}"))
    token = co.list_cluster_custom_object(G, V, "workloads", limit=1)["metadata"]["continue"]
    kube.expire_continue_tokens()
    with pytest.raises(ApiException) as caught:
        co.list_cluster_custom_object(G, V, "workloads", limit=1, _continue=token)
    assert status_of(caught.value) == (410, "Expired")
    assert len(collect(co, 1)) == 3


def test_expire_on_page_refuses_that_page_of_a_listing_only(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """expire_on_page(plural, 3): page 3 of a listing is 410 Expired once; pages 1-2 serve."""
    for i in range(5):
        kube.seed(wl(f"w{i}"))
    kube.expire_on_page("workloads", 3)
    first = co.list_cluster_custom_object(G, V, "workloads", limit=2)
    second = co.list_cluster_custom_object(
        G, V, "workloads", limit=2, _continue=first["metadata"]["continue"]
    )
    token = second["metadata"]["continue"]
    with pytest.raises(ApiException) as caught:
        co.list_cluster_custom_object(G, V, "workloads", limit=2, _continue=token)
    assert status_of(caught.value) == (410, "Expired")
    again = co.list_cluster_custom_object(G, V, "workloads", limit=2, _continue=token)
    assert names(first["items"] + second["items"] + again["items"]) == [f"w{i}" for i in range(5)]


def test_malformed_or_foreign_continue_is_bad_request(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """A token that is not ours, or was issued for another list scope, is 400 BadRequest."""
    for i in range(3):
        kube.seed(wl(f"w{i}"))
    token = co.list_cluster_custom_object(G, V, "workloads", limit=1)["metadata"]["continue"]
    for call in (
        lambda: co.list_cluster_custom_object(G, V, "workloads", _continue="garbage!"),
        lambda: co.list_namespaced_custom_object(G, V, "default", "workloads", _continue=token),
    ):
        with pytest.raises(ApiException) as caught:
            call()
        assert status_of(caught.value) == (400, "BadRequest")


# ---------------------------------------------------------------- patch and replace


def test_merge_patch_nested_merge_null_delete_list_replace(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """Merge patch merges maps, deletes on null, replaces lists, bumps rv and generation."""
    stored = kube.seed(wl("wl", annotations={"keep": "1", "drop": "2"}))
    patch = {
        "metadata": {"annotations": {"drop": None, "new": "3"}},
        "spec": {"issues": [9], "intent": None},
    }
    out = co.patch_namespaced_custom_object(G, V, "default", "workloads", "wl", patch)
    assert out["metadata"]["annotations"] == {"keep": "1", "new": "3"}
    assert out["spec"] == {"repo": "acme/widgets", "issues": [9]}
    assert int(out["metadata"]["resourceVersion"]) > int(stored["metadata"]["resourceVersion"])
    assert out["metadata"]["generation"] == 2
    assert out["metadata"]["uid"] == stored["metadata"]["uid"]
    only_meta = {"metadata": {"annotations": {"other": "x"}}}
    out = co.patch_namespaced_custom_object(G, V, "default", "workloads", "wl", only_meta)
    assert out["metadata"]["generation"] == 2
    assert kube.get("workloads", "default", "wl") == out


def test_patch_with_stale_resource_version_conflicts(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """A merge patch carrying a stale resourceVersion is 409 Conflict; the current one applies."""
    rv = kube.seed(wl("wl"))["metadata"]["resourceVersion"]
    kube.set_status("workloads", "default", "wl", {"phase": "Completed"})
    patch = {"metadata": {"resourceVersion": rv, "annotations": {"a": "1"}}}
    with pytest.raises(ApiException) as caught:
        co.patch_namespaced_custom_object(
            G, V, "default", "workloads", "wl", patch, _content_type=MERGE
        )
    assert status_of(caught.value) == (409, "Conflict")
    assert "annotations" not in (kube.get("workloads", "default", "wl") or {})["metadata"]
    patch["metadata"]["resourceVersion"] = (kube.get("workloads", "default", "wl") or {})[
        "metadata"
    ]["resourceVersion"]
    out = co.patch_namespaced_custom_object(
        G, V, "default", "workloads", "wl", patch, _content_type=MERGE
    )
    assert out["metadata"]["annotations"] == {"a": "1"}


def test_patch_cannot_rename_and_missing_object_is_not_found(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """A patch never creates (404) and cannot change the name (400)."""
    with pytest.raises(ApiException) as caught:
        co.patch_namespaced_custom_object(G, V, "default", "workloads", "nope", {"spec": {}})
    assert status_of(caught.value) == (404, "NotFound")
    kube.seed(wl("wl"))
    with pytest.raises(ApiException) as caught:
        co.patch_namespaced_custom_object(
            G, V, "default", "workloads", "wl", {"metadata": {"name": "other"}}
        )
    assert status_of(caught.value) == (400, "BadRequest")


def test_json_patch(kube: KubeStandIn, co: client.CustomObjectsApi) -> None:
    """RFC 6902 patches apply in order; a failing test operation is 422 and changes nothing."""
    kube.seed(wl("wl", labels={"a": "1"}))
    ops = [
        {"op": "test", "path": "/metadata/labels/a", "value": "1"},
        {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
        {"op": "replace", "path": "/spec/issues/0", "value": 7},
        {"op": "add", "path": "/spec/issues/-", "value": 8},
        {"op": "remove", "path": "/spec/intent"},
        {"op": "copy", "from": "/spec/repo", "path": "/spec/origin"},
    ]
    out = co.patch_namespaced_custom_object(
        G, V, "default", "workloads", "wl", ops, _content_type=JSON_PATCH
    )
    assert out["metadata"]["labels"] == {"a": "1", "b/c": "2"}
    assert out["spec"] == {"repo": "acme/widgets", "issues": [7, 2, 8], "origin": "acme/widgets"}
    with pytest.raises(ApiException) as caught:
        co.patch_namespaced_custom_object(
            G,
            V,
            "default",
            "workloads",
            "wl",
            [{"op": "test", "path": "/spec/repo", "value": "x"}, {"op": "remove", "path": "/spec"}],
            _content_type=JSON_PATCH,
        )
    assert status_of(caught.value) == (422, "Invalid")
    assert (kube.get("workloads", "default", "wl") or {})["spec"] == out["spec"]


@pytest.mark.parametrize(
    "content_type", ["application/strategic-merge-patch+json", "application/apply-patch+yaml"]
)
def test_unsupported_patch_types_on_custom_resources(
    kube: KubeStandIn, co: client.CustomObjectsApi, content_type: str
) -> None:
    """Strategic merge is 415 on custom resources (as on a real server); so is apply here."""
    kube.seed(wl("wl"))
    with pytest.raises(ApiException) as caught:
        co.patch_namespaced_custom_object(
            G, V, "default", "workloads", "wl", {"spec": {}}, _content_type=content_type
        )
    assert status_of(caught.value) == (415, "UnsupportedMediaType")


def test_put_conflict_rules(kube: KubeStandIn, co: client.CustomObjectsApi) -> None:
    """PUT: stale rv is 409, no rv is 422, the current rv replaces (status kept, generation +1)."""
    stored = kube.seed(wl("wl", status={"phase": "Completed"}))
    body = json.loads(json.dumps(stored))
    body["spec"]["intent"] = "changed"
    body["status"] = {"phase": "Failed"}
    out = co.replace_namespaced_custom_object(G, V, "default", "workloads", "wl", body)
    assert out["spec"]["intent"] == "changed" and out["status"] == {"phase": "Completed"}
    assert out["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as caught:
        co.replace_namespaced_custom_object(G, V, "default", "workloads", "wl", body)
    assert status_of(caught.value) == (409, "Conflict")
    del body["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as caught:
        co.replace_namespaced_custom_object(G, V, "default", "workloads", "wl", body)
    assert status_of(caught.value) == (422, "Invalid")
    with pytest.raises(ApiException) as caught:
        co.replace_namespaced_custom_object(G, V, "default", "workloads", "other", out)
    assert status_of(caught.value) == (400, "BadRequest")
    with pytest.raises(ApiException) as caught:
        co.replace_namespaced_custom_object(G, V, "default", "workloads", "gone", wl("gone"))
    assert status_of(caught.value) == (404, "NotFound")


def test_status_is_a_subresource(kube: KubeStandIn, co: client.CustomObjectsApi) -> None:
    """The main resource ignores status; the status subresource changes only status."""
    kube.seed(wl("wl", status={"phase": "Completed"}))
    out = co.patch_namespaced_custom_object(
        G, V, "default", "workloads", "wl", {"status": {"phase": "Failed"}}, _content_type=MERGE
    )
    assert out["status"] == {"phase": "Completed"} and out["metadata"]["generation"] == 1
    out = co.patch_namespaced_custom_object_status(
        G,
        V,
        "default",
        "workloads",
        "wl",
        {
            "status": {"phase": "Failed"},
            "spec": {"issues": [5]},
            "metadata": {"labels": {"x": "y"}},
        },
        _content_type=MERGE,
    )
    assert out["status"] == {"phase": "Failed"} and out["spec"]["issues"] == [1, 2]
    assert out["metadata"]["labels"] == {} and out["metadata"]["generation"] == 1
    assert co.get_namespaced_custom_object_status(G, V, "default", "workloads", "wl") == out
    stale = json.loads(json.dumps(out))
    stale["metadata"]["resourceVersion"] = "1"
    with pytest.raises(ApiException) as caught:
        co.replace_namespaced_custom_object_status(G, V, "default", "workloads", "wl", stale)
    assert status_of(caught.value) == (409, "Conflict")
    out["status"] = {"phase": "Planning"}
    replaced = co.replace_namespaced_custom_object_status(G, V, "default", "workloads", "wl", out)
    assert replaced["status"] == {"phase": "Planning"}


def test_delete(kube: KubeStandIn, co: client.CustomObjectsApi) -> None:
    """Delete answers a Success Status; a precondition mismatch is 409; then it is gone (404)."""
    stored = kube.seed(wl("wl"))
    with pytest.raises(ApiException) as caught:
        co.delete_namespaced_custom_object(
            G,
            V,
            "default",
            "workloads",
            "wl",
            body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="other")),
        )
    assert status_of(caught.value) == (409, "Conflict")
    out = co.delete_namespaced_custom_object(G, V, "default", "workloads", "wl")
    assert out["status"] == "Success" and out["details"]["uid"] == stored["metadata"]["uid"]
    assert kube.get("workloads", "default", "wl") is None
    with pytest.raises(ApiException) as caught:
        co.delete_namespaced_custom_object(G, V, "default", "workloads", "wl")
    assert status_of(caught.value) == (404, "NotFound")


def test_watch_and_dry_run_are_refused_not_faked(kube: KubeStandIn) -> None:
    """Features the stand-in does not implement fail loudly instead of pretending."""
    base = f"/apis/{G}/{V}/namespaces/default/workloads"
    assert raw(kube, "GET", base + "?watch=true")[0] == 405
    assert raw(kube, "POST", base + "?dryRun=All", wl("wl"))[0] == 400
    assert raw(kube, "DELETE", base)[0] == 405
    assert kube.list("workloads") == []


# ---------------------------------------------------------------- events and leases


def test_events_with_generate_name(core: client.CoreV1Api) -> None:
    """An Event created with generateName is 201, named by the server and listable."""
    body = client.CoreV1Event(
        metadata=client.V1ObjectMeta(generate_name="wl."),
        involved_object=client.V1ObjectReference(
            api_version=f"{G}/{V}", kind="Workload", name="wl", namespace="team-a", uid="u1"
        ),
        reason="PullRequestOpened",
        message="opened",
        type="Normal",
    )
    created, code, _ = core.create_namespaced_event_with_http_info("team-a", body)
    assert code == 201
    name = created.metadata.name
    assert re.match(r"^wl\.[a-z0-9]{5}$", name) and created.metadata.uid
    core.create_namespaced_event("team-b", body)
    listed = core.list_namespaced_event("team-a")
    assert [e.metadata.name for e in listed.items] == [name]
    assert len(core.list_event_for_all_namespaces().items) == 2
    selected = core.list_namespaced_event(
        "team-a", field_selector="involvedObject.kind=Workload,involvedObject.name=wl"
    )
    assert [e.reason for e in selected.items] == ["PullRequestOpened"]
    assert core.list_namespaced_event("team-a", field_selector="reason=Other").items == []


def test_leases_create_read_replace_and_conflict(coord: client.CoordinationV1Api) -> None:
    """Leases: create 201, duplicate 409 AlreadyExists, replace by rv, stale 409, none 422."""
    created, code, _ = coord.create_namespaced_lease_with_http_info("ops", lease_body())
    assert code == 201
    assert created.metadata.uid and created.metadata.generation is None
    with pytest.raises(ApiException) as caught:
        coord.create_namespaced_lease("ops", lease_body())
    assert status_of(caught.value) == (409, "AlreadyExists")
    rv = created.metadata.resource_version
    replaced = coord.replace_namespaced_lease("lock", "ops", lease_body(holder="b", rv=rv))
    assert replaced.spec.holder_identity == "b"
    with pytest.raises(ApiException) as caught:
        coord.replace_namespaced_lease("lock", "ops", lease_body(holder="c", rv=rv))
    assert status_of(caught.value) == (409, "Conflict")
    with pytest.raises(ApiException) as caught:
        coord.replace_namespaced_lease("lock", "ops", lease_body(holder="c"))
    assert status_of(caught.value) == (422, "Invalid")
    assert coord.read_namespaced_lease("lock", "ops").spec.holder_identity == "b"


def test_lease_put_creates_patch_and_delete(coord: client.CoordinationV1Api) -> None:
    """PUT creates a missing Lease (201); the client's default patch type works; delete works."""
    _, code, _ = coord.replace_namespaced_lease_with_http_info("lock", "ops", lease_body())
    assert code == 201
    patched = coord.patch_namespaced_lease("lock", "ops", {"spec": {"holderIdentity": None}})
    assert patched.spec.holder_identity is None and patched.spec.lease_duration_seconds == 60
    assert coord.delete_namespaced_lease("lock", "ops")["status"] == "Success"
    with pytest.raises(ApiException) as caught:
        coord.read_namespaced_lease("lock", "ops")
    assert status_of(caught.value) == (404, "NotFound")


def test_namespaces_all_exist_and_are_read_only(kube: KubeStandIn, core: client.CoreV1Api) -> None:
    """Any namespace reads as Active; the list shows those in use; writes are 405."""
    kube.seed(wl("wl", "team-a"))
    assert core.read_namespace("anything").status.phase == "Active"
    assert [n.metadata.name for n in core.list_namespace().items] == ["default", "team-a"]
    with pytest.raises(ApiException) as caught:
        core.delete_namespace("team-a")
    assert status_of(caught.value) == (405, "MethodNotAllowed")
    assert [(c.verb, c.resource, c.name) for c in kube.calls] == [
        ("get", "namespaces", "anything"),
        ("list", "namespaces", None),
        ("delete", "namespaces", "team-a"),
    ]


# ---------------------------------------------------------------- RBAC: reviews and denials


def review(
    verb: str, resource: str, group: str = G, namespace: str | None = None, name: str | None = None
) -> dict[str, Any]:
    attributes = {"verb": verb, "group": group, "resource": resource}
    attributes.update({k: v for k, v in (("namespace", namespace), ("name", name)) if v})
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes},
    }


def allowed(authz: client.AuthorizationV1Api, body: dict[str, Any]) -> bool:
    answer, code, _ = authz.create_self_subject_access_review_with_http_info(body)
    assert code == 201 and answer.kind == "SelfSubjectAccessReview"
    assert answer.spec.resource_attributes.verb == body["spec"]["resourceAttributes"]["verb"]
    result: bool = answer.status.allowed
    return result


def test_access_reviews_answer_from_the_denials(kube: KubeStandIn, api: client.ApiClient) -> None:
    """A SelfSubjectAccessReview is 201 with status.allowed: true unless deny() took the verb
    away there; a namespaced denial also denies it across all namespaces, a named one also
    where no name is given; nothing is stored, and GET on reviews is 405."""
    authz = client.AuthorizationV1Api(api)
    assert allowed(authz, review("patch", "workloads", namespace="team-a"))
    kube.deny("patch", "workloads.foreman.llmkube.dev", namespace="team-a")
    kube.deny("update", "leases", namespace="ops", name="foreman-pr-sweeper")
    assert not allowed(authz, review("patch", "workloads", namespace="team-a"))
    assert allowed(authz, review("patch", "workloads", namespace="team-b"))
    assert not allowed(authz, review("patch", "workloads"))  # across all namespaces
    assert allowed(authz, review("get", "workloads", namespace="team-a"))
    assert allowed(authz, review("patch", "workloads", group="other.example", namespace="team-a"))
    lease = ("update", "leases", COORD, "ops")
    assert not allowed(authz, review(*lease, name="foreman-pr-sweeper"))
    assert not allowed(authz, review(*lease))  # every name includes the denied one
    assert allowed(authz, review(*lease, name="another"))
    assert allowed(authz, review("get", "leases", COORD, "ops", "foreman-pr-sweeper"))
    code, body = raw(kube, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {})
    assert (code, body["reason"]) == (422, "Invalid")
    assert raw(kube, "GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")[0] == 405


def test_a_denied_request_is_forbidden_as_rbac_words_it(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """What deny() took away is 403 Forbidden, naming verb, resource and namespace; the same
    request elsewhere is served."""
    kube.seed(wl("wl", "team-a"))
    kube.seed(wl("wl", "team-b"))
    kube.deny("patch", "workloads", namespace="team-a")
    patch = {"metadata": {"annotations": {"a": "b"}}}
    with pytest.raises(ApiException) as caught:
        co.patch_namespaced_custom_object(G, V, "team-a", "workloads", "wl", patch)
    assert status_of(caught.value) == (403, "Forbidden")
    message = json.loads(caught.value.body)["message"]
    assert 'cannot patch resource "workloads" in API group "foreman.llmkube.dev"' in message
    assert 'in the namespace "team-a"' in message
    co.patch_namespaced_custom_object(G, V, "team-b", "workloads", "wl", patch)
    assert co.get_namespaced_custom_object(G, V, "team-a", "workloads", "wl")
    assert (kube.get("workloads", "team-a", "wl") or {})["metadata"].get("annotations") is None


def test_kubectl_auth_can_i_reads_the_denials(kube: KubeStandIn, tmp_path: Path) -> None:
    """The real kubectl's `auth can-i` (a protobuf review) says no, exit 1, where deny() took
    the verb away, and yes, exit 0, elsewhere."""
    kubectl = kubectl_or_skip()
    config_file = str(kube.write_kubeconfig(tmp_path / "kc"))
    kube.deny("patch", "workloads.foreman.llmkube.dev", namespace="team-a")

    def can_i(*args: str) -> tuple[int, str]:
        done = subprocess.run(
            [kubectl, "--kubeconfig", config_file, "auth", "can-i", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.returncode, done.stdout.strip()

    assert can_i("patch", "workloads.foreman.llmkube.dev", "-n", "team-a") == (1, "no")
    assert can_i("patch", "workloads.foreman.llmkube.dev", "-n", "team-b") == (0, "yes")
    assert can_i("patch", "workloads.foreman.llmkube.dev", "--all-namespaces") == (1, "no")
    assert can_i("get", "leases/foreman-pr-sweeper", "-n", "ops") == (0, "yes")


# ---------------------------------------------------------------- direct access, faults, hooks


def test_direct_access_is_copied_and_unlogged(kube: KubeStandIn) -> None:
    """seed/get/list/set_status work on copies, keep given uid and status, and log no calls."""
    given = wl("wl", status={"phase": "Completed"})
    given["metadata"]["uid"] = "fixed-uid"
    stored = kube.seed(given)
    assert stored["metadata"]["uid"] == "fixed-uid" and stored["status"]["phase"] == "Completed"
    assert stored["metadata"]["generation"] == 1 and RFC3339.match(
        stored["metadata"]["creationTimestamp"]
    )
    stored["spec"]["repo"] = "mutated"
    given["spec"]["repo"] = "mutated"
    assert (kube.get("workloads", "default", "wl") or {})["spec"]["repo"] == "acme/widgets"
    after = kube.set_status("workloads", "default", "wl", {"phase": "Failed"})
    assert int(after["metadata"]["resourceVersion"]) > int(stored["metadata"]["resourceVersion"])
    assert [o["status"] for o in kube.list("workloads")] == [{"phase": "Failed"}]
    assert kube.list("workloads", "other") == []
    assert kube.get("leases", "ops", "lock", group=COORD) is None
    with pytest.raises(ValueError):
        kube.seed({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}})
    assert kube.calls == []


def test_inject_answers_a_status_error_then_serves(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """inject() fails the next `times` matching requests with that code and reason only."""
    kube.seed(wl("wl"))
    kube.inject("GET", r"/workloads/wl$", 503, "ServiceUnavailable", times=2)
    kube.inject("PATCH", r"/workloads/wl$", 403, "Forbidden")
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            co.get_namespaced_custom_object(G, V, "default", "workloads", "wl")
        assert status_of(caught.value) == (503, "ServiceUnavailable")
    assert co.get_namespaced_custom_object(G, V, "default", "workloads", "wl")
    assert co.list_cluster_custom_object(G, V, "workloads")["items"]
    with pytest.raises(ApiException) as caught:
        co.patch_namespaced_custom_object(G, V, "default", "workloads", "wl", {"spec": {}})
    assert status_of(caught.value) == (403, "Forbidden")
    assert [c.status for c in kube.calls] == [503, 503, 200, 200, 403]


def test_throttle_answers_as_api_priority_and_fairness_does(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """throttle(): 429, a plain-text body (no Status), Retry-After in seconds; then serves.
    The official client raises it as is for a PATCH (urllib3 retries no PATCH)."""
    kube.seed(wl("wl"))
    kube.throttle("PATCH", r"/workloads/wl$", times=1, retry_after=7)
    with pytest.raises(ApiException) as caught:
        co.patch_namespaced_custom_object(G, V, "default", "workloads", "wl", {"spec": {}})
    err = caught.value
    assert err.status == 429 and err.body == "Too many requests, please try again later.\n"
    assert err.headers["Retry-After"] == "7"
    assert err.headers["Content-Type"].startswith("text/plain")
    assert co.patch_namespaced_custom_object(G, V, "default", "workloads", "wl", {"spec": {}})
    assert [c.status for c in kube.calls] == [429, 200]


def test_throttle_without_retry_after_as_eventratelimit_answers(
    kube: KubeStandIn, core: client.CoreV1Api
) -> None:
    """retry_after=None: the 429 carries no Retry-After header."""
    kube.throttle("POST", r"/events$", retry_after=None)
    event = {"metadata": {"generateName": "x."}, "involvedObject": {"name": "x"}}
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_event("default", event)
    assert caught.value.status == 429 and "Retry-After" not in caught.value.headers


def test_the_clients_own_retries_of_a_throttled_get(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """urllib3's default Retry waits out Retry-After for a GET three times by itself, then
    hands the fourth 429 to the client, which raises it."""
    kube.seed(wl("wl"))
    kube.throttle("GET", r"/workloads/wl$", times=4, retry_after=0)
    with pytest.raises(ApiException) as caught:
        co.get_namespaced_custom_object(G, V, "default", "workloads", "wl")
    assert caught.value.status == 429
    assert [c.status for c in kube.calls] == [429] * 4


def test_on_request_sees_each_request_and_can_abort_it(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """The hook gets (method, path, body) before serving; raising drops the request unserved."""
    kube.seed(wl("wl"))
    seen: list[tuple[str, str, Any]] = []
    kube.on_request(lambda method, path, body: seen.append((method, path, body)))
    co.get_namespaced_custom_object(G, V, "default", "workloads", "wl")
    patch = {"metadata": {"annotations": {"a": "1"}}}
    co.patch_namespaced_custom_object(G, V, "default", "workloads", "wl", patch)
    path = f"/apis/{G}/{V}/namespaces/default/workloads/wl"
    assert seen == [("GET", path, None), ("PATCH", path, patch)]

    def abort_patches(method: str, path: str, body: Any) -> None:
        if method == "PATCH":
            raise ConnectionAbortedError("the client was killed")

    kube.on_request(abort_patches)
    with pytest.raises(urllib3.exceptions.HTTPError):
        co.patch_namespaced_custom_object(
            G, V, "default", "workloads", "wl", {"metadata": {"annotations": {"a": "2"}}}
        )
    kube.on_request(None)
    assert (kube.get("workloads", "default", "wl") or {})["metadata"]["annotations"] == {"a": "1"}
    assert kube.calls[-1].verb == "patch" and kube.calls[-1].status == 0
    assert co.get_namespaced_custom_object(G, V, "default", "workloads", "wl")


def test_call_log_records_rbac_verbs(
    kube: KubeStandIn,
    co: client.CustomObjectsApi,
    core: client.CoreV1Api,
    coord: client.CoordinationV1Api,
) -> None:
    """Every request is logged with its RBAC verb, group, resource, namespace, name, status."""
    co.create_namespaced_custom_object(G, V, "ns", "workloads", wl("wl", "ns"))
    co.get_namespaced_custom_object(G, V, "ns", "workloads", "wl")
    co.list_cluster_custom_object(G, V, "workloads", label_selector="a=b")
    co.list_namespaced_custom_object(G, V, "ns", "agentictasks")
    co.patch_namespaced_custom_object(G, V, "ns", "workloads", "wl", {"spec": {}})
    co.patch_namespaced_custom_object_status(G, V, "ns", "workloads", "wl", {"status": {}})
    core.list_namespaced_event("ns")
    coord.create_namespaced_lease("ns", lease_body(namespace="ns"))
    with pytest.raises(ApiException):
        coord.replace_namespaced_lease("lock", "ns", lease_body(rv="1", namespace="ns"))
    co.delete_namespaced_custom_object(G, V, "ns", "workloads", "wl")
    client.VersionApi(co.api_client).get_code()
    logged = [
        (c.verb, c.group, c.resource, c.namespace, c.name, c.subresource, c.status)
        for c in kube.calls
    ]
    assert logged == [
        ("create", G, "workloads", "ns", None, None, 201),
        ("get", G, "workloads", "ns", "wl", None, 200),
        ("list", G, "workloads", None, None, None, 200),
        ("list", G, "agentictasks", "ns", None, None, 200),
        ("patch", G, "workloads", "ns", "wl", None, 200),
        ("patch", G, "workloads", "ns", "wl", "status", 200),
        ("list", "", "events", "ns", None, None, 200),
        ("create", COORD, "leases", "ns", None, None, 201),
        ("update", COORD, "leases", "ns", "lock", None, 409),
        ("delete", G, "workloads", "ns", "wl", None, 200),
        ("get", "", "", None, None, None, 200),
    ]
    assert kube.calls[2].query == {"labelSelector": ["a=b"]}
    assert kube.calls[-1].path == "/version/"
    kube.reset_calls()
    assert kube.calls == []


def test_latency_is_added_to_every_request(tmp_path: Path) -> None:
    """latency_s delays each answer by at least that long."""
    with KubeStandIn(latency_s=0.05) as slow:
        api = config.new_client_from_config(config_file=str(slow.write_kubeconfig(tmp_path / "k")))
        started = time.monotonic()
        for _ in range(3):
            client.CustomObjectsApi(api).list_cluster_custom_object(G, V, "workloads")
        assert time.monotonic() - started >= 0.15


def test_ten_thousand_objects_seed_and_page_quickly(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """Seeding 10,000 objects and paging them by 500 is quick (a loose sanity bound)."""
    started = time.monotonic()
    for i in range(10_000):
        kube.seed(wl(f"w{i:05d}", f"ns{i % 10}", labels={"team": "a"}))
    seeded = time.monotonic() - started
    pages = collect(co, 500)
    listed = {
        (i["metadata"]["namespace"], i["metadata"]["name"]) for p in pages for i in p["items"]
    }
    assert len(pages) == 20 and len(listed) == 10_000
    assert seeded < 5 and time.monotonic() - started < 15


# ---------------------------------------------------------------- the sweeper's adapter


def test_adapter_pages_and_restarts_after_an_expired_continue(
    kube: KubeStandIn, adapter: Kube
) -> None:
    """The adapter lists in pages and, on 410, restarts the listing instead of failing."""
    for i in range(7):
        kube.seed(workload(f"w{i}"))
    pages = adapter.workload_pages((), None, 3)
    first = list(next(pages))
    kube.expire_continue_tokens()
    rest = [item for page in pages for item in page]
    assert set(names(first + rest)) == {f"w{i}" for i in range(7)}


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


def test_adapter_records_with_a_fresh_resource_version(kube: KubeStandIn, adapter: Kube) -> None:
    """The adapter's annotation patch applies with the current resourceVersion."""
    rv = kube.seed(workload("wl"))["metadata"]["resourceVersion"]
    adapter.patch_annotations("default", "wl", rv, {"a": "b"})
    assert (kube.get("workloads", "default", "wl") or {})["metadata"]["annotations"]["a"] == "b"
    assert [(c.verb, c.status) for c in kube.calls] == [("patch", 200)]


def test_adapter_lists_tasks_by_workload_label(kube: KubeStandIn, adapter: Kube) -> None:
    """Tasks are found by the workload label, not by name, for many Workloads per call."""
    for t in issue_pipeline("wl", 1) + issue_pipeline("other", 1) + issue_pipeline("third", 1):
        kube.seed(t)
    found = adapter.tasks_of("default", ["wl", "third", "absent"], page_size=3)
    assert {k: sorted(t["metadata"]["name"] for t in v) for k, v in found.items()} == {
        "wl": ["wl-code-1", "wl-review-1-1", "wl-review-1-2", "wl-verify-1"],
        "third": ["third-code-1", "third-review-1-1", "third-review-1-2", "third-verify-1"],
        "absent": [],
    }
    assert [c.verb for c in kube.calls] == ["list"] * 3  # 8 tasks, 3 a page


def test_adapter_lists_a_namespaces_agents_in_one_call(kube: KubeStandIn, adapter: Kube) -> None:
    """Agents are served (before: 404 NotFound), read by name, one namespace per call; a
    refused list is the typed Forbidden the draft policy warns about."""
    kube.seed(agent("reviewer", draft=True))
    kube.seed(agent("coder", role="coder"))
    kube.seed(agent("reviewer", "other", draft=False))
    found = adapter.agents("default")
    assert sorted(found) == ["coder", "reviewer"]
    assert found["reviewer"]["spec"]["openPullRequestsAsDraft"] is True
    assert [(c.verb, c.resource, c.namespace, c.status) for c in kube.calls] == [
        ("list", "agents", "default", 200)
    ]
    kube.inject("GET", r"/namespaces/other/agents$", 403, "Forbidden")
    with pytest.raises(Forbidden):
        adapter.agents("other")


def test_adapter_expired_is_a_typed_error(kube: KubeStandIn, adapter: Kube) -> None:
    """Beyond its restart budget the adapter raises Expired rather than looping."""
    for i in range(3):
        kube.seed(workload(f"w{i}"))
    kube.inject("GET", r"/workloads$", 410, "Expired", times=10)
    with pytest.raises(Expired):
        list(adapter.workload_pages((), None, 1))


def test_adapter_reads_discovery_reviews_and_namespaces(kube: KubeStandIn, adapter: Kube) -> None:
    """check's looks through the adapter: the resources a group version serves (None for
    one not served), a review's answer, a namespace's existence; nothing is stored."""
    assert adapter.served_resources(G, V) == {"workloads", "agentictasks", "agents"}
    assert adapter.served_resources("nope.example", "v1") is None
    kube.deny("create", "events", namespace="team-a")
    assert adapter.access_review("create", "", "events", "team-b")
    assert not adapter.access_review("create", "", "events", "team-a")
    assert not adapter.access_review("create", "", "events")
    assert adapter.access_review("get", COORD, "leases", "ops", "foreman-pr-sweeper")
    assert adapter.namespace_exists("team-a") is True
    kube.deny("get", "namespaces")
    assert adapter.namespace_exists("team-a") is None
    assert adapter.server == kube.url
    assert {c.method for c in kube.calls} == {"GET", "POST"}
    assert {c.resource for c in kube.calls if c.method == "POST"} == {"selfsubjectaccessreviews"}


def test_adapter_events_and_leases(kube: KubeStandIn, adapter: Kube) -> None:
    """The adapter's Events and Lease calls succeed against the stand-in as against a server."""
    adapter.create_event(
        {"namespace": "default", "name": "wl", "uid": "u"}, "PullRequestOpened", "m"
    )
    [event] = kube.list("events", "default", group="")
    assert event["metadata"]["name"].startswith("wl.") and event["reason"] == "PullRequestOpened"
    assert adapter.read_lease("ops", "lock") is None
    created = adapter.create_lease("ops", lease_body())
    with pytest.raises(AlreadyExists):
        adapter.create_lease("ops", lease_body())
    created["spec"]["holderIdentity"] = "b"
    adapter.replace_lease("ops", "lock", created)
    with pytest.raises(Conflict):
        adapter.replace_lease("ops", "lock", created)
    assert (adapter.read_lease("ops", "lock") or {})["spec"]["holderIdentity"] == "b"


def test_a_429_is_plain_text_with_retry_after(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """API Priority and Fairness' 429: a plain-text body, not a Status, and Retry-After."""
    kube.seed(wl("wl"))
    kube.inject("PATCH", r"/workloads/wl$", 429, retry_after=3)
    kube.inject("POST", r"/events$", 429)  # EventRateLimit admission: no Retry-After
    with pytest.raises(ApiException) as caught:
        co.patch_namespaced_custom_object(G, V, "default", "workloads", "wl", {"spec": {}})
    assert caught.value.status == 429
    assert (caught.value.headers or {}).get("Retry-After") == "3"
    assert caught.value.headers.get("Content-Type", "").startswith("text/plain")
    assert caught.value.body == "Too many requests, please try again later.\n"
    request = urllib.request.Request(kube.url + "/api/v1/namespaces/default/events", b"{}")
    request.add_header("Content-Type", "application/json")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 429 and refused.value.headers.get("Retry-After") is None
    assert co.patch_namespaced_custom_object(G, V, "default", "workloads", "wl", {"spec": {}})


def test_reset_empties_the_cluster_without_a_restart(
    kube: KubeStandIn, co: client.CustomObjectsApi
) -> None:
    """reset(): no objects, faults, hook or calls; old continue tokens are expired; the
    resourceVersion keeps growing; the same client goes on working."""
    for i in range(3):
        kube.seed(wl(f"w{i}"))
    page = co.list_namespaced_custom_object(G, V, "default", "workloads", limit=1)
    token = page["metadata"]["continue"]
    rv = int(page["metadata"]["resourceVersion"])
    kube.inject("GET", r"/workloads$", 503, "ServiceUnavailable", times=5)
    kube.on_request(lambda *_: None)
    kube.reset()
    assert kube.list("workloads") == [] and kube.calls == []
    fresh = co.list_namespaced_custom_object(G, V, "default", "workloads")
    assert fresh["items"] == [] and int(fresh["metadata"]["resourceVersion"]) >= rv
    with pytest.raises(ApiException) as caught:
        co.list_namespaced_custom_object(G, V, "default", "workloads", limit=1, _continue=token)
    assert status_of(caught.value) == (410, "Expired")
    created = kube.seed(wl("w0"))
    assert int(created["metadata"]["resourceVersion"]) > rv
    assert [c.status for c in kube.calls] == [200, 410]
