"""The item models of the permissions tabs: rows of text with a key, permission check boxes,
membership check lists. Each holds plain rows handed to it; none reads the database.

A check box ticked in a view is not stored by its model: the model asks for the change
(`toggled`) and the tab commits it, then shows what was stored. A refused change therefore
puts the box back by itself.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from app.services.permissions import ALL_PERMISSIONS, Permission
from app.views.qt import QtCore, QtGui, QtWidgets, Signal
from app.views.rows_model import RowsModel

Qt = QtCore.Qt
KEY_ROLE = Qt.ItemDataRole.UserRole  # each row's key: a user id, a team id, a key's uid...
ROOT = QtCore.QModelIndex()

PERMISSION_LABELS: dict[Permission, str] = {
    Permission.EXPLORE_RESTRICTED_DATASET: "Explore restricted",
    Permission.EDIT_DATASET: "Edit",
    Permission.PUBLISH_DATASET: "Publish",
    Permission.MANAGE_DATASET: "Manage",
}
PERMISSION_HELP: dict[Permission, str] = {
    Permission.EXPLORE_RESTRICTED_DATASET: "explore_restricted_dataset: see the dataset",
    Permission.EDIT_DATASET: "edit_dataset: change it (implies explore)",
    Permission.PUBLISH_DATASET: "publish_dataset: publish and unpublish it (implies explore)",
    Permission.MANAGE_DATASET: "manage_dataset: everything, rulesets included",
}

Row = tuple[Hashable, Sequence[str]]  # (key, one text per column)
Index = QtCore.QModelIndex | QtCore.QPersistentModelIndex


def _check_state(checked: bool) -> Qt.CheckState:
    return Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked


def is_checked(value: Any) -> bool:
    """A CheckStateRole value (an enum, or its int through some bindings) says checked."""
    return bool(value == Qt.CheckState.Checked or value == Qt.CheckState.Checked.value)


class KeyedTableModel(RowsModel[Row]):
    """Rows of text, one key per row (KEY_ROLE on every cell)."""

    def key(self, row: int) -> Any:
        return self.row(row)[0]

    def cell(self, row: Row, column: int, role: int) -> Any:
        key, cells = row
        if role == Qt.ItemDataRole.DisplayRole:
            return cells[column]
        if role == KEY_ROLE:
            return key
        if role == Qt.ItemDataRole.ForegroundRole:
            return self.foreground(key)
        return None

    def foreground(self, key: Hashable) -> QtGui.QBrush | None:
        """The text colour of the row with this key; None: the view's own."""
        return None


class UsersModel(KeyedTableModel):
    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(("User name", "Display name", "Email", "Teams", "Groups"), parent)

    def show(
        self,
        users: Sequence[Any],
        team_titles: dict[str, str],
        group_titles: dict[int, str],
    ) -> None:
        self.set_rows(
            [
                (
                    u.id,
                    (
                        u.username,
                        u.display_name,
                        u.email or "",
                        ", ".join(team_titles.get(t, t) for t in u.team_ids),
                        ", ".join(group_titles.get(g, str(g)) for g in u.group_ids),
                    ),
                )
                for u in users
            ]
        )


class GroupsModel(KeyedTableModel):
    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(("Title", "Description", "Members"), parent)

    def show(self, groups: Sequence[Any]) -> None:
        self.set_rows([(g.id, (g.title, g.description, str(len(g.member_ids)))) for g in groups])


class TeamsModel(KeyedTableModel):
    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(("Id", "Title", "Members"), parent)

    def show(self, teams: Sequence[Any]) -> None:
        self.set_rows([(t.id, (t.id, t.title, str(len(t.member_ids)))) for t in teams])


