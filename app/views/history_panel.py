"""A dataset's history (docs/ARCHITECTURE.md: history): every version, its snapshot, and Restore.

Restoring never rewrites history: services.datasets.restore_version writes the old content as a
new version, so a restore can itself be undone by restoring the version before it; the restore
is an operation (views.operations) off the GUI thread, and its step (`stepDone`) is what the
window's Undo reverts.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import UTC
from typing import Any

from sqlalchemy.orm import Session

from app.models.database import Database
from app.services import datasets, history, undoable
from app.services.clock import parse_utc
from app.services.errors import NotFound, ValidationFailed
from app.services.record.fields import DERIVED_KEYS
from app.services.records import Record, changed_keys
from app.services.undoable import Step
from app.views.failures import FailureReporter
from app.views.operations import LatestRead, Operations, Outcome, change_of
from app.views.qt import QtCore, QtGui, QtWidgets, Signal

Qt = QtCore.Qt
KEY_ROLE = Qt.ItemDataRole.UserRole
NO_DATASET = "Select a dataset to see its history."
VERSION_COLUMNS = ("#", "When", "Who", "Action", "Changed fields")

Confirm = Callable[[str, str], bool]


def default_author() -> str:
    """Who restores: the desktop's login name, as the history's `author`."""
    try:
        return getpass.getuser() or "desktop"
    except (OSError, KeyError):  # no login name in this environment
        return "desktop"


def local_time(at: str) -> str:
    """A stored UTC timestamp (2025-03-01T09:30:00.000Z) in the person's time zone."""
    try:
        moment = parse_utc(at).replace(tzinfo=UTC)
    except ValueError:
        return at
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def show_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class HistoryPanel(QtWidgets.QWidget):
    """Versions of one dataset, newest first; the selected version's snapshot; Restore."""

    restored = Signal(str)  # dataset id, after the restore was committed
    stepDone = Signal(object)  # the restore's undoable.Step, for the window's Undo
    loaded = Signal()  # the versions shown were (re)read

    def __init__(
        self,
        database: Database,
        parent: QtWidgets.QWidget | None = None,
        *,
        author: str | None = None,
        operations: Operations | None = None,
    ) -> None:
        super().__init__(parent)
        self._database = database
        # The window's operations; on its own the panel writes through its own.
        self._operations = operations or Operations(database, FailureReporter(self), self)
        # The versions and the current record: a newer refresh supersedes an older one, and
        # inherits its callbacks, so none is lost when the catalogue changes meanwhile.
        self._reads: LatestRead[tuple[list[history.VersionInfo], Record | None]] = LatestRead(
            self._operations, "read the history", self._show_loaded, self.loaded.emit
        )
        self._dataset_id: str | None = None
        self._versions: list[history.VersionInfo] = []
        self._current: Record | None = None
        self._snapshot: Record | None = None
        self.author = author or default_author()
        # Asked before restoring; replace it to answer without a message box (tests, scripts).
        self.confirm: Confirm = self._ask

        self.header_label = QtWidgets.QLabel(NO_DATASET)
        self.header_label.setWordWrap(True)

        self.versions_table = QtWidgets.QTableWidget(0, len(VERSION_COLUMNS))
        self.versions_table.setHorizontalHeaderLabels(list(VERSION_COLUMNS))
        self.versions_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.versions_table.setSelectionBehavior(
            QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows
        )
        self.versions_table.setSelectionMode(
            QtWidgets.QAbstractItemView.SelectionMode.SingleSelection
        )
        self.versions_table.verticalHeader().hide()
        self.versions_table.horizontalHeader().setStretchLastSection(True)
        self.versions_table.itemSelectionChanged.connect(self._show_selected)

        self.difference_label = QtWidgets.QLabel()
        self.difference_label.setWordWrap(True)
        self.snapshot_tree = QtWidgets.QTreeWidget()
        self.snapshot_tree.setColumnCount(3)
        self.snapshot_tree.setHeaderLabels(["Field", "In this version", "Now"])
        self.snapshot_tree.setRootIsDecorated(False)
        self.snapshot_tree.setAlternatingRowColors(True)
        self.snapshot_tree.setUniformRowHeights(True)

        self.error_label = QtWidgets.QLabel()
        self.error_label.setStyleSheet("color: #b00020")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.restore_button = QtWidgets.QPushButton("&Restore this version…")
        self.restore_button.setEnabled(False)
        self.restore_button.clicked.connect(self._restore)

        detail = QtWidgets.QWidget()
        detail_layout = QtWidgets.QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_layout.addWidget(self.difference_label)
        detail_layout.addWidget(self.snapshot_tree, 1)
        detail_layout.addWidget(self.error_label)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.restore_button)
        detail_layout.addLayout(buttons)

        self.splitter = QtWidgets.QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.versions_table)
        self.splitter.addWidget(detail)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.header_label)
        layout.addWidget(self.splitter, 1)
        self._show_dataset()

    # ----------------------------------------------------------------------------- public API

    @property
    def dataset_id(self) -> str | None:
        return self._dataset_id

    def set_dataset(self, dataset_id: str | None) -> None:
        """Show the history of this dataset (None: no dataset selected); `loaded` says when."""
        if dataset_id != self._dataset_id:
            self._versions = []
            self._current = None
            # Only another dataset drops the chosen version: the same one opened again (after
            # a save, an undo, a change from elsewhere) keeps what the person picked.
            self.versions_table.clearSelection()
        self._dataset_id = dataset_id
        self.refresh()

    def refresh(self, then: Callable[[], None] | None = None) -> None:
        """Re-read the versions and the current record off the GUI thread (a long history is
        many rows); `loaded` once shown, after `then`. A newer refresh supersedes this one."""
        dataset_id = self._dataset_id
        if dataset_id is None:
            self._reads.wait(then)
            self._reads.show_now(([], None))
            return

        def read(session: Session) -> tuple[list[history.VersionInfo], Record | None]:
            versions = history.list_versions(session, dataset_id)
            try:
                return versions, datasets.get_record(session, dataset_id)
            except NotFound:
                return versions, None

        self._reads.run(read, then)

    def _show_loaded(self, found: tuple[list[history.VersionInfo], Record | None]) -> None:
        self._versions, self._current = found
        self._show_dataset()

    def select_version(self, number: int) -> None:
        """Select the row of version `number`, as a click on it would."""
        for row, version in enumerate(self._versions):
            if version.number == number:
                self.versions_table.selectRow(row)
                return
        raise KeyError(number)

    # ----------------------------------------------------------------------------- showing

    def _show_dataset(self) -> None:
        dataset_id = self._dataset_id
        self.error_label.hide()
        self.versions_table.setEnabled(dataset_id is not None)
        # With no dataset the message stands alone, centred, in place of empty tables.
        self.splitter.setVisible(dataset_id is not None)
        self.header_label.setAlignment(
            Qt.AlignmentFlag.AlignCenter
            if dataset_id is None
            else Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        )
        if dataset_id is None:
            self.header_label.setText(NO_DATASET)
        elif not self._versions:
            self.header_label.setText(f"Dataset {dataset_id} has no recorded history.")
        elif self._current is None:
            self.header_label.setText(
                f"Dataset {dataset_id} was deleted. Restore one of its versions to bring it back."
            )
        else:
            self.header_label.setText(
                f"History of {dataset_id} — {self._current.get('title', '')} "
                f"({len(self._versions)} versions, newest first)"
            )
        selected = self._selected_pk()
        table = self.versions_table
        table.blockSignals(True)
        try:
            table.clearSelection()
            table.setRowCount(len(self._versions))
            for row, version in enumerate(self._versions):
                changes = ", ".join(version.changes)
                cells = (
                    str(version.number),
                    local_time(version.at),
                    version.who,
                    version.action,
                    "all fields (new dataset)" if version.action == "create" else changes,
                )
                for column, text in enumerate(cells):
                    item = QtWidgets.QTableWidgetItem(text)
                    if column == 0:
                        item.setData(KEY_ROLE, version.pk)
                        item.setTextAlignment(
                            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                        )
                    if column == 1:
                        item.setToolTip(version.at)
                    if column == 4:
                        item.setToolTip(changes)
                    table.setItem(row, column, item)
                if version.pk == selected:
                    table.selectRow(row)
        finally:
            table.blockSignals(False)
        for column in range(len(VERSION_COLUMNS) - 1):  # the changed fields take what is left
            table.resizeColumnToContents(column)
        self._show_selected()

    def _selected_pk(self) -> int | None:
        rows = self.versions_table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.versions_table.item(rows[0].row(), 0)
        return None if item is None else int(item.data(KEY_ROLE))

    def _selected_version(self) -> history.VersionInfo | None:
        pk = self._selected_pk()
        return next((v for v in self._versions if v.pk == pk), None)

    def _show_selected(self) -> None:
        self.snapshot_tree.clear()
        self._snapshot = None
        version = self._selected_version()
        self.restore_button.setEnabled(False)
        if version is None:
            self.difference_label.setText(
                "Select a version to see its content and restore it." if self._versions else ""
            )
            return
        try:
            with self._database.read() as session:
                _row, self._snapshot = history.version_snapshot(session, version.pk)
        except NotFound:
            self.difference_label.setText(
                f"Version {version.number} records the deletion of the dataset; there is "
                "nothing to restore from it. Pick an earlier version."
            )
            return
        snapshot = self._snapshot
        current = self._current
        differing = set(changed_keys(snapshot, current)) if current is not None else set()
        if current is None:
            self.difference_label.setText(
                f"Version {version.number}. The dataset no longer exists; restoring this "
                "version recreates it."
            )
        elif differing:
            self.difference_label.setText(
                f"Version {version.number} differs from the current record in "
                f"{len(differing)} field(s): {', '.join(sorted(differing))}."
            )
        else:
            self.difference_label.setText(
                f"Version {version.number} is the same as the current record."
            )
        self._fill_snapshot(snapshot, current, differing)
        self.restore_button.setEnabled(current is None or bool(differing))

    def _fill_snapshot(self, snapshot: Record, current: Record | None, differing: set[str]) -> None:
        bold = QtGui.QFont(self.snapshot_tree.font())
        bold.setBold(True)
        grey = self.palette().color(
            QtGui.QPalette.ColorGroup.Disabled, QtGui.QPalette.ColorRole.Text
        )
        keys = list(snapshot) + [k for k in (current or {}) if k not in snapshot]
        differing_items: list[QtWidgets.QTreeWidgetItem] = []
        for key in keys:
            then = show_value(snapshot.get(key))
            now = show_value(current.get(key)) if current is not None else ""
            marker = "≠ " if key in differing else ""
            item = QtWidgets.QTreeWidgetItem([marker + key, then, now])
            item.setData(0, KEY_ROLE, key)
            item.setToolTip(1, _pretty(snapshot.get(key)))
            if current is not None:
                item.setToolTip(2, _pretty(current.get(key)))
            if key in differing:
                for column in range(3):
                    item.setFont(column, bold)
                differing_items.append(item)
            elif key in DERIVED_KEYS:
                item.setToolTip(0, "Set by the catalogue; a restore does not bring it back.")
                for column in range(3):
                    item.setForeground(column, grey)
            self.snapshot_tree.addTopLevelItem(item)
        self.snapshot_tree.resizeColumnToContents(0)
        self.snapshot_tree.setColumnWidth(1, max(200, self.snapshot_tree.width() // 3))
        if differing_items:
            self.snapshot_tree.scrollToItem(differing_items[0])

    # ----------------------------------------------------------------------------- restoring

    def _restore(self) -> None:
        version = self._selected_version()
        dataset_id = self._dataset_id
        if version is None or dataset_id is None or self._snapshot is None:
            return
        action = "recreate the dataset from" if self._current is None else "bring back"
        if not self.confirm(
            "Restore version",
            f"Restore dataset {dataset_id} to version {version.number} "
            f"({local_time(version.at)}, {version.who})?\n\n"
            f"This will {action} that content as a new version; the current content stays "
            "in the history.",
        ):
            return
        author = self.author

        def run(session: Session) -> Outcome[Step]:
            step = undoable.restore_version(session, version.pk, author=author)
            return Outcome(step, change_of([dataset_id]))

        def done(step: Step) -> None:
            self.restore_button.setEnabled(True)
            # Committed: Undo may revert it from now, whatever the panel shows meanwhile.
            self.stepDone.emit(step)

            def select_restore() -> None:
                if self._versions and self._dataset_id == dataset_id:
                    self.versions_table.selectRow(0)  # the restore, now the current content
                self.restored.emit(dataset_id)

            self.versions_table.clearSelection()
            if self._dataset_id == dataset_id:
                self.refresh(then=select_restore)
            else:
                self.restored.emit(dataset_id)

        def failed(error: Exception) -> bool:
            self.restore_button.setEnabled(True)
            if isinstance(error, ValidationFailed):
                self._show_error(
                    "This version cannot be restored: "
                    + "; ".join(f"{k}: {v}" for k, v in error.errors.items())
                )
                return True
            message = self._operations.expected_message(error)
            if message is not None:
                self._show_error(message)
                return True
            return False

        self.restore_button.setEnabled(False)  # one restore at a time
        self._operations.write(f"restore version {version.number}", run, done, failed)

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    def _ask(self, title: str, text: str) -> bool:
        answer = QtWidgets.QMessageBox.question(self, title, text)
        return answer == QtWidgets.QMessageBox.StandardButton.Yes


def _pretty(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    return show_value(value)
