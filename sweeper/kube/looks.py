"""Read-only looks, for `check` and the run's start: the cluster answers and lets the
sweeper list Workloads, which resources a group version serves, what RBAC allows
(SelfSubjectAccessReview), whether a namespace exists. Nothing is stored."""

from __future__ import annotations

from contextlib import suppress
from functools import partial
from typing import Any, cast

from sweeper.errors import Forbidden, KubeError, NotFound
from sweeper.kube.transport import KubeTransport, TooBig


class Looks(KubeTransport):
    """Read-only questions to the cluster."""

    def check(self, namespaces: tuple[str, ...]) -> dict[str, KubeError]:
        """The cluster answers and lets us read Workloads: one cheap list per scope, after
        one GET of each named Namespace. Returns the named ones that cannot be swept (NotFound:
        no such namespace; Forbidden: its Workloads may not be listed); anything else raises."""
        problems: dict[str, KubeError] = {}
        for namespace in namespaces or (None,):
            if namespace is not None and self.namespace_exists(namespace) is False:
                problems[namespace] = NotFound(f"get namespaces {namespace}: 404 NotFound")
                continue
            kwargs: dict[str, Any] = {"limit": 1, "_request_timeout": self._timeout}
            cap = self._t.kube_page_bytes
            try:
                # A page too big for the cap still answered: the listing refuses its object.
                with suppress(TooBig):
                    self._do(
                        "list workloads", partial(self._list, "workloads", namespace, kwargs, cap)
                    )
            except Forbidden as err:
                if namespace is None:
                    raise
                problems[namespace] = err
        return problems

    @property
    def server(self) -> str:
        """The API server's URL, as the configuration names it."""
        return str(self._core.api_client.configuration.host)

    def served_resources(self, group: str, version: str) -> frozenset[str] | None:
        """The resources (no subresources) one group version serves, by discovery; None
        when the cluster serves no such group version."""
        try:
            found = self._object(
                f"get {group}/{version}",
                lambda: self._custom.get_api_resources(
                    group, version, _preload_content=False, _request_timeout=self._timeout
                ),
            )
        except NotFound:
            return None
        listed = found.get("resources")
        names = [r.get("name") for r in listed or () if isinstance(r, dict)]
        return frozenset(n for n in names if isinstance(n, str) and "/" not in n)

    def access_review(
        self,
        verb: str,
        group: str,
        resource: str,
        namespace: str | None = None,
        name: str | None = None,
    ) -> bool:
        """Whether RBAC lets this client `verb` the resource (in `namespace`, else in all
        of them; `name`, else any), asked with a SelfSubjectAccessReview: nothing is
        stored."""
        attributes = {"verb": verb, "group": group, "resource": resource}
        if namespace:
            attributes["namespace"] = namespace
        if name:
            attributes["name"] = name
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        answer = self._object(
            "create selfsubjectaccessreviews",
            lambda: self._authorization.create_self_subject_access_review(
                cast(Any, body), _preload_content=False, _request_timeout=self._timeout
            ),
        )
        status = answer.get("status")
        return isinstance(status, dict) and status.get("allowed") is True

    def namespace_exists(self, name: str) -> bool | None:
        """Whether the namespace exists; None when this client may not read it."""
        try:
            self._object(
                "get namespaces",
                lambda: self._core.read_namespace(
                    name, _preload_content=False, _request_timeout=self._timeout
                ),
            )
        except NotFound:
            return False
        except Forbidden:
            return None
        return True
