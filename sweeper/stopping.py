"""A request to end the run early: SIGTERM (a Job's deadline, a node drain, `kubectl delete
job`) or SIGINT, honoured before the next write.

The sweeper is PID 1 in its container, which gets no default SIGTERM handler: without
one, the deadline ends in SIGKILL, with the Lease still held, no metrics and no closing
line. With `Stop.install()` a signal only sets a flag; the pass checks it between steps
(`check`), waits wake up at once (`sleep`), and the run ends the usual way: what was done
is recorded, the Lease released, the metrics pushed, and `sweep.finished` says
`terminated`.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def exit_code_of(name: str) -> int:
    """128 + the number of the signal called `name` (SIGTERM's when unknown)."""
    try:
        return 128 + signal.Signals[name].value
    except KeyError:
        return 128 + signal.SIGTERM.value


class Terminated(Exception):
    """Raised at the next check after a stop was requested; nothing more is written."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} received: stopped before the next write")
        self.name = name


class Stop:
    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal: str | None = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as shells report a process ended by a signal."""
        return exit_code_of(self.signal or "SIGTERM")

    def request(self, name: str = "SIGTERM") -> None:
        if self.signal is None:
            self.signal = name
        self._event.set()

    def check(self) -> None:
        if self._event.is_set():
            raise Terminated(self.signal or "SIGTERM")

    def sleep(self, seconds: float) -> None:
        """A wait that a stop cuts short (rate-limit waits, back-offs)."""
        if seconds > 0:
            self._event.wait(seconds)

    def install(self) -> None:
        """Turn SIGTERM and SIGINT into a stop request (main thread only)."""

        def handler(number: int, _frame: FrameType | None) -> None:
            self.request(signal.Signals(number).name)

        for sig in SIGNALS:
            signal.signal(sig, handler)
