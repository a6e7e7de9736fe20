"""Tools > Check links: services.link_check off the GUI thread, with progress and Cancel.

`check_links` is a coroutine (httpx, concurrent requests). It runs on a TaskRunner worker in an
event loop of its own (asyncio.run), not on the window's qasync loop: the window stays live
either way, and a worker is what every other long job uses, so the same progress signal, Cancel
and error path serve it, and the tests need no asyncio loop in Qt.

Cancel is noticed within a tenth of a second even while every request waits on a slow server:
a watcher cancels the check's task, and the service writes nothing it had not written.
The progress shows in the status bar; `finished(list[LinkCheckResult])` follows a check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from app.models.database import Database
from app.services import link_check
from app.services.link_check import LinkCheckResult
from app.services.progress import Cancelled, Progress
from app.views.dataset_table_model import RowsResolver
from app.views.qt import QtCore, QtWidgets, Signal
from app.views.task_progress import TaskProgressBar, error_text
from app.views.tasks import Task, TaskRunner, delivering

CANCEL_POLL = 0.1  # seconds between looks at the Cancel button's flag


async def _check_cancellable(
    database: Database, dataset_ids: Sequence[str] | None, progress: Progress
) -> list[LinkCheckResult]:
    check = asyncio.ensure_future(
        link_check.check_links(database, dataset_ids=dataset_ids, progress=progress)
    )
    while not check.done():
        if progress.cancelled:
            check.cancel()
            await asyncio.gather(check, return_exceptions=True)
            raise Cancelled()
        await asyncio.wait({check}, timeout=CANCEL_POLL)
    return check.result()


def run_link_check(
    database: Database, resolve: RowsResolver | None, progress: Progress
) -> list[LinkCheckResult]:
    """The worker's job: the selection's ids (None = every dataset), then the check."""
    dataset_ids = resolve(progress) if resolve is not None else None
    if dataset_ids is not None and not dataset_ids:
        return []
    return asyncio.run(_check_cancellable(database, dataset_ids, progress))


def summary(results: Sequence[LinkCheckResult]) -> str:
    if not results:
        return "No links to check."
    broken = sum(1 for result in results if result.broken)
    checked = f"Checked {len(results):,} link{'s' if len(results) != 1 else ''}"
    if not broken:
        return f"{checked}: all answered."
    return f"{checked}: {broken:,} broken."


class LinkChecker(QtCore.QObject):
    """One link check at a time; its progress widget sits in the window's status bar."""

    started = Signal()
    finished = Signal(object)  # list[LinkCheckResult], once their qa is written
    failed = Signal(str)
    cancelled = Signal()
    runningChanged = Signal(bool)

    def __init__(self, database: Database, tasks: TaskRunner, parent: QtCore.QObject) -> None:
        super().__init__(parent)
        self._database = database
        self._tasks = tasks
        self._task: Task | None = None
        self.widget = QtWidgets.QWidget()
        self.label = QtWidgets.QLabel("Checking links…")
        self.progress_bar = TaskProgressBar()
        self.progress_bar.setFixedWidth(160)
        self.cancel_button = QtWidgets.QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop the link check; nothing is recorded")
        self.cancel_button.clicked.connect(self.cancel)
        layout = QtWidgets.QHBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.cancel_button)
        self.widget.hide()

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self, resolve: RowsResolver | None, what: str) -> bool:
        """Check the links of the rows `resolve` gives (None: every dataset). False if busy."""
        if self.running:
            return False
        database = self._database
        self.label.setText(f"Checking links of {what}…")
        self.progress_bar.restart()
        self.widget.show()
        self._task = self._tasks.run(
            lambda progress: run_link_check(database, resolve, progress),
            on_done=self._on_done,
            on_error=self._on_failed,
            on_progress=self._on_progress,
            on_cancelled=self._on_cancelled,
        )
        self.runningChanged.emit(True)
        self.started.emit()
        return True

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.label.setText("Cancelling the link check…")

    def _is_current(self) -> bool:
        return self._task is not None and delivering() is self._task

    def _on_progress(self, done: object, total: object) -> None:
        if self._is_current():
            self.progress_bar.report(done, total)
            if isinstance(done, int) and isinstance(total, int) and total:
                self.progress_bar.setToolTip(f"{done:,} of {total:,} links")

    def _stop(self) -> None:
        self._task = None
        self.widget.hide()
        self.runningChanged.emit(False)

    def _on_done(self, results: object) -> None:
        if self._is_current() and isinstance(results, list):
            self._stop()
            self.finished.emit(results)

    def _on_failed(self, error: Exception) -> None:
        if self._is_current():
            self._stop()
            self.failed.emit(f"The link check failed: {error_text(error)}")

    def _on_cancelled(self) -> None:
        if self._is_current():
            self._stop()
            self.cancelled.emit()
