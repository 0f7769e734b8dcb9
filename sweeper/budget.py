"""What this run may still ask of GitHub: PRs left to open, and whether GitHub said stop."""

from __future__ import annotations

from dataclasses import dataclass

from sweeper.outcomes import Reason


@dataclass
class Budget:
    max_create: int
    creates: int = 0
    # Set once GitHub rate-limits us: no GitHub call is made for the rest of the run.
    stopped: str | None = None

    def deferral(self, creating: bool) -> tuple[Reason, str] | None:
        """Why the next GitHub call must wait for another run, if it must."""
        if self.stopped:
            return Reason.RATE_LIMITED, f"GitHub asked us to stop: {self.stopped}"
        if creating and self.creates >= self.max_create:
            return Reason.BUDGET_EXHAUSTED, f"--max-create {self.max_create} reached this run"
        return None

    def stop(self, why: str) -> None:
        self.stopped = self.stopped or why
