"""Help > Keyboard shortcuts, User manual and About.

The shortcuts are read from the window's own actions, so the list cannot drift from what the
keys do; the few keys that belong to a widget rather than an action are listed after them. The
manual is the README, shown in the application: from the checkout when run from one, else from
the installed package's metadata (the README is the wheel's long description), so it needs no
network and no browser.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from app.views.qt import QtCore, QtGui, QtWidgets

DISTRIBUTION = "catalogue-desk"
README = Path(__file__).resolve().parents[2] / "README.md"

# Keys handled by a widget, not by an action of the window.
WIDGET_KEYS = (
    ("Save the dataset in the form (while typing in it)", "Ctrl+S"),
    ("Add the tag typed", "Enter"),
    ("Move to the next field (also from the description)", "Tab"),
    ("Select rows: a range, or one more", "Shift+Click, Ctrl+Click"),
)


def version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def manual_text() -> str:
    """The README (Markdown): the checkout's, or the installed package's long description."""
    if README.is_file():
        text = README.read_text(encoding="utf-8")
        if text.startswith("# Catalogue Desk"):  # ours, not a stray README beside a package
            return text
    try:
        found = metadata.metadata(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "# Catalogue Desk\n\nThe manual (README.md) is not installed with this copy."
    # The stdlib's reader keeps the description as the payload; once the importlib_metadata
    # backport is loaded (pyshacl loads it), its finder answers instead and
    # moves the description into a Description field.
    payload = found.get_payload()  # type: ignore[attr-defined]
    return str(payload or found.get("Description") or "")  # type: ignore[attr-defined]


def shortcut_rows(window: QtWidgets.QWidget) -> list[tuple[str, str]]:
    """(what it does, keys) for every action of `window` that has a shortcut, then WIDGET_KEYS."""
    rows: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for action in window.findChildren(QtGui.QAction):
        keys = ", ".join(
            key.toString(QtGui.QKeySequence.SequenceFormat.NativeText) for key in action.shortcuts()
        )
        name = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        name = name.rstrip("…").strip()
        if not keys or not name or (name, keys) in seen:
            continue
        seen.add((name, keys))
        rows.append((name, keys))
    rows.sort(key=lambda row: row[0].lower())
    return rows + list(WIDGET_KEYS)


class ShortcutsDialog(QtWidgets.QDialog):
    def __init__(self, window: QtWidgets.QWidget) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QtWidgets.QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Action", "Keys"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        for name, keys in shortcut_rows(window):
            row = self.table.rowCount()
            self.table.insertRow(row)
            self.table.setItem(row, 0, QtWidgets.QTableWidgetItem(name))
            self.table.setItem(row, 1, QtWidgets.QTableWidgetItem(keys))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 520)

    def rows(self) -> list[tuple[str, str]]:
        def text(row: int, column: int) -> str:
            item = self.table.item(row, column)
            return item.text() if item is not None else ""

        return [(text(r, 0), text(r, 1)) for r in range(self.table.rowCount())]


class ManualDialog(QtWidgets.QDialog):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Catalogue Desk manual")
        self.browser = QtWidgets.QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        # Relative links and images (docs/screenshot.png) resolve beside the README.
        self.browser.setSearchPaths([str(README.parent)])
        self.browser.setMarkdown(manual_text())
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(900, 760)


def about_text(location: str) -> str:
    return (
        f"<h3>Catalogue Desk {version()}</h3>"
        "<p>A desktop catalogue manager for open-data and archival catalogues: curate offline, "
        "publish over HTTP, sync with DataPress, Opendatasoft and CKAN.</p>"
        f"<p>Catalogue: {QtCore.QDir.toNativeSeparators(location).replace('<', '&lt;')}</p>"
        f"<p>Python {platform.python_version()} · Qt {QtCore.qVersion()}</p>"
    )


class HelpMenu(QtCore.QObject):
    """The Help menu of a window; `location` says which catalogue the About box names."""

    def __init__(self, window: QtWidgets.QMainWindow, location: str) -> None:
        super().__init__(window)
        self._window = window
        self._location = location
        self.dialog: QtWidgets.QDialog | None = None
        self.shortcuts_action = QtGui.QAction("&Keyboard shortcuts", window)
        self.shortcuts_action.setShortcut(QtGui.QKeySequence("Ctrl+/"))
        self.shortcuts_action.triggered.connect(lambda _checked=False: self.show_shortcuts())
        self.manual_action = QtGui.QAction("User &manual", window)
        self.manual_action.setShortcut(
            QtGui.QKeySequence(QtGui.QKeySequence.StandardKey.HelpContents)
        )
        self.manual_action.setStatusTip("The README: every feature, step by step")
        self.manual_action.triggered.connect(lambda _checked=False: self.show_manual())
        self.about_action = QtGui.QAction("&About Catalogue Desk", window)
        self.about_action.setMenuRole(QtGui.QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(lambda _checked=False: self.show_about())

    def install(self, bar: QtWidgets.QMenuBar) -> QtWidgets.QMenu:
        menu = bar.addMenu("&Help")
        menu.addActions([self.shortcuts_action, self.manual_action])
        menu.addSeparator()
        menu.addAction(self.about_action)
        return menu

    def _show(self, dialog: QtWidgets.QDialog) -> QtWidgets.QDialog:
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = dialog
        dialog.open()
        return dialog

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self._window)
        self._show(dialog)
        return dialog

    def show_manual(self) -> ManualDialog:
        dialog = ManualDialog(self._window)
        self._show(dialog)
        return dialog

    def show_about(self) -> QtWidgets.QMessageBox:
        box = QtWidgets.QMessageBox(self._window)
        box.setWindowTitle("About Catalogue Desk")
        box.setTextFormat(QtCore.Qt.TextFormat.RichText)
        box.setText(about_text(self._location))
        icon = self._window.windowIcon()
        if not icon.isNull():
            box.setIconPixmap(icon.pixmap(64, 64))
        self._show(box)
        return box