class ApiKeysModel(KeyedTableModel):
    """Issued keys, never the keys themselves: uid, label, user, prefix; revoked ones grey."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(("UID", "Label", "User", "Prefix", "Created", "Revoked"), parent)
        self._revoked: set[Hashable] = set()

    def show(self, keys: Sequence[Any]) -> None:
        self._revoked = {k.uid for k in keys if k.revoked_at is not None}
        self.set_rows(
            [
                (
                    k.uid,
                    (k.uid, k.label, k.username, k.prefix + "…", k.created_at, k.revoked_at or ""),
                )
                for k in keys
            ]
        )

    def foreground(self, key: Hashable) -> QtGui.QBrush | None:
        if key not in self._revoked:
            return None
        palette = QtWidgets.QApplication.palette()
        return palette.brush(QtGui.QPalette.ColorGroup.Disabled, QtGui.QPalette.ColorRole.Text)


class RulesetsModel(QtCore.QAbstractTableModel):
    """A dataset's rulesets: kind and name, then one check box per permission.

    Ticking a box asks for the change (`toggled(kind, target id, permission api names)`, the
    permissions the ruleset would then hold) and stores nothing itself."""

    FIXED_COLUMNS = ("Kind", "Name")
    toggled = Signal(str, int, list)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._rulesets: list[Any] = []

    def show(self, rulesets: Sequence[Any]) -> None:
        self.beginResetModel()
        self._rulesets = list(rulesets)
        self.endResetModel()

    def ruleset(self, row: int) -> Any:
        return self._rulesets[row]

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rulesets)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.FIXED_COLUMNS) + len(ALL_PERMISSIONS)

    def _permission(self, column: int) -> Permission | None:
        offset = column - len(self.FIXED_COLUMNS)
        return ALL_PERMISSIONS[offset] if offset >= 0 else None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self._permission(index.column()) is not None:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        ruleset = self._rulesets[index.row()]
        permission = self._permission(index.column())
        if role == KEY_ROLE:
            return ruleset_key(ruleset.kind, ruleset.target_id)
        if permission is None:
            if role == Qt.ItemDataRole.DisplayRole:
                return ruleset.kind.capitalize() if index.column() == 0 else ruleset.target_name
            return None
        if role == Qt.ItemDataRole.CheckStateRole:
            return _check_state(permission.api_name in ruleset.permissions)
        if role == Qt.ItemDataRole.ToolTipRole:
            return PERMISSION_HELP[permission]
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        permission = self._permission(index.column()) if index.isValid() else None
        if permission is None or role != Qt.ItemDataRole.CheckStateRole:
            return False
        ruleset = self._rulesets[index.row()]
        wanted = {p.api_name for p in ALL_PERMISSIONS if p.api_name in ruleset.permissions}
        if is_checked(value):
            wanted.add(permission.api_name)
        else:
            wanted.discard(permission.api_name)
        names = [p.api_name for p in ALL_PERMISSIONS if p.api_name in wanted]
        self.toggled.emit(ruleset.kind, ruleset.target_id, names)
        return True

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        permission = self._permission(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                self.FIXED_COLUMNS[section] if permission is None else PERMISSION_LABELS[permission]
            )
        if role == Qt.ItemDataRole.ToolTipRole and permission is not None:
            return PERMISSION_HELP[permission]
        return None


class ChecklistModel(QtCore.QAbstractListModel):
    """Entries with a check box each: the teams or groups of a user, the members of a group.

    Ticking asks for the change (`toggled(key, checked)`). `show` updates the entries in place
    when their keys are unchanged, so a list can be refreshed from inside its own toggle."""

    toggled = Signal(object, bool)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._entries: list[tuple[Hashable, str]] = []
        self._checked: set[Any] = set()

    def show(self, entries: Sequence[tuple[Hashable, str]], checked: set[Any]) -> None:
        if [key for key, _text in entries] != [key for key, _text in self._entries]:
            self.beginResetModel()
            self._entries, self._checked = list(entries), set(checked)
            self.endResetModel()
            return
        before = [(text, key in self._checked) for key, text in self._entries]
        self._entries, self._checked = list(entries), set(checked)
        for row, (key, text) in enumerate(self._entries):
            if before[row] != (text, key in self._checked):
                index = self.index(row)
                self.dataChanged.emit(index, index)

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._entries)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        key, text = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return text
        if role == KEY_ROLE:
            return key
        if role == Qt.ItemDataRole.CheckStateRole:
            return _check_state(key in self._checked)
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.CheckStateRole:
            return False
        self.toggled.emit(self._entries[index.row()][0], is_checked(value))
        return True


def ruleset_key(kind: str, target_id: int) -> str:
    return f"{kind}:{target_id}"
