"""Reads of Foreman objects: Workloads and AgenticTasks listed in pages, within the byte
caps (an expired `continue` restarts a listing, deduped by uid), Agents, one Workload."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

from sweeper import bounded
from sweeper.bounded import Unreadable
from sweeper.errors import Expired, Refused, Unavailable
from sweeper.kube.transport import VERSION, KubeTransport, TooBig
from sweeper.model import GROUP, WORKLOAD_LABEL

AGENT_PAGE_SIZE = 500
Item = dict[str, Any] | Unreadable


def _first_time(item: Item, seen: set[tuple[Any, Any, Any]]) -> bool:
    """False for an item already yielded: a listing restarted after 410 reads it again.

    Keyed by uid, with namespace and name: the server gives every object its own uid, so
    a repeat is the same object read again, and two objects never fold into one."""
    if isinstance(item, Unreadable):
        key = (item.namespace, item.name, item.uid)
    else:
        meta = item.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        key = (meta.get("namespace"), meta.get("name"), meta.get("uid"))
    if not isinstance(key[2], str) or not key[2]:
        return True  # no uid (no server sends that): nothing safe to dedupe by
    if key in seen:
        return False
    seen.add(key)
    return True


def _decode_page(what: str, data: bytearray, cap: int) -> tuple[Iterator[Item], str | None]:
    """A list page's items (each within the caps, else Unreadable) and its continue token."""
    try:
        page = bounded.split_list(data)
    except bounded.Undecodable as err:
        raise Unavailable(f"{what}: {err}") from None
    token = (page.envelope.get("metadata") or {}).get("continue")
    items = bounded.decode_items(data, page, cap)
    return items, token if isinstance(token, str) and token else None


class Reads(KubeTransport):
    """Lists and gets of Foreman objects, as plain dicts."""

    def workload_pages(
        self, namespaces: tuple[str, ...], selector: str | None, page_size: int
    ) -> Iterator[Iterator[Item]]:
        """Pages of Workloads, each once (an expired `continue` restarts the listing, and
        what was read already is left out); an object refused by the caps is Unreadable."""
        for namespace in namespaces or (None,):
            for items, _ in self._pages("workloads", namespace, selector, page_size):
                yield items

    def _pages(
        self, plural: str, namespace: str | None, selector: str | None, page_size: int
    ) -> Iterator[tuple[Iterator[Item], int]]:
        """(items, bytes) per page. A page over `kube_page_bytes` is asked again with half
        the limit (then grows back); a 410 Expired restarts the listing, deduped by uid."""
        seen: set[tuple[Any, Any, Any]] = set()
        token: str | None = None
        restarts, limit = 0, max(1, page_size)
        while True:
            kwargs: dict[str, Any] = {"limit": limit, "_request_timeout": self._timeout}
            if selector:
                kwargs["label_selector"] = selector
            if token:
                kwargs["_continue"] = token
            cap = self._t.kube_page_bytes * (1 if limit > 1 else 4)
            what = f"list {plural}"
            try:
                data = self._do(what, partial(self._list, plural, namespace, kwargs, cap))
            except Expired:
                restarts += 1
                if restarts > 3:
                    raise
                token = None
                continue
            except TooBig:
                if limit == 1:
                    raise Refused(f"{what}: one object is more than {cap:,} bytes") from None
                limit //= 2
                continue
            items, token = _decode_page(what, data, self._t.kube_object_bytes)
            size = len(data)
            del data  # held by `items` only until the caller has read them
            yield (item for item in items if _first_time(item, seen)), size
            del items  # nothing of this page is kept while the next one is read
            if limit < page_size and size < self._t.kube_page_bytes // 4:
                limit = min(page_size, limit * 2)
            if not token:
                return

    def tasks_of(
        self, namespace: str, workloads: Sequence[str], page_size: int | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """The AgenticTasks of several Workloads of one namespace, by name, in one listing.

        Refused when a task is refused by the caps, or when the tasks are more than
        `task_batch_bytes` in all: the caller splits the batch to find whose they are."""
        selector = f"{WORKLOAD_LABEL} in ({','.join(workloads)})"
        found: dict[str, list[dict[str, Any]]] = {name: [] for name in workloads}
        size, budget = page_size or self._t.task_page_size, self._t.task_batch_bytes
        spent = 0
        for page, nbytes in self._pages("agentictasks", namespace, selector, size):
            spent += nbytes
            if spent > budget:
                raise Refused(f"their AgenticTasks are more than {budget:,} bytes in all")
            for task in page:
                if isinstance(task, Unreadable):
                    raise Refused(task.describe("agentictasks"))
                labels = (task.get("metadata") or {}).get("labels") or {}
                owner = labels.get(WORKLOAD_LABEL) if isinstance(labels, dict) else None
                if isinstance(owner, str) and owner in found:
                    found[owner].append(task)
        return found

    def agents(self, namespace: str) -> dict[str, dict[str, Any]]:
        """The namespace's Foreman Agents by name, in one paged listing (an Agent refused by
        the caps is left out: a missing Agent, whose draft setting the default decides)."""
        found: dict[str, dict[str, Any]] = {}
        for page, _ in self._pages("agents", namespace, None, AGENT_PAGE_SIZE):
            for agent in page:
                meta = {} if isinstance(agent, Unreadable) else agent.get("metadata")
                name = meta.get("name") if isinstance(meta, dict) else None
                if isinstance(name, str) and not isinstance(agent, Unreadable):
                    found[name] = agent
        return found

    def get_workload(self, namespace: str, name: str) -> dict[str, Any]:
        return self._object(
            f"get workloads {namespace}/{name}",
            lambda: self._custom.get_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                "workloads",
                name,
                _preload_content=False,
                _request_timeout=self._timeout,
            ),
        )
