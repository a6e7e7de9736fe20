"""The Rulesets tab: the rulesets of the dataset selected in the catalogue (seed 004), one
check box per permission, and a form to grant a user or a group a new one.

The rulesets are read off the GUI thread (views.operations.LatestRead) when another dataset is
selected and after every change; until they arrive the tab shows none and takes no edit, so a
tick never lands on the dataset it was not shown for."""

from __future__ import annotations

import html
from collections.abc import Callable

from sqlalchemy.orm import Session

from app.services import access, datasets
from app.services.errors import NotFound, ValidationFailed
from app.services.permissions import ALL_PERMISSIONS, Permission
from app.views.operations import LatestRead, Operations
from app.views.permissions.common import (
    Commit,
    Confirm,
    Directory,
    FieldErrors,
    error_label,
    select_key,
    selected_key,
    table_view,
)
from app.views.permissions.models import (
    PERMISSION_HELP,
    PERMISSION_LABELS,
    RulesetsModel,
    ruleset_key,
)
from app.views.qt import QtCore, QtWidgets, Signal

Qt = QtCore.Qt
NO_DATASET = "Select a dataset in the catalogue to see and edit its rulesets."

# What a read found: the dataset asked for, its title (None: no such dataset), its rulesets.
Found = tuple[str | None, str | None, list[access.RulesetInfo]]


def _set_ruleset(
    session: Session, dataset_id: str, kind: str, target_id: int, names: list[str]
) -> None:
    """A user's or a group's ruleset on the dataset; no permission left removes it."""
    if kind == "user":
        access.set_user_ruleset(session, dataset_id, target_id, names)
    else:
        access.set_group_ruleset(session, dataset_id, target_id, names)


