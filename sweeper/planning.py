"""Plan: the AgenticTasks of many Workloads per list call, then each Workload's plan.

Tasks are read per namespace with `foreman.llmkube.dev/workload in (...)` for a batch of
Workload names, planned at once (`sweeper.eligibility.plan_workload`, pure) and dropped, so
memory holds one window of plans, never the cluster's tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sweeper.core import Candidate, Decision, Plan, Policy
from sweeper.eligibility import plan_workload
from sweeper.errors import Forbidden, KubeError, Refused, Unavailable
from sweeper.fields import InvalidInput
from sweeper.model import Agent, Workload, parse_agent
from sweeper.outcomes import Outcome, Reason
from sweeper.ports import KubePort
from sweeper.runlog import Log
from sweeper.verdicts import draft_choice


@dataclass(frozen=True)
class Planned:
    """One Workload's plan; `error`: its tasks could not be read, so it fails alone;
    `refused`: its tasks were refused by the size or depth caps (invalid-input, never
    settled: only a change of the Workload settles it, and a changed task is no such
    change, so every run looks again)."""

    workload: Workload
    plans: tuple[Plan, ...] = ()
    error: str | None = None
    refused: str | None = None


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
        for part, tasks, problem in _read(kube, namespace, names, on_batch):
            for name in part:
                wl = by_key[(namespace, name)]
                if isinstance(problem, Refused):
                    item = Planned(wl, refused=f"its AgenticTasks were refused: {problem}")
                elif problem is not None:
                    item = Planned(wl, error=f"reading tasks failed: {problem}")
                else:
                    item = _plan(wl, tasks.get(name, []), policy)
                planned[(namespace, name)] = item
    return [planned[(wl.namespace, wl.name)] for wl in window]


Tasks = dict[str, list[dict[str, Any]]]


def _read(
    kube: KubePort, namespace: str, names: tuple[str, ...], on_batch: Callable[[], None]
) -> Iterator[tuple[tuple[str, ...], Tasks, KubeError | None]]:
    """The tasks of a batch in one list call. A batch refused by the caps (one task too
    big, too deep or not JSON; too many bytes in all) is split in halves, down to the one
    Workload at fault; each part is planned (and its tasks dropped) before the next."""
    on_batch()
    try:
        tasks = kube.tasks_of(namespace, names)
    except Refused as err:
        if len(names) == 1:
            yield names, {}, err
            return
        half = len(names) // 2
        yield from _read(kube, namespace, names[:half], on_batch)
        yield from _read(kube, namespace, names[half:], on_batch)
        return
    except KubeError as err:
        yield names, {}, err
        return
    yield names, tasks, None


class DraftPolicy:
    """Draft or ready, as the reviewer Agent says: Agents read once per namespace per run,
    only where a candidate has reviewers. A refused read (403, or 404: no Agents served)
    is one warning per run and the setting decides; a read that failed after every retry
    (5xx, 429) guesses nothing: the branches that needed it fail (`cluster-error`, never
    settled) for the next run."""

    def __init__(self, kube: KubePort, log: Log, default: bool) -> None:
        self.kube, self.log, self.default = kube, log, default
        self._agents: dict[str, dict[str, Agent] | KubeError | None] = {}
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
        if isinstance(agents, KubeError):
            b = plan.branch
            detail = (
                f"draft or ready is the reviewer Agent's to say, and the Agents could not be "
                f"read: {agents}; nothing was guessed, the next run tries again"
            )
            return Decision(
                b.repo,
                b.name,
                b.issue,
                b.reviewed_sha,
                Outcome.FAILED,
                Reason.CLUSTER_ERROR,
                detail,
            )
        as_draft, why = draft_choice(plan.branch, agents, self.default)
        return replace(plan, branch=replace(plan.branch, as_draft=as_draft, draft_why=why))

    def _of(self, namespace: str) -> dict[str, Agent] | KubeError | None:
        if namespace not in self._agents:
            self._agents[namespace] = self._read(namespace)
        return self._agents[namespace]

    def _read(self, namespace: str) -> dict[str, Agent] | KubeError | None:
        try:
            raw = self.kube.agents(namespace)
        except KubeError as err:
            # Refused (403) or not served (404): a fact of the cluster, so the setting
            # decides. Unavailable after every retry: transient, so nothing is guessed.
            transient = isinstance(err, Unavailable)
            if not self._warned:
                self._warned = True
                setting = "on" if self.default else "off"
                then = (
                    "the branches that need it fail (cluster-error) for the next run"
                    if transient
                    else f"draft or ready follows --open-as-draft ({setting})"
                )
                self.log.warning(
                    "agents.unreadable",
                    namespace=namespace,
                    reason="agents-forbidden" if isinstance(err, Forbidden) else "agents-error",
                    detail=f"{err}; {then} where the reviewer Agent cannot be read "
                    "(warned once per run)",
                )
            return err if transient else None
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
