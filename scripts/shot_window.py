"""The main window on a fresh copy of the sample catalogue, for the README's screenshot scripts.

Each script (scripts/screenshot*.py) drives the window as a person would, then grabs the screen;
this module holds what they share: the checkout on the path, the settings in a scratch folder
(the same picture on every machine, the person's own settings untouched), the window's size and
place, and the clean-up after the event loop ends.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# The checkout these scripts are in, ahead of any installed copy (an editable install of another
# worktree would otherwise be what is photographed).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.models.database import Database
from app.services.sample_catalogue import open_catalogue
from app.views.main_window import MainWindow
from app.views.qt import QtCore, QtWidgets

WIDTH, HEIGHT = 1400, 860


@contextmanager
def sample_window(
    prepare: Callable[[Database, Path], None] | None = None,
) -> Iterator[tuple[QtWidgets.QApplication, MainWindow]]:
    """The application and its window, shown at (0, 0) over the sample catalogue; `prepare`
    gets the catalogue and a scratch folder first. Run `app.exec()` inside."""
    app = QtWidgets.QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as folder:
        QtCore.QSettings.setPath(
            QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope, folder
        )
        database = open_catalogue(Path(folder) / "sample.sqlite", with_sample=True)
        if prepare is not None:
            prepare(database, Path(folder))
        window = MainWindow(database, author="archivist")
        window.resize(WIDTH, HEIGHT)
        window.show()
        window.move(0, 0)
        try:
            yield app, window
        finally:
            window.tasks.wait_for_all()
            database.dispose()


def grab_screen(app: QtWidgets.QApplication, out: str | Path) -> None:
    """The window's part of the screen, dialogs over it included."""
    app.primaryScreen().grabWindow(0, 0, 0, WIDTH, HEIGHT).save(str(out))


def close(app: QtWidgets.QApplication, window: MainWindow) -> None:
    window.close()
    app.quit()
