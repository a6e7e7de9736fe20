"""The import's column-mapping step: each column of a spreadsheet -> one of our fields.

One row per source column, with a combo of our fields (services.importing.MAPPABLE_FIELDS),
"ignore", and "custom field" (stored under `custom.<column>`). It starts from the service's
suggestion. A field picked for two columns is marked on both rows and makes the mapping
invalid (`problem` says why), because the importer would have to drop one of them.
"""

from __future__ import annotations

from collections import Counter

from app.services.importing import CUSTOM_PREFIX, MAPPABLE_FIELDS, TableColumns
from app.views.form_widgets import ERROR_COLOUR
from app.views.qt import QtCore, QtGui, QtWidgets, Signal

IGNORE_LABEL = "(ignore this column)"
SOURCE_COLUMN, FIELD_COLUMN = 0, 1


def custom_target(column: str) -> str:
    """The custom field a column lands in when the person picks "custom field"."""
    return CUSTOM_PREFIX + (" ".join(column.split()) or "column")


class ColumnMappingTable(QtWidgets.QTableWidget):
    """Source column | our field. `mapping()` is what plan_import takes."""

    mappingChanged = Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self.setObjectName("column-mapping")
        self.setHorizontalHeaderLabels(["Column in the file", "Field in the catalogue"])
        self.verticalHeader().setVisible(False)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.horizontalHeader()
        header.setSectionResizeMode(SOURCE_COLUMN, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(FIELD_COLUMN, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self._columns: list[str] = []
        self._combos: list[QtWidgets.QComboBox] = []

    def set_columns(self, table: TableColumns) -> None:
        self._columns = list(table.columns)
        self._combos = []
        self.setRowCount(len(self._columns))
        for row, column in enumerate(self._columns):
            item = QtWidgets.QTableWidgetItem(column or "(no name)")
            item.setToolTip(column)
            self.setItem(row, SOURCE_COLUMN, item)
            combo = QtWidgets.QComboBox()
            combo.addItem(IGNORE_LABEL, "")
            for name in MAPPABLE_FIELDS:
                combo.addItem(name, name)
            target = custom_target(column)
            combo.addItem(f"custom field “{target[len(CUSTOM_PREFIX) :]}”", target)
            suggested = table.suggested.get(column, "")
            index = combo.findData(suggested)
            if index < 0 and suggested:  # a target the service knows that our list does not
                combo.addItem(suggested, suggested)
                index = combo.count() - 1
            combo.setCurrentIndex(max(index, 0))
            combo.currentIndexChanged.connect(self._on_changed)
            self._combos.append(combo)
            self.setCellWidget(row, FIELD_COLUMN, combo)
        self._mark_duplicates()

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def mapping(self) -> dict[str, str]:
        """Source column -> our field, "" for an ignored column."""
        return {
            column: str(combo.currentData() or "")
            for column, combo in zip(self._columns, self._combos, strict=True)
        }

    def set_target(self, column: str, target: str) -> None:
        """Pick `target` ("" to ignore) for `column`, as choosing it in the combo does."""
        combo = self._combos[self._columns.index(column)]
        index = combo.findData(target)
        if index < 0:
            raise ValueError(f"{target!r} is not a choice for {column!r}")
        combo.setCurrentIndex(index)

    def combo_for(self, column: str) -> QtWidgets.QComboBox:
        return self._combos[self._columns.index(column)]

    def problem(self) -> str | None:
        """Why this mapping cannot be used, or None."""
        duplicates = self._duplicates()
        if duplicates:
            target = sorted(duplicates)[0]
            columns = [c for c, t in self.mapping().items() if t == target]
            named = " and ".join(f"“{c}”" for c in columns)
            return f"{named} both go to {target}: pick one, ignore the other."
        if not any(self.mapping().values()):
            return "Every column is ignored: map at least one to a field."
        return None

    def _duplicates(self) -> set[str]:
        counts = Counter(target for target in self.mapping().values() if target)
        return {target for target, n in counts.items() if n > 1}

    def _on_changed(self, _index: int) -> None:
        self._mark_duplicates()
        self.mappingChanged.emit()

    def _mark_duplicates(self) -> None:
        duplicates = self._duplicates()
        error = QtGui.QBrush(QtGui.QColor(ERROR_COLOUR))
        for row, combo in enumerate(self._combos):
            clash = combo.currentData() in duplicates
            item = self.item(row, SOURCE_COLUMN)
            if item is not None:
                item.setForeground(error if clash else QtGui.QBrush())
                item.setData(
                    QtCore.Qt.ItemDataRole.ToolTipRole,
                    "Another column goes to the same field" if clash else self._columns[row],
                )
