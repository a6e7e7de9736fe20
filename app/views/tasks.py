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


_delivering: list[Task] = []  # the tasks whose answers are being handed over, innermost last


def delivering() -> Task | None:
    """The task whose answer (result, failure, progress) is being handed to its callback right
    now, on the GUI thread: a callback compares it with the task it waits for, to drop the
    answers of superseded tasks."""
    return _delivering[-1] if _delivering else None


class _Relay(QtCore.QObject):
    """Hands one task's signals to its callbacks on the GUI thread, as a child of the runner:
    an answer that arrives after the runner (and the window that owns it) was destroyed has no
    receiver left and is dropped, never handed to a deleted widget."""

    def __init__(
        self,
        runner: TaskRunner,
        task: Task,
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[Exception], None],
        on_progress: Callable[[int, int], None] | None,
        on_cancelled: Callable[[], None] | None,
    ) -> None:
        super().__init__(runner)
        self._runner = runner
        self._task = task
        self._on_done = on_done
        self._on_error = on_error
        self._on_progress = on_progress
        self._on_cancelled = on_cancelled

    def _hand(self, callback: Callable[..., None] | None, *args: Any, last: bool = True) -> None:
        _delivering.append(self._task)
        try:
            if callback is not None:
                callback(*args)
        finally:
            _delivering.pop()
            if last:
                self._runner._finished(self._task)
                self.deleteLater()

    @QtCore.Slot(object)
    def done(self, result: object) -> None:
        self._hand(self._on_done, result)

    @QtCore.Slot(object)
    def failed(self, error: Exception) -> None:
        self._hand(self._on_error, error)

    @QtCore.Slot(object, object)
    def progress(self, done: Any, total: Any) -> None:
        self._hand(self._on_progress, done, total, last=False)

    @QtCore.Slot()
    def cancelled(self) -> None:
        self._hand(self._on_cancelled)


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
        relay = _Relay(self, task, on_done, on_error or self.error.emit, on_progress, on_cancelled)
        signals = task.signals
        signals.done.connect(relay.done)
        signals.failed.connect(relay.failed)
        signals.progress.connect(relay.progress)
        signals.cancelled.connect(relay.cancelled)
        self._running.add(task)
        self._pool.start(task)
        return task

    def _finished(self, task: Task) -> None:
        self._running.discard(task)

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def wait_for_all(self, msecs: int = 30000) -> bool:
        return self._pool.waitForDone(msecs)
