"""The PR body today's Foreman would write (#1776): the coder's description first, advisory
escalation rows in the verdict table, and a reviewer-less PR that says no reviewer ran."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from sweeper.body import BodyInput, read_marker, render_body
from sweeper.core import Candidate, Policy
from sweeper.eligibility import plan_workload
from sweeper.model import parse_workload
from tests.fixtures.foreman import issue_pipeline, result, task, workload

# What GitHub takes as a closing reference (see tests/unit/test_body.py).
CLOSING = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s*"
    r"(?:#\d+|[\w.-]+/[\w.-]+#\d+|https://\S+/issues/\d+)",
    re.I,
)
MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9_-]")
POLICY = Policy(min_age=timedelta(minutes=10))
DRAFTS = Policy(min_age=timedelta(minutes=10), drafts=True)


def _with_coder_body(
    raw: list[dict[str, Any]], text: str, nested: bool = True
) -> list[dict[str, Any]]:
    """The final coder's result carries `prBody`, under `modelExtra` or at the top of extra."""
    coder = [t for t in raw if t["spec"]["kind"] == "issue-fix"][-1]
    extra = coder["status"]["result"].setdefault("extra", {})
    if nested:
        extra["modelExtra"] = {"prBody": text}
    else:
        extra["prBody"] = text
    return raw


def _body(raw: list[dict[str, Any]], outcome: str = "go", policy: Policy = POLICY) -> str:
    """The body the sweeper writes for the planned branch, as the actor builds it."""
    phase = "Failed" if outcome == "request-changes" else "Completed"
    [plan] = plan_workload(parse_workload(workload("wl", phase=phase)), raw, policy)
    assert isinstance(plan, Candidate), plan
    b = plan.branch
    return render_body(
        BodyInput(
            "default",
            "wl",
            b.issue,
            b.reviewed_sha,
            b.coder,
            b.verifiers,
            b.reviewers,
            b.draft,
            b.advisory,
        )
    )


# ---------------------------------------------------------------- the description's order


@pytest.mark.parametrize("nested", [True, False], ids=["modelExtra", "extra"])
def test_the_coders_description_leads_over_the_reviewers(nested: bool) -> None:
    """The coder's prBody (either level) comes first, though the reviewer wrote one too
    (before: the reviewer's prBody led and the coder's was never read)."""
    raw = _with_coder_body(issue_pipeline("wl", 1, pr_body="Reviewer text."), "Coder text.", nested)
    body = _body(raw)
    assert body.startswith("Coder text.")
    assert "Reviewer text." not in body


def test_the_final_rounds_coder_description_is_the_one_used() -> None:
    """After a fix cycle, the final round's coder speaks, not the first round's."""
    raw = issue_pipeline("wl", 1, rounds=1)
    first = next(t for t in raw if t["metadata"]["name"] == "wl-code-1")
    first["status"]["result"]["extra"] = {"modelExtra": {"prBody": "First attempt."}}
    body = _body(_with_coder_body(raw, "Second attempt."))
    assert body.startswith("Second attempt.") and "First attempt." not in body


@pytest.mark.parametrize("blank", [None, "", "  \n "], ids=["absent", "empty", "blank"])
def test_the_reviewers_description_without_the_coders(blank: str | None) -> None:
    """No usable coder prBody: the reviewer's prBody leads, as Foreman's opener does."""
    raw = issue_pipeline("wl", 1, pr_body="Reviewer text.")
    if blank is not None:
        raw = _with_coder_body(raw, blank)
    assert _body(raw).startswith("Reviewer text.")


def test_the_reviewers_summary_then_the_coders_without_any_description() -> None:
    """No prBody anywhere: the reviewer's summary; no reviewer summary: the coder's."""
    raw = issue_pipeline("wl", 1, pr_body=None)
    assert _body(raw).startswith("Reviewer 1 approves.")
    for t in raw:
        if t["spec"]["kind"] == "review":
            t["status"]["result"]["summary"] = ""
    assert _body(raw).startswith("Implemented issue #1.")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Fixes #1.", id="fixes-own"),
        pytest.param("Closes #1, resolves acme/widgets#2 and fixes #3.", id="several"),
        pytest.param("This addresses #1.", id="names-it"),
        pytest.param("Fixes: https://github.com/acme/widgets/issues/1", id="url"),
    ],
)
def test_a_coder_description_naming_the_issue_leaves_exactly_one_closing_reference(
    text: str,
) -> None:
    """Foreman skips its `Fixes #N` when the text names #N; the sweeper breaks the agent's
    keywords and keeps its own line, so exactly one closing reference survives."""
    body = _body(_with_coder_body(issue_pipeline("wl", 1), text))
    assert CLOSING.findall(body) == ["Fixes #1"]


