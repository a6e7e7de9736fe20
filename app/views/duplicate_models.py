"""The item models of Tools > Find duplicates (views.duplicates_dialog): the groups found, and
one group's merge preview, a row per field and a column per dataset, the chosen cell checked.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.services.duplicates import MERGE_KEYS, Group, MergePlan, merged_record
from app.services.record.fields import label
from app.services.records import Record
from app.services.text import html_to_text
from app.views.history_panel import local_time
from app.views.qt import QtCore, Signal
from app.views.rows_model import RIGHT_ALIGNED, RowsModel

Qt = QtCore.Qt
_ROOT = QtCore.QModelIndex()
Index = QtCore.QModelIndex | QtCore.QPersistentModelIndex
GROUP_COLUMNS = ("Title", "Datasets", "Why")
KEEP_ROW = "Keep the record"  # row 0 of the preview: which dataset stays (its id and history)
CELL_CHARS = 90  # a cell's text is cut here; its tooltip has it whole


class GroupsModel(RowsModel[Group]):
    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(GROUP_COLUMNS, parent)

    def cell(self, row: Group, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            values = (row.title or "(untitled)", len(row.members), ", ".join(row.reasons))
            return values[column]
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return "\n".join(f"{m.title} ({m.dataset_id})" for m in row.members)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return RIGHT_ALIGNED
        return None


def shown(key: str, value: Any) -> str:
    """A field's value in a few words, for a cell."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if key == "description":
        return html_to_text(str(value)) or "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        parts = (
            f"{k}: {shown(k, v)}" if key == "custom" else shown(k, v) for k, v in value.items()
        )
        return "; ".join(p for p in parts if p != "—") or "—"
    return str(value)


class MergeModel(QtCore.QAbstractTableModel):
    """Row 0 picks the kept dataset; each other row a field (MERGE_KEYS), its value taken from
    the checked column. Only rows where the records differ are offered."""

    planChanged = Signal()

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.plan: MergePlan | None = None
        self._keys: list[str] = []

    def set_plan(self, plan: MergePlan | None) -> None:
        self.beginResetModel()
        self.plan = plan
        self._keys = (
            []
            if plan is None
            else [k for k in MERGE_KEYS if len({repr(r.get(k)) for r in plan.records}) > 1]
        )
        self.endResetModel()
        self.planChanged.emit()

    def fields(self) -> list[str]:
        return list(self._keys)

    def row_of(self, key: str) -> int:
        return self._keys.index(key) + 1

    def merged(self) -> Record:
        """The kept record as the merge will leave it (the files and links united)."""
        assert self.plan is not None
        return {**self.plan.records[self.plan.kept], **merged_record(self.plan)}

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() or self.plan is None else len(self._keys) + 1

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() or self.plan is None else len(self.plan.records)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        plan = self.plan
        if plan is None or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return super().headerData(section, orientation, role)
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(plan.records):
            record = plan.records[section]
            return f"{record['id']}, modified {local_time(str(record.get('updatedAt') or ''))}"
        if orientation == Qt.Orientation.Vertical and 0 <= section <= len(self._keys):
            return KEEP_ROW if section == 0 else label(self._keys[section - 1])
        return super().headerData(section, orientation, role)

    def _chosen(self, row: int) -> int:
        assert self.plan is not None
        return self.plan.kept if row == 0 else self.plan.source(self._keys[row - 1])

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        plan = self.plan
        if plan is None or not index.isValid() or index.row() > len(self._keys):
            return None
        record = plan.records[index.column()]
        if index.row() == 0:
            text = f"{record.get('title') or '(untitled)'} ({record['id']})"
        else:
            key = self._keys[index.row() - 1]
            text = shown(key, record.get(key))
        if role == Qt.ItemDataRole.DisplayRole:
            return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"
        if role == Qt.ItemDataRole.ToolTipRole:
            return text
        if role == Qt.ItemDataRole.CheckStateRole:
            chosen = self._chosen(index.row()) == index.column()
            return Qt.CheckState.Checked if chosen else Qt.CheckState.Unchecked
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Checking a cell takes that record's value for its row (a radio button: checking is
        the only change; the row's other cells clear)."""
        plan = self.plan
        if plan is None or not index.isValid() or role != Qt.ItemDataRole.CheckStateRole:
            return False
        if Qt.CheckState(value) != Qt.CheckState.Checked:
            return False
        column = index.column()
        if index.row() == 0:
            # A new kept record: the fields not chosen by hand follow it.
            self.plan = replace(plan, kept=column)
            first, last = self.index(0, 0), self.index(len(self._keys), len(plan.records) - 1)
        else:
            choices = dict(plan.choices)
            choices[self._keys[index.row() - 1]] = column
            self.plan = replace(plan, choices=choices)
            first = self.index(index.row(), 0)
            last = self.index(index.row(), len(plan.records) - 1)
        self.dataChanged.emit(first, last, [Qt.ItemDataRole.CheckStateRole])
        self.planChanged.emit()
        return True
