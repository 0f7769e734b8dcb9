"""Pull request titles and bodies, built from agent-written text that is treated as hostile.

Agent text (the reviewer's PR body or summary, commit subjects, findings) can contain
closing keywords that would close unrelated issues on merge, @mentions that would page
people, HTML that hides content, character references that become either once rendered
(`&#35;`, `&#64;`), link reference definitions that render as nothing, imitations of the
sweeper's own marker, unbalanced code fences that would swallow everything after them,
and sizes GitHub rejects. `sanitize` neutralises all of it; only the sweeper's own
`Fixes #N` line links an issue.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sweeper.blocks import drop_link_definitions, open_fence
from sweeper.tasks import Finding, Task

MAX_TITLE = 256
MAX_BODY = 65_536
ZWSP = "\u200b"
MARKER_PREFIX = "foreman-pr-sweeper"

# The closing keywords; `*` or `~` inside one (`Fix**es**`) still render as the word.
_WORDS = ("resolves", "resolved", "resolve", "closes", "closed", "close", "fixes", "fixed", "fix")
_SPREAD = "|".join("[*~]*".join(word) for word in _WORDS)
# A closing keyword followed, through punctuation, emphasis or escapes, by something that
# starts an issue reference: #N, OWNER/REPO#N, an issue URL, GH-N.
_KEYWORD = re.compile(
    rf"(?<![A-Za-z0-9])(?:{_SPREAD})(?![A-Za-z0-9])"
    r"(?=(?:[\s:*_~\[\]()>`'\"\\]|&[#\w]{1,10};)*(?:#|[\w.*~-]+/[\w.*~-]+#|https?://|gh-\d))",
    re.I,
)
# GitHub takes `@login` after anything but a letter, digit or `_` for a mention: after
# `.` and `-` too (`.@bob`, `-@acme/security`), and through emphasis (`@**bob**`). An
# address (`ops@example.com`) keeps its `@`: the character before it is part of a word.
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[*~_]*[A-Za-z0-9_-])")
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_TAG_OPEN = re.compile(r"<(?=[A-Za-z!/?])")
# An `&` that would start a character reference once rendered (`&#35;`, `&num;`).
_ENTITY = re.compile(r"&(?=#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")
# Bidirectional overrides and isolates reorder text on screen: a classic way to hide it.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def sanitize(text: str, limit: int = MAX_BODY) -> str:
    """Agent text made inert: no issue links, no pings, no hidden or markup-breaking parts.

    Character references are decoded first, so `Fixes &#35;9` and `&#64;alice` are seen
    as the reader's screen shows them; an `&` that would start one again is escaped.
    """
    text = html.unescape(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    text = _BIDI.sub("", text)
    text = _HTML_COMMENT.sub("", text)
    text = _ENTITY.sub("&amp;", text)
    text = _TAG_OPEN.sub("&lt;", text)
    text = drop_link_definitions(text)
    text = _KEYWORD.sub(_break_keyword, text)
    text = _MENTION.sub("@" + ZWSP, text)
    return fit(text.strip(), limit)


def fit(text: str, limit: int) -> str:
    """Truncated to `limit` with every code fence closed; the closer counts too."""
    budget = limit
    while True:
        out = _close_fences(truncate(text, budget))
        if len(out) <= limit or budget <= 0:
            return out[:limit]
        budget -= len(out) - limit


def _break_keyword(match: re.Match[str]) -> str:
    word = match.group(0)
    return word[0] + ZWSP + word[1:]


def _close_fences(text: str) -> str:
    """Closes a code fence the agent left open, so the sweeper's lines stay outside it.

    Follows CommonMark: a fence closes only with the same character, at least as long,
    and inside its list item, so the closer stands at the opener's indentation.
    """
    fence = open_fence(text)
    return text if fence is None else f"{text}\n{fence.closer()}"


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    note = "\n\n…(truncated by foreman-pr-sweeper)"
    return text[: max(0, limit - len(note))].rstrip() + note


# A closing keyword and the reference it aims at, in a title (see _KEYWORD).
_TITLE_CLOSE = re.compile(
    r"(?<![A-Za-z0-9])(?P<word>close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?![A-Za-z0-9])"
    r"(?P<sep>(?:[\s:*_~\[\]()>`'\"]|&[#\w]{1,10};)*)"
    r"(?P<ref>#[0-9]+|[\w.-]+/[\w.-]+#[0-9]+|https?://\S+|gh-[0-9]+)",
    re.I,
)


def render_title(commit_message: str | None, issue: int) -> str:
    """The head commit's subject as the coder wrote it, made safe to carry.

    Control and bidirectional characters go, whitespace is collapsed, the length capped.
    A closing keyword aimed at the branch's own issue stays as written (a squash merge
    closing it is the point); one aimed at any other issue, and every @mention, is broken
    as in bodies. GitHub links issues from descriptions and commits, not titles, but a
    squash merge puts the title on the default branch.
    """
    lines = (commit_message or "").strip().splitlines()
    subject = lines[0] if lines else ""
    subject = "".join(ch for ch in " ".join(subject.split()) if unicodedata.category(ch) != "Cc")
    subject = " ".join(_BIDI.sub("", subject).split())
    subject = _TITLE_CLOSE.sub(lambda m: _title_keyword(m, issue), subject)
    subject = _MENTION.sub("@" + ZWSP, subject)
    subject = subject or f"Fix #{issue}"
    if len(subject) > MAX_TITLE:
        subject = subject[: MAX_TITLE - 1].rstrip() + "…"
    return subject


def _title_keyword(match: re.Match[str], issue: int) -> str:
    ref = match["ref"].lower()
    own = {f"#{issue}", f"gh-{issue}"}
    if ref in own:
        return match.group(0)
    word = match["word"]
    return word[0] + ZWSP + word[1:] + match["sep"] + match["ref"]


@dataclass(frozen=True)
class BodyInput:
    namespace: str
    workload: str
    issue: int
    reviewed_sha: str | None
    coder: Task
    verifiers: Sequence[Task]
    reviewers: Sequence[Task]
    # A draft for a review that requested changes: findings first, and `Refs`, not `Fixes`.
    draft: bool = False
    # Reviewer escalation (`escalate-N-j`): listed in the verdict table, marked advisory.
    advisory: Sequence[Task] = ()


def render_body(info: BodyInput) -> str:
    """Agent text, then the sweeper's own lines, which always survive truncation.

    The hidden marker at the end carries a digest of everything above it, so a later run
    can tell whether a human edited the body since the sweeper wrote it.
    """
    link = f"Refs #{info.issue}" if info.draft else f"Fixes #{info.issue}"
    trailer = "\n\n".join([link, _verdict_table(info), _provenance(info)])
    tail = len(_marker_for(info, "0" * DIGEST_LEN))
    room = MAX_BODY - len(trailer) - tail - 4
    text = _agent_part(info, room)
    content = f"{text}\n\n{trailer}" if text else trailer
    return f"{content}\n\n{_marker_for(info, digest(content))}"


def _provenance(info: BodyInput) -> str:
    where = f"Foreman Workload `{info.namespace}/{info.workload}`"
    if info.draft:
        return (
            f"Opened as a draft by foreman-pr-sweeper for {where}: the gate passed, but "
            "review requested changes. It does not close the issue."
        )
    if not info.reviewers:
        # Foreman opens no PR for a Workload without reviewers; the sweeper does, and
        # must not claim a review that never happened.
        return (
            f"Opened by foreman-pr-sweeper for {where}. **No reviewer ran**: the Workload "
            "names no reviewer Agent, so only the coder's GO and the gate's pass vouch for "
            "this commit."
        )
    return f"Opened by foreman-pr-sweeper for {where} after review."


def _agent_part(info: BodyInput, room: int) -> str:
    """The description, then the findings: each piece sanitised, the whole fitted to room."""
    description = sanitize(_agent_text(info), room)
    findings = _findings_section(info)
    text = "\n\n".join(part for part in (description, findings) if part)
    # Pieces sanitised apart can form a definition together (a finding's message starts
    # on its list item's line): judge the structure where the text lands.
    return fit(drop_link_definitions(text), room)


def _agent_text(info: BodyInput) -> str:
    """The description, in the order of Foreman's opener (#1776): the final coder's
    `prBody`, then a reviewer's `prBody`, then the summaries.

    A request-changes draft has no Foreman counterpart. It takes the coder's own words
    (`prBody`, else its summary) and never a reviewer's: a reviewer's `prBody` was
    written to describe approved work, and what the reviewers said is in the findings
    below, under each reviewer's name.
    """
    if _text(info.coder.pr_body):
        return str(info.coder.pr_body)
    if info.draft:
        return info.coder.summary
    for review in info.reviewers:
        if _text(review.pr_body):
            return str(review.pr_body)
    for review in info.reviewers:
        if _text(review.summary):
            return review.summary
    return info.coder.summary


def _text(value: str | None) -> bool:
    return bool(value and value.strip())


MAX_FINDINGS_PER_REVIEWER = 50


def _findings_section(info: BodyInput) -> str:
    """Findings grouped by reviewer; reviewers that asked for changes first."""
    asked = [r for r in info.reviewers if r.verdict != "GO"] if info.draft else []
    noted = [r for r in info.reviewers if r.findings and r not in asked]
    if not asked and not noted:
        return ""
    if info.draft:
        head = (
            f"### Review requested changes\n\n{len(asked)} of {len(info.reviewers)} "
            "reviewers asked for changes. Their findings are below, for a human or a "
            "follow-up fix task to pick up."
        )
    else:
        head = "### Review notes\n\nReviewers approved, with these findings."
    blocks = [head] + [_reviewer_block(r) for r in asked + noted]
    return "\n\n".join(blocks)


def _reviewer_block(review: Task) -> str:
    lines = [f"#### {_inline(review.step)} ({_inline(review.verdict)})"]
    summary = sanitize(review.summary, 2_000)
    if summary:
        lines.append("")
        lines.append(summary)
    shown = review.findings[:MAX_FINDINGS_PER_REVIEWER]
    if shown:
        lines.append("")
        lines.extend(_finding(f) for f in shown)
    hidden = len(review.findings) - len(shown)
    if hidden > 0:
        lines.append(f"- …and {hidden} more (see the transcript)")
    return "\n".join(lines)


def _finding(f: Finding) -> str:
    where = ""
    if f.file:
        spot = f"{f.file}:{f.line}" if f.line is not None else f.file
        where = f" `{_inline(spot, 300)}`"
    area = f" · {_inline(f.area)}" if f.area else ""
    item = f"- **{_inline(f.severity, 32)}**{area}{where}: {_indented(sanitize(f.message, 2_000))}"
    if f.suggestion and f.suggestion.strip():
        item += f"\n  Suggestion: {_indented(sanitize(f.suggestion, 1_000))}"
    return item


def _indented(text: str) -> str:
    """Continuation lines of a list item, indented so they stay inside it."""
    return "\n".join(
        line if i == 0 or not line else "  " + line for i, line in enumerate(text.split("\n"))
    )


def _inline(text: str | None, limit: int = 200) -> str:
    """One line of inert text, safe inside a heading, emphasis or code span."""
    return " ".join(sanitize(text or "", limit).split()).replace("`", "'") or "-"


# ---------------------------------------------------------------- the hidden marker

DIGEST_LEN = 16
_MARKER = re.compile(rf"<!-- {MARKER_PREFIX} (\{{[^\n]*?\}}) -->")


def digest(content: str) -> str:
    """What the sweeper wrote, hashed so that line endings and outer blanks do not count."""
    normal = content.replace("\r\n", "\n").replace("\r", "\n").strip()
    return hashlib.sha256(normal.encode()).hexdigest()[:DIGEST_LEN]


def _marker_for(info: BodyInput, content_digest: str) -> str:
    return marker(
        info.namespace, info.workload, info.issue, info.reviewed_sha, info.draft, content_digest
    )


def marker(
    namespace: str,
    workload: str,
    issue: int,
    sha: str | None,
    draft: bool = False,
    content_digest: str | None = None,
    withdrawn: bool = False,
) -> str:
    data: dict[str, object] = {"workload": f"{namespace}/{workload}", "issue": issue, "sha": sha}
    if draft:
        data["draft"] = True
    if withdrawn:
        data["withdrawn"] = True
    if content_digest is not None:
        data["digest"] = content_digest
    return f"<!-- {MARKER_PREFIX} {json.dumps(data, sort_keys=True)} -->"


def parse_marker(body: str) -> dict[str, object] | None:
    """The sweeper's marker in a PR body (only the last one counts: agent text comes first)."""
    found = _last_marker(body)
    return found[0] if found else None


