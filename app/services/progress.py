"""Progress and cancellation for long work, without Qt: the GUI bridges it to signals."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Cancelled(Exception):
    """The person pressed Cancel; the work stopped and wrote nothing."""


class Progress:
    """Handed to long-running service functions. Thread-safe to cancel from anywhere."""

    def __init__(self, on_report: Callable[[int, int], None] | None = None) -> None:
        self._on_report = on_report
        self._cancelled = threading.Event()

    def report(self, done: int, total: int) -> None:
        """Tell how far the work is; raises Cancelled if cancel() was called."""
        if self._cancelled.is_set():
            raise Cancelled()
        if self._on_report is not None:
            self._on_report(done, total)

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


NO_PROGRESS = Progress()
