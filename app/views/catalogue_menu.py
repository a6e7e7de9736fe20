"""File > New catalogue, Open catalogue and Recent catalogues, and the window's title.

The menu only asks: it says which catalogue the person chose (`openRequested`, `newRequested`);
views.catalogue_switch opens it off the GUI thread and puts a window on it, or says why it
cannot. The file dialogs are attributes (`ask_open_path`, `ask_new_path`) so tests can answer
them as a person would without a native dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.services.catalogue_files import catalogue_location, catalogue_name, sqlite_path
from app.views import window_settings
from app.views.qt import QtGui, QtWidgets, Signal

CATALOGUE_FILTER = "Catalogues (*.sqlite *.sqlite3 *.db);;All files (*)"


def window_title(url: str) -> str:
    """`archive.sqlite — Catalogue Desk`: the catalogue first, as desktop applications do."""
    return f"{catalogue_name(url)} — Catalogue Desk"


class CatalogueMenu(QtWidgets.QWidget):
    """The catalogue actions of the File menu, for the window on catalogue `url`."""

    openRequested = Signal(str)  # a catalogue to open: a file path or a URL
    newRequested = Signal(str)  # a new catalogue file to make

    def __init__(self, url: str, parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self.hide()  # a QWidget only to own the actions and dialogs; never shown
        self.url = url
        self.new_action = QtGui.QAction("New &catalogue…", parent)
        self.new_action.setShortcut(QtGui.QKeySequence("Ctrl+Shift+N"))
        self.new_action.setStatusTip("Make a new, empty catalogue file and open it")
        self.new_action.triggered.connect(lambda _checked=False: self.choose_new())
        self.open_action = QtGui.QAction("&Open catalogue…", parent)
        self.open_action.setShortcut(QtGui.QKeySequence(QtGui.QKeySequence.StandardKey.Open))
        self.open_action.setStatusTip("Open another catalogue file in this window")
        self.open_action.triggered.connect(lambda _checked=False: self.choose_open())
        self.recent_menu = QtWidgets.QMenu("Recent c&atalogues", parent)
        self.recent_menu.aboutToShow.connect(self.fill_recent)
        self.ask_open_path: Callable[[], str | None] = self._ask_open_path
        self.ask_new_path: Callable[[], str | None] = self._ask_new_path

    def install(self, bar: QtWidgets.QMenuBar) -> None:
        """Put the actions at the top of the bar's first menu (File), with a separator after."""
        menu = bar.actions()[0].menu()
        assert isinstance(menu, QtWidgets.QMenu)
        first = menu.actions()[0]  # the window's File menu is never empty
        menu.insertActions(first, [self.new_action, self.open_action])
        menu.insertMenu(first, self.recent_menu)
        menu.insertSeparator(first)
        self.fill_recent()

    def fill_recent(self) -> None:
        """The recent catalogues other than this one, by name, with their place as a tip."""
        self.recent_menu.clear()
        for url in window_settings.recent_catalogues():
            if url == self.url:
                continue
            action = self.recent_menu.addAction(catalogue_name(url))
            action.setStatusTip(catalogue_location(url))
            action.setToolTip(catalogue_location(url))
            action.setData(url)
            action.triggered.connect(lambda _checked=False, u=url: self.openRequested.emit(u))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("No other catalogues yet").setEnabled(False)

    def recent_urls(self) -> list[str]:
        """What the Recent menu offers, in order (for tests and the shortcuts list)."""
        self.fill_recent()
        return [str(a.data()) for a in self.recent_menu.actions() if a.data()]

    def choose_open(self) -> None:
        path = self.ask_open_path()
        if path:
            window_settings.remember_folder("catalogue", Path(path).parent)
            self.openRequested.emit(path)

    def choose_new(self) -> None:
        path = self.ask_new_path()
        if path:
            if not Path(path).suffix:
                path += ".sqlite"
            window_settings.remember_folder("catalogue", Path(path).parent)
            self.newRequested.emit(path)

    def _start_folder(self) -> str:
        """The folder a catalogue was last chosen in, else this catalogue's, else home."""
        saved = window_settings.app_settings().value("folders/catalogue")
        if saved and Path(str(saved)).is_dir():
            return str(saved)
        current = sqlite_path(self.url)
        return str(current.parent if current is not None else Path.home())

    def _ask_open_path(self) -> str | None:
        name, _filter = QtWidgets.QFileDialog.getOpenFileName(
            self.parentWidget(), "Open catalogue", self._start_folder(), CATALOGUE_FILTER
        )
        return name or None

    def _ask_new_path(self) -> str | None:
        # No overwrite question: an existing file is refused with a message instead, so a
        # catalogue is never replaced by a new empty one.
        name, _filter = QtWidgets.QFileDialog.getSaveFileName(
            self.parentWidget(),
            "New catalogue",
            str(Path(self._start_folder()) / "catalogue.sqlite"),
            CATALOGUE_FILTER,
            options=QtWidgets.QFileDialog.Option.DontConfirmOverwrite,
        )
        return name or None
