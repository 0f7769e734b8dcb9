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
    read_marker,
    render_body,
    render_title,
    sanitize,
)
from sweeper.tasks import parse_task
from tests.fixtures.foreman import issue_pipeline, sha

KEYWORDS = ["close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved"]
REFS = ["#12", "acme/widgets#12", "https://github.com/acme/widgets/issues/12", "GH-12"]
# What GitHub would take as a closing reference: a keyword, optional colon, a reference
# (#N, OWNER/REPO#N, an issue URL, or GitHub's GH-N).
CLOSING = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s*"
    r"(?:#\d+|[\w.-]+/[\w.-]+#\d+|https://\S+/issues/\d+|gh-\d+)",
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
    assert CLOSING.search(text)
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
    found = parse_marker(body)
    assert found is not None and found.pop("digest")
    assert found == {"workload": "default/wl", "issue": 1, "sha": sha("wl-1-final")}


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


def _info(
    pr_body: str | None = None, outcome: str = "go", findings: list | None = None
) -> BodyInput:
    raw = issue_pipeline("wl", 1, pr_body=pr_body, outcome=outcome)
    if findings is not None:
        raw[-2]["status"]["result"].setdefault("extra", {})["findings"] = findings
    tasks = [parse_task(t) for t in raw]
    coder = next(t for t in tasks if t.step == "code-1")
    return BodyInput(
        draft=outcome == "request-changes",
        namespace="default",
        workload="wl",
        issue=1,
        reviewed_sha=coder.commit_sha,
        coder=coder,
        verifiers=[t for t in tasks if t.step.startswith("verify")],
        reviewers=sorted((t for t in tasks if t.step.startswith("review")), key=lambda t: t.step),
    )


# ---------------------------------------------------------------- drafts and findings


def test_draft_body_links_the_issue_without_closing_it() -> None:
    """A request-changes draft says Refs #N, never a closing keyword, and says why."""
    body = render_body(_info(outcome="request-changes"))
    assert "Refs #1" in body
    assert not CLOSING.search(body)
    assert "Opened as a draft" in body and "does not close the issue" in body
    mark = read_marker(body)
    assert mark is not None and mark.draft and not mark.edited


def test_draft_body_carries_findings_grouped_by_reviewer() -> None:
    """Severity, area, file:line, message and suggestion, under the reviewer that wrote them."""
    body = render_body(_info(outcome="request-changes"))
    section = body[body.index("### Review requested changes") :]
    assert "1 of 2 reviewers asked for changes" in section
    assert "#### review-1-1 (NO-GO)" in section
    assert (
        "- **major** · correctness `pager.go:42`: Off-by-one in the loop bound.\n"
        "  Suggestion: Use < instead of <=" in section
    )
    assert section.index("review-1-1") < section.index("Refs #1")


def test_hostile_findings_cannot_close_ping_or_break_the_body() -> None:
    """Findings are agent text: keywords, mentions, fences and headings stay inert."""
    findings = [
        {
            "severity": "blocker`**",
            "area": "@security-team",
            "message": "Fixes #7 and closes acme/widgets#8, ping @alice\n```\nopen fence",
            "file": "a`b.py",
            "line": 3,
            "suggestion": "<!-- foreman-pr-sweeper {} --> resolve #9",
        }
    ]
    body = render_body(_info(outcome="request-changes", findings=findings))
    assert not CLOSING.search(body)
    assert not MENTION.search(body)
    assert body.index("Refs #1") > body.rindex("```")
    assert body.count("<!--") == 1
    assert read_marker(body) is not None and not read_marker(body).edited


def test_many_findings_are_capped_and_the_trailer_survives() -> None:
    """Hundreds of long findings still fit GitHub's limit with the sweeper's lines intact."""
    findings = [
        {"severity": "minor", "area": "style", "message": "m" * 5000, "suggestion": "s" * 5000}
        for _ in range(200)
    ]
    body = render_body(_info(outcome="request-changes", findings=findings))
    assert len(body) <= MAX_BODY
    assert "Refs #1" in body and "(truncated by foreman-pr-sweeper)" in body
    assert body.count("- **minor**") < 200
    assert read_marker(body) is not None and not read_marker(body).edited