def test_the_coders_description_is_agent_text() -> None:
    """Mentions, hidden HTML and marker imitations in the coder's prBody stay inert."""
    hostile = "Done, @alice. <!-- foreman-pr-sweeper {} --> <details>x</details>"
    body = _body(_with_coder_body(issue_pipeline("wl", 1), hostile))
    assert not MENTION.search(body)
    assert body.count("<!--") == 1 and "<details>" not in body
    mark = read_marker(body)
    assert mark is not None and not mark.edited


def test_a_request_changes_draft_takes_the_coders_description_never_a_reviewers() -> None:
    """A draft leads with the coder's prBody, else its summary; a reviewer's prBody (written
    for approved work) never leads it."""
    raw = issue_pipeline("wl", 1, outcome="request-changes")
    for t in raw:
        if t["metadata"]["name"] == "wl-review-1-2":
            t["status"]["result"]["extra"] = {"prBody": "Reviewer text."}
    assert _body(raw, "request-changes", DRAFTS).startswith("Implemented issue #1.")
    body = _body(_with_coder_body(raw, "Coder text."), "request-changes", DRAFTS)
    assert body.startswith("Coder text.") and "Reviewer text." not in body
    assert "Refs #1" in body and not CLOSING.search(body)


# ---------------------------------------------------------------- advisory escalation


def _escalate(verdict: str, index: int = 1) -> dict[str, Any]:
    return task(
        "wl",
        f"escalate-1-{index}",
        kind="review",
        verdict=verdict,
        result=result("review", verdict, "Escalation reviewer."),
    )


def _rows(body: str) -> list[str]:
    return [line for line in body.splitlines() if line.startswith("| ") and "---" not in line]


def test_a_request_changes_draft_lists_escalation_reviewers_as_advisory() -> None:
    """--draft-on-request-changes: escalation verdicts follow the base reviewers, marked
    advisory (before: left out of the table)."""
    raw = [*issue_pipeline("wl", 1, outcome="request-changes"), _escalate("GO"), _escalate("GO", 2)]
    rows = _rows(_body(raw, "request-changes", DRAFTS))
    steps = [row.split("|")[1].strip() for row in rows[1:]]
    assert steps == [
        "code-1",
        "verify-1",
        "review-1-1",
        "review-1-2",
        "escalate-1-1",
        "escalate-1-2",
    ]
    assert rows[-1].startswith("| escalate-1-2 | GO (advisory) | advisory, not counted;")
    assert "(advisory)" not in "".join(rows[:-2])


def test_without_the_draft_flag_an_escalation_go_opens_nothing() -> None:
    """No --draft-on-request-changes: the base NO-GO stands, so there is no body at all."""
    raw = [*issue_pipeline("wl", 1, outcome="request-changes"), _escalate("GO")]
    wl = parse_workload(workload("wl", phase="Failed"))
    [plan] = plan_workload(wl, raw, POLICY)
    assert not isinstance(plan, Candidate)
    assert (str(plan.outcome), str(plan.reason)) == ("skipped", "review-not-go")


def test_a_ready_pr_lists_an_escalation_verdict_too_marked_advisory() -> None:
    """Base review passed, an escalation reviewer said NO-GO: the PR opens ready and closes
    the issue, and the table shows that NO-GO as advisory, not hidden."""
    body = _body([*issue_pipeline("wl", 1), _escalate("NO-GO")])
    assert "| escalate-1-1 | NO-GO (advisory) | advisory, not counted;" in body
    assert CLOSING.findall(body) == ["Fixes #1"]


# ---------------------------------------------------------------- reviewer-less Workloads


def test_a_reviewer_less_body_says_no_reviewer_ran() -> None:
    """No reviewer: the body says so and never claims a review (before: "after review");
    a reviewed body keeps saying it follows review."""
    body = _body(issue_pipeline("wl", 1, reviewers=0))
    assert "**No reviewer ran**" in body and "after review" not in body
    assert "`default/wl`" in body
    assert CLOSING.findall(body) == ["Fixes #1"]
    assert body.startswith("Implemented issue #1.")
    reviewed = _body(issue_pipeline("wl", 1))
    assert "after review." in reviewed and "No reviewer ran" not in reviewed