def _last_marker(body: str) -> tuple[dict[str, object], re.Match[str]] | None:
    matches = list(_MARKER.finditer(body))
    if not matches:
        return None
    try:
        data = json.loads(matches[-1].group(1))
    except ValueError:
        return None
    return (data, matches[-1]) if isinstance(data, dict) else None


@dataclass(frozen=True)
class Marker:
    """What the sweeper said in a PR body it wrote, and whether the body is still its own."""

    workload: str | None
    issue: int | None
    sha: str | None
    draft: bool
    # The body differs from what the sweeper wrote, or (an older marker without a digest)
    # that cannot be told: either way a human's words must not be overwritten.
    edited: bool
    # The sweeper closed this PR itself: it was opened at a commit nobody reviewed.
    withdrawn: bool = False


def read_marker(body: str | None) -> Marker | None:
    """The marker of a body the sweeper wrote; None when there is none (not the sweeper's)."""
    text = body or ""
    found = _last_marker(text)
    if found is None:
        return None
    data, match = found
    wrote = data.get("digest")
    edited = (
        not isinstance(wrote, str)
        or bool(text[match.end() :].strip())
        or digest(text[: match.start()]) != wrote
    )
    workload, issue, sha = data.get("workload"), data.get("issue"), data.get("sha")
    return Marker(
        workload=workload if isinstance(workload, str) else None,
        issue=issue if isinstance(issue, int) and not isinstance(issue, bool) else None,
        sha=sha if isinstance(sha, str) else None,
        draft=data.get("draft") is True,
        edited=edited,
        withdrawn=data.get("withdrawn") is True,
    )


