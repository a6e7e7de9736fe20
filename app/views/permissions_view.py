"""Who may do what: users, groups, teams, the current dataset's rulesets (seed 004), API keys.

Every change is one `database.transaction()` through app.services.access / api_keys; a refused
change (ValidationFailed, NotFound, ...) is shown next to the field it concerns, and `changed`
is emitted only after a commit. The lists here are a handful of rows read in one short query,
so they are read on the GUI thread.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.models.database import Database
from app.services import access, api_keys, datasets
from app.services.errors import CatalogueError, NotFound, ValidationFailed
from app.services.permissions import ALL_PERMISSIONS, Permission
from app.views.api_key_dialog import ApiKeyDialog
from app.views.qt import QtCore, QtGui, QtWidgets, Signal

Qt = QtCore.Qt
KEY_ROLE = Qt.ItemDataRole.UserRole

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
RULESET_FIXED_COLUMNS = ("Kind", "Name")
NO_DATASET = "Select a dataset in the catalogue to see and edit its rulesets."

Confirm = Callable[[str, str], bool]


def _error_label() -> QtWidgets.QLabel:
    label = QtWidgets.QLabel()
    label.setStyleSheet("color: #b00020")
    label.setWordWrap(True)
    label.hide()
    return label


def _add_field(
    form: QtWidgets.QFormLayout, text: str, editor: QtWidgets.QWidget
) -> QtWidgets.QLabel:
    """A form row whose error message sits right under its editor."""
    error = _error_label()
    box = QtWidgets.QVBoxLayout()
    box.setSpacing(2)
    box.addWidget(editor)
    box.addWidget(error)
    label = QtWidgets.QLabel(text)
    label.setBuddy(editor)  # the & shortcut focuses the editor
    form.addRow(label, box)
    return error


class _Errors:
    """Routes a service error to the label of the field it names, the rest to a general one."""

    def __init__(self, general: QtWidgets.QLabel, fields: dict[str, QtWidgets.QLabel]) -> None:
        self.general = general
        self.fields = fields

    def clear(self) -> None:
        for label in (self.general, *self.fields.values()):
            label.clear()
            label.hide()

    def show(self, error: CatalogueError) -> None:
        self.clear()
        if isinstance(error, ValidationFailed):
            general: list[str] = []
            for key, message in error.errors.items():
                label = self.fields.get(key)
                if label is None:
                    general.append(f"{key}: {message}")
                else:
                    label.setText(message)
                    label.show()
            if general:
                self._general("\n".join(general))
        else:
            self._general(error.message)

    def _general(self, text: str) -> None:
        self.general.setText(text)
        self.general.show()


def _table(headers: Sequence[str]) -> QtWidgets.QTableWidget:
    table = QtWidgets.QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    table.setAlternatingRowColors(True)
    return table


def _item(text: str, key: object = None) -> QtWidgets.QTableWidgetItem:
    item = QtWidgets.QTableWidgetItem(text)
    if key is not None:
        item.setData(KEY_ROLE, key)
    return item


def _fill_table(
    table: QtWidgets.QTableWidget, rows: Sequence[tuple[Hashable, Sequence[str]]]
) -> None:
    """Replace a table's rows (key, cells); the selected key stays selected if still there."""
    selected = _selected_key(table)
    table.blockSignals(True)
    try:
        table.clearSelection()
        table.setRowCount(len(rows))
        for row, (key, cells) in enumerate(rows):
            for column, text in enumerate(cells):
                table.setItem(row, column, _item(text, key if column == 0 else None))
        for row, (key, _cells) in enumerate(rows):
            if key == selected:
                table.selectRow(row)
    finally:
        table.blockSignals(False)
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)


def _selected_key(table: QtWidgets.QTableWidget) -> Any:
    rows = table.selectionModel().selectedRows()
    if not rows:
        return None
    item = table.item(rows[0].row(), 0)
    return None if item is None else item.data(KEY_ROLE)


