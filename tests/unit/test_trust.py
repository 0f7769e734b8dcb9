"""Trust only what the Workload owns and asked for; keep the coder's words; read hand records."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest

from sweeper.body import ZWSP, render_title
from sweeper.core import Candidate, Decision, Policy
from sweeper.eligibility import plan_workload
from sweeper.model import parse_workload
from sweeper.outcomes import Outcome, Reason
from sweeper.records import RECORD_ANNOTATION, parse_records
from tests.fixtures.foreman import issue_pipeline, pipeline_step, sha, workload

POLICY = Policy(min_age=timedelta(minutes=10))
BRANCH = "foreman/wl/issue-1"


def plans(wl: dict[str, Any], tasks: list[dict[str, Any]]) -> list[Any]:
    return plan_workload(parse_workload(wl), tasks, POLICY)


def only_decision(found: list[Any]) -> Decision:
    [plan] = found
    assert isinstance(plan, Decision), plan
    return plan


# ---------------------------------------------------------------- ownership


def test_tasks_owned_by_the_workload_are_judged() -> None:
    """Foreman's controller ownerReference names the Workload's uid: a candidate."""
    [plan] = plans(workload("wl"), issue_pipeline("wl", 1))
    assert isinstance(plan, Candidate) and plan.note == ""


def test_tasks_left_by_an_earlier_workload_of_the_same_name_are_not_its() -> None:
    """Same label, another uid: nothing of them counts, and the line says why."""
    old = issue_pipeline("wl", 1)
    for t in old:
        t["metadata"]["ownerReferences"][0]["uid"] = "uid-of-an-earlier-wl"
    d = only_decision(plans(workload("wl"), old))
    assert (d.outcome, d.reason) == (Outcome.SKIPPED, Reason.INVALID_INPUT)
    assert "4 owned by another Workload (uid uid-of-an-earlier-wl)" in d.detail


def test_tasks_without_any_owner_are_invalid_input() -> None:
    """Real Foreman always sets the ownerReference: tasks without one are not Foreman's."""
    tasks = issue_pipeline("wl", 1)
    for t in tasks:
        del t["metadata"]["ownerReferences"]
    d = only_decision(plans(workload("wl"), tasks))
    assert d.reason is Reason.INVALID_INPUT
    assert "4 with no controller ownerReference" in d.detail


def test_a_forged_go_cannot_make_a_branch_pass() -> None:
    """A forged GO review does not count; the real NO-GO still holds the branch back."""
    real = issue_pipeline("wl", 1, outcome="request-changes")
    forged = copy.deepcopy(issue_pipeline("wl", 1, rounds=1))
    for t in forged:
        t["metadata"]["ownerReferences"][0]["uid"] = "attacker"
    d = only_decision(plans(workload("wl"), real + forged))
    assert d.reason is Reason.REVIEW_NOT_GO
    assert "8 labelled tasks left out: 8 owned by another Workload (uid attacker)" in d.detail


# ---------------------------------------------------------------- what was asked for


def test_a_task_for_another_repository_gets_nothing() -> None:
    """Issue-batch mode: the tasks' repository must be spec.repo."""
    d = only_decision(
        plans(workload("wl", repo="acme/widgets"), issue_pipeline("wl", 1, repo="evil/x"))
    )
    assert d.reason is Reason.INVALID_INPUT
    assert "evil/x" in d.detail and "spec.repo is acme/widgets" in d.detail


def test_repository_names_compare_as_github_does() -> None:
    """GitHub's names are case-insensitive."""
    [plan] = plans(workload("wl", repo="Acme/Widgets"), issue_pipeline("wl", 1))
    assert isinstance(plan, Candidate)


def test_an_issue_outside_spec_issues_gets_nothing() -> None:
    """Issue-batch mode: the branch's issue must be in spec.issues."""
    d = only_decision(plans(workload("wl", issues=[1, 2]), issue_pipeline("wl", 7)))
    assert d.reason is Reason.INVALID_INPUT and "issue 7 is not in spec.issues" in d.detail


