"""Background work with one API (docs/ARCHITECTURE.md: off the GUI thread), after Anki's taskman.

`TaskRunner.run(fn, on_done, on_error, on_progress)` runs `fn(progress)` on a worker thread;
its result, its failure or its progress come back on the GUI thread through Qt signals.
Nothing in `fn` may touch a widget; it opens its own database sessions.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from app.services.progress import Cancelled, Progress
from app.views.qt import QtCore, Signal


class _Signals(QtCore.QObject):
    done = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    # object, not int: a byte count past 2 GiB overflows a C++ int.
    progress = Signal(object, object)


class Task(QtCore.QRunnable):
    def __init__(self, fn: Callable[[Progress], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.signals = _Signals()
        self.progress = Progress(on_report=self.signals.progress.emit)

    def run(self) -> None:
        try:
            result = self.fn(self.progress)
        except Cancelled:
            self.signals.cancelled.emit()
        except Exception as error:  # reported on the GUI thread, never swallowed
            error.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self.signals.failed.emit(error)
        else:
            self.signals.done.emit(result)

    def cancel(self) -> None:
        self.progress.cancel()


class TaskRunner(QtCore.QObject):
    """Owns the running tasks, so none is garbage-collected mid-flight."""

    error = Signal(object)  # failures with no handler of their own land here

    def __init__(self, parent: QtCore.QObject | None = None, *, max_threads: int = 0) -> None:
        """max_threads: 1 runs the tasks one at a time in the order given (the catalogue's
        writes, views.operations); 0 lets Qt choose (one a core)."""
        super().__init__(parent)
        self._pool = QtCore.QThreadPool(self)
        if max_threads:
            self._pool.setMaxThreadCount(max_threads)
        self._running: set[Task] = set()

    def run(
        self,
        fn: Callable[[Progress], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
    ) -> Task:
        task = Task(fn)
        signals = task.signals
        if on_done is not None:
            signals.done.connect(on_done)
        signals.failed.connect(on_error if on_error is not None else self.error.emit)
        if on_progress is not None:
            signals.progress.connect(on_progress)
        if on_cancelled is not None:
            signals.cancelled.connect(on_cancelled)
        for finished in (signals.done, signals.failed, signals.cancelled):
            finished.connect(lambda *_args, t=task: self._running.discard(t))
        self._running.add(task)
        self._pool.start(task)
        return task

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def wait_for_all(self, msecs: int = 30000) -> bool:
        return self._pool.waitForDone(msecs)
