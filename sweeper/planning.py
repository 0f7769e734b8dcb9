"""Plan: the AgenticTasks of many Workloads per list call, then each Workload's plan.

Tasks are read per namespace with `foreman.llmkube.dev/workload in (...)` for a batch of
Workload names, planned at once (`sweeper.core.plan_workload`, pure) and dropped, so
memory holds one window of plans, never the cluster's tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sweeper.core import Candidate, Plan, Policy, draft_choice, plan_workload
from sweeper.errors import Forbidden, KubeError
from sweeper.model import Agent, InvalidInput, Workload, parse_agent
from sweeper.ports import KubePort
from sweeper.report import Log


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


class DraftPolicy:
    """Draft or ready, as the reviewer Agent says: Agents read once per namespace per run,
    only where a candidate has reviewers; a refused read is one warning per run."""

    def __init__(self, kube: KubePort, log: Log, default: bool) -> None:
        self.kube, self.log, self.default = kube, log, default
        self._agents: dict[str, dict[str, Agent] | None] = {}
        self._warned = False

    def apply(self, planned: Sequence[Planned]) -> list[Planned]:
        return [
            replace(item, plans=tuple(self._choose(item, p) for p in item.plans))
            for item in planned
        ]

    def _choose(self, item: Planned, plan: Plan) -> Plan:
        if not isinstance(plan, Candidate) or plan.branch.draft:
            return plan
        agents = self._of(item.workload.namespace) if plan.branch.reviewers else None
        as_draft, why = draft_choice(plan.branch, agents, self.default)
        return replace(plan, branch=replace(plan.branch, as_draft=as_draft, draft_why=why))

    def _of(self, namespace: str) -> dict[str, Agent] | None:
        if namespace not in self._agents:
            self._agents[namespace] = self._read(namespace)
        return self._agents[namespace]

    def _read(self, namespace: str) -> dict[str, Agent] | None:
        try:
            raw = self.kube.agents(namespace)
        except KubeError as err:
            if not self._warned:
                self._warned = True
                setting = "on" if self.default else "off"
                self.log.warning(
                    "agents.unreadable",
                    namespace=namespace,
                    reason="agents-forbidden" if isinstance(err, Forbidden) else "agents-error",
                    detail=f"{err}; draft or ready follows --open-as-draft ({setting}) "
                    "where the reviewer Agent cannot be read (warned once per run)",
                )
            return None
        agents = {}
        for name, obj in raw.items():
            try:
                agents[name] = parse_agent(obj)
            except InvalidInput:
                continue  # an unreadable Agent is a missing one: the default decides
        return agents


def _plan(wl: Workload, tasks: list[dict[str, object]], policy: Policy) -> Planned:
    try:
        return Planned(wl, tuple(plan_workload(wl, tasks, policy)))
    except Exception as err:  # a bug must not stop the other Workloads
        return Planned(wl, error=f"unexpected {type(err).__name__}: {err}")
