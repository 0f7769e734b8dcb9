"""Record: each Workload's PRs in its annotation, its settled mark, and an Event per PR."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sweeper.acts.writing import Effects
from sweeper.core import Decision, merged_records, settles
from sweeper.errors import Conflict, KubeError, NotFound
from sweeper.model import SETTLED_ANNOTATION, Workload, parse_workload
from sweeper.ports import KubePort
from sweeper.records import RECORD_ANNOTATION, render_records
from sweeper.runlog import Log, Summary


class Recorder:
    def __init__(
        self, effects: Effects, kube: KubePort, attempts: int, log: Log, summary: Summary
    ) -> None:
        self.effects, self.kube, self.attempts = effects, kube, attempts
        self.log, self.summary = log, summary
        self._deleted: set[tuple[str, str]] = set()

    def gone(self, wl: Workload) -> bool:
        """The Workload was deleted during the run (found while recording it)."""
        return (wl.namespace, wl.name) in self._deleted

    def record(self, wl: Workload, decisions: Sequence[Decision], complete: bool = True) -> bool:
        """Merge today's records into the annotation, re-reading on a stale resourceVersion.

        `complete`: every branch of the Workload was decided (not so when a stop cut the
        Workload short); only then may it be settled.
        """
        current, rv, settled = wl, wl.resource_version, complete and settles(decisions)
        try:
            for _ in range(self.attempts):
                annotations = annotation_changes(current, decisions, settled)
                if not annotations:
                    return True
                try:
                    self.effects.annotate(current, rv, annotations)
                    return True
                except Conflict:
                    current = parse_workload(self.kube.get_workload(wl.namespace, wl.name))
                    settled = settled and current.fingerprint == wl.fingerprint
                    rv = current.resource_version
        except NotFound:
            return self._gone(wl)
        except KubeError as err:
            return self._failed(wl, str(err))
        except Exception as err:  # one Workload's trouble stays its own
            return self._failed(wl, f"{type(err).__name__}: {err}")
        return self._failed(wl, "resourceVersion kept changing")

    def _gone(self, wl: Workload) -> bool:
        """Deleted meanwhile: nothing is left to record, and that is no failure."""
        self._deleted.add((wl.namespace, wl.name))
        self.log.info(
            "record.gone",
            namespace=wl.namespace,
            workload=wl.name,
            reason="workload-deleted",
            detail="the Workload was deleted during the run: nothing left to record",
        )
        return False

    def event(self, wl: Workload, decision: Decision) -> None:
        self._emit(wl, lambda: self.effects.event(wl, decision))

    def _emit(self, wl: Workload, emit: Callable[[], None]) -> None:
        try:
            emit()
        except KubeError as err:
            self.log.warning(
                "event.failed", namespace=wl.namespace, workload=wl.name, detail=str(err)
            )

    def _failed(self, wl: Workload, detail: str) -> bool:
        self.summary.record_failures += 1
        text = f"{detail[:300]}; the next run adopts the PRs by head"
        self.log.error(
            "record.failed",
            namespace=wl.namespace,
            workload=wl.name,
            reason="record-failed",
            detail=text,
        )
        self._emit(wl, lambda: self.effects.record_failed(wl, text))
        return False


def annotation_changes(
    wl: Workload, decisions: Sequence[Decision], settled: bool
) -> dict[str, str | None]:
    """The annotations to patch: only what differs from what the Workload carries."""
    changes: dict[str, str | None] = {}
    records = merged_records(wl.records, decisions)
    if records != dict(wl.records):
        changes[RECORD_ANNOTATION] = render_records(records)
    mark = wl.fingerprint if settled else None
    if mark != wl.settled:
        changes[SETTLED_ANNOTATION] = mark
    return changes
