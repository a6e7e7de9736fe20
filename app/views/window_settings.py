"""What the window remembers between runs (QSettings): its geometry, the splitter, the table's
columns and sort, the folders last used, and the recent catalogues.

One INI file in the user's config folder (`~/.config/catalogue-desk/catalogue-desk.ini` on
Linux), the same format on every platform. Tests point QSettings' INI user path at a temporary
folder (tests/views/conftest.py), so they never read or write the person's settings.

`WindowState` is attached to a main window: it restores what was saved when it is made and
saves when the window closes. A column layout saved with other columns (another version of
the table) is ignored, never half applied: the column keys are saved beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from app.services.catalogue_files import may_remember
from app.views.qt import QtCore, QtWidgets

if TYPE_CHECKING:
    from app.views.main_window import MainWindow

ORGANIZATION = "catalogue-desk"
APPLICATION = "catalogue-desk"
RECENT_KEY = "catalogues/recent"
RECENT_LIMIT = 8
# The splitter's key names its panes: a state saved for other panes (before the facet sidebar
# was added left of the table) would hand the sidebar the table's width.
SPLITTER_KEY = "window/splitter-facets-table-side"


def app_settings() -> QtCore.QSettings:
    """The application's settings file (INI, user scope)."""
    return QtCore.QSettings(
        QtCore.QSettings.Format.IniFormat,
        QtCore.QSettings.Scope.UserScope,
        ORGANIZATION,
        APPLICATION,
    )


def _strings(value: object) -> list[str]:
    # QSettings gives a one-item list back as a plain string, and an empty list as None.
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [str(item) for item in value if item]
    return []


def recent_catalogues() -> list[str]:
    """The catalogues opened last (URLs), the latest first."""
    return _strings(app_settings().value(RECENT_KEY))


def remember_catalogue(url: str) -> None:
    """Put `url` first in the recent catalogues (not a URL with a password: see may_remember)."""
    if not may_remember(url):
        return
    recent = [url, *(u for u in recent_catalogues() if u != url)][:RECENT_LIMIT]
    settings = app_settings()
    settings.setValue(RECENT_KEY, recent)
    settings.sync()


def forget_catalogue(url: str) -> None:
    """Drop `url` from the recent catalogues (it could not be opened)."""
    settings = app_settings()
    settings.setValue(RECENT_KEY, [u for u in recent_catalogues() if u != url])
    settings.sync()


def folder(key: str) -> Path:
    """A folder last used for `key` ("export", "import", "catalogue"), or home if it is gone."""
    saved = app_settings().value(f"folders/{key}")
    path = Path(str(saved)) if saved else Path.home()
    return path if path.is_dir() else Path.home()


def remember_folder(key: str, path: Path) -> None:
    settings = app_settings()
    settings.setValue(f"folders/{key}", str(path))
    settings.sync()


class WindowState(QtCore.QObject):
    """Restores a main window's layout now and saves it when the window closes."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.restore()
        window.installEventFilter(self)

    def _splitter(self) -> QtWidgets.QSplitter | None:
        central = self._window.centralWidget()
        return central if isinstance(central, QtWidgets.QSplitter) else None

    def _column_keys(self) -> list[str]:
        return [column.key for column in self._window.model.columns]

    def restore(self) -> None:
        window = self._window
        settings = app_settings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QtCore.QByteArray) and not geometry.isEmpty():
            window.restoreGeometry(geometry)
        splitter = self._splitter()
        state = settings.value(SPLITTER_KEY)
        if splitter is not None and isinstance(state, QtCore.QByteArray):
            splitter.restoreState(state)
        header = window.table.horizontalHeader()
        columns = settings.value("table/header")
        same_columns = _strings(settings.value("table/columns")) == self._column_keys()
        if same_columns and isinstance(columns, QtCore.QByteArray) and header.restoreState(columns):
            # The sort indicator came back with the header; the model is told of it here.
            window.table.sortByColumn(header.sortIndicatorSection(), header.sortIndicatorOrder())
        window._export_folder = folder("export")

    def save(self) -> None:
        window = self._window
        settings = app_settings()
        settings.setValue("window/geometry", window.saveGeometry())
        splitter = self._splitter()
        if splitter is not None:
            settings.setValue(SPLITTER_KEY, splitter.saveState())
        settings.setValue("table/header", window.table.horizontalHeader().saveState())
        settings.setValue("table/columns", self._column_keys())
        settings.setValue("folders/export", str(window._export_folder))
        settings.sync()

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if watched is self._window and event.type() == QtCore.QEvent.Type.Close:
            # Saved whether or not the close then goes ahead: the layout is right either way.
            self.save()
        return False
