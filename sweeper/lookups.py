"""What the pipeline asks GitHub about a branch, and what it learns: plain data, no I/O.

A `Lookup` names a branch; GitHub's answer for it is a `View`, or `Unanswered` when GitHub
gave none that can be used. The GitHub adapter (`sweeper.github`) fills them in, in
batched GraphQL reads (`sweeper.github.batch`) or by REST.
"""

from __future__ import annotations

from dataclasses import dataclass

from sweeper.core import Pull
from sweeper.fields import head_repo
from sweeper.outcomes import Reason


@dataclass(frozen=True)
class Lookup:
    """One branch to ask about: the PRs for OWNER:branch on `repo`, its head on the fork."""

    repo: str  # the base repository, OWNER/NAME
    head_owner: str
    branch: str

    @property
    def head_repo(self) -> str:
        return head_repo(self.repo, self.head_owner)

    @property
    def head(self) -> str:
        return f"{self.head_owner}:{self.branch}"


@dataclass(frozen=True)
class View:
    """GitHub's view of one branch. `None` in a field: not known from this read."""

    head_sha: str | None  # None: no such branch on the head repository
    pulls: tuple[Pull, ...]
    default_branch: str | None = None
    head_message: str | None = None
    # False: more PRs share the head name than one answer holds; read them by REST.
    pulls_complete: bool = True


@dataclass(frozen=True)
class Unanswered:
    """GitHub gave no usable answer for this branch: it fails with `reason`."""

    message: str
    reason: Reason = Reason.GITHUB_ERROR