def _sync_checklist(
    widget: QtWidgets.QListWidget,
    entries: Sequence[tuple[Hashable, str]],
    checked: set[Any],
) -> None:
    """Show `entries` as check boxes. When the keys are unchanged the items are updated in
    place, so a list can be refreshed from inside its own itemChanged handler."""
    widget.blockSignals(True)
    try:
        keys = [widget.item(i).data(KEY_ROLE) for i in range(widget.count())]
        if keys != [key for key, _text in entries]:
            widget.clear()
            for key, text in entries:
                item = QtWidgets.QListWidgetItem(text)
                item.setData(KEY_ROLE, key)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)  # no state, no check box
                widget.addItem(item)
        for row, (key, text) in enumerate(entries):
            item = widget.item(row)
            if item.text() != text:
                item.setText(text)
            state = Qt.CheckState.Checked if key in checked else Qt.CheckState.Unchecked
            if item.checkState() != state:
                item.setCheckState(state)
    finally:
        widget.blockSignals(False)


def _is_checked(item: QtWidgets.QListWidgetItem | QtWidgets.QTableWidgetItem) -> bool:
    return item.checkState() == Qt.CheckState.Checked


class PermissionsView(QtWidgets.QWidget):
    """Tabs: Users, Groups, Teams, Rulesets (of the dataset given to `set_dataset`), API keys."""

    changed = Signal()  # after any committed change

    def __init__(self, database: Database, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._database = database
        self._dataset_id: str | None = None
        self._users: list[access.UserSummary] = []
        self._groups: list[access.GroupSummary] = []
        self._teams: list[access.TeamSummary] = []
        self._keys: list[api_keys.ApiKeyInfo] = []
        self._rulesets: list[access.RulesetInfo] = []
        # Asked before anything irreversible; replace it to answer without a message box.
        self.confirm: Confirm = self._ask
        self.key_dialog: ApiKeyDialog | None = None

        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self._build_users_tab(), "&Users")
        self.tabs.addTab(self._build_groups_tab(), "&Groups")
        self.tabs.addTab(self._build_teams_tab(), "&Teams")
        self.tabs.addTab(self._build_rulesets_tab(), "&Rulesets")
        self.tabs.addTab(self._build_keys_tab(), "API &keys")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.refresh()

    # ----------------------------------------------------------------------------- building

    def _build_users_tab(self) -> QtWidgets.QWidget:
        self.users_table = _table(("User name", "Display name", "Email", "Teams", "Groups"))
        self.users_table.itemSelectionChanged.connect(self._show_user_memberships)

        add_box = QtWidgets.QGroupBox("Add user")
        form = QtWidgets.QFormLayout(add_box)
        self.username_edit = QtWidgets.QLineEdit()
        self.display_name_edit = QtWidgets.QLineEdit()
        self.email_edit = QtWidgets.QLineEdit()
        self.email_edit.setPlaceholderText("optional")
        self.username_error = _add_field(form, "User &name:", self.username_edit)
        _add_field(form, "&Display name:", self.display_name_edit)
        self.email_error = _add_field(form, "&Email:", self.email_edit)
        self.user_error = _error_label()
        form.addRow(self.user_error)
        self.add_user_button = QtWidgets.QPushButton("Add user")
        form.addRow("", self.add_user_button)
        self._user_errors = _Errors(
            self.user_error, {"username": self.username_error, "email": self.email_error}
        )
        self.add_user_button.clicked.connect(self._add_user)
        for edit in (self.username_edit, self.display_name_edit, self.email_edit):
            edit.returnPressed.connect(self._add_user)

        member_box = QtWidgets.QGroupBox("Memberships")
        self.user_membership_box = member_box
        member_layout = QtWidgets.QVBoxLayout(member_box)
        member_layout.addWidget(QtWidgets.QLabel("Teams:"))
        self.user_teams_list = QtWidgets.QListWidget()
        member_layout.addWidget(self.user_teams_list)
        member_layout.addWidget(QtWidgets.QLabel("Groups:"))
        self.user_groups_list = QtWidgets.QListWidget()
        member_layout.addWidget(self.user_groups_list)
        self.membership_error = _error_label()
        member_layout.addWidget(self.membership_error)
        self.user_teams_list.itemChanged.connect(self._toggle_user_team)
        self.user_groups_list.itemChanged.connect(self._toggle_user_group)

        return self._tab_layout(self.users_table, add_box, member_box)

    def _build_groups_tab(self) -> QtWidgets.QWidget:
        self.groups_table = _table(("Title", "Description", "Members"))
        self.groups_table.itemSelectionChanged.connect(self._show_group_members)

        add_box = QtWidgets.QGroupBox("Add group")
        form = QtWidgets.QFormLayout(add_box)
        self.group_title_edit = QtWidgets.QLineEdit()
        self.group_description_edit = QtWidgets.QLineEdit()
        self.group_title_error = _add_field(form, "&Title:", self.group_title_edit)
        _add_field(form, "&Description:", self.group_description_edit)
        self.group_error = _error_label()
        form.addRow(self.group_error)
        self.add_group_button = QtWidgets.QPushButton("Add group")
        form.addRow("", self.add_group_button)
        self._group_errors = _Errors(self.group_error, {"title": self.group_title_error})
        self.add_group_button.clicked.connect(self._add_group)
        for edit in (self.group_title_edit, self.group_description_edit):
            edit.returnPressed.connect(self._add_group)

        member_box = QtWidgets.QGroupBox("Members")
        self.group_members_box = member_box
        member_layout = QtWidgets.QVBoxLayout(member_box)
        self.group_members_list = QtWidgets.QListWidget()
        member_layout.addWidget(self.group_members_list)
        self.group_members_error = _error_label()
        member_layout.addWidget(self.group_members_error)
        self.group_members_list.itemChanged.connect(self._toggle_group_member)

        return self._tab_layout(self.groups_table, add_box, member_box)

    def _build_teams_tab(self) -> QtWidgets.QWidget:
        self.teams_table = _table(("Id", "Title", "Members"))
        self.teams_table.itemSelectionChanged.connect(self._show_team_members)

        add_box = QtWidgets.QGroupBox("Add team")
        form = QtWidgets.QFormLayout(add_box)
        self.team_id_edit = QtWidgets.QLineEdit()
        self.team_id_edit.setMaxLength(5)
        self.team_id_edit.setPlaceholderText("5 lower-case letters or digits")
        self.team_title_edit = QtWidgets.QLineEdit()
        self.team_id_error = _add_field(form, "&Id:", self.team_id_edit)
        self.team_title_error = _add_field(form, "&Title:", self.team_title_edit)
        self.team_error = _error_label()
        form.addRow(self.team_error)
        self.add_team_button = QtWidgets.QPushButton("Add team")
        form.addRow("", self.add_team_button)
        self._team_errors = _Errors(
            self.team_error, {"id": self.team_id_error, "title": self.team_title_error}
        )
        self.add_team_button.clicked.connect(self._add_team)
        for edit in (self.team_id_edit, self.team_title_edit):
            edit.returnPressed.connect(self._add_team)

        member_box = QtWidgets.QGroupBox("Members")
        self.team_members_box = member_box
        member_layout = QtWidgets.QVBoxLayout(member_box)
        self.team_members_list = QtWidgets.QListWidget()
        member_layout.addWidget(self.team_members_list)
        self.team_members_error = _error_label()
        member_layout.addWidget(self.team_members_error)
        self.team_members_list.itemChanged.connect(self._toggle_team_member)

        return self._tab_layout(self.teams_table, add_box, member_box)

    def _tab_layout(
        self,
        table: QtWidgets.QTableWidget,
        add_box: QtWidgets.QGroupBox,
        member_box: QtWidgets.QGroupBox,
    ) -> QtWidgets.QWidget:
        left = QtWidgets.QWidget()
        left_layout = QtWidgets.QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(table, 1)
        left_layout.addWidget(add_box)
        # A splitter, so the view still works when docked narrow beside the catalogue.
        splitter = QtWidgets.QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(left)
        splitter.addWidget(member_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        page = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(page)
        layout.addWidget(splitter)
        member_box.setEnabled(False)
        return page

    def _build_rulesets_tab(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(page)
        self.dataset_label = QtWidgets.QLabel(NO_DATASET)
        self.dataset_label.setWordWrap(True)
        layout.addWidget(self.dataset_label)

        headers = [*RULESET_FIXED_COLUMNS, *(PERMISSION_LABELS[p] for p in ALL_PERMISSIONS)]
        self.rulesets_table = _table(headers)
        for offset, permission in enumerate(ALL_PERMISSIONS):
            header = self.rulesets_table.horizontalHeaderItem(len(RULESET_FIXED_COLUMNS) + offset)
            if header is not None:
                header.setToolTip(PERMISSION_HELP[permission])
        self.rulesets_table.horizontalHeader().setStretchLastSection(False)
        self.rulesets_table.itemChanged.connect(self._ruleset_item_changed)
        self.rulesets_table.itemSelectionChanged.connect(self._update_ruleset_buttons)
        layout.addWidget(self.rulesets_table, 1)
        self.ruleset_table_error = _error_label()
        layout.addWidget(self.ruleset_table_error)

        row = QtWidgets.QHBoxLayout()
        row.addStretch(1)
        self.remove_ruleset_button = QtWidgets.QPushButton("Remove ruleset")
        self.remove_ruleset_button.clicked.connect(self._remove_ruleset)
        row.addWidget(self.remove_ruleset_button)
        layout.addLayout(row)

        self.add_ruleset_box = QtWidgets.QGroupBox("Add a ruleset")
        form = QtWidgets.QFormLayout(self.add_ruleset_box)
        target_row = QtWidgets.QHBoxLayout()
        self.ruleset_kind_combo = QtWidgets.QComboBox()
        self.ruleset_kind_combo.addItem("User", "user")
        self.ruleset_kind_combo.addItem("Group", "group")
        self.ruleset_target_combo = QtWidgets.QComboBox()
        self.ruleset_target_combo.setMinimumContentsLength(16)
        target_row.addWidget(self.ruleset_kind_combo)
        target_row.addWidget(self.ruleset_target_combo, 1)
        for_label = QtWidgets.QLabel("&For:")
        for_label.setBuddy(self.ruleset_kind_combo)
        form.addRow(for_label, target_row)
        self.ruleset_target_error = _error_label()
        form.addRow("", self.ruleset_target_error)
        checks_row = QtWidgets.QHBoxLayout()
        self.ruleset_checks: dict[Permission, QtWidgets.QCheckBox] = {}
        for permission in ALL_PERMISSIONS:
            check = QtWidgets.QCheckBox(PERMISSION_LABELS[permission])
            check.setToolTip(PERMISSION_HELP[permission])
            self.ruleset_checks[permission] = check
            checks_row.addWidget(check)
        checks_row.addStretch(1)
        self.ruleset_permissions_error = _error_label()
        form.addRow("Permissions:", checks_row)
        form.addRow("", self.ruleset_permissions_error)
        self.ruleset_error = _error_label()
        form.addRow(self.ruleset_error)
        self.add_ruleset_button = QtWidgets.QPushButton("Add ruleset")
        form.addRow("", self.add_ruleset_button)
        layout.addWidget(self.add_ruleset_box)
        self._ruleset_errors = _Errors(
            self.ruleset_error,
            {"target": self.ruleset_target_error, "permissions": self.ruleset_permissions_error},
        )
        self._ruleset_table_errors = _Errors(self.ruleset_table_error, {})
        self.ruleset_kind_combo.currentIndexChanged.connect(self._fill_ruleset_targets)
        self.add_ruleset_button.clicked.connect(self._add_ruleset)
        return page

    def _build_keys_tab(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(page)
        self.keys_table = _table(("UID", "Label", "User", "Prefix", "Created", "Revoked"))
        self.keys_table.itemSelectionChanged.connect(self._update_key_buttons)
        layout.addWidget(self.keys_table, 1)
        self.key_error = _error_label()
        layout.addWidget(self.key_error)
        row = QtWidgets.QHBoxLayout()
        note = QtWidgets.QLabel("A key acts as its user; only a hash of each key is stored.")
        note.setEnabled(False)
        row.addWidget(note, 1)
        self.new_key_button = QtWidgets.QPushButton("New key…")
        self.revoke_key_button = QtWidgets.QPushButton("Revoke")
        row.addWidget(self.new_key_button)
        row.addWidget(self.revoke_key_button)
        layout.addLayout(row)
        self._key_errors = _Errors(self.key_error, {})
        self.new_key_button.clicked.connect(self._new_key)
        self.revoke_key_button.clicked.connect(self._revoke_key)
        return page

    # ----------------------------------------------------------------------------- public API

    @property
    def dataset_id(self) -> str | None:
        return self._dataset_id

    def set_dataset(self, dataset_id: str | None) -> None:
        """Show (and edit) the rulesets of this dataset; None when no dataset is selected."""
        self._dataset_id = dataset_id
        self._ruleset_errors.clear()
        self._ruleset_table_errors.clear()
        self._refresh_rulesets()

    def refresh(self) -> None:
        """Re-read everything shown (after a change made elsewhere)."""
        with self._database.read() as session:
            self._users = access.user_summaries(session)
            self._groups = access.group_summaries(session)
            self._teams = access.team_summaries(session)
            self._keys = api_keys.api_key_summaries(session)
        team_titles = {t.id: t.title for t in self._teams}
        group_titles = {g.id: g.title for g in self._groups}
        _fill_table(
            self.users_table,
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
                for u in self._users
            ],
        )
        _fill_table(
            self.groups_table,
            [(g.id, (g.title, g.description, str(len(g.member_ids)))) for g in self._groups],
        )
        _fill_table(
            self.teams_table,
            [(t.id, (t.id, t.title, str(len(t.member_ids)))) for t in self._teams],
        )
        _fill_table(
            self.keys_table,
            [
                (
                    k.uid,
                    (
                        k.uid,
                        k.label,
                        k.username,
                        k.prefix + "…",
                        k.created_at,
                        k.revoked_at or "",
                    ),
                )
                for k in self._keys
            ],
        )
        self._grey_revoked_keys()
        self._show_user_memberships()
        self._show_group_members()
        self._show_team_members()
        self._update_key_buttons()
        self._fill_ruleset_targets()
        self._refresh_rulesets()

    # ----------------------------------------------------------------------------- writing

    def _commit(self, errors: _Errors, change: Callable[[Session], object]) -> bool:
        """Run one change in its own transaction; show a refusal, refresh and signal a commit."""
        try:
            with self._database.transaction() as session:
                change(session)
        except CatalogueError as error:
            errors.show(error)
            return False
        errors.clear()
        self.refresh()
        self.changed.emit()
        return True

    def _add_user(self) -> None:
        username = self.username_edit.text()
        display_name = self.display_name_edit.text().strip()
        email = self.email_edit.text().strip() or None

        def change(session: Session) -> None:
            access.create_user(session, username, display_name=display_name, email=email)

        if self._commit(self._user_errors, change):
            for edit in (self.username_edit, self.display_name_edit, self.email_edit):
                edit.clear()
            self._select_key(self.users_table, self._user_id_named(username.strip()))

    def _add_group(self) -> None:
        title = self.group_title_edit.text()
        description = self.group_description_edit.text().strip()
        created: list[int] = []

        def change(session: Session) -> None:
            created.append(access.create_group(session, title, description=description).id)

        if self._commit(self._group_errors, change):
            self.group_title_edit.clear()
            self.group_description_edit.clear()
            self._select_key(self.groups_table, created[0])

    def _add_team(self) -> None:
        team_id = self.team_id_edit.text().strip()
        title = self.team_title_edit.text()

        def change(session: Session) -> None:
            access.create_team(session, team_id, title)

        if self._commit(self._team_errors, change):
            self.team_id_edit.clear()
            self.team_title_edit.clear()
            self._select_key(self.teams_table, team_id)

    def _set_membership(
        self,
        errors: _Errors,
        kind: str,
        container: int | str,
        user_id: int,
        member: bool,
    ) -> None:
        def change(session: Session) -> None:
            if kind == "team":
                assert isinstance(container, str)
                (access.add_to_team if member else access.remove_from_team)(
                    session, container, user_id
                )
            else:
                assert isinstance(container, int)
                (access.add_to_group if member else access.remove_from_group)(
                    session, container, user_id
                )

        if not self._commit(errors, change):
            self.refresh()  # put the check box back as it is stored

    def _toggle_user_team(self, item: QtWidgets.QListWidgetItem) -> None:
        user_id = _selected_key(self.users_table)
        if user_id is not None:
            self._set_membership(
                self._membership_errors(), "team", item.data(KEY_ROLE), user_id, _is_checked(item)
            )

    def _toggle_user_group(self, item: QtWidgets.QListWidgetItem) -> None:
        user_id = _selected_key(self.users_table)
        if user_id is not None:
            self._set_membership(
                self._membership_errors(), "group", item.data(KEY_ROLE), user_id, _is_checked(item)
            )

    def _toggle_group_member(self, item: QtWidgets.QListWidgetItem) -> None:
        group_id = _selected_key(self.groups_table)
        if group_id is not None:
            errors = _Errors(self.group_members_error, {})
            self._set_membership(errors, "group", group_id, item.data(KEY_ROLE), _is_checked(item))

    def _toggle_team_member(self, item: QtWidgets.QListWidgetItem) -> None:
        team_id = _selected_key(self.teams_table)
        if team_id is not None:
            errors = _Errors(self.team_members_error, {})
            self._set_membership(errors, "team", team_id, item.data(KEY_ROLE), _is_checked(item))

    def _membership_errors(self) -> _Errors:
        return _Errors(self.membership_error, {})

    def _add_ruleset(self) -> None:
        dataset_id = self._dataset_id
        if dataset_id is None:
            return
        kind = str(self.ruleset_kind_combo.currentData())
        target = self.ruleset_target_combo.currentData()
        names = [p.api_name for p, check in self.ruleset_checks.items() if check.isChecked()]
        problems: dict[str, str] = {}
        if target is None:
            problems["target"] = f"choose a {kind}"
        elif any(r.kind == kind and r.target_id == target for r in self._rulesets):
            problems["target"] = f"this {kind} has a ruleset already: edit it in the table"
        if not names:
            problems["permissions"] = "tick at least one permission"
        if problems:
            self._ruleset_errors.show(ValidationFailed(problems))
            return

        def change(session: Session) -> None:
            if kind == "user":
                access.set_user_ruleset(session, dataset_id, int(target), names)
            else:
                access.set_group_ruleset(session, dataset_id, int(target), names)

        if self._commit(self._ruleset_errors, change):
            for check in self.ruleset_checks.values():
                check.setChecked(False)
            self._select_key(self.rulesets_table, _ruleset_key(kind, int(target)))

    def _ruleset_item_changed(self, item: QtWidgets.QTableWidgetItem) -> None:
        if item.column() < len(RULESET_FIXED_COLUMNS) or self._dataset_id is None:
            return
        row = item.row()
        key = self.rulesets_table.item(row, 0)
        if key is None:
            return
        kind, target_id = _parse_ruleset_key(key.data(KEY_ROLE))
        names = [
            permission.api_name
            for offset, permission in enumerate(ALL_PERMISSIONS)
            if (cell := self.rulesets_table.item(row, len(RULESET_FIXED_COLUMNS) + offset))
            is not None
            and _is_checked(cell)
        ]
        dataset_id = self._dataset_id

        def change(session: Session) -> None:
            if kind == "user":
                access.set_user_ruleset(session, dataset_id, target_id, names)
            else:
                access.set_group_ruleset(session, dataset_id, target_id, names)

        try:
            with self._database.transaction() as session:
                change(session)
        except CatalogueError as error:
            self._ruleset_table_errors.show(error)
        else:
            self._ruleset_table_errors.clear()
            self.changed.emit()
        # The ruleset may be gone (no permission left) or refused: rebuild the table once this
        # item's own change notification has finished, never from inside it.
        QtCore.QTimer.singleShot(0, self, self._refresh_rulesets)

    def _remove_ruleset(self) -> None:
        key = _selected_key(self.rulesets_table)
        dataset_id = self._dataset_id
        if key is None or dataset_id is None:
            return
        kind, target_id = _parse_ruleset_key(key)
        name = next(
            (r.target_name for r in self._rulesets if (r.kind, r.target_id) == (kind, target_id)),
            "",
        )
        if not self.confirm(
            "Remove ruleset", f"Remove the ruleset of {kind} {name} on dataset {dataset_id}?"
        ):
            return

        def change(session: Session) -> None:
            if kind == "user":
                access.set_user_ruleset(session, dataset_id, target_id, [])
            else:
                access.set_group_ruleset(session, dataset_id, target_id, [])

        self._commit(self._ruleset_table_errors, change)

    def _new_key(self) -> None:
        self._key_errors.clear()
        dialog = ApiKeyDialog(self._database, self, user_id=_selected_key(self.users_table))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.created.connect(self._key_created)
        dialog.destroyed.connect(self._forget_key_dialog)
        self.key_dialog = dialog
        dialog.open()

    def _forget_key_dialog(self) -> None:
        self.key_dialog = None

    def _key_created(self, uid: str) -> None:
        self.refresh()
        self._select_key(self.keys_table, uid)
        self.changed.emit()

    def _revoke_key(self) -> None:
        uid = _selected_key(self.keys_table)
        if uid is None:
            return
        info = next(k for k in self._keys if k.uid == uid)
        if not self.confirm(
            "Revoke API key",
            f"Revoke key {uid} ({info.label or 'no label'}) of {info.username}? "
            "Anything using it stops working at once; this cannot be undone.",
        ):
            return

        def change(session: Session) -> None:
            api_keys.revoke_api_key(session, uid)

        self._commit(self._key_errors, change)

    # ----------------------------------------------------------------------------- showing

    def _show_user_memberships(self) -> None:
        user_id = _selected_key(self.users_table)
        user = next((u for u in self._users if u.id == user_id), None)
        self.user_membership_box.setEnabled(user is not None)
        self.user_membership_box.setTitle(
            f"Memberships of {user.username}" if user else "Memberships (select a user)"
        )
        _sync_checklist(
            self.user_teams_list,
            [(t.id, f"{t.title} ({t.id})") for t in self._teams],
            set(user.team_ids) if user else set(),
        )
        _sync_checklist(
            self.user_groups_list,
            [(g.id, g.title) for g in self._groups],
            set(user.group_ids) if user else set(),
        )

    def _show_group_members(self) -> None:
        group_id = _selected_key(self.groups_table)
        group = next((g for g in self._groups if g.id == group_id), None)
        self.group_members_box.setEnabled(group is not None)
        self.group_members_box.setTitle(
            f"Members of {group.title}" if group else "Members (select a group)"
        )
        _sync_checklist(
            self.group_members_list,
            [(u.id, u.username) for u in self._users],
            set(group.member_ids) if group else set(),
        )

    def _show_team_members(self) -> None:
        team_id = _selected_key(self.teams_table)
        team = next((t for t in self._teams if t.id == team_id), None)
        self.team_members_box.setEnabled(team is not None)
        self.team_members_box.setTitle(
            f"Members of {team.title}" if team else "Members (select a team)"
        )
        _sync_checklist(
            self.team_members_list,
            [(u.id, u.username) for u in self._users],
            set(team.member_ids) if team else set(),
        )

    def _fill_ruleset_targets(self) -> None:
        combo = self.ruleset_target_combo
        previous = combo.currentData()
        combo.clear()
        if self.ruleset_kind_combo.currentData() == "user":
            for user in self._users:
                combo.addItem(user.username, user.id)
        else:
            for group in self._groups:
                combo.addItem(group.title, group.id)
        index = combo.findData(previous)
        if index >= 0:
            combo.setCurrentIndex(index)

    def _refresh_rulesets(self) -> None:
        dataset_id = self._dataset_id
        self._rulesets = []
        if dataset_id is None:
            self.dataset_label.setTextFormat(Qt.TextFormat.PlainText)
            self.dataset_label.setText(NO_DATASET)
        else:
            try:
                with self._database.read() as session:
                    title = datasets.get_dataset(session, dataset_id).title
                    self._rulesets = access.list_rulesets(session, dataset_id)
            except NotFound:
                self.dataset_label.setTextFormat(Qt.TextFormat.PlainText)
                self.dataset_label.setText(f"Dataset {dataset_id} does not exist (any more).")
                dataset_id = None
            else:
                self.dataset_label.setTextFormat(Qt.TextFormat.RichText)
                self.dataset_label.setText(
                    f"Rulesets of dataset <b>{dataset_id}</b> — {html.escape(title)}"
                )
        self.rulesets_table.setEnabled(dataset_id is not None)
        self.add_ruleset_box.setEnabled(dataset_id is not None)

        table = self.rulesets_table
        selected = _selected_key(table)
        table.blockSignals(True)
        try:
            table.clearSelection()
            table.setRowCount(len(self._rulesets))
            for row, ruleset in enumerate(self._rulesets):
                key = _ruleset_key(ruleset.kind, ruleset.target_id)
                table.setItem(row, 0, _item(ruleset.kind.capitalize(), key))
                table.setItem(row, 1, _item(ruleset.target_name))
                for offset, permission in enumerate(ALL_PERMISSIONS):
                    cell = QtWidgets.QTableWidgetItem()
                    cell.setFlags(
                        Qt.ItemFlag.ItemIsEnabled
                        | Qt.ItemFlag.ItemIsSelectable
                        | Qt.ItemFlag.ItemIsUserCheckable
                    )
                    cell.setCheckState(
                        Qt.CheckState.Checked
                        if permission.api_name in ruleset.permissions
                        else Qt.CheckState.Unchecked
                    )
                    cell.setToolTip(PERMISSION_HELP[permission])
                    table.setItem(row, len(RULESET_FIXED_COLUMNS) + offset, cell)
                if key == selected:
                    table.selectRow(row)
        finally:
            table.blockSignals(False)
        table.resizeColumnsToContents()
        table.horizontalHeader().setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self._update_ruleset_buttons()

    def _update_ruleset_buttons(self) -> None:
        self.remove_ruleset_button.setEnabled(
            self._dataset_id is not None and _selected_key(self.rulesets_table) is not None
        )

    def _update_key_buttons(self) -> None:
        uid = _selected_key(self.keys_table)
        info = next((k for k in self._keys if k.uid == uid), None)
        self.revoke_key_button.setEnabled(info is not None and info.revoked_at is None)
        self.new_key_button.setEnabled(any(u.is_active for u in self._users))
        self.new_key_button.setToolTip("" if self._users else "Add a user first")

    def _grey_revoked_keys(self) -> None:
        grey = self.palette().color(
            QtGui.QPalette.ColorGroup.Disabled, QtGui.QPalette.ColorRole.Text
        )
        for row, info in enumerate(self._keys):
            if info.revoked_at is None:
                continue
            for column in range(self.keys_table.columnCount()):
                item = self.keys_table.item(row, column)
                if item is not None:
                    item.setForeground(grey)

    def _select_key(self, table: QtWidgets.QTableWidget, key: object) -> None:
        for row in range(table.rowCount()):
            item = table.item(row, 0)
            if item is not None and item.data(KEY_ROLE) == key:
                table.selectRow(row)
                table.scrollToItem(item)
                return

    def _user_id_named(self, username: str) -> int | None:
        return next((u.id for u in self._users if u.username == username), None)

    def _ask(self, title: str, text: str) -> bool:
        answer = QtWidgets.QMessageBox.question(self, title, text)
        return answer == QtWidgets.QMessageBox.StandardButton.Yes


def _ruleset_key(kind: str, target_id: int) -> str:
    return f"{kind}:{target_id}"


def _parse_ruleset_key(key: str) -> tuple[str, int]:
    kind, _sep, target_id = key.partition(":")
    return kind, int(target_id)
