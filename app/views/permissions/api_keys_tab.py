"""The API keys tab: issued keys (never the keys themselves), New key… and Revoke."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app.services import api_keys
from app.views.api_key_dialog import ApiKeyDialog
from app.views.operations import Operations
from app.views.permissions.common import (
    Commit,
    Confirm,
    Directory,
    FieldErrors,
    error_label,
    fit_columns,
    select_key,
    selected_key,
    table_view,
)
from app.views.permissions.models import ApiKeysModel
from app.views.qt import QtCore, QtWidgets, Signal

Qt = QtCore.Qt


class ApiKeysTab(QtWidgets.QWidget):
    created = Signal(str)  # uid of a key just issued (the view selects it once re-read)

    def __init__(
        self,
        operations: Operations,
        commit: Commit,
        confirm: Confirm,
        selected_user: Callable[[], int | None],
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._operations = operations
        self._commit = commit
        self._confirm = confirm
        self._selected_user = selected_user
        self._directory = Directory([], [], [], [])
        self.dialog: ApiKeyDialog | None = None

        layout = QtWidgets.QVBoxLayout(self)
        self.model = ApiKeysModel(self)
        self.table = table_view(self.model)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table, 1)
        self.error = error_label()
        layout.addWidget(self.error)
        row = QtWidgets.QHBoxLayout()
        note = QtWidgets.QLabel("A key acts as its user; only a hash of each key is stored.")
        note.setEnabled(False)
        row.addWidget(note, 1)
        self.new_button = QtWidgets.QPushButton("New key…")
        self.revoke_button = QtWidgets.QPushButton("Revoke")
        row.addWidget(self.new_button)
        row.addWidget(self.revoke_button)
        layout.addLayout(row)
        self._errors = FieldErrors(self.error)
        self.new_button.clicked.connect(self._new_key)
        self.revoke_button.clicked.connect(self._revoke)

    def show_directory(self, directory: Directory) -> None:
        self._directory = directory
        selected = selected_key(self.table)
        self.model.show(directory.keys)
        select_key(self.table, selected, scroll=False)
        fit_columns(self.table)
        self._update_buttons()

    def select(self, uid: str) -> None:
        select_key(self.table, uid)

    def _update_buttons(self) -> None:
        uid = selected_key(self.table)
        info = next((k for k in self._directory.keys if k.uid == uid), None)
        self.revoke_button.setEnabled(info is not None and info.revoked_at is None)
        users = self._directory.users
        self.new_button.setEnabled(any(u.is_active for u in users))
        self.new_button.setToolTip("" if users else "Add a user first")

    def _new_key(self) -> None:
        self._errors.clear()
        dialog = ApiKeyDialog(
            self._operations, self._directory.users, self, user_id=self._selected_user()
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.created.connect(self.created)
        dialog.destroyed.connect(self._forget_dialog)
        self.dialog = dialog
        dialog.open()

    def _forget_dialog(self) -> None:
        self.dialog = None

    def _revoke(self) -> None:
        uid = selected_key(self.table)
        if uid is None:
            return
        info = next(k for k in self._directory.keys if k.uid == uid)
        if not self._confirm(
            "Revoke API key",
            f"Revoke key {uid} ({info.label or 'no label'}) of {info.username}? "
            "Anything using it stops working at once; this cannot be undone.",
        ):
            return

        def change(session: Session) -> None:
            api_keys.revoke_api_key(session, uid)

        self._commit(self._errors, change)
