"""A dataset's custom fields: a table of name, value and what the value is stored as.

A value is text, or a list of texts written with ";" between them (see CUSTOM_HINT). A value the
person did not touch is given back exactly as it was loaded, whatever its text would parse to.
"""

from __future__ import annotations

from typing import Any

from app.services.record.fields import FIELDS
from app.views.form_widgets import FieldRow
from app.views.qt import QtCore, QtWidgets, Signal

CUSTOM_HINT = (
    "Separate values with “;” to store a list (London; Barnet). "
    "End a single value with “;” for a one-item list."
)


def custom_value_text(value: Any) -> str:
    """How a custom field's value is written in its cell (see CUSTOM_HINT)."""
    if isinstance(value, list):
        items = [str(v) for v in value]
        return items[0] + ";" if len(items) == 1 else "; ".join(items)
    return "" if value is None else str(value)


def parse_custom_value(text: str) -> str | list[str]:
    """A cell's text as stored: text with ";" (or a line break) is a list of the parts."""
    if ";" not in text and "\n" not in text:
        return text.strip()
    parts = text.replace("\n", ";").split(";")
    return [part.strip() for part in parts if part.strip()]


def custom_kind(value: str | list[str]) -> str:
    if isinstance(value, list):
        return f"list of {len(value)}"
    return "text"


class CustomFieldsEditor(QtWidgets.QGroupBox):
    """The custom fields box: Add field and Remove field over the table, in its FieldRow."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__(FIELDS["custom"].label)
        self._loaded: dict[str, Any] = {}
        self.table = QtWidgets.QTableWidget(0, 3)
        self.table.setObjectName("custom")
        self.table.setHorizontalHeaderLabels(["Field", "Value", "Stored as"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setMinimumHeight(150)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(0, 130)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.add_button = QtWidgets.QPushButton("Add field")
        self.add_button.clicked.connect(self.add_field)
        self.remove_button = QtWidgets.QPushButton("Remove field")
        self.remove_button.clicked.connect(self.remove_field)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        self.row = FieldRow("custom", self.table, CUSTOM_HINT)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.row)

    def load(self, custom: dict[str, Any]) -> None:
        self._loaded = custom
        blocker = QtCore.QSignalBlocker(self.table)
        self.table.setRowCount(0)
        for key, value in custom.items():
            self._append_row(str(key), custom_value_text(value))
        del blocker
        self._update_buttons()

    def rows(self) -> list[tuple[str, str]]:
        """The (name, value text) of every row that is not blank: what the table shows."""
        rows = []
        for row in range(self.table.rowCount()):
            key_item, value_item = self.table.item(row, 0), self.table.item(row, 1)
            key = key_item.text().strip() if key_item is not None else ""
            text = value_item.text() if value_item is not None else ""
            if key or text.strip():
                rows.append((key, text))
        return rows

    def value(self, rows: list[tuple[str, str]]) -> dict[str, Any]:
        """The custom fields as stored, from `rows()`."""
        custom: dict[str, Any] = {}
        for key, text in rows:
            if key in self._loaded and custom_value_text(self._loaded[key]) == text:
                custom[key] = self._loaded[key]  # unchanged: keep it exactly as it was
            else:
                custom[key] = parse_custom_value(text)
        return custom

    def add_field(self) -> None:
        blocker = QtCore.QSignalBlocker(self.table)
        row = self._append_row("", "")
        del blocker
        self.table.setCurrentCell(row, 0)
        key_item = self.table.item(row, 0)
        if key_item is not None:
            self.table.editItem(key_item)

    def remove_field(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        for row in rows:
            self.table.removeRow(row)
        if rows:
            self.changed.emit()

    def set_field(self, key: str, text: str) -> None:
        """Set (or add) a custom field's value text as a person would type it."""
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.text() == key:
                value_item = self.table.item(row, 1)
                if value_item is not None:
                    value_item.setText(text)
                return
        row = self._append_row(key, text)
        self.changed.emit()
        self.table.setCurrentCell(row, 1)

    def _append_row(self, key: str, text: str) -> int:
        table = self.table
        row = table.rowCount()
        table.insertRow(row)
        table.setItem(row, 0, QtWidgets.QTableWidgetItem(key))
        table.setItem(row, 1, QtWidgets.QTableWidgetItem(text))
        kind = QtWidgets.QTableWidgetItem()
        kind.setFlags(kind.flags() & ~QtCore.Qt.ItemFlag.ItemIsEditable)
        table.setItem(row, 2, kind)
        self._update_kind(row)
        return row

    def _update_kind(self, row: int) -> None:
        value_item = self.table.item(row, 1)
        kind_item = self.table.item(row, 2)
        if value_item is None or kind_item is None:
            return
        value = parse_custom_value(value_item.text())
        kind_item.setText(custom_kind(value))
        if isinstance(value, list):
            kind_item.setToolTip("\n".join(value))

    def _on_item_changed(self, item: QtWidgets.QTableWidgetItem) -> None:
        if item.column() == 1:
            blocker = QtCore.QSignalBlocker(self.table)
            self._update_kind(item.row())
            del blocker
        if item.column() != 2:
            self.changed.emit()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.table.selectedIndexes()))
