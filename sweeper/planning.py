"""Plan: the AgenticTasks of many Workloads per list call, then each Workload's plan.

Tasks are read per namespace with `foreman.llmkube.dev/workload in (...)` for a batch of
Workload names, planned at once (`sweeper.core.plan_workload`, pure) and dropped, so
memory holds one window of plans, never the cluster's tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sweeper.core import Plan, Policy, plan_workload
from sweeper.errors import KubeError
from sweeper.model import Workload
from sweeper.ports import KubePort


@dataclass(frozen=True)
class Planned:
    """One Workload's plan; `error`: its tasks could not be read, so it fails alone."""

    workload: Workload
    plans: tuple[Plan, ...] = ()
    error: str | None = None


def task_batches(workloads: Sequence[Workload], size: int) -> list[tuple[str, tuple[str, ...]]]:
    """(namespace, names) per list call: at most `size` names, namespaces in order of need."""
    by_namespace: dict[str, dict[str, None]] = {}
    for wl in workloads:
        by_namespace.setdefault(wl.namespace, {})[wl.name] = None
    return [
        (namespace, tuple(names)[i : i + size])
        for namespace, names in by_namespace.items()
        for i in range(0, len(names), size)
    ]


def plan_window(
    kube: KubePort,
    window: Sequence[Workload],
    policy: Policy,
    batch: int,
    on_batch: Callable[[], None] = lambda: None,
) -> list[Planned]:
    """Every Workload of the window, planned, in the window's order."""
    by_key = {(wl.namespace, wl.name): wl for wl in window}
    planned: dict[tuple[str, str], Planned] = {}
    for namespace, names in task_batches(window, batch):
        on_batch()
        try:
            tasks = kube.tasks_of(namespace, names)
        except KubeError as err:
            for name in names:
                planned[(namespace, name)] = Planned(
                    by_key[(namespace, name)], error=f"reading tasks failed: {err}"
                )
            continue
        for name in names:
            wl = by_key[(namespace, name)]
            planned[(namespace, name)] = _plan(wl, tasks.get(name, []), policy)
    return [planned[(wl.namespace, wl.name)] for wl in window]


def _plan(wl: Workload, tasks: list[dict[str, object]], policy: Policy) -> Planned:
    try:
        return Planned(wl, tuple(plan_workload(wl, tasks, policy)))
    except Exception as err:  # a bug must not stop the other Workloads
        return Planned(wl, error=f"unexpected {type(err).__name__}: {err}")