def test_a_pipeline_branch_that_is_no_step_gets_nothing() -> None:
    """Explicit pipelines: the (repo, branch) must be a step's."""
    steps = [
        pipeline_step("code-1", "issue-fix"),
        pipeline_step("review-1-1", "review", open_pull_request=True),
    ]
    wl = workload("wl", pipeline=steps, repo=None)
    ok = issue_pipeline("wl", 1)
    stray = issue_pipeline("wl", 2)
    found = {
        p.branch.name if isinstance(p, Candidate) else p.branch: p for p in plans(wl, ok + stray)
    }
    assert isinstance(found[BRANCH], Candidate)
    stray_decision = found["foreman/wl/issue-2"]
    assert isinstance(stray_decision, Decision) and stray_decision.reason is Reason.INVALID_INPUT
    assert "is no step of spec.pipeline" in stray_decision.detail


def test_issue_batch_mode_needs_spec_repo() -> None:
    """No spec.repo and no pipeline: nothing can match the request."""
    d = only_decision(plans(workload("wl", repo=None), issue_pipeline("wl", 1)))
    assert d.reason is Reason.INVALID_INPUT and "spec.repo is not set" in d.detail


# ---------------------------------------------------------------- titles


@pytest.mark.parametrize(
    ("subject", "title"),
    [
        pytest.param(
            "fix: resolve #28 with the escalation coder",
            "fix: resolve #28 with the escalation coder",
            id="own-issue-verbatim",
        ),
        pytest.param("Fixes #28", "Fixes #28", id="own-issue-keyword-first"),
        pytest.param("resolves GH-28", "resolves GH-28", id="own-issue-gh-form"),
        pytest.param("Fixes #29", f"F{ZWSP}ixes #29", id="another-number"),
        pytest.param("closes acme/widgets#28", f"c{ZWSP}loses acme/widgets#28", id="owner-repo"),
        pytest.param(
            "fixed https://github.com/acme/widgets/issues/3",
            f"f{ZWSP}ixed https://github.com/acme/widgets/issues/3",
            id="issue-url",
        ),
        pytest.param("Fix #28, closes #5", f"Fix #28, c{ZWSP}loses #5", id="own-and-other"),
        pytest.param("thanks @alice", f"thanks @{ZWSP}alice", id="mention"),
        pytest.param("a\u202eb\u200fc\x07d", "abcd", id="bidi-and-control"),
        pytest.param("  lots   of\tspace  ", "lots of space", id="whitespace"),
        pytest.param("use <b>tags</b> & `code`", "use <b>tags</b> & `code`", id="as-written"),
    ],
)
def test_titles_keep_the_coders_words(subject: str, title: str) -> None:
    """Only what could close another issue or ping someone is changed."""
    assert render_title(subject + "\nsecond line", 28) == title


def test_titles_are_capped() -> None:
    """256 characters at most, with an ellipsis."""
    title = render_title("x" * 400, 1)
    assert len(title) == 256 and title.endswith("…")
    assert render_title("", 28) == render_title(None, 28) == "Fix #28"


# ---------------------------------------------------------------- records by hand


@pytest.mark.parametrize(
    ("url", "repo", "number"),
    [
        ("https://github.com/acme/widgets/pull/7", "acme/widgets", 7),
        ("https://ghe.example.com/acme/widgets/pull/12/", "acme/widgets", 12),
    ],
)
def test_a_hand_written_record_takes_its_repository_from_the_url(
    url: str, repo: str, number: int
) -> None:
    """{url, number?, sha, outcome}: the repository (and number) come from the URL."""
    [record] = parse_records(
        json.dumps({BRANCH: {"url": url, "sha": sha("x"), "outcome": "opened"}})
    ).values()
    assert (record.repo, record.number, record.sha) == (repo, number, sha("x"))


def test_a_record_that_names_no_repository_is_still_ignored() -> None:
    """Neither repo nor a PR URL: absent, as before."""
    [record] = parse_records(json.dumps({BRANCH: {"url": "not a url", "outcome": "x"}})).values()
    assert record.repo == ""


def test_a_hand_written_record_counts_as_recorded() -> None:
    """The branch is already-recorded: no GitHub look on any later run."""
    tasks = issue_pipeline("wl", 1)
    reviewed = next(t for t in tasks if t["spec"]["kind"] == "issue-fix")["status"]["commitSHA"]
    record = {
        BRANCH: {
            "url": "https://github.com/acme/widgets/pull/7",
            "sha": reviewed,
            "outcome": "opened",
        }
    }
    wl = workload("wl", annotations={RECORD_ANNOTATION: json.dumps(record)})
    d = only_decision(plans(wl, tasks))
    assert (d.reason, d.pr_number) == (Reason.ALREADY_RECORDED, 7)
