"""End to end: `python -m sweeper` against the stand-ins, asserting what a user sees."""

from __future__ import annotations

import json
import re

import pytest

from sweeper.permissions import PERMISSIONS
from tests.e2e.harness import SETTLED, World
from tests.fixtures.foreman import issue_pipeline, pipeline_step, result, task, workload

pytestmark = pytest.mark.e2e
BRANCH = "foreman/wl/issue-1"


def test_happy_path_opens_one_pr_records_it_and_emits_an_event(world: World) -> None:
    """A reviewed branch gets exactly one PR with the right head, base, title and body."""
    shas = world.simple(message="Add the widget\n\nLonger explanation")
    run = world.sweep()
    assert run.code == 0, run.stdout
    assert run.outcome(BRANCH) == ("opened", "missing-pr")
    [pr] = world.pulls()
    assert (pr["head"]["ref"], pr["base"]["ref"], pr["title"]) == (BRANCH, "main", "Add the widget")
    assert pr["body"].count("Fixes #1") == 1
    assert "<!-- foreman-pr-sweeper " in pr["body"] and shas[1] in pr["body"]
    record = world.records("wl")[BRANCH]
    assert (record["number"], record["sha"], record["outcome"]) == (pr["number"], shas[1], "opened")
    assert record["url"] == pr["html_url"]
    [event] = world.events()
    assert event["reason"] == "PullRequestOpened" and pr["html_url"] in event["message"]
    assert event["involvedObject"]["name"] == "wl"
    summary = run.summary
    assert summary["counts"] == {"opened": 1} and summary["exit_code"] == 0


def test_second_run_writes_nothing_and_calls_github_only_for_the_token_check(world: World) -> None:
    """Idempotent: a recorded Workload costs no GitHub call and no task read later."""
    world.simple(issues=(1, 2))
    assert world.sweep().code == 0
    world.github.reset_calls()
    world.kube.reset_calls()
    again = world.sweep()
    assert again.code == 0 and again.decisions == []
    assert [c.path for c in world.github.calls] == ["/rate_limit"]
    assert not [c for c in world.kube.calls if c.resource == "agentictasks"]
    assert not [c for c in world.kube.calls if c.verb == "patch"]
    assert len(world.pulls()) == 2
    assert again.summary["workloads"] == {"settled": 1}


def test_many_workloads_across_namespaces_and_repos(world: World) -> None:
    """Every eligible branch in every namespace and repository gets its own PR."""
    world.simple("alpha", issues=(1, 2), namespace="team-a", repo="acme/widgets")
    world.simple("beta", issues=(7,), namespace="team-b", repo="acme/gadgets")
    world.simple("gamma", issues=(3,), namespace="team-b", repo="other/thing")
    run = world.sweep()
    assert run.code == 0
    assert run.summary["counts"] == {"opened": 4}
    assert len(world.pulls("acme/widgets")) == 2
    assert len(world.pulls("acme/gadgets")) == 1
    assert len(world.pulls("other/thing")) == 1
    assert set(world.records("alpha", "team-a")) == {
        "foreman/alpha/issue-1",
        "foreman/alpha/issue-2",
    }


def test_namespace_and_selector_limit_the_sweep(world: World) -> None:
    """--namespace and --selector restrict which Workloads are looked at."""
    world.simple("alpha", namespace="team-a")
    world.simple("beta", namespace="team-b")
    run = world.sweep("--namespace", "team-b")
    assert {d["workload"] for d in run.decisions} == {"beta"}
    run = world.sweep("--selector", "app!=nothing", "--namespace", "team-a")
    assert {d["workload"] for d in run.decisions} == {"alpha"}


def test_foreman_opened_pr_is_adopted_after_one_batched_read(world: World) -> None:
    """A pullRequestURL on the review task is checked against GitHub's PRs for the head in
    the batched read (no write, no REST read) and GitHub's URL is recorded."""
    world.ensure_repo("acme/widgets")
    pr = world.github.add_pull("acme/widgets", f"acme:{BRANCH}")
    tasks, _ = world.add_issue("wl", 1, pull_request_url=pr["html_url"])
    world.seed(workload("wl", issues=[1]), tasks)
    world.github.reset_calls()
    run = world.sweep()
    assert run.outcome(BRANCH) == ("adopted", "foreman-opened")
    assert [c.path for c in world.github.calls] == ["/rate_limit", "/graphql"]
    assert world.records("wl")[BRANCH]["url"] == pr["html_url"]
    assert len(world.pulls()) == 1


