"""The Kubernetes API calls the sweeper makes, as RBAC rules.

This table is the single source of truth for `deploy/cronjob.yaml`: a test checks that
the ClusterRole and Role there grant exactly these verbs and nothing more, and the
end-to-end suite checks that every call the sweeper makes is covered by them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sweeper.lock import LEASE_NAME
from sweeper.model import GROUP


@dataclass(frozen=True)
class Permission:
    api_group: str
    resource: str
    verbs: frozenset[str]
    # Empty means "any name". RBAC cannot restrict `create` by name.
    resource_names: tuple[str, ...] = ()
    # True: granted only in the namespace holding the run lock (a Role), else cluster-wide.
    lock_namespace_only: bool = False


PERMISSIONS: tuple[Permission, ...] = (
    Permission(GROUP, "workloads", frozenset({"get", "list", "patch"})),
    Permission(GROUP, "agentictasks", frozenset({"list"})),
    # The reviewer Agent's spec.openPullRequestsAsDraft: one list per namespace per run.
    Permission(GROUP, "agents", frozenset({"get", "list"})),
    Permission("", "events", frozenset({"create"})),
    # Each --namespace is looked up once at start-up: one that does not exist is a warning.
    Permission("", "namespaces", frozenset({"get"})),
    Permission(
        "coordination.k8s.io",
        "leases",
        frozenset({"get", "update"}),
        resource_names=(LEASE_NAME,),
        lock_namespace_only=True,
    ),
    Permission("coordination.k8s.io", "leases", frozenset({"create"}), lock_namespace_only=True),
)
