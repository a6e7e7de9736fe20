"""View > Deleted datasets: the trash (services.trash), with who deleted each and when.

Restore brings the highlighted datasets back (one operation, undone by the window's Undo);
"Delete for good" empties them after a confirmation that asks whether their history goes too.
The list is read off the GUI thread and read again on every `catalogueChanged` while shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.services import trash, undoable
from app.services.trash import DeletedDataset
from app.services.undoable import Step
from app.views.history_panel import local_time
from app.views.operations import LatestRead, Operations, Outcome, change_of
from app.views.qt import QtCore, QtWidgets, Signal
from app.views.rows_model import RIGHT_ALIGNED, RowsModel
from app.views.undo import UndoHistory

Qt = QtCore.Qt
COLUMNS = ("Title", "ID", "Deleted", "Deleted by", "Versions")

# Asked before emptying: (what, count) -> None to cancel, else whether to erase the history too.
AskEmpty = Callable[[str, int], "bool | None"]


class DeletedModel(RowsModel[DeletedDataset]):
    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(COLUMNS, parent)

    def cell(self, row: DeletedDataset, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            values = (row.title or "(untitled)", row.dataset_id, local_time(row.deleted_at),
                      row.deleted_by, row.versions)  # fmt: skip
            return values[column]
        if role == Qt.ItemDataRole.ToolTipRole and column == 2:
            return f"{row.deleted_at} UTC"
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 4:
            return RIGHT_ALIGNED
        return None


class DeletedDialog(QtWidgets.QDialog):
    loaded = Signal(int)  # the list was (re)read: how many deleted datasets
    restored = Signal(object)  # the ids brought back (a list)
    emptied = Signal(int)  # how many were emptied for good

    def __init__(
        self,
        operations: Operations,
        undo: UndoHistory,
        author: str,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Deleted datasets")
        self.resize(820, 460)
        self._operations = operations
        self._undo = undo
        self._author = author
        # Reads in flight: only the newest one's answer is shown.
        self._reads: LatestRead[list[DeletedDataset]] = LatestRead(
            operations, "list the deleted datasets", self._show_rows
        )
        # Asked before emptying; replace it to answer without a dialog (tests, scripts).
        self.ask_empty: AskEmpty = self._ask_empty

        self.model = DeletedModel(self)
        self.table = QtWidgets.QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for column, width in ((1, 70), (2, 150), (3, 110), (4, 70)):
            header.resizeSection(column, width)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.summary = QtWidgets.QLabel()
        self.summary.setWordWrap(True)
        self.restore_button = QtWidgets.QPushButton("&Restore")
        self.restore_button.clicked.connect(self.restore_selected)
        self.empty_button = QtWidgets.QPushButton("Delete for &good…")
        self.empty_button.clicked.connect(self.empty_selected)
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.restore_button)
        buttons.addWidget(self.empty_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def refresh(self) -> None:
        """Read the trash again (off the GUI thread)."""
        self._reads.run(trash.list_deleted)

    def _show_rows(self, rows: list[DeletedDataset]) -> None:
        kept = set(self.selected_ids())
        self.model.set_rows(rows)
        selection = self.table.selectionModel()
        flags = QtCore.QItemSelectionModel.SelectionFlag
        for row, item in enumerate(rows):
            if item.dataset_id in kept:
                selection.select(self.model.index(row, 0), flags.Select | flags.Rows)
        self.summary.setText(
            "No deleted datasets." if not rows else
            f"{len(rows):,} deleted dataset{'s' if len(rows) != 1 else ''}, newest first. "
            "Restore brings one back as it was when deleted; deleting for good takes it "
            "out of this list."
        )  # fmt: skip
        self._update_buttons()
        self.loaded.emit(len(rows))

    def selected_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.model.row(row).dataset_id for row in rows if row < self.model.rowCount()]

    def select_ids(self, dataset_ids: Sequence[str]) -> None:
        selection = self.table.selectionModel()
        selection.clearSelection()
        flags = QtCore.QItemSelectionModel.SelectionFlag
        for row in range(self.model.rowCount()):
            if self.model.row(row).dataset_id in dataset_ids:
                selection.select(self.model.index(row, 0), flags.Select | flags.Rows)

    def _update_buttons(self) -> None:
        count = len(self.table.selectionModel().selectedRows())
        plural = f" {count:,} datasets" if count > 1 else ""
        self.restore_button.setText(f"&Restore{plural}")
        self.empty_button.setText(f"Delete{plural} for &good…")
        self.restore_button.setEnabled(count > 0)
        self.empty_button.setEnabled(count > 0)

    def restore_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        author = self._author

        def run(session: Session) -> Outcome[Step]:
            step = undoable.restore_deleted(session, ids, author=author)
            return Outcome(step, change_of(ids))

        def done(step: Step) -> None:
            self._undo.push(step)
            self.restored.emit(ids)

        self._operations.write(f"restore {len(ids)} deleted dataset(s)", run, done)

    def empty_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        what = (
            f"“{self.model.row(self.table.selectionModel().selectedRows()[0].row()).title}”"
            if len(ids) == 1
            else f"{len(ids):,} deleted datasets"
        )
        purge = self.ask_empty(what, len(ids))
        if purge is None:
            return
        author = self._author

        def run(session: Session) -> Outcome[int]:
            count = trash.empty(session, ids, author=author, keep_history=not purge)
            return Outcome(count, change_of(ids))

        self._operations.write(f"empty {what} for good", run, self.emptied.emit)

    def _ask_empty(self, what: str, count: int) -> bool | None:
        box = QtWidgets.QMessageBox(
            QtWidgets.QMessageBox.Icon.Warning,
            "Delete for good",
            f"Delete {what} for good? {'They' if count > 1 else 'It'} will no longer be "
            "listed here, and this cannot be undone.",
            QtWidgets.QMessageBox.StandardButton.Cancel,
            self,
        )
        delete = box.addButton("Delete for good", QtWidgets.QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QtWidgets.QMessageBox.StandardButton.Cancel)
        erase = QtWidgets.QCheckBox("Also erase the history (every earlier version)")
        box.setCheckBox(erase)
        box.exec()
        if box.clickedButton() is not delete:
            return None
        return erase.isChecked()