class RulesetsTab(QtWidgets.QWidget):
    loaded = Signal()  # the rulesets shown were (re)read

    def __init__(
        self,
        operations: Operations,
        commit: Commit,
        confirm: Confirm,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._reads: LatestRead[Found] = LatestRead(
            operations, "read the rulesets", self._show_found, self.loaded.emit
        )
        self._commit = commit
        self._confirm = confirm
        self._directory = Directory([], [], [], [])
        self._dataset_id: str | None = None
        self._rulesets: list[access.RulesetInfo] = []
        self._editable = False  # the rulesets shown are the current dataset's, as stored

        layout = QtWidgets.QVBoxLayout(self)
        self.dataset_label = QtWidgets.QLabel(NO_DATASET)
        self.dataset_label.setWordWrap(True)
        layout.addWidget(self.dataset_label)

        self.model = RulesetsModel(self)
        self.table = table_view(self.model)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.model.toggled.connect(self._toggled)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table, 1)
        self.table_error = error_label()
        layout.addWidget(self.table_error)

        row = QtWidgets.QHBoxLayout()
        row.addStretch(1)
        self.remove_button = QtWidgets.QPushButton("Remove ruleset")
        self.remove_button.clicked.connect(self._remove)
        row.addWidget(self.remove_button)
        layout.addLayout(row)

        self.add_box = QtWidgets.QGroupBox("Add a ruleset")
        form = QtWidgets.QFormLayout(self.add_box)
        target_row = QtWidgets.QHBoxLayout()
        self.kind_combo = QtWidgets.QComboBox()
        self.kind_combo.addItem("User", "user")
        self.kind_combo.addItem("Group", "group")
        self.target_combo = QtWidgets.QComboBox()
        self.target_combo.setMinimumContentsLength(16)
        target_row.addWidget(self.kind_combo)
        target_row.addWidget(self.target_combo, 1)
        for_label = QtWidgets.QLabel("&For:")
        for_label.setBuddy(self.kind_combo)
        form.addRow(for_label, target_row)
        self.target_error = error_label()
        form.addRow("", self.target_error)
        checks_row = QtWidgets.QHBoxLayout()
        self.checks: dict[Permission, QtWidgets.QCheckBox] = {}
        for permission in ALL_PERMISSIONS:
            check = QtWidgets.QCheckBox(PERMISSION_LABELS[permission])
            check.setToolTip(PERMISSION_HELP[permission])
            self.checks[permission] = check
            checks_row.addWidget(check)
        checks_row.addStretch(1)
        self.permissions_error = error_label()
        form.addRow("Permissions:", checks_row)
        form.addRow("", self.permissions_error)
        self.error = error_label()
        form.addRow(self.error)
        self.add_button = QtWidgets.QPushButton("Add ruleset")
        form.addRow("", self.add_button)
        layout.addWidget(self.add_box)
        self._errors = FieldErrors(
            self.error, {"target": self.target_error, "permissions": self.permissions_error}
        )
        self._table_errors = FieldErrors(self.table_error)
        self.kind_combo.currentIndexChanged.connect(self._fill_targets)
        self.add_button.clicked.connect(self._add)

    # -- what is shown ---------------------------------------------------------------------------

    @property
    def dataset_id(self) -> str | None:
        return self._dataset_id

    @property
    def reading(self) -> bool:
        return self._reads.pending

    def set_dataset(self, dataset_id: str | None) -> None:
        changed, self._dataset_id = dataset_id != self._dataset_id, dataset_id
        if changed and dataset_id is not None:
            # Nothing of the last dataset's stays editable while this one's are read.
            self._show_found(None)
        self._errors.clear()
        self._table_errors.clear()
        self.refresh()

    def show_directory(self, directory: Directory) -> None:
        self._directory = directory
        self._fill_targets()

    def _fill_targets(self) -> None:
        combo = self.target_combo
        previous = combo.currentData()
        combo.clear()
        if self.kind_combo.currentData() == "user":
            for user in self._directory.users:
                combo.addItem(user.username, user.id)
        else:
            for group in self._directory.groups:
                combo.addItem(group.title, group.id)
        index = combo.findData(previous)
        if index >= 0:
            combo.setCurrentIndex(index)

    def refresh(self, then: Callable[[], None] | None = None) -> None:
        """Re-read the dataset's rulesets off the GUI thread; `then` once they are shown."""
        dataset_id = self._dataset_id
        if dataset_id is None:
            self._reads.wait(then)
            self._reads.show_now((None, None, []))
            return

        def read(session: Session) -> Found:
            try:
                title = datasets.get_dataset(session, dataset_id).title
            except NotFound:
                return dataset_id, None, []
            return dataset_id, title, access.list_rulesets(session, dataset_id)

        self._reads.run(read, then)

    def wait(self, then: Callable[[], None]) -> None:
        """Run `then` once the next read is shown (views.operations.LatestRead.wait)."""
        self._reads.wait(then)

    def _show_found(self, found: Found | None) -> None:
        """Show what a read found; None: the rulesets of the dataset chosen are on their way."""
        dataset_id, title, self._rulesets = found or (self._dataset_id, None, [])
        editable = found is not None and dataset_id is not None and title is not None
        if found is None:
            self.dataset_label.setTextFormat(Qt.TextFormat.PlainText)
            self.dataset_label.setText(f"Reading the rulesets of dataset {dataset_id}…")
        elif dataset_id is None:
            self.dataset_label.setTextFormat(Qt.TextFormat.PlainText)
            self.dataset_label.setText(NO_DATASET)
        elif title is None:
            self.dataset_label.setTextFormat(Qt.TextFormat.PlainText)
            self.dataset_label.setText(f"Dataset {dataset_id} does not exist (any more).")
        else:
            self.dataset_label.setTextFormat(Qt.TextFormat.RichText)
            self.dataset_label.setText(
                f"Rulesets of dataset <b>{dataset_id}</b> — {html.escape(title)}"
            )
        self._editable = editable
        self.table.setEnabled(editable)
        self.add_box.setEnabled(editable)
        selected = selected_key(self.table)
        self.model.show(self._rulesets)
        select_key(self.table, selected, scroll=False)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(
            1, QtWidgets.QHeaderView.ResizeMode.Stretch
        )
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self._editable and selected_key(self.table) is not None)

    # -- changes ---------------------------------------------------------------------------------

    def _add(self) -> None:
        dataset_id = self._dataset_id
        if dataset_id is None or not self._editable:
            return
        kind = str(self.kind_combo.currentData())
        target = self.target_combo.currentData()
        names = [p.api_name for p, check in self.checks.items() if check.isChecked()]
        problems: dict[str, str] = {}
        if target is None:
            problems["target"] = f"choose a {kind}"
        elif any(r.kind == kind and r.target_id == target for r in self._rulesets):
            problems["target"] = f"this {kind} has a ruleset already: edit it in the table"
        if not names:
            problems["permissions"] = "tick at least one permission"
        if problems:
            self._errors.show(ValidationFailed(problems))
            return
        target_id = int(target)

        def change(session: Session) -> None:
            _set_ruleset(session, dataset_id, kind, target_id, names)

        def added() -> None:
            for check in self.checks.values():
                check.setChecked(False)
            select_key(self.table, ruleset_key(kind, target_id))

        self._commit(self._errors, change, then=added)

    def _toggled(self, kind: str, target_id: int, names: list[str]) -> None:
        dataset_id = self._dataset_id
        if dataset_id is None or not self._editable:
            return

        def change(session: Session) -> None:
            _set_ruleset(session, dataset_id, kind, target_id, names)

        # The ruleset may be gone (no permission left) or refused: what is stored is shown
        # when the view re-reads after the write (a refusal leaves the box as it was).
        self._commit(self._table_errors, change)

    def _remove(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        dataset_id = self._dataset_id
        if not rows or dataset_id is None or not self._editable:
            return
        ruleset = self.model.ruleset(rows[0].row())
        kind, target_id = ruleset.kind, ruleset.target_id
        if not self._confirm(
            "Remove ruleset",
            f"Remove the ruleset of {kind} {ruleset.target_name} on dataset {dataset_id}?",
        ):
            return

        def change(session: Session) -> None:
            _set_ruleset(session, dataset_id, kind, target_id, [])

        self._commit(self._table_errors, change)
