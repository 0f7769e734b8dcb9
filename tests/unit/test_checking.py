"""`check`'s judgement of what the probes found: one row per check, each failure named."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from sweeper.checking import (
    FAIL,
    OK,
    WARN,
    WITHOUT,
    Access,
    ClusterFacts,
    Facts,
    GitHubFacts,
    Row,
    document,
    evaluate,
    exit_code,
    questions,
    table,
)
from sweeper.cli import settings_from
from sweeper.github import InstallationProbe, RateProbe, TokenProbe
from sweeper.permissions import PERMISSIONS
from sweeper.settings import AppCredentials, Settings

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
BASE, _ = settings_from(["--lock-namespace", "sweeper"], {"GITHUB_TOKEN": "ghp_x"})
NAMESPACED = replace(BASE, namespaces=("team-a", "team-b"))
APP = replace(
    BASE,
    github_token="",
    app=AppCredentials("4242", "-----BEGIN RSA PRIVATE KEY-----", None),
    allow_repos=("acme/widgets", "acme-labs/*"),
)
SERVED = frozenset({"workloads", "agentictasks", "agents"})
FULL = {"contents": "read", "metadata": "read", "pull_requests": "write", "issues": "write"}
GRAPHQL_OK = RateProbe("graphql", 5000, 5000, 0, "2026-05-01T13:00:00Z")


def token(scopes: tuple[str, ...] | None = ("repo",), core: int = 4990) -> GitHubFacts:
    rates = (RateProbe("core", 5000, core, 5000 - core, "2026-05-01T13:00:00Z"), GRAPHQL_OK)
    return GitHubFacts(token=TokenProbe(rates, scopes))


def answered(s: Settings, deny: Iterable[tuple[str, str, str | None]] = ()) -> tuple[Access, ...]:
    """Every question of `s`, granted but for (verb, resource, namespace) in `deny`."""
    denied = set(deny)
    return tuple(
        replace(q, allowed=(q.verb, q.resource, q.namespace) not in denied) for q in questions(s)
    )


def facts(
    s: Settings = BASE,
    *,
    deny: Iterable[tuple[str, str, str | None]] = (),
    github: GitHubFacts | None = None,
    pushgateway: str | None = None,
    in_pod: bool = False,
    **cluster: Any,
) -> Facts:
    known: dict[str, Any] = {
        "server": "https://k8s.example:6443",
        "served": SERVED,
        "access": answered(s, deny),
        "namespaces": tuple((n, True) for n in s.namespaces),
        "lock_namespace": True,
    }
    known.update(cluster)
    return Facts(
        s,
        in_pod,
        NOW,
        ClusterFacts(**known),
        github if github is not None else token(),
        pushgateway,
    )


def installed(repo: str, permissions: dict[str, str] | None = None, iid: int = 1001) -> Any:
    granted = FULL if permissions is None else permissions
    from sweeper.github.auth import lacking

    owner = repo.split("/")[0]
    return InstallationProbe(repo, owner, True, iid, granted, lacking(granted))


def app_facts(*probes: InstallationProbe, s: Settings = APP) -> Facts:
    return facts(s, github=GitHubFacts(installations=probes))


HELD = {
    "spec": {
        "holderIdentity": "other-run",
        "leaseDurationSeconds": 900,
        "renewTime": "2026-05-01T11:59:00.000000Z",
    }
}
LAPSED = {"spec": {**HELD["spec"], "renewTime": "2026-05-01T10:00:00.000000Z"}}
GATEWAY = "http://pushgateway.monitoring:9091"


@pytest.mark.parametrize(
    ("given", "check", "status", "detail"),
    [
        # ------------------------------------------------------------ RBAC
        pytest.param(
            facts(NAMESPACED, deny=[("patch", "workloads", "team-a")]),
            "rbac workloads",
            FAIL,
            "cannot patch workloads.foreman.llmkube.dev in namespace team-a",
            id="patch-denied-in-one-namespace",
        ),
        pytest.param(
            facts(NAMESPACED, deny=[("patch", "workloads", n) for n in NAMESPACED.namespaces]),
            "rbac workloads",
            FAIL,
            "cannot patch workloads.foreman.llmkube.dev in namespaces team-a, team-b",
            id="patch-denied-in-both-namespaces",
        ),
        pytest.param(
            facts(deny=[("get", "workloads", None), ("patch", "workloads", None)]),
            "rbac workloads",
            FAIL,
            "cannot get, patch workloads.foreman.llmkube.dev cluster-wide",
            id="verbs-sharing-a-scope-are-merged",
        ),
        pytest.param(
            facts(deny=[("list", "agentictasks", None)]),
            "rbac agentictasks",
            FAIL,
            "cannot list agentictasks.foreman.llmkube.dev cluster-wide",
            id="tasks-unlistable",
        ),
        pytest.param(
            facts(deny=[("create", "events", None)]),
            "rbac events",
            WARN,
            "cannot create events cluster-wide: no Event records a PR",
            id="events-are-optional",
        ),
        pytest.param(
            facts(deny=[("list", "agents", None)]),
            "rbac agents",
            WARN,
            "cannot list agents.foreman.llmkube.dev cluster-wide: draft or ready follows",
            id="agents-are-optional",
        ),
        pytest.param(
            facts(NAMESPACED),
            "rbac workloads",
            OK,
            "get, list, patch in namespaces team-a, team-b",
            id="granted-in-each-namespace",
        ),
        pytest.param(
            facts(access=tuple(replace(q, error="403 Forbidden") for q in questions(BASE))),
            "rbac workloads",
            FAIL,
            "not verified: 403 Forbidden",
            id="review-unanswered-is-no-pass",
        ),
        pytest.param(
            facts(access=tuple(replace(q, error="403 Forbidden") for q in questions(BASE))),
            "rbac agents",
            WARN,
            "not verified: 403 Forbidden",
            id="optional-review-unanswered",
        ),
        pytest.param(
            facts(access=tuple(replace(q, error="not asked") for q in questions(BASE))),
            "lease",
            FAIL,
            "sweeper/foreman-pr-sweeper: not verified: not asked",
            id="lease-review-unanswered",
        ),
        # ------------------------------------------------------------ the Lease
        pytest.param(
            facts(deny=[("update", "leases", "sweeper")]),
            "lease",
            FAIL,
            "cannot update leases.coordination.k8s.io foreman-pr-sweeper in namespace sweeper",
            id="lease-update-denied-by-name",
        ),
        pytest.param(
            facts(deny=[("create", "leases", "sweeper")]),
            "lease",
            FAIL,
            "cannot create leases.coordination.k8s.io in namespace sweeper",
            id="lease-create-denied",
        ),
        pytest.param(
            facts(lock_namespace=False),
            "lease",
            FAIL,
            "namespace sweeper does not exist",
            id="lock-namespace-missing",
        ),
        pytest.param(
            facts(), "lease", OK, "no Lease yet (a run creates it)", id="lease-not-yet-made"
        ),
        pytest.param(facts(lease=HELD), "lease", OK, "held by other-run now", id="lease-held"),
        pytest.param(facts(lease=LAPSED), "lease", OK, "granted; free", id="lease-lapsed"),
        pytest.param(
            facts(replace(BASE, use_lock=False)),
            "lease",
            OK,
            "not taken (--no-lock)",
            id="no-lock",
        ),
        pytest.param(
            facts(lease_error="get leases: 500 InternalError"),
            "lease",
            WARN,
            "reading it failed: get leases: 500 InternalError",
            id="lease-unreadable",
        ),
        # ------------------------------------------------------------ the cluster
        pytest.param(
            facts(served=None),
            "cluster",
            FAIL,
            "does not serve foreman.llmkube.dev/v1alpha1: install Foreman's CRDs",
            id="no-foreman-group",
        ),
        pytest.param(
            facts(served=frozenset({"agentictasks", "agents"})),
            "cluster",
            FAIL,
            "foreman.llmkube.dev/v1alpha1 does not serve workloads",
            id="workloads-not-served",
        ),
        pytest.param(
            facts(served=frozenset({"workloads", "agentictasks"})),
            "cluster",
            WARN,
            "does not serve agents at https://k8s.example:6443: draft or ready follows",
            id="agents-not-served",
        ),
        pytest.param(
            facts(error="get foreman.llmkube.dev/v1alpha1: MaxRetryError"),
            "cluster",
            FAIL,
            "cannot ask the cluster at https://k8s.example:6443: get foreman.llmkube.dev",
            id="cluster-unreachable",
        ),
        pytest.param(
            facts(NAMESPACED, namespaces=(("team-a", True), ("team-b", False))),
            "namespaces",
            WARN,
            "team-b: no such namespace, nothing is swept there",
            id="namespace-missing",
        ),
        pytest.param(
            facts(NAMESPACED, namespaces=(("team-a", None), ("team-b", None))),
            "namespaces",
            OK,
            "team-a, team-b (whether they exist was not read",
            id="namespaces-unreadable",
        ),
        # ------------------------------------------------------------ the allowlist
        pytest.param(
            facts(in_pod=True), "allowlist", WARN, "not set, in a pod", id="no-allowlist-in-a-pod"
        ),
        pytest.param(facts(), "allowlist", OK, "not set: any repository", id="no-allowlist-here"),
        pytest.param(
            facts(replace(BASE, allow_repos=("acme/widgets", "acme-labs/*")), in_pod=True),
            "allowlist",
            OK,
            "acme/widgets, acme-labs/*",
            id="allowlist-set",
        ),
        # ------------------------------------------------------------ a token
        pytest.param(
            facts(github=token(("repo", "read:org"))),
            "github",
            OK,
            "classic token; scopes: repo, read:org",
            id="classic-repo",
        ),
        pytest.param(
            facts(github=token(("public_repo",))),
            "github",
            WARN,
            "PRs on private repositories fail",
            id="classic-public-repo-only",
        ),
        pytest.param(
            facts(github=token(("read:org",))),
            "github",
            FAIL,
            "without the repo scope (scopes: read:org): it cannot open pull requests",
            id="classic-without-repo",
        ),
        pytest.param(
            facts(github=token(None)),
            "github",
            OK,
            "its repository permissions cannot be verified here",
            id="fine-grained-is-never-failed",
        ),
        pytest.param(
            facts(github=GitHubFacts(error="GET /rate_limit: 401 Bad credentials", refused=True)),
            "github",
            FAIL,
            "GitHub refused the token: GET /rate_limit: 401 Bad credentials",
            id="token-refused",
        ),
        pytest.param(
            facts(github=GitHubFacts(error="GET /rate_limit: ConnectionError")),
            "github",
            FAIL,
            "cannot ask GitHub at https://api.github.com: GET /rate_limit: ConnectionError",
            id="github-unreachable",
        ),
        pytest.param(
            facts(github=token(core=900)),
            "quota",
            WARN,
            "core has 900 of 5000 left, within the reserve of 1000 (20%)",
            id="quota-within-reserve",
        ),
        pytest.param(
            facts(),
            "quota",
            OK,
            "core 4990 of 5000 left, graphql 5000 of 5000 left",
            id="quota-plenty",
        ),
        # ------------------------------------------------------------ a GitHub App
        pytest.param(
            app_facts(installed("acme/widgets"), installed("acme-labs/*", iid=1002)),
            "installation acme",
            OK,
            "installation 1001: contents, pull_requests and metadata granted (acme/widgets)",
            id="app-installed",
        ),
        pytest.param(
            app_facts(
                installed("acme/widgets"), InstallationProbe("acme-labs/*", "acme-labs", False)
            ),
            "installation acme-labs",
            FAIL,
            "the App is not installed on acme-labs (or cannot see acme-labs/*)",
            id="app-not-installed-on-an-owner",
        ),
        pytest.param(
            app_facts(installed("acme/widgets", {"contents": "read", "metadata": "read"})),
            "installation acme",
            FAIL,
            "installation 1001 on acme lacks pull_requests: write",
            id="app-lacks-a-permission",
        ),
        pytest.param(
            app_facts(
                installed("acme/widgets"),
                s=replace(APP, app=AppCredentials("4242", "k", 7), allow_repos=("acme/widgets",)),
            ),
            "installation acme",
            FAIL,
            "--github-app-installation-id 7 is not the App's installation 1001 on acme",
            id="app-pinned-elsewhere",
        ),
        pytest.param(
            app_facts(
                installed("acme/widgets", {k: v for k, v in FULL.items() if k != "issues"}),
                s=replace(APP, labels=("foreman",), allow_repos=("acme/widgets",)),
            ),
            "installation acme",
            WARN,
            "lacks issues: write (--label fails, as a warning)",
            id="app-labels-without-issues",
        ),
        pytest.param(
            app_facts(s=replace(APP, allow_repos=())),
            "installations",
            WARN,
            "no allowlist: which owners need the App is not known",
            id="app-without-allowlist",
        ),
        pytest.param(
            facts(APP, github=GitHubFacts(error="GET /app: 401 A JSON web token", refused=True)),
            "github",
            FAIL,
            "GitHub refused the GitHub App 4242's key",
            id="app-key-refused",
        ),
        # ------------------------------------------------------------ the Pushgateway
        pytest.param(
            facts(replace(BASE, pushgateway_url=GATEWAY), pushgateway="[Errno 111] refused"),
            "pushgateway",
            FAIL,
            f"{GATEWAY} is not ready: [Errno 111] refused",
            id="gateway-down",
        ),
        pytest.param(
            facts(replace(BASE, pushgateway_url=GATEWAY)),
            "pushgateway",
            OK,
            f"{GATEWAY} is ready",
            id="gateway-ready",
        ),
        pytest.param(facts(), "pushgateway", OK, "not set", id="gateway-unset"),
    ],
)
def test_each_check_names_what_it_found(given: Facts, check: str, status: str, detail: str) -> None:
    """Each row says ok, warn or fail, and its detail names exactly what is missing."""
    rows = {r.check: r for r in evaluate(given)}
    assert check in rows, sorted(rows)
    assert rows[check].status == status, rows[check]
    assert detail in rows[check].detail, rows[check]
    assert exit_code(rows.values()) == (1 if any(r.status == FAIL for r in rows.values()) else 0)


def test_all_granted_is_all_ok_and_exit_0() -> None:
    """Nothing missing: every row ok, one row per check, and exit 0."""
    rows = evaluate(facts(replace(NAMESPACED, pushgateway_url=GATEWAY)))
    assert [r.check for r in rows] == [
        "allowlist",
        "github",
        "quota",
        "cluster",
        "rbac workloads",
        "rbac agentictasks",
        "rbac agents",
        "rbac events",
        "rbac namespaces",
        "namespaces",
        "lease",
        "pushgateway",
    ]
    assert {r.status for r in rows} == {OK} and exit_code(rows) == 0


def test_an_unreachable_cluster_is_one_row() -> None:
    """No answer from the cluster: one failed row, not one per question it could not ask."""
    rows = evaluate(facts(error="connection refused"))
    assert [r.check for r in rows if r.status == FAIL] == ["cluster"]
    assert not any(r.check.startswith(("rbac", "lease")) for r in rows)


def test_questions_follow_the_permissions_and_the_scope() -> None:
    """Every verb of sweeper.permissions is asked: in each --namespace (else cluster-wide),
    and the Lease's in its namespace, by name where RBAC grants it by name."""
    cluster_wide = {(q.verb, q.resource, q.namespace, q.name) for q in questions(BASE)}
    wanted = {(v, p.resource) for p in PERMISSIONS for v in p.verbs}
    assert {(v, r) for v, r, _, _ in cluster_wide} == wanted
    assert ("patch", "workloads", None, None) in cluster_wide
    assert ("update", "leases", "sweeper", "foreman-pr-sweeper") in cluster_wide
    assert ("create", "leases", "sweeper", None) in cluster_wide
    per_namespace = {(q.verb, q.resource, q.namespace) for q in questions(NAMESPACED)}
    assert {("patch", "workloads", "team-a"), ("patch", "workloads", "team-b")} <= per_namespace
    assert ("patch", "workloads", None) not in per_namespace
    assert not [q for q in questions(replace(BASE, use_lock=False)) if q.resource == "leases"]


def test_every_optional_permission_is_one_the_sweeper_has() -> None:
    """The permissions a run can do without are named in sweeper.permissions: none drifts."""
    assert set(WITHOUT) <= {(p.api_group, p.resource) for p in PERMISSIONS}


def test_the_table_and_the_document() -> None:
    """A row per line under a header, then the verdict; JSON carries the same rows."""
    rows = [Row("allowlist", OK, "acme/widgets"), Row("rbac workloads", FAIL, "cannot patch")]
    assert table(rows).splitlines() == [
        "CHECK           STATUS  DETAIL",
        "allowlist       ok      acme/widgets",
        "rbac workloads  fail    cannot patch",
        "",
        "1 failed: a real run would not work (exit 1)",
    ]
    parsed = json.loads(document(rows))
    assert parsed["ok"] is False and parsed["exit_code"] == 1
    assert parsed["checks"][1] == {
        "check": "rbac workloads",
        "status": "fail",
        "detail": "cannot patch",
    }
    assert table([Row("a", WARN, "x")]).endswith("1 warning: a real run would work (exit 0)\n")