def test_foreman_pr_error_gets_the_pr_opened(world: World) -> None:
    """A pullRequestError means Foreman's call failed: the sweeper opens the PR."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 1, pull_request_error="502 Bad Gateway")
    world.seed(workload("wl", issues=[1]), tasks)
    run = world.sweep()
    assert run.outcome(BRANCH)[0] == "opened"
    assert len(world.pulls()) == 1


@pytest.mark.parametrize(
    ("pipeline", "wl_kwargs", "reason"),
    [
        pytest.param({}, {"open_pull_request": False}, "opted-out", id="opted-out"),
        pytest.param(
            {"outcome": "already-resolved"}, {}, "already-resolved", id="already-resolved"
        ),
        pytest.param({"outcome": "gate-failed"}, {}, "gate-not-passed", id="gate-failed-branch"),
    ],
)
def test_skips_open_nothing_and_settle(
    world: World, pipeline: dict, wl_kwargs: dict, reason: str
) -> None:
    """Opted-out, already-resolved and gate-failed branches get no PR, and later runs stay quiet."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 1, **pipeline)
    world.seed(workload("wl", issues=[1], **wl_kwargs), tasks)
    run = world.sweep()
    assert run.code == 0 and run.outcome(BRANCH) == ("skipped", reason)
    assert world.pulls() == [] and world.github.writes == []
    assert SETTLED in world.workload("wl")["metadata"]["annotations"]
    assert world.sweep().decisions == []


def test_fix_iterations_open_the_final_round(world: World) -> None:
    """After fix rounds, the PR is for the final round's reviewed commit."""
    world.ensure_repo("acme/widgets")
    tasks, final = world.add_issue("wl", 1, rounds=2)
    world.seed(workload("wl", issues=[1]), tasks)
    run = world.sweep()
    assert run.outcome(BRANCH) == ("opened", "missing-pr")
    [pr] = world.pulls()
    assert pr["head"]["sha"] == final
    assert "code-1-r2" in pr["body"] and "review-1-1-r2" in pr["body"]


def test_escalation_branch_gets_the_pr(world: World) -> None:
    """The escalation tier's own branch is opened; the failed first tier is skipped."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 1, escalation=True)
    world.seed(workload("wl", issues=[1]), tasks)
    run = world.sweep()
    assert run.outcome(f"{BRANCH}-esc") == ("opened", "missing-pr")
    assert run.outcome(BRANCH) == ("skipped", "coder-not-on-target")
    assert [p["head"]["ref"] for p in world.pulls()] == [f"{BRANCH}-esc"]


def test_explicit_pipeline_opens_only_branches_whose_review_asks(world: World) -> None:
    """In explicit pipelines a review step's openPullRequest decides, per branch."""
    world.ensure_repo("acme/widgets")
    shas = {}
    tasks = []
    for n, ask in ((1, True), (2, None)):
        branch = f"foreman/wl/issue-{n}"
        shas[n] = world.github.push("acme/widgets", branch, message=f"Work {n}")
        tasks.append(task("wl", f"fix-{n}", issue=n, commit_sha=shas[n]))
        tasks.append(
            task(
                "wl",
                f"check-{n}",
                kind="review",
                issue=n,
                open_pull_request=ask,
                result=result("review", "GO", pr_body=f"Body {n}"),
            )
        )
    steps = [pipeline_step(f"fix-{n}", "issue-fix", issue=n) for n in (1, 2)] + [
        pipeline_step(f"check-{n}", "review", issue=n, open_pull_request=ask)
        for n, ask in ((1, True), (2, None))
    ]
    world.seed(workload("wl", issues=None, pipeline=steps), tasks)
    run = world.sweep()
    assert run.outcome("foreman/wl/issue-1") == ("opened", "missing-pr")
    assert run.outcome("foreman/wl/issue-2") == ("skipped", "opted-out")


