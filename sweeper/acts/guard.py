"""The one rate-limit guard of the acts: a RateLimited met in its block stops the budget
for that bucket (no more calls to it this run), then goes on to the caller."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sweeper.budget import Budget
from sweeper.github import RateLimited


@contextmanager
def stops_budget(budget: Budget) -> Iterator[None]:
    """Stop `budget`'s bucket on a RateLimited raised in the block, and re-raise it."""
    try:
        yield
    except RateLimited as err:
        budget.stop(err.bucket, err.reason, str(err))
        raise
