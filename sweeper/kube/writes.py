"""Writes of the adapter: the sweeper's annotations merge-patched with a resourceVersion
precondition, Events on a Workload, and the run lock's Lease (read, created, replaced)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from sweeper.errors import NotFound
from sweeper.kube.transport import VERSION, KubeTransport, discard
from sweeper.model import GROUP


def now_micro() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Writes(KubeTransport):
    """Annotations, Events and the Lease: each write safe to repeat."""

    def patch_annotations(
        self,
        namespace: str,
        name: str,
        resource_version: str,
        annotations: Mapping[str, str | None],
    ) -> None:
        """Merge-patch annotations; a stale resourceVersion raises Conflict (so a repeat
        of a patch that landed but whose answer was lost is a Conflict, never a double)."""
        body = {"metadata": {"resourceVersion": resource_version, "annotations": dict(annotations)}}
        self._do(
            "patch workloads",
            lambda: discard(
                self._custom.patch_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    namespace,
                    "workloads",
                    name,
                    body,
                    _content_type="application/merge-patch+json",
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
            ),
        )

    def create_event(
        self, workload: Mapping[str, str], reason: str, message: str, kind: str = "Normal"
    ) -> None:
        stamp = now_micro()
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "generateName": f"{workload['name']}.",
                "namespace": workload["namespace"],
            },
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Workload",
                "name": workload["name"],
                "namespace": workload["namespace"],
                "uid": workload["uid"],
            },
            "reason": reason,
            "message": message[:1024],
            "type": kind,
            "source": {"component": "foreman-pr-sweeper"},
            "reportingComponent": "foreman-pr-sweeper",
            "reportingInstance": os.environ.get("HOSTNAME", "foreman-pr-sweeper")[:128],
            "firstTimestamp": stamp[:19] + "Z",
            "lastTimestamp": stamp[:19] + "Z",
            "count": 1,
        }
        self._do(
            "create events",
            lambda: discard(
                self._core.create_namespaced_event(
                    workload["namespace"],
                    cast(Any, body),
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
            ),
        )

    def read_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._object(
                "get leases",
                lambda: self._coord.read_namespaced_lease(
                    name, namespace, _preload_content=False, _request_timeout=self._timeout
                ),
            )
        except NotFound:
            return None

    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._object(
            "create leases",
            lambda: self._coord.create_namespaced_lease(
                namespace, cast(Any, body), _preload_content=False, _request_timeout=self._timeout
            ),
        )

    def replace_lease(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._object(
            "update leases",
            lambda: self._coord.replace_namespaced_lease(
                name,
                namespace,
                cast(Any, body),
                _preload_content=False,
                _request_timeout=self._timeout,
            ),
        )