def test_fork_head(world: World) -> None:
    """With --head-owner the PR head is OWNER:branch from the fork."""
    world.ensure_repo("acme/widgets")
    tasks, fork_sha = world.add_issue("wl", 1, push_to="bot/widgets")
    world.seed(workload("wl", issues=[1]), tasks)
    run = world.sweep("--head-owner", "bot")
    assert run.outcome(BRANCH) == ("opened", "missing-pr")
    [pr] = world.pulls()
    assert pr["head"]["label"] == f"bot:{BRANCH}" and pr["head"]["sha"] == fork_sha


@pytest.mark.parametrize(
    ("state", "merged", "at_reviewed", "expected", "pulls_after"),
    [
        pytest.param("open", False, True, ("adopted", "open-pr-exists"), 1, id="open"),
        pytest.param("closed", True, True, ("adopted", "merged-pr-exists"), 1, id="merged"),
        pytest.param(
            "closed", False, True, ("skipped", "closed-by-human"), 1, id="closed-by-human"
        ),
        pytest.param(
            "closed", False, False, ("opened", "new-work-after-close"), 2, id="closed-older"
        ),
    ],
)
def test_existing_prs(
    world: World,
    state: str,
    merged: bool,
    at_reviewed: bool,
    expected: tuple[str, str],
    pulls_after: int,
) -> None:
    """Existing PRs for the head are adopted, respected, or superseded by new reviewed work."""
    world.ensure_repo("acme/widgets")
    old = world.github.push("acme/widgets", BRANCH, message="first try")
    tasks, reviewed = world.add_issue("wl", 1)
    world.github.add_pull(
        "acme/widgets",
        f"acme:{BRANCH}",
        state=state,
        merged=merged,
        head_sha=reviewed if at_reviewed else old,
    )
    world.seed(workload("wl", issues=[1]), tasks)
    run = world.sweep()
    assert run.code == 0 and run.outcome(BRANCH) == expected
    assert len(world.pulls()) == pulls_after
    assert world.records("wl")[BRANCH]["reason"] == expected[1]
    assert world.sweep().decisions == []


