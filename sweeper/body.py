"""Pull request titles and bodies, built from agent-written text that is treated as hostile.

Agent text (the reviewer's PR body or summary, commit subjects, findings) can contain
closing keywords that would close unrelated issues on merge, @mentions that would page
people, HTML that hides content, imitations of the sweeper's own marker, unbalanced code
fences that would swallow everything after them, and sizes GitHub rejects. `sanitize`
neutralises all of it; only the sweeper's own `Fixes #N` line links an issue.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sweeper.model import Task

MAX_TITLE = 256
MAX_BODY = 65_536
ZWSP = "\u200b"
MARKER_PREFIX = "foreman-pr-sweeper"

# A closing keyword followed, through punctuation, emphasis or entities, by something that
# starts an issue reference: #N, OWNER/REPO#N, an issue URL, GH-N.
_KEYWORD = re.compile(
    r"(?<![A-Za-z0-9])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?![A-Za-z0-9])"
    r"(?=(?:[\s:*_~\[\]()>`'\"]|&[#\w]{1,10};)*(?:#|[\w.-]+/[\w.-]+#|https?://|gh-\d))",
    re.I,
)
_MENTION = re.compile(r"(?<![A-Za-z0-9_`.-])@(?=[A-Za-z0-9_-])")
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_TAG_OPEN = re.compile(r"<(?=[A-Za-z!/?])")
# Bidirectional overrides and isolates reorder text on screen: a classic way to hide it.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.M)


def sanitize(text: str, limit: int = MAX_BODY) -> str:
    """Agent text made inert: no issue links, no pings, no hidden or markup-breaking parts."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    text = _BIDI.sub("", text)
    text = _HTML_COMMENT.sub("", text)
    text = _TAG_OPEN.sub("&lt;", text)
    text = _KEYWORD.sub(_break_keyword, text)
    text = _MENTION.sub("@" + ZWSP, text)
    text = truncate(text.strip(), limit)
    return _close_fences(text)


def _break_keyword(match: re.Match[str]) -> str:
    word = match.group(0)
    return word[0] + ZWSP + word[1:]


def _close_fences(text: str) -> str:
    """Closes a code fence the agent left open, so the sweeper's lines stay outside it."""
    fences = _FENCE.findall(text)
    if len(fences) % 2:
        text += "\n" + fences[-1][0] * 3
    return text


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    note = "\n\n…(truncated by foreman-pr-sweeper)"
    return text[: max(0, limit - len(note))].rstrip() + note


def render_title(commit_message: str | None, issue: int) -> str:
    lines = (commit_message or "").strip().splitlines()
    subject = lines[0] if lines else ""
    subject = " ".join(sanitize(subject, MAX_TITLE * 2).split())
    subject = subject or f"Fix #{issue}"
    if len(subject) > MAX_TITLE:
        subject = subject[: MAX_TITLE - 1].rstrip() + "…"
    return subject


@dataclass(frozen=True)
class BodyInput:
    namespace: str
    workload: str
    issue: int
    reviewed_sha: str | None
    coder: Task
    verifiers: Sequence[Task]
    reviewers: Sequence[Task]


def render_body(info: BodyInput) -> str:
    """Reviewer text, then the sweeper's own lines, which always survive truncation."""
    trailer = "\n\n".join(
        [
            f"Fixes #{info.issue}",
            _verdict_table(info),
            f"Opened by foreman-pr-sweeper for Foreman Workload "
            f"`{info.namespace}/{info.workload}` after review.",
            marker(info.namespace, info.workload, info.issue, info.reviewed_sha),
        ]
    )
    room = MAX_BODY - len(trailer) - 2
    text = sanitize(_agent_text(info), room)
    return f"{text}\n\n{trailer}" if text else trailer


def _agent_text(info: BodyInput) -> str:
    for review in info.reviewers:
        if review.pr_body and review.pr_body.strip():
            return review.pr_body
    for review in info.reviewers:
        if review.summary.strip():
            return review.summary
    return info.coder.summary


def marker(namespace: str, workload: str, issue: int, sha: str | None) -> str:
    data = {"workload": f"{namespace}/{workload}", "issue": issue, "sha": sha}
    return f"<!-- {MARKER_PREFIX} {json.dumps(data, sort_keys=True)} -->"


def parse_marker(body: str) -> dict[str, object] | None:
    """The sweeper's marker in a PR body (only the last one counts: agent text comes first)."""
    found = re.findall(rf"<!-- {MARKER_PREFIX} (\{{.*?\}}) -->", body)
    if not found:
        return None
    try:
        data = json.loads(found[-1])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


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
    return "\n".join(rows)


def _ref(task: Task) -> str:
    return f"transcript {_cell(task.transcript_ref)}" if task.transcript_ref else "-"