def test_approved_review_with_findings_lists_them_as_notes() -> None:
    """Findings of approving reviewers are carried as review notes in a ready PR."""
    findings = [{"severity": "minor", "area": "docs", "message": "Typo in README."}]
    body = render_body(_info(pr_body="Adds it.", findings=findings))
    assert "### Review notes" in body and "Typo in README." in body
    assert "Fixes #1" in body


# ---------------------------------------------------------------- the marker


def test_marker_tells_an_untouched_body_from_an_edited_one() -> None:
    """The digest covers everything the sweeper wrote; any human change shows."""
    body = render_body(_info(pr_body="Adds the widget."))
    mark = read_marker(body)
    assert mark is not None
    assert (mark.sha, mark.issue, mark.draft, mark.edited) == (sha("wl-1-final"), 1, False, False)
    assert not read_marker(body.replace("\n", "\r\n")).edited, "the web editor's CRLF"
    assert read_marker(body.replace("Adds the widget.", "Adds the widget. LGTM")).edited
    assert read_marker(body + "\n\nA note a human added below.").edited


def test_marker_of_an_older_version_counts_as_edited() -> None:
    """No digest: whether a human edited it cannot be told, so it is never overwritten."""
    old = "Text\n\n" + marker("default", "wl", 1, sha("x"))
    mark = read_marker(old)
    assert mark is not None and mark.edited


@pytest.mark.parametrize("body", [None, "", "no marker here", "<!-- foreman-pr-sweeper {bad -->"])
def test_no_marker_is_not_the_sweepers(body: str | None) -> None:
    assert read_marker(body) is None


@pytest.mark.parametrize(
    ("text", "closed"),
    [
        pytest.param("````\n```\ncode", "````", id="longer-fence-needs-longer-close"),
        pytest.param("~~~\n```\n", "~~~", id="tilde-not-closed-by-backticks"),
        pytest.param("```\ncode\n```\n", None, id="balanced"),
        pytest.param("``` `not a fence`\ntext", None, id="backtick-info-is-not-a-fence"),
    ],
)
def test_fences_close_by_commonmark_rules(text: str, closed: str | None) -> None:
    """Only a same-character fence at least as long closes one; the closer matches it."""
    out = sanitize(text)
    assert out.endswith("\n" + closed) if closed else out == text.strip()


def test_a_huge_open_fence_still_fits_the_limit() -> None:
    """The closer matches the opener's length, and still counts against the limit."""
    out = sanitize("`" * 500 + "\n" + "x" * 1000, 600)
    assert len(out) <= 600
    assert out.endswith("`" * 500) or "`" * 500 not in out


def test_findings_per_reviewer_are_capped_with_a_count() -> None:
    findings = [{"severity": "minor", "area": "style", "message": f"n{i}"} for i in range(200)]
    body = render_body(_info(outcome="request-changes", findings=findings))
    assert "- …and 150 more (see the transcript)" in body


def test_a_withdrawn_body_says_why_and_marks_the_close_as_the_sweepers() -> None:
    """The note on top, the marker says withdrawn, and the digest still matches."""
    from sweeper.body import withdrawn_body

    tasks = [parse_task(t) for t in issue_pipeline("wl", 1)]
    coder = next(t for t in tasks if t.role.value == "coder")
    body = render_body(BodyInput("default", "wl", 1, sha("x"), coder, [], [], False))
    closed = withdrawn_body(body, "moved to @someone's commit, fixes #9")
    assert closed.startswith("> **Withdrawn by foreman-pr-sweeper.** ")
    assert "@\u200bsomeone" in closed and "fixes #9" not in closed
    mark = read_marker(closed)
    assert mark is not None and mark.withdrawn and not mark.edited
    assert (mark.issue, mark.sha, mark.workload) == (1, sha("x"), "default/wl")
    assert "Fixes #1" in closed
    assert len(closed) <= 65_536
    unmarked = withdrawn_body("a human's text", "why")
    assert unmarked.startswith("> why") and read_marker(unmarked) is None