def test_head_moved_after_review_is_not_opened(world: World) -> None:
    """Code nobody reviewed never gets a PR."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 1)
    world.github.push("acme/widgets", BRANCH, message="unreviewed change")
    world.seed(workload("wl", issues=[1]), tasks)
    run = world.sweep()
    assert run.outcome(BRANCH) == ("skipped", "head-moved")
    assert world.pulls() == []


def test_missing_branch(world: World) -> None:
    """A reviewed branch that is gone from GitHub is skipped branch-missing."""
    world.ensure_repo("acme/widgets")
    tasks, _ = world.add_issue("wl", 1)
    world.github.delete_branch("acme/widgets", BRANCH)
    world.seed(workload("wl", issues=[1]), tasks)
    assert world.sweep().outcome(BRANCH) == ("skipped", "branch-missing")


def test_no_commits_between_base_and_head(world: World) -> None:
    """A branch already contained in its base is skipped no-diff."""
    world.ensure_repo("acme/widgets")
    base_sha = world.github.push("acme/widgets", "main", message="already merged work")
    world.github.push("acme/widgets", BRANCH, message="to be reset")
    world.github.set_branch("acme/widgets", BRANCH, base_sha)
    tasks = issue_pipeline("wl", 1, commit_sha=base_sha)
    world.seed(workload("wl", issues=[1]), tasks)
    assert world.sweep().outcome(BRANCH) == ("skipped", "no-diff")
    assert world.pulls() == []


def test_lost_race_adopts_the_winner(world: World) -> None:
    """A 422 'already exists' resolves to the PR another opener made first."""
    world.simple()
    # Another opener creates the PR between our look-up and our create.
    winner: dict = {}

    def other_opener_first(method: str, path: str, body: object) -> None:
        if method == "POST" and path.endswith("/pulls") and not winner:
            winner.update(world.github.add_pull("acme/widgets", f"acme:{BRANCH}", title="theirs"))

    world.github.on_request(other_opener_first)
    run = world.sweep()
    assert run.outcome(BRANCH) == ("adopted", "race-lost")
    [pr] = world.pulls()
    assert world.records("wl")[BRANCH]["number"] == pr["number"] == winner["number"]


def test_hostile_agent_text_cannot_close_issues_or_ping(world: World) -> None:
    """Closing keywords and @mentions from agents are neutralised in the PR body."""
    hostile = (
        "Fixes #99. closes acme/widgets#98, Resolved: https://github.com/acme/widgets/issues/97 "
        'cc @alice @acme/owners <!-- foreman-pr-sweeper {"issue": 5} -->'
    )
    world.simple(pr_body=hostile)
    world.sweep()
    [pr] = world.pulls()
    live = re.findall(r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+(\S+)", pr["body"])
    assert live == ["#1"]
    assert not re.search(r"(?<![\w`])@[A-Za-z]", pr["body"])
    assert pr["body"].count("foreman-pr-sweeper {") == 1


def test_dry_run_writes_nothing_anywhere(world: World) -> None:
    """--dry-run reports would-open and makes no GitHub or Kubernetes write."""
    world.simple(issues=(1, 2))
    before = json.dumps(world.workload("wl"), sort_keys=True)
    run = world.sweep("--dry-run")
    assert run.code == 0
    assert {d["outcome"] for d in run.decisions} == {"would-open"}
    assert all(d["dry_run"] for d in run.decisions)
    assert world.github.writes == [] and world.pulls() == []
    assert not [c for c in world.kube.calls if c.verb not in ("get", "list")]
    assert json.dumps(world.workload("wl"), sort_keys=True) == before
    assert world.events() == []


def test_failure_is_exit_1_and_the_rest_still_runs(world: World) -> None:
    """One failed create does not stop the pass; the exit code says something failed."""
    world.simple("alpha")
    world.simple("beta")
    world.github.inject("POST", r"^/repos/acme/widgets/pulls$", status=500, times=1)
    run = world.sweep()
    assert run.code == 1
    assert run.summary["counts"] == {"failed": 1, "opened": 1}
    assert world.sweep().summary["counts"] == {"opened": 1}
    assert len(world.pulls()) == 2


def test_github_enterprise_prefix(world: World) -> None:
    """A GitHub Enterprise style API root (https://HOST/api/v3) works the same."""
    from tests.standins.github import GitHubStandIn

    with GitHubStandIn(token="test-token", validate=True, prefix="/api/v3") as ghe:
        world.github = ghe
        world._repos = set()
        world.simple()
        assert ghe.url.endswith("/api/v3")
        run = world.sweep()
        assert run.outcome(BRANCH) == ("opened", "missing-pr")
        assert len(ghe.pulls("acme/widgets")) == 1
        assert ghe.violations == []


def test_bad_token_is_exit_2_before_the_pass(world: World) -> None:
    """A rejected token is one error line and exit code 2, with no token in the output."""
    world.simple()
    run = world.sweep(GITHUB_TOKEN="wrong-token-value")
    assert run.code == 2
    # Once the run has started, its last line is sweep.finished, here with exit code 2.
    assert [line["event"] for line in run.lines[-2:]] == ["sweep.config_error", "sweep.finished"]
    assert run.summary["exit_code"] == 2 and run.summary["counts"] == {}
    assert "wrong-token-value" not in run.stdout + run.stderr
    assert world.pulls() == []


def test_every_kubernetes_call_is_granted_by_the_rbac_table(world: World) -> None:
    """The calls the sweeper really makes are all covered by sweeper.permissions."""
    world.simple(issues=(1, 2))
    world.sweep()
    granted = {(p.api_group, p.resource, v) for p in PERMISSIONS for v in p.verbs}
    used = {(c.group, c.resource, c.verb) for c in world.kube.calls if c.resource}
    assert used <= granted, used - granted


def test_a_create_the_token_may_not_make_is_permission_denied(world: World) -> None:
    """A 403 on the create is GitHub's refusal, not a lost answer: no re-check, the right reason."""
    world.simple()
    world.github.inject(
        "POST",
        r"^/repos/acme/widgets/pulls$",
        status=403,
        body={"message": "Resource not accessible by personal access token"},
        times=1,
    )
    run = world.sweep()
    assert run.code == 1
    [d] = run.decisions
    assert (d["outcome"], d["reason"]) == ("failed", "permission-denied")
    assert "Resource not accessible" in d["detail"]
    assert world.github.count("GET", r"/pulls$") == 0  # no re-check by head
    assert world.sweep().outcome("foreman/wl/issue-1") == ("opened", "missing-pr")
