"""The first backfill of a long-lived cluster: batched reads, partial failures, fallbacks.

A cluster that used Foreman for months has many Completed Workloads whose PRs exist
already (merged with the branch deleted, or still open) and no sweeper annotation, beside
a few whose PR is missing. The first run must open the missing ones and record the rest,
and its GitHub reads must grow with batches, not with the history.
"""

from __future__ import annotations

import pytest

from tests.e2e.harness import SETTLED, World
from tests.fixtures.foreman import workload
from tests.standins.github import GitHubStandIn

pytestmark = pytest.mark.e2e


def historical(world: World, name: str, repo: str, state: str, namespace: str = "default") -> None:
    """A Workload whose PR exists already: merged (branch deleted) or still open."""
    world.simple(name, namespace=namespace, repo=repo)
    branch = f"foreman/{name}/issue-1"
    owner = repo.split("/")[0]
    world.github.add_pull(repo, f"{owner}:{branch}", merged=state == "merged")
    if state == "merged":
        world.github.delete_branch(repo, branch)


def long_lived(world: World) -> tuple[set[str], set[str]]:
    """12 historical Workloads and 4 missing PRs over 3 repositories and 2 namespaces."""
    repos = ["acme/widgets", "acme/gadgets", "other/thing"]
    old, missing = set(), set()
    for i in range(12):
        name = f"old-{i:02d}"
        historical(world, name, repos[i % 3], "merged" if i % 4 else "open", f"team-{i % 2}")
        old.add(f"foreman/{name}/issue-1")
    for i in range(4):
        name = f"new-{i}"
        world.simple(name, namespace=f"team-{i % 2}", repo=repos[i % 3])
        missing.add(f"foreman/{name}/issue-1")
    return old, missing


def test_first_run_opens_what_is_missing_and_records_the_history(world: World) -> None:
    """One GraphQL query learns every branch; REST is only the token check and the creates."""
    old, missing = long_lived(world)
    world.github.reset_calls()
    world.kube.reset_calls()
    run = world.sweep()
    assert run.code == 0, run.stdout
    by_branch = {d["branch"]: (d["outcome"], d["reason"]) for d in run.decisions}
    assert {by_branch[b] for b in missing} == {("opened", "missing-pr")}
    assert {by_branch[b] for b in old} == {
        ("adopted", "merged-pr-exists"),
        ("adopted", "open-pr-exists"),
    }
    rest = [c for c in world.github.calls if not c.is_query]
    assert sorted(c.path for c in rest if c.method == "GET") == ["/rate_limit"]
    assert len([c for c in rest if c.method == "POST"]) == len(missing)
    assert len(world.github.queries) == 1 and world.github.graphql.used_points == 1
    task_lists = [c for c in world.kube.calls if c.resource == "agentictasks"]
    assert len(task_lists) == 2  # one per namespace, for all 8 Workloads of each
    for i in range(12):
        assert f"foreman/old-{i:02d}/issue-1" in world.records(f"old-{i:02d}", f"team-{i % 2}")
    assert run.summary["github_calls"]["graphql"] == 1
    assert run.summary["github_calls"]["graphql_points"] == 1
    again = world.sweep()
    assert again.decisions == [] and again.summary["workloads"] == {"settled": 16}


def test_first_run_as_a_dry_run_reads_in_batches_and_writes_nothing(world: World) -> None:
    """--dry-run: the same single query, would-open for the missing, no write anywhere."""
    _, missing = long_lived(world)
    world.github.reset_calls()
    run = world.sweep("--dry-run")
    assert run.code == 0
    assert {d["branch"] for d in run.decisions if d["outcome"] == "would-open"} == missing
    assert world.github.writes == [] and len(world.github.queries) == 1
    assert world.records("old-00", "team-0") == {}


def test_the_budget_defers_creates_only(world: World) -> None:
    """--max-create 1: the history is still adopted and recorded; two creates wait."""
    for i in range(3):
        historical(world, f"old-{i}", "acme/widgets", "merged")
    for i in range(3):
        world.simple(f"new-{i}")
    run = world.sweep("--max-create", "1")
    assert run.code == 0
    assert run.summary["counts"] == {"adopted": 3, "deferred": 2, "opened": 1}
    deferred = {d["reason"] for d in run.decisions if d["outcome"] == "deferred"}
    assert deferred == {"budget-exhausted"}
    assert world.sweep().summary["counts"] == {"opened": 2}


def test_one_missing_repository_fails_only_its_branch(world: World) -> None:
    """NOT_FOUND for one alias: that branch fails (exit 1); the others in the query open."""
    world.simple("good", issues=(1, 2))
    world.simple("lost", repo="acme/deleted")
    world.github.delete_repo("acme/deleted")
    run = world.sweep()
    assert run.code == 1
    assert run.outcome("foreman/lost/issue-1")[0] == "failed"
    [lost] = [d for d in run.decisions if d["workload"] == "lost"]
    assert lost["reason"] == "repo-unreachable"
    assert lost["detail"] == "acme/deleted: repository not found or not visible to the token"
    assert run.summary["counts"] == {"failed": 1, "opened": 2}
    assert len(world.github.queries) == 1


GRAPHQL_REFUSED = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


