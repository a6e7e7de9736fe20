"""The comparison: a table model that loads every row into a Python list, as a first version
would. It uses the same SQL (same columns, same FTS search) as the windowed model; only the
loading differs."""

from __future__ import annotations

from typing import Any

from app.models.database import Database
from app.services import browse
from app.services.browse import BrowseSpec
from app.views.dataset_table_model import COLUMNS
from app.views.qt import QtCore, Signal

_ROOT = QtCore.QModelIndex()
# Positions in browse.rows_statement's columns.
_FIELDS = {
    "id": 1,
    "title": 2,
    "state": 3,
    "sharing": 4,
    "team": 6,
    "updated_at": 7,
    "created_at": 8,
    "tags": 9,
    "resources": 10,
    "broken_links": 12,
}


class NaiveTableModel(QtCore.QAbstractTableModel):
    countChanged = Signal(int)

    def __init__(self, database: Database) -> None:
        super().__init__()
        self._database = database
        self._spec = BrowseSpec()
        self._rows = self._load()

    def _load(self) -> list[tuple[Any, ...]]:
        with self._database.read() as session:
            return [tuple(r) for r in session.execute(browse.rows_statement(session, self._spec))]

    def set_search(self, text: str) -> None:
        self.beginResetModel()
        self._spec = BrowseSpec(search=text)
        self._rows = self._load()
        self.endResetModel()
        self.countChanged.emit(len(self._rows))

    def is_loaded(self, row: int) -> bool:
        return 0 <= row < len(self._rows)

    def rowCount(self, parent: QtCore.QModelIndex | QtCore.QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QtCore.QModelIndex | QtCore.QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self,
        section: int,
        orientation: QtCore.Qt.Orientation,
        role: int = QtCore.Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if (
            orientation == QtCore.Qt.Orientation.Horizontal
            and role == QtCore.Qt.ItemDataRole.DisplayRole
        ):
            return COLUMNS[section].header
        return None

    def data(
        self,
        index: QtCore.QModelIndex | QtCore.QPersistentModelIndex,
        role: int = QtCore.Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if role != QtCore.Qt.ItemDataRole.DisplayRole or not index.isValid():
            return None
        value = self._rows[index.row()][_FIELDS[COLUMNS[index.column()].key]]
        return ", ".join(value) if isinstance(value, list) else value