def withdrawn_body(body: str, note: str) -> str:
    """The body of a PR the sweeper closes itself: why, on top, and a marker that says so.

    The marker keeps workload, issue and SHA, so a later run knows the close was its own
    and not a human's. Text the sweeper did not write (after its marker) is kept as is.
    """
    found = _last_marker(body)
    if found is None:
        return fit(f"> {sanitize(note, 2000)}\n\n{body}", MAX_BODY)
    data, match = found
    above = body[: match.start()].rstrip()
    after = body[match.end() :]
    head = f"> **Withdrawn by foreman-pr-sweeper.** {sanitize(note, 2000)}"
    content = fit(f"{head}\n\n{above}", MAX_BODY - 400 - len(after))
    workload = str(data.get("workload") or "/")
    namespace, _, name = workload.partition("/")
    issue = data.get("issue")
    sha = data.get("sha")
    mark = marker(
        namespace,
        name,
        issue if isinstance(issue, int) and not isinstance(issue, bool) else 0,
        sha if isinstance(sha, str) else None,
        data.get("draft") is True,
        digest(content),
        withdrawn=True,
    )
    return f"{content}\n\n{mark}{after}"


def _cell(text: str | None, limit: int = 200) -> str:
    """Table cell text: inert, one line, no pipes or backticks that break the table."""
    flat = " ".join(sanitize(text or "", limit).split())
    return flat.replace("|", "\\|").replace("`", "'") or "-"


def _verdict_table(info: BodyInput) -> str:
    sha = info.reviewed_sha or "unknown"
    rows = ["| step | verdict | detail |", "| --- | --- | --- |"]
    rows.append(f"| {_cell(info.coder.step)} | {_cell(info.coder.verdict)} | commit `{sha}` |")
    for task in info.verifiers:
        rows.append(f"| {_cell(task.step)} | {_cell(task.verdict)} | {_ref(task)} |")
    for task in info.reviewers:
        rows.append(f"| {_cell(task.step)} | {_cell(task.verdict)} | {_ref(task)} |")
    # Escalation reviewers, after the base ones, wherever Foreman ran them (it does so
    # after a final-round NO-GO, so mostly in request-changes drafts): the table records
    # every verdict on the branch, and "advisory" says this one decided nothing.
    for task in info.advisory:
        verdict = _cell(f"{task.verdict or '-'} (advisory)")
        rows.append(f"| {_cell(task.step)} | {verdict} | advisory, not counted; {_ref(task)} |")
    return "\n".join(rows)


def _ref(task: Task) -> str:
    return f"transcript {_cell(task.transcript_ref)}" if task.transcript_ref else "-"
