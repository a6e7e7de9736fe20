"""Local files given to the window: the drag-and-drop test, and reading files off the GUI thread.

A drop of local files means a file to import on the main window and files to attach as resources
on the dataset form; both ask `accept_local_files`. The form reads each attached file (MD5, size,
format) in a worker through `FileReader`, one at a time, with progress and Cancel.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from pathlib import Path

from app.services import files
from app.services.progress import Progress
from app.views.form_widgets import labelled
from app.views.qt import QtCore, QtGui, QtWidgets, Signal
from app.views.tasks import Task, TaskRunner, delivering


def local_files(mime: QtCore.QMimeData) -> list[Path]:
    """The local files a drag carries (the form adds them; the main window imports one)."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def accept_local_files(event: QtGui.QDropEvent) -> list[Path]:
    """The local files a drag entering, or a drop, carries; the event is accepted if any."""
    paths = local_files(event.mimeData())
    if paths:
        event.acceptProposedAction()
    return paths


def _describe_scaled(path: Path, progress: Progress) -> files.FileInfo:
    """describe_file, with progress in thousandths: byte counts overflow a Qt int past 2 GiB."""

    def forward(done: int, total: int) -> None:
        progress.report(done * 1000 // total if total else 1000, 1000)

    return files.describe_file(path, Progress(on_report=forward))


class FileReader(QtWidgets.QWidget):
    """Describes queued files in a worker, one at a time: a progress row while it reads.

    `described` carries each file's FileInfo; `finished` says the queue is empty again (done or
    cancelled). A file that cannot be read is named in `error`, a label to place near the row,
    and the queue goes on.
    """

    described = Signal(object)  # files.FileInfo
    finished = Signal()

    def __init__(self, tasks: TaskRunner) -> None:
        super().__init__()
        self._tasks = tasks
        self._queue: deque[Path] = deque()
        self._task: Task | None = None
        self._count = 0
        self._index = 0
        self._path = Path()
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(14)
        self.label = QtWidgets.QLabel()
        self.label.setProperty("role", "hint")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.label, 1)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        self.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        self.hide()
        self.error = labelled("error")
        self.error.setObjectName("file-error")
        self.error.hide()

    def add(self, paths: Sequence[Path]) -> None:
        if not paths:
            return
        self._queue.extend(paths)
        self._count += len(paths)
        self.error.hide()
        self.error.clear()
        if self._task is None:
            self._next()

    def cancel(self) -> None:
        """Stop reading; nothing more is described from the queue."""
        task, self._task = self._task, None
        self._queue.clear()
        self._count = self._index = 0
        self.hide()
        if task is not None:
            task.cancel()
            self.finished.emit()

    @property
    def busy(self) -> bool:
        return self._task is not None

    def _next(self) -> None:
        if not self._queue:
            self._task = None
            self._count = self._index = 0
            self.hide()
            self.finished.emit()
            return
        path = self._queue.popleft()
        self._index += 1
        of = f" ({self._index} of {self._count})" if self._count > 1 else ""
        self.label.setText(f"Reading {path.name}{of}…")
        self.progress.setValue(0)
        self.show()
        self._path = path
        self._task = self._tasks.run(
            lambda progress: _describe_scaled(path, progress),
            on_done=self._on_described,
            on_error=self._on_failed,
            on_progress=self._on_progress,
            on_cancelled=self._on_cancelled,
        )

    def _is_current_task(self) -> bool:
        return self._task is not None and delivering() is self._task

    def _on_progress(self, done: int, total: int) -> None:
        if self._is_current_task():
            self.progress.setValue(done * 1000 // total if total else 1000)

    def _on_described(self, info: object) -> None:
        if not self._is_current_task() or not isinstance(info, files.FileInfo):
            return
        self.described.emit(info)
        self._next()

    def _on_failed(self, error: Exception) -> None:
        if not self._is_current_task():
            return
        if not isinstance(error, OSError):
            self._tasks.error.emit(error)  # a bug, not the file: the main window reports it
        self.error.setText(f"Could not read {self._path.name}: {error}")
        self.error.show()
        self._next()

    def _on_cancelled(self) -> None:
        if self._is_current_task():  # cancelled from elsewhere than cancel()
            self.cancel()
