"""Recording a Workload's PRs when its annotation patch meets a conflict and the re-read fails.

One Workload's trouble stays that Workload's: the other Workloads are recorded, the run
closes with `sweep.finished`, and the exit code tells whether anything was lost.
"""

from __future__ import annotations

import pytest

from tests.e2e.harness import World

pytestmark = pytest.mark.e2e


def seed(world: World) -> None:
    world.simple("alpha", issues=(1,))
    world.simple("beta", issues=(1,))


def test_a_workload_deleted_before_its_record_is_no_failure(world: World) -> None:
    """409 on the patch, then 404 on the re-read (deleted with a finalizer pending): a
    `record.gone` line, no failure, and the other Workload is recorded."""
    seed(world)
    world.kube.inject("PATCH", r"/workloads/alpha$", 409, "Conflict")
    world.kube.inject("GET", r"/workloads/alpha$", 404, "NotFound")
    run = world.sweep()
    assert run.code == 0, run.stdout
    gone = [line for line in run.lines if line["event"] == "record.gone"]
    assert [(g["workload"], g["reason"]) for g in gone] == [("alpha", "workload-deleted")]
    assert run.summary["record_failures"] == 0 and run.summary["result"] == "success"
    assert world.records("beta")


def test_a_workload_deleted_before_its_first_patch_is_no_failure(world: World) -> None:
    """404 on the patch itself: gone, not failed."""
    seed(world)
    world.kube.inject("PATCH", r"/workloads/alpha$", 404, "NotFound")
    run = world.sweep()
    assert run.code == 0, run.stdout
    assert [line["workload"] for line in run.lines if line["event"] == "record.gone"] == ["alpha"]


def test_a_re_read_that_keeps_failing_fails_only_that_workload(world: World) -> None:
    """409, then the re-read answers 500 until its retries are spent: alpha's record
    fails (exit 1), beta's is written, and the run closes normally."""
    seed(world)
    world.kube.inject("PATCH", r"/workloads/alpha$", 409, "Conflict")
    world.kube.inject("GET", r"/workloads/alpha$", 500, "InternalError", times=10)
    run = world.sweep()
    assert run.code == 1, run.stdout
    assert [line["workload"] for line in run.lines if line["event"] == "record.failed"] == ["alpha"]
    assert run.lines[-1]["event"] == "sweep.finished"
    assert world.records("beta") and not world.records("alpha")


def test_a_re_read_with_invalid_content_fails_only_that_workload(world: World) -> None:
    """Someone rewrites alpha while the sweeper records it, leaving a field it cannot
    parse: the conflict's re-read is refused for alpha alone."""
    seed(world)
    state = {"done": False}

    def rewrite(method: str, path: str, _: object) -> None:
        if method == "PATCH" and path.endswith("/workloads/alpha") and not state["done"]:
            state["done"] = True
            obj = world.workload("alpha")
            obj["status"]["conditions"][0]["lastTransitionTime"] = "yesterday"
            world.kube.seed_replace(obj)  # the patch now carries a stale resourceVersion

    world.kube.on_request(rewrite)
    run = world.sweep()
    assert run.code == 1, run.stdout
    [failed] = [line for line in run.lines if line["event"] == "record.failed"]
    assert failed["workload"] == "alpha" and "RFC 3339" in failed["detail"]
    assert run.lines[-1]["event"] == "sweep.finished"
    assert world.records("beta")
