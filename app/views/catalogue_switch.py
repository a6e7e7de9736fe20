"""The window and the catalogue under it: File > New, Open and Recent replace both.

Opening (and migrating) a catalogue runs on a worker thread; when it is open, the current
window closes as a person's close would (unsaved changes are asked about, a running server or
sync has its say) and a new window opens on the new catalogue with the layout the old one
saved. If the close is refused, or the catalogue cannot be opened, the current window stays as
it was and the reason is shown in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.models.database import Database
from app.services.catalogue_files import catalogue_name, open_database
from app.services.errors import CatalogueError
from app.services.sample_catalogue import new_catalogue
from app.views import window_settings
from app.views.main_window import MainWindow
from app.views.qt import QtCore, QtWidgets, Signal
from app.views.tasks import TaskRunner


def cannot_open_box(parent: QtWidgets.QWidget | None, message: str) -> QtWidgets.QMessageBox:
    """The message for a catalogue that cannot be opened (shown by `open()`, not blocking)."""
    box = QtWidgets.QMessageBox(
        QtWidgets.QMessageBox.Icon.Warning,
        "Cannot open this catalogue",
        message,
        QtWidgets.QMessageBox.StandardButton.Ok,
        parent,
    )
    box.setObjectName("cannot-open-catalogue")
    return box


class CatalogueWindows(QtCore.QObject):
    """Owns the main window and its catalogue; switches both on the person's request."""

    opened = Signal(str)  # the URL of the catalogue a new window now shows
    failed = Signal(str)  # why a catalogue could not be opened (also shown in the window)
    catalogue_kept = Signal()  # the window refused to close (unsaved edits): nothing changed

    def __init__(self, database: Database, author: str | None = None) -> None:
        super().__init__()
        self._author = author
        self._tasks = TaskRunner(self)
        self.message_box: QtWidgets.QMessageBox | None = None
        self.window = self._make_window(database)

    @property
    def database(self) -> Database:
        return self.window.database

    def _make_window(self, database: Database) -> MainWindow:
        window = MainWindow(database, author=self._author)
        window.catalogues.openRequested.connect(self.open)
        window.catalogues.newRequested.connect(self.create)
        window_settings.remember_catalogue(database.url)
        window.catalogues.fill_recent()
        return window

    def open(self, db: str) -> None:
        """Open the catalogue `db` (a path or URL) in place of the current one."""
        self._tasks.run(
            lambda _progress: open_database(db), on_done=self._switch, on_error=self._fail
        )

    def create(self, path: str) -> None:
        """Make a new, empty catalogue file at `path` and open it."""
        self._tasks.run(
            lambda _progress: new_catalogue(Path(path), with_sample=False),
            on_done=self._switch,
            on_error=self._fail,
        )

    def _switch(self, database: Database) -> None:
        old = self.window
        if database.url == old.database.url:
            database.dispose()
            old.statusBar().showMessage(f"{catalogue_name(database.url)} is open already", 8000)
            return
        app = QtWidgets.QApplication.instance()
        assert isinstance(app, QtWidgets.QApplication)
        # The old window closes before the new one shows: that must not end the application.
        quit_on_close = app.quitOnLastWindowClosed()
        app.setQuitOnLastWindowClosed(False)
        try:
            closed = old.close()
        finally:
            app.setQuitOnLastWindowClosed(quit_on_close)
        if not closed:  # the person kept the window (unsaved changes, a sync to finish)
            database.dispose()
            self.catalogue_kept.emit()
            return
        _dispose_window(old)
        self.window = self._make_window(database)
        self.window.show()
        self.opened.emit(database.url)

    def _fail(self, error: Exception) -> None:
        if not isinstance(error, CatalogueError):
            self.window.tasks.error.emit(error)  # a bug: the window's one error handler
            return
        self.message_box = cannot_open_box(self.window, error.message)
        self.message_box.open()
        self.failed.emit(error.message)

    def dispose(self) -> None:
        """At exit: wait for the window's work, then close its catalogue."""
        self._tasks.wait_for_all()
        _dispose_window(self.window)


def _dispose_window(window: MainWindow) -> None:
    for runner in [window.tasks, *window.findChildren(TaskRunner)]:
        runner.wait_for_all()
    database: Any = window.database
    window.deleteLater()
    database.dispose()
