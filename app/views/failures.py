"""The one place a failure is shown: what went wrong, what to do, and for a bug the details.

An expected failure (a CatalogueError, or an environment fault services.db_faults explains: a
locked catalogue, a full disk, a file that is no catalogue) is a short message. Anything else is
a bug: it is written with its traceback to the log file and shown in a dialog whose details
hold the traceback and say where the log is. Never silent, never only on the terminal.
Dialogs open window-modal without blocking (`open`, not `exec`), so a worker's failure never
runs a nested event loop; the last one shown is kept in `last_dialog` (tests read it).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import platformdirs

from app.services.db_faults import explain
from app.services.errors import CatalogueError
from app.views.qt import QtCore, QtWidgets

LOG_ENV = "CATALOGUE_DESK_LOG"


def log_path() -> Path:
    """Where bugs are logged: $CATALOGUE_DESK_LOG, or the platform's user log folder."""
    override = os.environ.get(LOG_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_log_dir("catalogue-desk", appauthor=False)) / "errors.log"


def traceback_text(error: BaseException) -> str:
    """The traceback a worker kept (views.tasks), or the error's own."""
    kept = getattr(error, "__traceback_text__", None)
    if isinstance(kept, str):
        return kept
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def write_log(doing: str, error: BaseException) -> Path | None:
    """Append the bug to the log file; its path, or None if even that failed."""
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log_file:
            log_file.write(f"--- while {doing or 'working'}\n{traceback_text(error)}\n")
    except OSError:
        return None
    return path


class FailureReporter:
    """Shows failures over `parent`."""

    def __init__(self, parent: QtWidgets.QWidget) -> None:
        self._parent = parent
        self.last_dialog: QtWidgets.QMessageBox | None = None

    def expected_message(self, error: BaseException) -> str | None:
        """The words for an expected failure, or None for a bug."""
        explained = explain(error)
        return explained.message if explained is not None else None

    def report(self, error: BaseException, doing: str = "") -> None:
        """Show `error`: a message for an expected failure, the bug dialog otherwise."""
        message = self.expected_message(error)
        if message is not None:
            prefix = f"Could not {doing}: " if doing else ""
            self.show(QtWidgets.QMessageBox.Icon.Warning, prefix + message)
            return
        path = write_log(doing, error)
        where = f"The details are also in {path}." if path else "The log file could not be written."
        dialog = self.show(
            QtWidgets.QMessageBox.Icon.Critical,
            f"Something went wrong{' while trying to ' + doing if doing else ''}: "
            f"{type(error).__name__}: {error}\n\nThis is a bug in Catalogue Desk. {where}",
        )
        dialog.setDetailedText(traceback_text(error))

    def show(self, icon: QtWidgets.QMessageBox.Icon, text: str) -> QtWidgets.QMessageBox:
        dialog = QtWidgets.QMessageBox(icon, "Catalogue Desk", text, parent=self._parent)
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        previous = self.last_dialog
        self.last_dialog = dialog
        dialog.destroyed.connect(lambda *_: self._forget(dialog))
        if previous is not None and previous is not dialog:
            previous.close()
        dialog.open()
        return dialog

    def _forget(self, dialog: QtWidgets.QMessageBox) -> None:
        if self.last_dialog is dialog:
            self.last_dialog = None


def install_excepthook(reporter: Callable[[], FailureReporter]) -> None:
    """Route exceptions that escape a Qt slot to the reporter of the window shown now, not the
    terminal (the running application only: pytest-qt keeps its own hook to fail a test)."""

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if not isinstance(error, Exception):
            sys.__excepthook__(kind, error, tb)
            return
        error.__traceback__ = tb
        reporter().report(error)

    sys.excepthook = hook


def is_expected(error: BaseException) -> bool:
    return isinstance(error, CatalogueError) or explain(error) is not None
