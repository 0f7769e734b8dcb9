"""The sweeper's annotation on a Workload: one record per branch, parsed and rendered,
and the PR URLs the records (and Foreman's reviewers) name.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sweeper import bounded
from sweeper.fields import InvalidInput, parse_repo

RECORD_ANNOTATION = "pr-sweeper.foreman.llmkube.dev/pull-requests"
# The API server caps all of an object's annotations at 256 KiB together.
MAX_RECORDS_BYTES = 256 * 1024

# A record's key: (the repository, lowercased, or "" when the entry does not say; branch).
RecordKey = tuple[str, str]


def record_key(repo: str, branch: str) -> RecordKey:
    return (repo.lower(), branch)


@dataclass(frozen=True)
class Record:
    """One branch's entry in the sweeper's annotation."""

    repo: str
    url: str | None
    number: int | None
    sha: str | None
    outcome: str
    reason: str
    # True: the PR was opened or refreshed as a draft for a review that requested changes.
    draft: bool = False


def parse_records(raw: Any) -> dict[RecordKey, Record]:
    """The annotation as written by an earlier run; anything not JSON counts as absent.

    Keys are a branch name, or `OWNER/REPO:branch` where one annotation holds the same
    branch name for several repositories (an explicit pipeline over several repos). JSON
    no sweeper wrote (over the annotation limit, nested deeper than `bounded.MAX_DEPTH`)
    is InvalidInput: decoding it would cost memory or a RecursionError.
    """
    if not isinstance(raw, str):
        return {}
    try:
        data = bounded.loads(raw, MAX_RECORDS_BYTES)
    except bounded.NotJson:
        return {}
    except bounded.Undecodable as err:
        raise InvalidInput(f"annotation {RECORD_ANNOTATION} is {err}") from None
    if not isinstance(data, dict):
        return {}
    records = {}
    for key, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(key, str):
            continue
        key_repo, sep, branch = key.rpartition(":")  # git branch names hold no ':'
        number = entry.get("number")
        url = entry["url"] if isinstance(entry.get("url"), str) else None
        repo, url_number = pull_url_parts(url)
        if sep and key_repo:
            repo = key_repo
        if isinstance(entry.get("repo"), str) and entry["repo"]:
            repo = entry["repo"]
        if not isinstance(number, int) or isinstance(number, bool):
            number = url_number
        records[record_key(repo, branch)] = Record(
            repo=repo,
            url=url,
            number=number,
            sha=entry["sha"] if isinstance(entry.get("sha"), str) else None,
            outcome=str(entry.get("outcome") or ""),
            reason=str(entry.get("reason") or ""),
            draft=entry.get("draft") is True,
        )
    return records


# A PR's page on github.com or a GitHub Enterprise host: https://HOST/OWNER/REPO/pull/N
_PULL_PAGE = re.compile(
    r"^https://[^\s/]+/(?P<repo>[^\s/]+/[^\s/]+)/pull/(?P<number>[0-9]{1,9})/?$"
)


def pull_url_parts(url: str | None) -> tuple[str, int | None]:
    """The repository and number a PR URL names (a record written by hand may only have it)."""
    match = _PULL_PAGE.match(url or "")
    if match is None:
        return "", None
    try:
        return parse_repo(match["repo"]), int(match["number"])
    except InvalidInput:
        return "", None


def render_records(records: Mapping[RecordKey, Record]) -> str:
    """Keyed by branch name, or by `OWNER/REPO:branch` where a branch name is not unique."""
    names = Counter(branch for _, branch in records)
    data = {
        (branch if names[branch] == 1 else f"{r.repo}:{branch}"): _record_json(r)
        for (_, branch), r in records.items()
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _record_json(r: Record) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "repo": r.repo,
        "url": r.url,
        "number": r.number,
        "sha": r.sha,
        "outcome": r.outcome,
        "reason": r.reason,
    }
    if r.draft:  # only then: entries of earlier versions stay byte-identical
        entry["draft"] = True
    return entry
