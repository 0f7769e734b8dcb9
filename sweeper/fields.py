"""Strict readers for the fields of objects anyone may shape, and the one time parser.

A value that is missing, of the wrong type or unsafe to put in a URL raises
`InvalidInput` with a precise detail. `parse_time` (and `parse_stamp` under it) is the
package's one ISO-8601 reader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

MAX_ISSUE = 2**31 - 1
MAX_BRANCH_LEN = 200
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_REPO_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# Stricter than git-check-ref-format: Foreman never produces these, and each is a way to
# smuggle a path, a query or a different ref into a GitHub URL.
_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\%#\"'<>|{}`]")


class InvalidInput(ValueError):
    """A Foreman object field that cannot be used safely; the message is the detail."""


def as_mapping(value: Any) -> Mapping[str, Any]:
    """The value if it is a mapping, else an empty one: for optional object fields."""
    return value if isinstance(value, Mapping) else {}


def require_mapping(value: Any, detail: str, *, optional: bool = False) -> Mapping[str, Any]:
    """The value if it is a mapping (an absent one is empty when `optional`), else
    InvalidInput with `detail`."""
    if value is None and optional:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(detail)
    return value


def dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def opt_str(value: Any, what: str, max_len: int = 1024) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise InvalidInput(f"{what} is {len(value)} characters, more than {max_len}")
    return value


def req_str(value: Any, what: str, max_len: int = 1024) -> str:
    text = opt_str(value, what, max_len)
    if not text:
        raise InvalidInput(f"{what} is missing")
    return text


def opt_bool(value: Any, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InvalidInput(f"{what} must be a boolean, got {type(value).__name__}")


def parse_repo(value: Any, what: str = "repo") -> str:
    slug = req_str(value, what, 200)
    owner, sep, name = slug.partition("/")
    if not sep or not _OWNER.match(owner) or not _REPO_NAME.match(name) or name in {".", ".."}:
        raise InvalidInput(f"{what} {slug!r} is not an OWNER/NAME repository")
    return slug


def head_repo(repo: str, head_owner: str) -> str:
    """The repository holding the head branch: `repo`'s name under the head's owner."""
    return f"{head_owner}/{repo.split('/', 1)[1]}"


def parse_branch(value: Any, what: str = "branch") -> str:
    branch = req_str(value, what, 4096)
    problem = branch_problem(branch)
    if problem:
        raise InvalidInput(f"{what} {branch[:80]!r} is not a safe git branch name: {problem}")
    return branch


def branch_problem(branch: str) -> str | None:
    if len(branch) > MAX_BRANCH_LEN:
        return f"longer than {MAX_BRANCH_LEN} characters"
    if _BRANCH_FORBIDDEN.search(branch):
        return "contains a space, control or special character"
    if branch.startswith(("/", "-")) or branch.endswith(("/", ".")) or branch == "@":
        return "bad start or end"
    if ".." in branch or "//" in branch or "@{" in branch:
        return "contains '..', '//' or '@{'"
    if any(part.startswith(".") or part.endswith(".lock") for part in branch.split("/")):
        return "a component starts with '.' or ends with '.lock'"
    return None


def parse_issue(value: Any, what: str = "issue") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer, got {type(value).__name__}")
    if not 1 <= value <= MAX_ISSUE:
        raise InvalidInput(f"{what} {value} is out of range")
    return value


def parse_sha(value: Any, what: str = "commitSHA") -> str | None:
    text = opt_str(value, what, 64)
    if not text:
        return None
    if not _SHA.match(text):
        raise InvalidInput(f"{what} {text!r} is not a full lowercase hex commit id")
    return text


def parse_time(value: Any, what: str) -> datetime | None:
    text = opt_str(value, what, 64)
    if not text:
        return None
    try:
        stamp = parse_stamp(text)
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not an RFC 3339 time") from None
    if stamp.tzinfo is None:
        raise InvalidInput(f"{what} {text!r} has no time zone")
    return stamp


def parse_stamp(text: str) -> datetime:
    """An RFC 3339 / ISO-8601 time as the Kubernetes and GitHub APIs write it ("Z" or an
    offset); ValueError when it is not one."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
