"""What a sweep can run into: GitHub's and Kubernetes' failures and people acting at
the worst moment, armed before a sweep, applied at its requests, cleared after it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.sim.foreman import Round
from tests.sim.world import World

TYPELESS = (
    "Something went wrong while executing your query. This may be the result of a timeout, "
    "or it could be a GitHub bug. Please include `0400:3B6B:1C1E2C3:1D0E3F4:67A0B1C2` when "
    "reporting this issue."
)
# What a sweep can run into, armed before it and cleared after it.
GITHUB_FAULTS = (
    "create-lost",  # GitHub makes the PR; the answer never comes
    "create-5xx",  # the create fails with a 502 (nothing made)
    "graphql-5xx",
    "graphql-typeless",  # 200, data null, "Something went wrong..."
    "graphql-reset",
    "pulls-5xx",  # GET .../pulls: the re-check after a lost answer, REST reads
    "write-5xx",  # PATCH .../pulls/N: refresh, withdrawal
    "secondary-403",
    "repo-hidden",  # NOT_FOUND: a repository the token cannot see for this run
    "push-during-create",  # someone pushes to the branch just before GitHub makes the PR
    "push-after-create",  # ... just after it is made, before the answer
    "race",  # another opener makes the PR just before the sweeper's create lands
)
KUBE_FAULTS = (
    "k-409",  # someone else patches the Workload just before the sweeper does
    "k-409-rerun",  # ... and that someone is Foreman, re-running a branch meanwhile
    "k-404-patch",  # the Workload is deleted just before the sweeper patches it
    "k-404-reread",  # 409, then the Workload is gone when re-read
    "k-410-workloads",  # the continue token expires on a later page
    "k-410-tasks",
    "k-429-patch",
    "k-429-list",
    "k-429-tasks",
    "k-429-event",
    "k-429-lease",
    "k-5xx-tasks",
    "k-5xx-patch",
    "k-5xx-event",
    "k-5xx-lease",
)
FAULTS = GITHUB_FAULTS + KUBE_FAULTS
# Faults whose defect is known and being fixed elsewhere: histories leave them out until
# the fix is merged, and a strict xfail regression case (tests/sim/test_regressions.py)
# pins each; when that case passes, its fault comes back into the histories.
KNOWN_OPEN: dict[str, str] = {}  # fault kinds the sweeper is known to fail; none today
ACTIVE_FAULTS = tuple(f for f in FAULTS if f not in KNOWN_OPEN)


@dataclass(frozen=True)
class Fault:
    kind: str
    times: int = 1
    target: int = 0  # which repository, for repo-hidden

    def __post_init__(self) -> None:
        assert self.kind in FAULTS, self.kind


KUBE_PATHS = {
    "patch": [("PATCH", r"/workloads/[^/]+$")],
    "list": [("GET", r"/workloads$")],
    "tasks": [("GET", r"/agentictasks$")],
    "event": [("POST", r"/events$")],
    "lease": [("POST", r"/leases$"), ("PUT", r"/leases/[^/]+$")],  # the lock's writes
}


class Armed:
    """One sweep's faults: injected into the stand-ins, or applied by the hooks."""

    def __init__(self, world: World, faults: tuple[Fault, ...]) -> None:
        self.world = world
        self.armed: dict[str, int] = {}
        self.seen: dict[str, int] = {}
        self.touched: set[str] = set()
        self.hidden: list[str] = []
        self.pushed: set[tuple[str, str]] = set()  # branches pushed to meanwhile
        self.deleted: set[str] = set()  # Workloads deleted meanwhile
        self._arm(faults)

    def disarm(self) -> None:
        self.world.kube.clear_faults()
        self.world.github.clear_faults()
        for repo in self.hidden:
            self.world.github.unhide_repo(repo)

    def _arm(self, faults: tuple[Fault, ...]) -> None:
        gh, kube = self.world.github, self.world.kube
        for f in faults:
            n = f.times
            if f.kind == "create-lost":
                gh.inject("POST", r"^/repos/[^/]+/[^/]+/pulls$", action="after", times=n)
            elif f.kind == "create-5xx":
                gh.inject("POST", r"^/repos/[^/]+/[^/]+/pulls$", status=502, times=n)
            elif f.kind == "graphql-5xx":
                gh.inject("POST", r"^/graphql$", status=502, times=n)
            elif f.kind == "graphql-typeless":
                body = {"data": None, "errors": [{"message": TYPELESS}]}
                gh.inject("POST", r"^/graphql$", status=200, body=body, times=n)
            elif f.kind == "graphql-reset":
                gh.inject("POST", r"^/graphql$", action="reset", times=n)
            elif f.kind == "pulls-5xx":
                gh.inject("GET", r"/pulls$", status=502, times=n)
            elif f.kind == "write-5xx":
                gh.inject("PATCH", r"/pulls/[0-9]+$", status=502, times=n)
            elif f.kind == "secondary-403":
                gh.secondary_limit(n, retry_after=1)
            elif f.kind == "repo-hidden":
                repos = self.world.repos()
                repo = repos[f.target % len(repos)]
                gh.hide_repo(repo)
                self.hidden.append(repo)
            elif f.kind.startswith("k-429-") or f.kind.startswith("k-5xx-"):
                status = 429 if f.kind.startswith("k-429") else 503
                reason = "TooManyRequests" if status == 429 else "ServiceUnavailable"
                for method, path in KUBE_PATHS[f.kind.split("-", 2)[2]]:
                    kube.inject(method, path, status, reason, times=n, retry_after=1)
            else:
                self.armed[f.kind] = self.armed.get(f.kind, 0) + n

    def take(self, kind: str) -> bool:
        if self.armed.get(kind, 0) <= 0:
            return False
        self.armed[kind] -= 1
        return True

    def kube(self, method: str, path: str) -> None:
        """Before a Kubernetes request of the run."""
        w = self.world
        match = re.search(r"/namespaces/([^/]+)/workloads/([^/]+)$", path)
        if method == "PATCH" and match:
            namespace, name = match.groups()
            if self.take("k-404-patch"):
                w.delete(name)
                self.deleted.add(name)
            elif self.take("k-409"):
                self._touch(namespace, name)
            elif not self.hidden and self.take("k-409-rerun"):
                pushed = self.world.rerun(name, 0, Round())
                if pushed is not None:
                    self.pushed.add(pushed)
            elif self.take("k-404-reread"):
                self._touch(namespace, name)
                self.touched.add(name)
        elif method == "GET" and match and match.group(2) in self.touched:
            self.touched.discard(match.group(2))
            w.delete(match.group(2))
            self.deleted.add(match.group(2))
        # The n-th listing of a run is the first that can carry a continue token: the
        # check and the first page come before it (for tasks, the first page only).
        for plural, kind, nth in (
            ("workloads", "k-410-workloads", 3),
            ("agentictasks", "k-410-tasks", 2),
        ):
            if method == "GET" and path.endswith("/" + plural):
                self.seen[plural] = self.seen.get(plural, 0) + 1
                if self.seen[plural] >= nth and self.take(kind):
                    w.kube.expire_continue_tokens()

    def _touch(self, namespace: str, name: str) -> None:
        """Another writer changes the Workload: its resourceVersion moves on."""
        obj = self.world.kube.get("workloads", namespace, name)
        if obj is None:
            return
        labels = obj["metadata"].setdefault("labels", {})
        labels["sim/touched"] = str(int(labels.get("sim/touched", "0")) + 1)
        self.world.kube.seed_replace(obj)

    def github(self, method: str, path: str, body: Any) -> None:
        """Before a GitHub request of the run."""
        match = re.match(r"^/repos/([^/]+/[^/]+)/pulls$", path)
        if method != "POST" or not match or not isinstance(body, dict):
            return
        repo, head = match.group(1), str(body.get("head", ""))
        if self.take("push-during-create"):
            self.push(repo, head.partition(":")[2])
        if self.take("race"):
            gh = self.world.github
            if not any(p["head"]["label"] == head and p["state"] == "open" for p in gh.pulls(repo)):
                gh.add_pull(repo, head, title="Fix it", body="Opened by Foreman meanwhile.")

    def push(self, repo: str, branch: str) -> None:
        try:
            head_repo = self.world.head_repo(repo)
            self.world.github.push(head_repo, branch, message="Pushed while the sweeper worked")
        except KeyError:
            return
        self.pushed.add((repo, branch))
