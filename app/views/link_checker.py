"""Tools > Check links: services.link_check off the GUI thread, with progress and Cancel.

Two steps. The check (`probe_links`, a coroutine: httpx, concurrent requests) runs on a
TaskRunner worker in an event loop of its own (asyncio.run), not on the window's qasync loop:
the window stays live either way, the same progress signal and Cancel serve it, and the tests
need no asyncio loop in Qt. It writes nothing. What it found is then written as operations
(views.operations), as every write of the window is: in batches of RECORD_BATCH datasets, one
after the other, so another writer (the server, a save) gets the lock in between. Once all
are written, one `catalogueChanged` names the datasets written: the table, the facets and
the form refresh from it, as after any other write.

Cancel is noticed within a tenth of a second even while every request waits on a slow server:
a watcher cancels the check's task, and nothing is written. Once the findings are being
written, Cancel is off: the batches are short. The progress shows in the status bar;
`finished(list[LinkCheckResult])` follows a check; a failure goes to the window's one handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.models.database import Database
from app.services import link_check
from app.services.catalogue_watch import CatalogueChange
from app.services.link_check import Findings, LinkCheckResult
from app.services.progress import Cancelled, Progress
from app.views.dataset_table_model import RowsResolver
from app.views.operations import Operations, Outcome, change_of
from app.views.qt import QtCore, QtWidgets, Signal
from app.views.task_progress import TaskProgressBar
from app.views.tasks import Task, TaskRunner, delivering

CANCEL_POLL = 0.1  # seconds between looks at the Cancel button's flag
# Datasets written per operation: each takes some 20 ms on a loaded machine, so a batch holds
# the write lock well under the busy timeout another writer waits (models.database).
RECORD_BATCH = 50


async def _check_cancellable(
    database: Database, dataset_ids: Sequence[str] | None, progress: Progress
) -> Findings:
    check = asyncio.ensure_future(
        link_check.probe_links(database, dataset_ids=dataset_ids, progress=progress)
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
) -> Findings:
    """The worker's job: the selection's ids (None = every dataset), then the check."""
    dataset_ids = resolve(progress) if resolve is not None else None
    if dataset_ids is not None and not dataset_ids:
        return Findings([], [])
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
    cancelled = Signal()
    runningChanged = Signal(bool)

    def __init__(
        self,
        database: Database,
        tasks: TaskRunner,
        operations: Operations,
        parent: QtCore.QObject,
    ) -> None:
        super().__init__(parent)
        self._database = database
        self._tasks = tasks
        self._operations = operations
        self._task: Task | None = None  # the check, while it runs
        self._recording = False  # its findings are being written
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
        return self._task is not None or self._recording

    def start(self, resolve: RowsResolver | None, what: str) -> bool:
        """Check the links of the rows `resolve` gives (None: every dataset). False if busy."""
        if self.running:
            return False
        database = self._database
        self.label.setText(f"Checking links of {what}…")
        self.progress_bar.restart()
        self.cancel_button.setEnabled(True)
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
        self._recording = False
        self.widget.hide()
        self.runningChanged.emit(False)

    def _on_done(self, findings: object) -> None:
        if self._is_current() and isinstance(findings, Findings):
            self._task = None
            self._recording = True
            self.cancel_button.setEnabled(False)
            self.label.setText("Recording the link check…")
            self._record(findings, 0, [])

    def _record(self, findings: Findings, start: int, written: list[str]) -> None:
        """Write the findings from `start` on, a batch per operation; `written`: the ids so far."""
        total = len(findings.datasets)
        batch = findings.datasets[start : start + RECORD_BATCH]
        if not batch:
            self._stop()
            self._operations.announce(change_of(written))
            self.finished.emit(findings.results)
            return
        self.progress_bar.report(start, total)

        def run(session: Session) -> Outcome[list[str]]:
            # Announced once, for every batch, when the last is written.
            return Outcome(link_check.record_findings(session, batch), CatalogueChange())

        def done(ids: list[str]) -> None:
            self._record(findings, start + len(batch), written + ids)

        def failed(_error: Exception) -> bool:
            self._stop()
            self._operations.announce(change_of(written))  # what was written stays
            return False  # the one handler says what went wrong

        self._operations.write("record the link check", run, done, failed)

    def _on_failed(self, error: Exception) -> None:
        if self._is_current():
            self._stop()
            self._operations.report(error, "check the links")

    def _on_cancelled(self) -> None:
        if self._is_current():
            self._stop()
            self.cancelled.emit()
