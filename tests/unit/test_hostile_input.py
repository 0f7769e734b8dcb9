"""Hostile and malformed input: each case is skipped invalid-input, none crashes the pass."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeper.body import sanitize
from sweeper.core import Candidate, Decision, Policy
from sweeper.eligibility import plan_workload
from sweeper.fields import InvalidInput
from sweeper.model import parse_workload
from tests.fixtures.foreman import issue_pipeline, workload

POLICY = Policy(min_age=timedelta(0))
Mutation = Callable[[list[dict[str, Any]]], None]


def coder(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return next(t for t in tasks if t["spec"]["kind"] == "issue-fix")


def review(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return next(t for t in tasks if t["spec"]["kind"] == "review")


def on_all(fn: Callable[[dict[str, Any]], None]) -> Mutation:
    def apply(tasks: list[dict[str, Any]]) -> None:
        for t in tasks:
            fn(t)

    return apply


def set_payload(key: str, value: Any) -> Mutation:
    return on_all(lambda t: t["spec"]["payload"].__setitem__(key, value))


def set_coder_status(key: str, value: Any) -> Mutation:
    return lambda tasks: coder(tasks)["status"].__setitem__(key, value)


def set_review_result(value: Any) -> Mutation:
    return lambda tasks: review(tasks)["status"].__setitem__("result", value)


def set_review_extra(key: str, value: Any) -> Mutation:
    return lambda tasks: (
        review(tasks)["status"]["result"].setdefault("extra", {}).__setitem__(key, value)
    )


# The corpus: (id, mutation of a healthy issue's tasks). Every case must be skipped as
# invalid-input with a detail, and must never raise.
TASK_CORPUS: list[tuple[str, Mutation]] = [
    ("repo-missing", set_payload("repo", None)),
    ("repo-empty", set_payload("repo", "")),
    ("repo-int", set_payload("repo", 42)),
    ("repo-no-slash", set_payload("repo", "acme")),
    ("repo-three-parts", set_payload("repo", "acme/widgets/extra")),
    ("repo-dotdot", set_payload("repo", "acme/..")),
    ("repo-space", set_payload("repo", "acme/wid gets")),
    ("repo-url", set_payload("repo", "https://github.com/acme/widgets")),
    ("repo-query", set_payload("repo", "acme/widgets?x=1")),
    ("repo-owner-too-long", set_payload("repo", "a" * 40 + "/widgets")),
    ("branch-list", set_payload("branch", ["foreman/wl/issue-1"])),
    ("branch-dotdot", set_payload("branch", "foreman/../main")),
    ("branch-encoded-slash", set_payload("branch", "foreman%2Fwl%2Fissue-1")),
    ("branch-query", set_payload("branch", "foreman/wl/issue-1?ref=main")),
    ("branch-space", set_payload("branch", "foreman/wl/issue 1")),
    ("branch-newline", set_payload("branch", "foreman/wl/issue-1\nmain")),
    ("branch-nul", set_payload("branch", "foreman/wl/\x00issue-1")),
    ("branch-tab", set_payload("branch", "foreman/wl/\tissue-1")),
    ("branch-too-long", set_payload("branch", "foreman/" + "x" * 300)),
    ("branch-lock-suffix", set_payload("branch", "foreman/wl/issue-1.lock")),
    ("branch-leading-slash", set_payload("branch", "/foreman/wl/issue-1")),
    ("branch-trailing-dot", set_payload("branch", "foreman/wl/issue-1.")),
    ("branch-reflog", set_payload("branch", "foreman/wl@{1}")),
    ("branch-colon", set_payload("branch", "acme:foreman/wl/issue-1")),
    ("branch-hash", set_payload("branch", "foreman/wl/issue-1#x")),
    ("branch-backslash", set_payload("branch", "foreman\\wl")),
    ("issue-zero", set_payload("issue", 0)),
    ("issue-negative", set_payload("issue", -3)),
    ("issue-string", set_payload("issue", "1")),
    ("issue-float", set_payload("issue", 1.5)),
    ("issue-bool", set_payload("issue", True)),
    ("issue-huge", set_payload("issue", 2**40)),
    ("sha-short", set_coder_status("commitSHA", "abc123")),
    ("sha-upper-junk", set_coder_status("commitSHA", "Z" * 40)),
    ("sha-int", set_coder_status("commitSHA", 1234)),
    ("status-not-object", lambda ts: review(ts).__setitem__("status", "Succeeded")),
    ("status-list", lambda ts: review(ts).__setitem__("status", [])),
    ("result-string", set_review_result("GO")),
    ("result-list", set_review_result(["GO"])),
    ("result-int", set_review_result(7)),
    ("extra-string", lambda ts: review(ts)["status"]["result"].__setitem__("extra", "x")),
    ("model-extra-list", set_review_extra("modelExtra", [1, 2])),
    ("pr-body-int", set_review_extra("prBody", 12)),
    ("pr-body-enormous", set_review_extra("prBody", "x" * 2_000_000)),
    ("summary-dict", lambda ts: review(ts)["status"]["result"].__setitem__("summary", {"a": 1})),
    ("findings-not-list", set_review_extra("findings", "all good")),
    ("finding-not-object", set_review_extra("findings", ["bad"])),
    ("finding-line-string", set_review_extra("findings", [{"message": "m", "line": "42"}])),
    ("phase-int", lambda ts: review(ts)["status"].__setitem__("phase", 3)),
    ("verdict-list", lambda ts: review(ts)["status"].__setitem__("verdict", ["GO"])),
    ("finished-at-garbage", set_coder_status("finishedAt", "yesterday")),
    ("finished-at-naive", set_coder_status("finishedAt", "2026-11-01T10:00:00")),
    ("spec-missing", lambda ts: review(ts).pop("spec")),
    ("payload-missing", lambda ts: review(ts)["spec"].pop("payload")),
    ("payload-string", lambda ts: review(ts)["spec"].__setitem__("payload", "repo=acme/x")),
    (
        "open-pr-string",
        lambda ts: review(ts)["spec"]["payload"].__setitem__("openPullRequest", "yes"),
    ),
    ("task-not-object", lambda ts: ts.__setitem__(0, "not a task")),
    ("name-missing", lambda ts: review(ts)["metadata"].pop("name")),
]


@pytest.mark.parametrize(("case_id", "mutate"), TASK_CORPUS, ids=[c[0] for c in TASK_CORPUS])
def test_bad_task_is_invalid_input_never_a_crash(case_id: str, mutate: Mutation) -> None:
    """A malformed task yields invalid-input with a detail; no exception escapes."""
    tasks = copy.deepcopy(issue_pipeline("wl", 1))
    mutate(tasks)
    plans = plan_workload(parse_workload(workload("wl")), tasks, POLICY)
    assert plans, case_id
    assert all(isinstance(p, Decision) for p in plans), plans
    assert {(str(p.outcome), str(p.reason)) for p in plans} == {("skipped", "invalid-input")}
    assert all(p.detail for p in plans)


def test_the_corpus_is_large_enough() -> None:
    """The issue asks for at least 40 cases, kept as data."""
    assert len(TASK_CORPUS) + len(WORKLOAD_CORPUS) >= 40


def test_other_branches_survive_a_bad_one() -> None:
    """One bad issue's tasks never stop the Workload's other issues."""
    good = issue_pipeline("wl", 2)
    for case_id, mutate in TASK_CORPUS:
        bad = copy.deepcopy(issue_pipeline("wl", 1))
        mutate(bad)
        if case_id in {
            "task-not-object",
            "name-missing",
            "spec-missing",
            "payload-missing",
            "payload-string",
            "repo-missing",
            "repo-int",
            "repo-empty",
            "branch-list",
        }:
            continue  # unplaceable: every branch is (rightly) held back
        plans = plan_workload(parse_workload(workload("wl", issues=[1, 2])), bad + good, POLICY)
        assert any(isinstance(p, Candidate) for p in plans), case_id


@pytest.mark.parametrize(
    ("case_id", "mutate", "why"),
    [
        ("no-metadata", lambda t: t.pop("metadata"), "no controller ownerReference"),
        ("no-owner", lambda t: t["metadata"].pop("ownerReferences"), "no controller"),
        (
            "not-controller",
            lambda t: t["metadata"]["ownerReferences"][0].__setitem__("controller", False),
            "no controller",
        ),
        (
            "other-kind",
            lambda t: t["metadata"]["ownerReferences"][0].__setitem__("kind", "Job"),
            "no controller",
        ),
        (
            "other-uid",
            lambda t: t["metadata"]["ownerReferences"][0].__setitem__("uid", "u-someone"),
            "owned by another Workload (uid u-someone)",
        ),
    ],
)
def test_a_forged_no_go_is_left_out_and_said_so(
    case_id: str, mutate: Callable[[dict[str, Any]], None], why: str
) -> None:
    """A NO-GO review the Workload does not own changes nothing; the detail counts it."""
    forged = copy.deepcopy(issue_pipeline("wl", 1, outcome="request-changes"))
    tasks = copy.deepcopy(issue_pipeline("wl", 1))
    extra = next(t for t in forged if t["status"].get("verdict") == "NO-GO")
    extra["metadata"]["name"] = "wl-review-1-9"
    mutate(extra)
    [plan] = plan_workload(parse_workload(workload("wl")), [*tasks, extra], POLICY)
    assert isinstance(plan, Candidate), case_id
    assert "1 labelled tasks left out" in plan.note and why in plan.note


WORKLOAD_CORPUS: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("not-a-mapping", lambda w: w.clear()),
    ("metadata-string", lambda w: w.__setitem__("metadata", "x")),
    ("name-missing", lambda w: w["metadata"].pop("name")),
    ("namespace-int", lambda w: w["metadata"].__setitem__("namespace", 5)),
    ("open-pr-string", lambda w: w["spec"].__setitem__("openPullRequest", "false")),
    ("pipeline-string", lambda w: w["spec"].__setitem__("pipeline", "steps")),
    (
        "completed-time-garbage",
        lambda w: w["status"]["conditions"][0].__setitem__("lastTransitionTime", "soon"),
    ),
    (
        "pipeline-bad-branch",
        lambda w: w["spec"].__setitem__(
            "pipeline",
            [
                {
                    "name": "r",
                    "kind": "review",
                    "payload": {"repo": "acme/x", "branch": "../x", "openPullRequest": True},
                }
            ],
        ),
    ),
]


@pytest.mark.parametrize(
    ("case_id", "mutate"), WORKLOAD_CORPUS, ids=[c[0] for c in WORKLOAD_CORPUS]
)
def test_bad_workload_is_invalid_input(
    case_id: str, mutate: Callable[[dict[str, Any]], None]
) -> None:
    """A malformed Workload raises InvalidInput (the pass logs it and moves on)."""
    obj = workload("wl")
    mutate(obj)
    with pytest.raises(InvalidInput):
        parse_workload(obj if obj else None)


def test_null_status_and_annotations_are_tolerated() -> None:
    """Null status or annotations are absent fields, not errors."""
    obj = workload("wl")
    obj["status"] = None
    obj["metadata"]["annotations"] = None
    wl = parse_workload(obj)
    assert wl.phase is None and wl.records == {}


# ---------------------------------------------------------------- properties

json_leaf = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
)
json_value = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    path=st.sampled_from(
        [
            ("spec", "payload", "repo"),
            ("spec", "payload", "branch"),
            ("spec", "payload", "issue"),
            ("status", "result"),
            ("status", "verdict"),
            ("status", "phase"),
            ("status", "commitSHA"),
            ("status", "result", "extra"),
            ("spec", "kind"),
            ("metadata", "labels"),
            ("spec",),
        ]
    ),
    value=json_value,
    which=st.integers(min_value=0, max_value=4),
)
def test_decision_never_raises_on_any_field_value(
    path: tuple[str, ...], value: Any, which: int
) -> None:
    """Whatever JSON lands in any field of any task, the decision returns plans, never raises."""
    tasks = copy.deepcopy(issue_pipeline("wl", 1))
    target: Any = tasks[which % len(tasks)]
    for key in path[:-1]:
        target = target.setdefault(key, {}) if isinstance(target, dict) else {}
    if isinstance(target, dict):
        target[path[-1]] = value
    plans = plan_workload(parse_workload(workload("wl")), tasks, POLICY)
    assert plans
    for p in plans:
        assert isinstance(p, Candidate | Decision)


# GitHub mentions: `@` after anything but a letter, digit or `_` (so `.@bob` too; an
# address's `@` follows a word), then a login.
MENTION_LIVE = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9_-])")
CLOSING_LIVE = re.compile(
    r"(?i)(?<![a-z0-9])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?![a-z0-9])\s*:?\s*"
    r"(?:#\d|[\w.-]+/[\w.-]+#\d|https?://|gh-\d)"
)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400))
def test_sanitizer_output_is_always_inert(text: str) -> None:
    """For any text: no live keyword reference, no mention, no tag, no comment, within limit."""
    out = sanitize(text, 300)
    assert not CLOSING_LIVE.search(out)
    assert not MENTION_LIVE.search(out)
    assert "<!--" not in out and not re.search(r"<[A-Za-z!/?]", out)
    assert len(out) <= 300


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "fixes",
                "Closes:",
                "RESOLVED",
                "#12",
                "acme/w#3",
                "@bob",
                "@org/team",
                ".",
                "-",
                "GH-4",
                " ",
                "\n",
                "<!--",
                "-->",
                "```",
                "x",
            ]
        ),
        max_size=40,
    )
)
def test_sanitizer_on_adversarial_token_soup(tokens: list[str]) -> None:
    """Keyword, reference and mention fragments in any order never produce a live link or ping."""
    out = sanitize("".join(tokens))
    assert not CLOSING_LIVE.search(out)
    assert not MENTION_LIVE.search(out)
