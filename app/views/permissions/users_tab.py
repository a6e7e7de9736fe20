"""The Users tab: every user, an Add user form, and the selected user's teams and groups."""

from __future__ import annotations

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
from app.views.permissions.models import ChecklistModel, UsersModel
from app.views.qt import QtWidgets


def set_membership(
    commit: Commit, errors: FieldErrors, kind: str, container: Any, user_id: int, member: bool
) -> None:
    """Put a user in (or take them out of) a team or a group, in its own transaction."""

    def change(session: Session) -> None:
        if kind == "team":
            (access.add_to_team if member else access.remove_from_team)(
                session, str(container), user_id
            )
        else:
            (access.add_to_group if member else access.remove_from_group)(
                session, int(container), user_id
            )

    commit(errors, change)


class UsersTab(QtWidgets.QWidget):
    def __init__(self, commit: Commit, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._commit = commit
        self._directory = Directory([], [], [], [])

        self.model = UsersModel(self)
        self.table = table_view(self.model)
        self.table.selectionModel().selectionChanged.connect(self._show_memberships)

        add_box = QtWidgets.QGroupBox("Add user")
        form = QtWidgets.QFormLayout(add_box)
        self.username_edit = QtWidgets.QLineEdit()
        self.display_name_edit = QtWidgets.QLineEdit()
        self.email_edit = QtWidgets.QLineEdit()
        self.email_edit.setPlaceholderText("optional")
        self.username_error = add_field(form, "User &name:", self.username_edit)
        add_field(form, "&Display name:", self.display_name_edit)
        self.email_error = add_field(form, "&Email:", self.email_edit)
        self.error = error_label()
        form.addRow(self.error)
        self.add_button = QtWidgets.QPushButton("Add user")
        form.addRow("", self.add_button)
        self._errors = FieldErrors(
            self.error, {"username": self.username_error, "email": self.email_error}
        )
        self.add_button.clicked.connect(self._add)
        for edit in (self.username_edit, self.display_name_edit, self.email_edit):
            edit.returnPressed.connect(self._add)

        self.membership_box = QtWidgets.QGroupBox("Memberships")
        member_layout = QtWidgets.QVBoxLayout(self.membership_box)
        member_layout.addWidget(QtWidgets.QLabel("Teams:"))
        self.teams_model = ChecklistModel(self)
        self.teams_list = QtWidgets.QListView()
        self.teams_list.setModel(self.teams_model)
        member_layout.addWidget(self.teams_list)
        member_layout.addWidget(QtWidgets.QLabel("Groups:"))
        self.groups_model = ChecklistModel(self)
        self.groups_list = QtWidgets.QListView()
        self.groups_list.setModel(self.groups_model)
        member_layout.addWidget(self.groups_list)
        self.membership_error = error_label()
        member_layout.addWidget(self.membership_error)
        self.teams_model.toggled.connect(lambda team, on: self._toggle("team", team, on))
        self.groups_model.toggled.connect(lambda group, on: self._toggle("group", group, on))

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(split_tab(self.table, add_box, self.membership_box))

    def selected_user(self) -> int | None:
        user_id = selected_key(self.table)
        return None if user_id is None else int(user_id)

    def show_directory(self, directory: Directory) -> None:
        self._directory = directory
        selected = selected_key(self.table)
        self.model.show(
            directory.users,
            {t.id: t.title for t in directory.teams},
            {g.id: g.title for g in directory.groups},
        )
        select_key(self.table, selected, scroll=False)
        fit_columns(self.table)
        self._show_memberships()

    def _show_memberships(self) -> None:
        user_id = selected_key(self.table)
        user = next((u for u in self._directory.users if u.id == user_id), None)
        self.membership_box.setEnabled(user is not None)
        self.membership_box.setTitle(
            f"Memberships of {user.username}" if user else "Memberships (select a user)"
        )
        self.teams_model.show(
            [(t.id, f"{t.title} ({t.id})") for t in self._directory.teams],
            set(user.team_ids) if user else set(),
        )
        self.groups_model.show(
            [(g.id, g.title) for g in self._directory.groups],
            set(user.group_ids) if user else set(),
        )

    def _toggle(self, kind: str, container: Any, member: bool) -> None:
        user_id = self.selected_user()
        if user_id is not None:
            errors = FieldErrors(self.membership_error)
            set_membership(self._commit, errors, kind, container, user_id, member)

    def _add(self) -> None:
        username = self.username_edit.text()
        display_name = self.display_name_edit.text().strip()
        email = self.email_edit.text().strip() or None

        def change(session: Session) -> None:
            access.create_user(session, username, display_name=display_name, email=email)

        def added() -> None:
            for edit in (self.username_edit, self.display_name_edit, self.email_edit):
                edit.clear()
            name = username.strip()
            select_key(
                self.table, next((u.id for u in self._directory.users if u.username == name), None)
            )

        self._commit(self._errors, change, then=added)
