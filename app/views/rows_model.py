"""A read-only table of rows held in a list, one fixed header per column.

The small tables of the dialogs (the trash, the duplicate groups, a batch edit's preview, the
import preview, the permissions lists) differ only in what a cell shows: a subclass names its
columns and answers `cell`; rows, counts, headers and bounds are kept here once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from app.views.qt import QtCore

Qt = QtCore.Qt
Index = QtCore.QModelIndex | QtCore.QPersistentModelIndex
ROOT = QtCore.QModelIndex()
RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

T = TypeVar("T")


class RowsModel(QtCore.QAbstractTableModel, Generic[T]):
    """Rows of T under `headers`; `cell(row, column, role)` says what each cell shows."""

    def __init__(self, headers: Sequence[str], parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._headers = tuple(headers)
        self._rows: list[T] = []

    def set_rows(self, rows: Iterable[T]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[T]:
        return list(self._rows)

    def row(self, row: int) -> T:
        return self._rows[row]

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._headers)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self._headers)
        ):
            return self._headers[section]
        return super().headerData(section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return self.cell(self._rows[index.row()], index.column(), role)

    def cell(self, row: T, column: int, role: int) -> Any:
        """What the cell shows in `role`; None for nothing."""
        raise NotImplementedError
