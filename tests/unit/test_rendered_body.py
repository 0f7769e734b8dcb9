"""The PR body as a reader sees it: rendered by CommonMark, whatever the agent wrote, it
links exactly one issue (the sweeper's own), pings nobody, hides nothing, and the
sweeper's verdict table and provenance line stand as such below the agent's text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeper.body import BodyInput, render_body, sanitize
from sweeper.tasks import parse_task
from tests.fixtures.foreman import issue_pipeline
from tests.fixtures.rendered import Page, read

PROVENANCE = "Opened by foreman-pr-sweeper for Foreman Workload"


def body_of(pr_body: str, findings: list[dict[str, object]] | None = None) -> str:
    raw = issue_pipeline("wl", 1, pr_body=pr_body)
    if findings is not None:
        raw[-2]["status"]["result"].setdefault("extra", {})["findings"] = findings
    tasks = [parse_task(t) for t in raw]
    coder = next(t for t in tasks if t.step == "code-1")
    return render_body(
        BodyInput(
            namespace="default",
            workload="wl",
            issue=1,
            reviewed_sha=coder.commit_sha,
            coder=coder,
            verifiers=[t for t in tasks if t.step.startswith("verify")],
            reviewers=sorted((t for t in tasks if t.step.startswith("review")), key=str),
        )
    )


def assert_reader_sees_only_the_sweepers_lines(page: Page) -> None:
    """One closing reference, the sweeper's; no mention; nothing hidden; the trailer intact."""
    assert page.closing_references() == ["Fixes #1"]
    assert page.mentions() == []
    assert page.hidden == []
    assert [h for h in page.html if "foreman-pr-sweeper" not in h] == []
    assert "Fixes #1" in page.paragraphs
    assert [p for p in page.paragraphs if p.startswith(PROVENANCE)]
    [table] = page.tables
    assert table[0] == ["step", "verdict", "detail"]
    assert {"code-1", "verify-1", "review-1-1", "review-1-2"} <= {row[0] for row in table}
    assert not any("Fixes #1" in code or PROVENANCE in code for code in page.code)