@pytest.mark.parametrize("by_rest", [False, True], ids=["graphql", "rest"])
def test_a_head_repository_the_token_cannot_see_fails_and_is_never_settled(
    world: World, by_rest: bool
) -> None:
    """The fork is gone: failed repo-unreachable naming it (exit 1), not branch-missing, and
    the next run asks again, because a failure settles nothing."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 1, push_to="acme-fork/widgets")
    world.seed(workload("wl", issues=[1]), tasks)
    world.github.delete_repo("acme-fork/widgets")
    for _ in range(2):
        if by_rest:  # GraphQL refused to the token: the head is read by REST
            world.github.inject("POST", r"^/graphql$", status=404, body=GRAPHQL_REFUSED)
        run = world.sweep("--head-owner", "acme-fork")
        assert run.code == 1, run.stdout
        [d] = run.decisions
        assert (d["outcome"], d["reason"]) == ("failed", "repo-unreachable")
        assert d["detail"] == "acme-fork/widgets: repository not found or not visible to the token"
        assert run.summary["workloads"] == {"pending": 1}
        assert SETTLED not in (world.workload("wl")["metadata"].get("annotations") or {})
    assert world.pulls() == []


def test_a_token_refused_mid_run_fails_every_branch_loudly(world: World) -> None:
    """Revoked after the start-up check: a 401 is bad credentials, not "no GraphQL"; every
    branch fails with it (exit 1), and the refused token is asked nothing more."""
    world.simple(issues=(1, 2, 3))

    def revoke_on_first_read(method: str, path: str, body: object) -> None:
        if path == "/graphql":
            world.github.token = "the-token-now-revoked"

    world.github.on_request(revoke_on_first_read)
    run = world.sweep()
    world.github.on_request(None)
    assert run.code == 1 and run.summary["result"] == "failed"
    assert {(d["outcome"], d["reason"]) for d in run.decisions} == {("failed", "bad-credentials")}
    assert len(run.decisions) == 3
    assert {d["detail"] for d in run.decisions} == {
        "POST /graphql: Bad credentials: GitHub refused the token (expired or revoked); "
        "this run asks GitHub nothing more with it"
    }
    assert not [line for line in run.lines if line["event"] == "github.graphql_unavailable"]
    assert [(c.method, c.path, c.status) for c in world.github.calls] == [
        ("GET", "/rate_limit", 200),
        ("POST", "/graphql", 401),
    ]
    assert world.pulls() == []


def test_a_timed_out_query_is_halved_until_github_answers(world: World) -> None:
    """502 on big queries: halves, down to one branch a query, and every PR opened once."""
    for n in range(4):
        world.simple(f"wl{n}")
    world.github.graphql.timeout_over = 3  # one branch is two aliases plus rateLimit
    run = world.sweep()
    assert run.code == 0, run.stdout
    assert run.summary["counts"] == {"opened": 4}
    statuses = [c.status for c in world.github.queries]
    assert statuses == [502, 502, 200, 200, 502, 200, 200]
    assert len(world.github.pulls("acme/widgets")) == 4


def test_resource_limits_are_asked_again_in_smaller_queries(world: World) -> None:
    """RESOURCE_LIMITS_EXCEEDED on some aliases: those branches are asked again, then open."""
    for n in range(3):
        world.simple(f"wl{n}")
    world.github.graphql.resource_limit = 3
    run = world.sweep()
    assert run.code == 0, run.stdout
    assert run.summary["counts"] == {"opened": 3}
    assert len(world.github.queries) >= 2


def test_graphql_rate_limited_defers_everything_and_the_next_run_catches_up(
    world: World,
) -> None:
    """RATE_LIMITED: no GitHub work for the run, every candidate deferred, exit 0."""
    world.simple(issues=(1, 2))
    world.github.graphql.remaining = 0
    run = world.sweep()
    assert run.code == 0
    assert {(d["outcome"], d["reason"]) for d in run.decisions} == {("deferred", "rate-limited")}
    assert world.github.writes == [] and world.pulls() == []
    assert world.records("wl") == {}
    world.github.graphql.remaining = 5000
    assert world.sweep().summary["counts"] == {"opened": 2}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(403, {"message": "Resource not accessible by integration"}, id="403"),
        pytest.param(404, {"message": "Not Found"}, id="404"),
        pytest.param(
            200,
            {"errors": [{"type": "FORBIDDEN", "message": "Resource not accessible by token"}]},
            id="FORBIDDEN",
        ),
    ],
)
def test_a_token_graphql_refuses_falls_back_to_rest(
    world: World, status: int, body: dict[str, object]
) -> None:
    """GraphQL refused: one warning line, then REST reads for the run, and the PRs open."""
    world.simple(issues=(1, 2))
    world.github.inject("POST", r"^/graphql$", status=status, body=body, times=5)
    run = world.sweep()
    assert run.code == 0, run.stdout
    assert run.summary["counts"] == {"opened": 2}
    [warning] = [line for line in run.lines if line["event"] == "github.graphql_unavailable"]
    assert warning["level"] == "warning" and "REST" in warning["detail"]
    assert len([c for c in world.github.calls if c.path == "/graphql"]) == 1
    assert world.github.count("GET", r"/pulls$") == 2
    assert world.github.count("GET", r"/commits/") == 2


def test_enterprise_reads_through_api_graphql(world: World) -> None:
    """GHES: the batched query goes to /api/graphql, beside /api/v3."""
    with GitHubStandIn(token="test-token", validate=True, prefix="/api/v3") as ghe:
        world.github = ghe
        world._repos = set()
        world.simple(issues=(1, 2))
        run = world.sweep()
        assert run.code == 0, run.stdout
        assert run.summary["counts"] == {"opened": 2}
        assert [c.path for c in ghe.queries] == ["/graphql"]
        assert ghe.graphql.queries == 1
        assert ghe.violations == []
