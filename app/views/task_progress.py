"""A progress bar for a TaskRunner task, and the one way a task's failure is put in words.

Export, import and link check all show the same thing while they run: a bar that fills as the
service reports (done, total), or a busy bar while the total is unknown (0).
"""

from __future__ import annotations

from app.services.errors import CatalogueError
from app.views.qt import QtWidgets

# The bar counts in thousandths: services report byte or row counts that overflow a C++ int.
SCALE = 1000


class TaskProgressBar(QtWidgets.QProgressBar):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, SCALE)
        self.setValue(0)
        self.setTextVisible(False)
        self.setMaximumHeight(16)

    def report(self, done: object, total: object) -> None:
        """A TaskRunner progress signal's (done, total); total 0 means "not known yet"."""
        done_n = int(done) if isinstance(done, int) else 0
        total_n = int(total) if isinstance(total, int) else 0
        if total_n <= 0:
            self.setRange(0, 0)  # busy: Qt animates it
            return
        self.setRange(0, SCALE)
        self.setValue(min(SCALE, done_n * SCALE // total_n))

    def restart(self) -> None:
        self.setRange(0, SCALE)
        self.setValue(0)


def error_text(error: BaseException) -> str:
    """What a person reads about a failed task: the service's message, or the OS's reason."""
    if isinstance(error, CatalogueError):
        return error.message
    if isinstance(error, OSError) and error.strerror:
        name = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror}{name}"
    return f"{type(error).__name__}: {error}"
