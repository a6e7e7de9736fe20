"""The Groups and Teams tabs: each lists its rows, adds one, and ticks the selected row's
members among the users."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.services import access
from app.views.permissions.common import (
    Commit,
    Directory,
    FieldErrors,
    add_field,
    error_label,
    fit_columns,
    select_key,
    selected_key,
    split_tab,
    table_view,
)
from app.views.permissions.models import ChecklistModel, GroupsModel, TeamsModel
from app.views.permissions.users_tab import set_membership
from app.views.qt import QtWidgets


class _MembersTab(QtWidgets.QWidget):
    """A table of teams or groups over its Add form, beside the selected one's members."""

    kind = ""  # "team" or "group"

    def __init__(
        self,
        commit: Commit,
        model: GroupsModel | TeamsModel,
        rows: Callable[[Directory], Sequence[Any]],
    ) -> None:
        super().__init__()
        self._commit = commit
        self._directory = Directory([], [], [], [])
        self._rows_of = rows
        self.model = model
        model.setParent(self)
        self.table = table_view(model)
        self.table.selectionModel().selectionChanged.connect(self._show_members)

        self.members_box = QtWidgets.QGroupBox("Members")
        member_layout = QtWidgets.QVBoxLayout(self.members_box)
        self.members_model = ChecklistModel(self)
        self.members_list = QtWidgets.QListView()
        self.members_list.setModel(self.members_model)
        member_layout.addWidget(self.members_list)
        self.members_error = error_label()
        member_layout.addWidget(self.members_error)
        self.members_model.toggled.connect(self._toggle_member)

    def _lay_out(self, add_box: QtWidgets.QGroupBox) -> None:
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(split_tab(self.table, add_box, self.members_box))

    def show_directory(self, directory: Directory) -> None:
        self._directory = directory
        selected = selected_key(self.table)
        self.model.show(self._rows_of(directory))
        select_key(self.table, selected, scroll=False)
        fit_columns(self.table)
        self._show_members()

    def _show_members(self) -> None:
        key = selected_key(self.table)
        row = next((r for r in self._rows_of(self._directory) if r.id == key), None)
        self.members_box.setEnabled(row is not None)
        self.members_box.setTitle(
            f"Members of {row.title}" if row else f"Members (select a {self.kind})"
        )
        self.members_model.show(
            [(u.id, u.username) for u in self._directory.users],
            set(row.member_ids) if row else set(),
        )

    def _toggle_member(self, user_id: Any, member: bool) -> None:
        key = selected_key(self.table)
        if key is not None:
            errors = FieldErrors(self.members_error)
            set_membership(self._commit, errors, self.kind, key, int(user_id), member)


class GroupsTab(_MembersTab):
    kind = "group"

    def __init__(self, commit: Commit) -> None:
        super().__init__(commit, GroupsModel(), lambda d: d.groups)
        add_box = QtWidgets.QGroupBox("Add group")
        form = QtWidgets.QFormLayout(add_box)
        self.title_edit = QtWidgets.QLineEdit()
        self.description_edit = QtWidgets.QLineEdit()
        self.title_error = add_field(form, "&Title:", self.title_edit)
        add_field(form, "&Description:", self.description_edit)
        self.error = error_label()
        form.addRow(self.error)
        self.add_button = QtWidgets.QPushButton("Add group")
        form.addRow("", self.add_button)
        self._lay_out(add_box)
        self._errors = FieldErrors(self.error, {"title": self.title_error})
        self.add_button.clicked.connect(self._add)
        for edit in (self.title_edit, self.description_edit):
            edit.returnPressed.connect(self._add)

    def _add(self) -> None:
        title = self.title_edit.text()
        description = self.description_edit.text().strip()
        created: list[int] = []

        def change(session: Session) -> None:
            created.append(access.create_group(session, title, description=description).id)

        def added() -> None:
            self.title_edit.clear()
            self.description_edit.clear()
            select_key(self.table, created[0])

        self._commit(self._errors, change, then=added)


class TeamsTab(_MembersTab):
    kind = "team"

    def __init__(self, commit: Commit) -> None:
        super().__init__(commit, TeamsModel(), lambda d: d.teams)
        add_box = QtWidgets.QGroupBox("Add team")
        form = QtWidgets.QFormLayout(add_box)
        self.id_edit = QtWidgets.QLineEdit()
        self.id_edit.setMaxLength(5)
        self.id_edit.setPlaceholderText("5 lower-case letters or digits")
        self.title_edit = QtWidgets.QLineEdit()
        self.id_error = add_field(form, "&Id:", self.id_edit)
        self.title_error = add_field(form, "&Title:", self.title_edit)
        self.error = error_label()
        form.addRow(self.error)
        self.add_button = QtWidgets.QPushButton("Add team")
        form.addRow("", self.add_button)
        self._lay_out(add_box)
        self._errors = FieldErrors(self.error, {"id": self.id_error, "title": self.title_error})
        self.add_button.clicked.connect(self._add)
        for edit in (self.id_edit, self.title_edit):
            edit.returnPressed.connect(self._add)

    def _add(self) -> None:
        team_id = self.id_edit.text().strip()
        title = self.title_edit.text()

        def change(session: Session) -> None:
            access.create_team(session, team_id, title)

        def added() -> None:
            self.id_edit.clear()
            self.title_edit.clear()
            select_key(self.table, team_id)

        self._commit(self._errors, change, then=added)
