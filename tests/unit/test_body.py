"""PR titles and bodies: agent text is hostile; only the sweeper's own line links an issue."""

from __future__ import annotations

import re

import pytest

from sweeper.body import (
    MAX_BODY,
    MAX_TITLE,
    ZWSP,
    BodyInput,
    marker,
    parse_marker,
    render_body,
    render_title,
    sanitize,
)
from sweeper.model import parse_task
from tests.fixtures.foreman import issue_pipeline, sha

KEYWORDS = ["close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved"]
REFS = ["#12", "acme/widgets#12", "https://github.com/acme/widgets/issues/12", "GH-12"]
# What GitHub would take as a closing reference: a keyword, optional colon, a reference.
CLOSING = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s*"
    r"(?:#\d+|[\w.-]+/[\w.-]+#\d+|https://\S+/issues/\d+)",
    re.I,
)
MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9_-]")


@pytest.mark.parametrize("keyword", KEYWORDS)
@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
@pytest.mark.parametrize("colon", ["", ":"])
@pytest.mark.parametrize("ref", REFS)
def test_every_closing_keyword_form_is_neutralised(keyword, case, colon, ref) -> None:
    """All nine keywords, any case, optional colon, every reference form: none survives."""
    text = f"This PR {case(keyword)}{colon} {ref} and more."
    assert CLOSING.search(text) or ref == "GH-12"
    assert not CLOSING.search(sanitize(text))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("ping @alice please", id="user"),
        pytest.param("cc @acme/security-team", id="team"),
        pytest.param("(@bob)", id="in-parens"),
        pytest.param("@carol at start", id="line-start"),
        pytest.param("**@dave**", id="bold"),
    ],
)
def test_mentions_are_neutralised(text: str) -> None:
    """@user and @org/team never notify anyone."""
    out = sanitize(text)
    assert not MENTION.search(out)
    assert "@" + ZWSP in out


def test_email_addresses_are_left_alone() -> None:
    """An address is not a mention and stays readable."""
    assert sanitize("mail ops@example.com") == "mail ops@example.com"


def test_marker_imitation_is_stripped() -> None:
    """Agent text cannot plant a marker or any other hidden HTML comment."""
    fake = marker("default", "other", 99, sha("evil"))
    out = sanitize(f"hello {fake} world <!-- hidden")
    assert "foreman-pr-sweeper" not in out
    assert "<!--" not in out


@pytest.mark.parametrize(
    "html",
    [
        "<details><summary>x</summary>secret</details>",
        "<div hidden>Fixes #1</div>",
        "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>",
    ],
)
def test_html_is_rendered_inert(html: str) -> None:
    """Tags that could hide or run content are escaped, so they show as text."""
    out = sanitize(html)
    assert "<" not in out.replace("&lt;", "")


def test_bidi_and_control_characters_are_removed() -> None:
    """Characters that reorder or hide text on screen are dropped."""
    out = sanitize("a\u202eb\u2066c\x00d\x1be")
    assert out == "abcde"


def test_unclosed_code_fence_is_closed() -> None:
    """An open fence would swallow the sweeper's own lines; it is closed."""
    body = render_body(_info(pr_body="Look:\n```python\nprint(1)\n"))
    fences = re.findall(r"^```", body, re.M)
    assert len(fences) % 2 == 0
    assert body.index("Fixes #1") > body.rindex("```")


def test_body_has_exactly_one_live_closing_reference() -> None:
    """Whatever the reviewer wrote, only `Fixes #<issue>` closes an issue."""
    hostile = "Fixes #2. Closes: acme/widgets#3. resolved https://github.com/a/b/issues/4 @here"
    body = render_body(_info(pr_body=hostile))
    assert CLOSING.findall(body) == ["Fixes #1"]
    assert not MENTION.search(body)


def test_body_layout() -> None:
    """Reviewer text, Fixes line, verdict table, provenance, then the marker last."""
    body = render_body(_info(pr_body="Adds the widget."))
    assert body.startswith("Adds the widget.")
    assert "| code-1 | GO | commit `" + sha("wl-1-final") + "` |" in body
    assert "| verify-1 | GATE-PASS |" in body
    assert "| review-1-1 | GO |" in body and "| review-1-2 | GO |" in body
    assert "Workload `default/wl`" in body
    assert body.rstrip().endswith("-->")
    assert parse_marker(body) == {"workload": "default/wl", "issue": 1, "sha": sha("wl-1-final")}


def test_summary_is_the_fallback_for_a_missing_pr_body() -> None:
    """Without prBody the reviewer's summary leads the body."""
    body = render_body(_info(pr_body=None))
    assert not body.startswith("Fixes")


@pytest.mark.parametrize("size", [MAX_BODY - 10, MAX_BODY, 10 * MAX_BODY])
def test_oversize_body_is_truncated_but_keeps_the_trailer(size: int) -> None:
    """The body stays within GitHub's limit and the sweeper's lines survive."""
    body = render_body(_info(pr_body="x" * size))
    assert len(body) <= MAX_BODY
    assert "Fixes #1" in body
    assert parse_marker(body) is not None


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param("Add widget\n\nLong text", "Add widget", id="subject"),
        pytest.param(None, "Fix #1", id="fallback"),
        pytest.param("   \n", "Fix #1", id="blank"),
        pytest.param("  spaced   out  ", "spaced out", id="whitespace"),
    ],
)
def test_title(message: str | None, expected: str) -> None:
    """The head commit's subject, else `Fix #<n>`."""
    assert render_title(message, 1) == expected


def test_title_is_capped_and_inert() -> None:
    """Titles stay within 256 characters and carry no live keyword or mention."""
    title = render_title("Fixes #9 for @alice " + "y" * 1000, 1)
    assert len(title) <= MAX_TITLE
    assert not CLOSING.search(title)
    assert not MENTION.search(title)


def _info(pr_body: str | None) -> BodyInput:
    tasks = [parse_task(t) for t in issue_pipeline("wl", 1, pr_body=pr_body)]
    coder = next(t for t in tasks if t.step == "code-1")
    return BodyInput(
        namespace="default",
        workload="wl",
        issue=1,
        reviewed_sha=coder.commit_sha,
        coder=coder,
        verifiers=[t for t in tasks if t.step.startswith("verify")],
        reviewers=sorted((t for t in tasks if t.step.startswith("review")), key=lambda t: t.step),
    )
