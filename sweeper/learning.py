"""Learn: GitHub's view of every candidate branch, in batched reads.

GraphQL answers a hundred branches per query from its own quota bucket; a token that
GraphQL refuses (403/404 on the endpoint, FORBIDDEN) is read by REST for the rest of the
run, with a warning that says so. A token GitHub refuses (401) is no such thing: its
branches fail, each with the reason the adapter's error names. A rate limit stops GitHub
work: what was not read yet is deferred, as for writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sweeper.budget import Bucket, Budget
from sweeper.core import Candidate
from sweeper.github import GitHubError, GraphQLUnavailable, RateLimited
from sweeper.lookups import Lookup, Unanswered, View
from sweeper.outcomes import Reason
from sweeper.ports import GitHubPort
from sweeper.runlog import Log


@dataclass(frozen=True)
class Deferred:
    """Not read this run: the next run asks again."""

    reason: Reason
    detail: str


Known = View | Unanswered | Deferred


def lookup_for(candidate: Candidate) -> Lookup:
    return Lookup(candidate.branch.repo, candidate.head_owner, candidate.branch.name)


class Learner:
    def __init__(
        self,
        github: GitHubPort,
        budget: Budget,
        log: Log,
        batch: int,
        on_batch: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.github, self.budget, self.log, self.batch = github, budget, log, batch
        self.on_batch = on_batch  # told how many branches each batch answered
        self.by_rest = False

    def learn(self, candidates: Iterable[Candidate]) -> dict[Lookup, Known]:
        lookups = list(dict.fromkeys(lookup_for(c) for c in candidates))
        known: dict[Lookup, Known] = {}
        for start in range(0, len(lookups), self.batch):
            batch = lookups[start : start + self.batch]
            known.update(self._read(batch))
            self.on_batch(len(batch))
        return known

    def _read(self, batch: Sequence[Lookup]) -> dict[Lookup, Known]:
        known: dict[Lookup, Known] = {}
        asking: dict[Bucket, list[Lookup]] = {}
        for lookup in batch:  # a bucket that said stop defers only its own branches
            bucket = self.github.bucket_key("core" if self.by_rest else "graphql", lookup.repo)
            deferral = self.budget.deferral(bucket)
            if deferral:
                known[lookup] = Deferred(*deferral)
            else:
                asking.setdefault(bucket, []).append(lookup)
        for group in asking.values():  # one bucket's rate limit never defers another's
            known.update(self._ask(group))
        return known

    def _ask(self, batch: Sequence[Lookup]) -> dict[Lookup, Known]:
        if not self.by_rest:
            try:
                return dict(self.github.lookup(batch))
            except RateLimited as err:
                self.budget.stop(err.bucket, err.reason, str(err))
                return dict.fromkeys(batch, Deferred(err.reason, str(err)))
            except GraphQLUnavailable as err:
                self.by_rest = True
                self.log.warning(
                    "github.graphql_unavailable",
                    reason="graphql-unavailable",
                    detail=f"{err}; reading branches by REST for the rest of this run",
                )
        return {lookup: self._rest(lookup) for lookup in batch}

    def _rest(self, lookup: Lookup) -> Known:
        deferral = self.budget.deferral(self.github.bucket_key("core", lookup.repo))
        if deferral:
            return Deferred(*deferral)
        try:
            return self.github.lookup_rest(lookup)
        except RateLimited as err:
            self.budget.stop(err.bucket, err.reason, str(err))
            return Deferred(err.reason, str(err))
        except GitHubError as err:  # refused, unreachable, not installed...: it says which
            return Unanswered(str(err), err.reason)