ATTACKS = [
    pytest.param("Fixes &#35;9", id="closing-reference-as-decimal-entity"),
    pytest.param("Fixes &#x23;9 and Closes &#X23;10", id="closing-reference-as-hex-entity"),
    pytest.param("Fixes &num;9", id="closing-reference-as-named-entity"),
    pytest.param("Fix&#101;s #8", id="keyword-spelt-with-an-entity"),
    pytest.param("Fix&amp;#101;s #8 Fixes &amp;#35;9", id="double-encoded-entities"),
    pytest.param("Fixes acme&#47;widgets&#35;9", id="cross-repo-reference-as-entities"),
    pytest.param("Fixes \\#9", id="closing-reference-with-escaped-hash"),
    pytest.param("Fix**es** #8 and Clo~~ses~~ #9", id="keyword-split-by-emphasis"),
    pytest.param("Fixes **acme**/widgets#9", id="cross-repo-reference-in-emphasis"),
    pytest.param("Fixes GH-9", id="closing-reference-gh-form"),
    pytest.param("&#64;alice and &commat;bob and &#x40;carol", id="mention-as-entity"),
    pytest.param("done.@bob, cc -@acme/security", id="mention-after-punctuation"),
    pytest.param("see `x`@bob and \\@carol", id="mention-after-code-or-escape"),
    pytest.param("@acme&#47;security", id="team-mention-with-entity-slash"),
    pytest.param("&#x202e;Fixes #9", id="bidi-override-as-entity"),
    pytest.param("Intro.\n\n[//]: # (Fixes #9, a hidden line)\n\nMore.", id="hidden-comment-line"),
    pytest.param('Intro.\n\n[ref]: https://evil.example "Closes #9"', id="link-definition"),
    pytest.param("Intro.\n\n> [//]: # (hidden in a quote)", id="link-definition-in-a-quote"),
    pytest.param("- item\n\n  [//]: # (hidden in a list)", id="link-definition-in-a-list"),
    pytest.param("Intro.\n\n[hidden\nlabel]: /url", id="link-definition-label-on-two-lines"),
    pytest.param("```\n\n[a]: /u", id="link-definition-below-a-backtick-run"),
    pytest.param("- item\n\n  ```\n  code", id="open-fence-in-a-list-item"),
    pytest.param("1.  item\n\n    ~~~~\n    code", id="open-tilde-fence-in-an-ordered-item"),
    pytest.param("- ```\n  code", id="open-fence-on-the-list-items-own-line"),
    pytest.param("- a\n  - b\n\n    ```\n    code", id="open-fence-in-a-nested-item"),
    pytest.param("- item\n\n  ```\ncode\n```\nswallow", id="fence-after-its-list-item-ended"),
    pytest.param("- item\nlazy\n  ```\n  code", id="open-fence-after-a-lazy-line"),
    pytest.param("> ```\n> code", id="open-fence-in-a-quote"),
    pytest.param("Look:\n```python\nprint(1)", id="open-fence-at-the-top-level"),
    pytest.param("\t```\n\tcode", id="indented-code-not-a-fence"),
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_attack_in_the_agents_text_links_pings_and_hides_nothing(attack: str) -> None:
    """Rendered, the body has the sweeper's `Fixes #1`, its table and provenance, and
    no other closing reference, no mention, no hidden line."""
    assert_reader_sees_only_the_sweepers_lines(read(body_of(attack)))


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_attack_in_a_finding_links_pings_and_hides_nothing(attack: str) -> None:
    """Findings are agent text too, placed inside list items: the same holds."""
    findings = [{"severity": "major", "message": attack, "suggestion": attack}]
    assert_reader_sees_only_the_sweepers_lines(read(body_of("Adds it.", findings)))


def test_an_open_fence_in_a_list_item_is_closed_at_its_own_indentation() -> None:
    """The closer stands inside the item; a column-0 closer would open a new block."""
    assert sanitize("- item\n\n  ```\n  code").endswith("\n  code\n  ```")
    assert sanitize("1.  item\n\n    ```\n    code").endswith("\n    ```")


def test_a_fence_its_list_item_closed_gets_no_closer() -> None:
    """The item's end closed the fence; a closer would open one."""
    assert sanitize("- item\n\n  ```\n  code\n\nafter") == "- item\n\n  ```\n  code\n\nafter"


def test_entities_read_as_the_reader_sees_them() -> None:
    """Decoded references show as before; a double-encoded one stays literal text."""
    page = read(body_of("a &lt;b&gt; &amp; c &amp;#35;9 caf&eacute;"))
    assert "a <b> & c &#35;9 café" in page.paragraphs


def test_an_email_address_is_not_mangled() -> None:
    """`ops@example.com` is no mention on GitHub and reads as written."""
    page = read(body_of("Write to ops@example.com or first.last@example.org."))
    assert "Write to ops@example.com or first.last@example.org." in page.paragraphs


def test_a_code_block_keeps_a_line_that_looks_like_a_definition() -> None:
    """A definition-like line inside fenced code is code, shown as written."""
    page = read(body_of("```toml\n[x]: y\n```"))
    assert page.code[0] == "[x]: y\n"


# ---------------------------------------------------------------- a property

FRAGMENTS = [
    "Fixes",
    "Fix",
    "es",
    "**",
    "~~",
    "closes:",
    "#9",
    "&#35;",
    "&#x23;",
    "&num;",
    "&amp;",
    "&#101;",
    "&#64;",
    "&commat;",
    "acme/w",
    "GH-3",
    "@bob",
    "@org/team",
    ".",
    "-",
    "\\",
    "`",
    " ",
    "\n",
    "\n\n",
    "- ",
    "1. ",
    "  ",
    "    ",
    "> ",
    "```",
    "~~~",
    "[//]: # (x)",
    "[a]:",
    "[",
    "]: /u",
    "<!--",
    "x",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_any_soup_of_fragments_renders_inert(fragments: list[str]) -> None:
    """Keywords, references, entities, mentions, fences, list and quote markers and
    definitions in any order: the rendered body still shows only the sweeper's lines."""
    assert_reader_sees_only_the_sweepers_lines(read(body_of("".join(fragments))))
