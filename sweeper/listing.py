"""List: every page of Workloads, triaged; the pending ones, oldest-completed first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sweeper.backlog import NOT_REACHED, TOO_YOUNG
from sweeper.bounded import Unreadable
from sweeper.core import Policy
from sweeper.eligibility import triage
from sweeper.fields import InvalidInput, as_mapping
from sweeper.model import SKIP_ANNOTATION, Workload, parse_workload
from sweeper.outcomes import WorkloadSkip
from sweeper.ports import KubePort
from sweeper.runlog import Log, Summary
from sweeper.settings import Settings


def pending(
    kube: KubePort,
    settings: Settings,
    policy: Policy,
    log: Log,
    summary: Summary,
    on_page: Callable[[], None] = lambda: None,
) -> list[Workload]:
    """Completed, unsettled, old enough. Sorted so that a backlog drains fairly."""
    seen: set[tuple[str, str]] = set()
    found: list[Workload] = []
    now = datetime.now(UTC)
    pages = kube.workload_pages(settings.namespaces, settings.selector, settings.page_size)
    for page in pages:
        for obj in page:
            wl = _parse(obj, log, summary)
            if wl is None or (wl.namespace, wl.name) in seen:
                continue  # an expired continue token restarts the listing: dedupe
            seen.add((wl.namespace, wl.name))
            skip = triage(wl, now, policy)
            summary.workloads[str(skip or "pending")] += 1
            if skip is WorkloadSkip.TOO_YOUNG:
                summary.backlog.wait(wl, TOO_YOUNG)
            elif skip is None:
                summary.backlog.wait(wl, NOT_REACHED)
            if skip in (WorkloadSkip.TOO_YOUNG, WorkloadSkip.OPTED_OUT):
                log.info(
                    "workload.skipped",
                    namespace=wl.namespace,
                    workload=wl.name,
                    reason=str(skip),
                    detail=_why(skip, wl, settings),
                )
            elif skip is None:
                found.append(wl)
        del page  # not kept while the next page is read: only the parsed Workloads are
        on_page()
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda w: (w.completed_at or oldest, w.namespace, w.name))


def _why(skip: WorkloadSkip, wl: Workload, settings: Settings) -> str:
    if skip is WorkloadSkip.OPTED_OUT:
        return (
            f"annotation {SKIP_ANNOTATION} is true (set by {wl.skipped_by}): no GitHub call; "
            "not settled, so the next run after it is removed opens what is missing"
        )
    return f"completed less than {settings.min_age} ago"


def _parse(obj: dict[str, Any] | Unreadable, log: Log, summary: Summary) -> Workload | None:
    """The Workload, or None after its own `workload.skipped` line: one tenant's object
    that cannot be read never stops the listing of everyone else's."""
    if isinstance(obj, Unreadable):
        detail = f"the object is {obj.why}: refused before it was decoded"
        _invalid(log, summary, obj.namespace, obj.name, detail)
        return None
    try:
        return parse_workload(obj)
    except InvalidInput as err:
        detail = str(err)
    except Exception as err:  # e.g. RecursionError: a bug must not stop the other Workloads
        detail = f"unexpected {type(err).__name__} parsing it: {str(err)[:200]}"
    meta = as_mapping(obj.get("metadata"))
    _invalid(log, summary, meta.get("namespace"), meta.get("name"), detail)
    return None


def _invalid(log: Log, summary: Summary, namespace: Any, name: Any, detail: str) -> None:
    summary.workloads[str(WorkloadSkip.INVALID_INPUT)] += 1
    log.warning(
        "workload.skipped",
        namespace=str(namespace),
        workload=str(name),
        reason=str(WorkloadSkip.INVALID_INPUT),
        detail=detail,
    )
