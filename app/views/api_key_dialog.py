"""The New API key dialog: pick a user and a label, then see the plain key once.

Only a hash of the key is stored (services.api_keys), so this dialog is the one moment the key
exists in readable form. It is held in a read-only field until the dialog closes, then cleared.

The key is issued by an operation (views.operations) off the GUI thread, which announces the
change (catalogueChanged, directory): the API keys tab shows the new key from that. A refusal
or an expected failure (a locked catalogue) is shown in the dialog; a bug goes to the one handler.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.services import access, api_keys
from app.services.api_keys import IssuedKey
from app.services.errors import ValidationFailed
from app.views.operations import Operations, Outcome, change_of
from app.views.qt import QtGui, QtWidgets, Signal

ONCE_NOTE = (
    "Copy this key now. You will not see it again: the catalogue keeps only a hash of it, "
    "so a lost key cannot be recovered, only revoked and replaced."
)


class ApiKeyDialog(QtWidgets.QDialog):
    """Two pages: the request (user, label) and the issued key with a Copy button.

    Open it with `open()` (not `exec()`), so callers and tests keep running while it is shown.
    """

    created = Signal(str)  # uid of the committed key

    def __init__(
        self,
        operations: Operations,
        users: Sequence[access.UserSummary],
        parent: QtWidgets.QWidget | None = None,
        *,
        user_id: int | None = None,
    ) -> None:
        """users: as the permissions view shows them (no read of its own)."""
        super().__init__(parent)
        self._operations = operations
        self._creating = False  # the write is on its way: one key per dialog, and no closing
        self.setWindowTitle("New API key")
        self.setMinimumWidth(520)

        self.pages = QtWidgets.QStackedWidget()

        # Page 1: who the key is for.
        request = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout(request)
        self.user_combo = QtWidgets.QComboBox()
        self.label_edit = QtWidgets.QLineEdit()
        self.label_edit.setPlaceholderText("e.g. harvester on data.example.org")
        self.error_label = QtWidgets.QLabel()
        self.error_label.setObjectName("error")
        self.error_label.setStyleSheet("color: #b00020")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        form.addRow("&User:", self.user_combo)
        form.addRow("&Label:", self.label_edit)
        form.addRow(self.error_label)
        self.request_buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        self.create_button = self.request_buttons.addButton(
            "Create key", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.create_button.setDefault(True)
        form.addRow(self.request_buttons)
        self.pages.addWidget(request)

        # Page 2: the key, once.
        issued = QtWidgets.QWidget()
        issued_layout = QtWidgets.QVBoxLayout(issued)
        self.issued_label = QtWidgets.QLabel()
        issued_layout.addWidget(self.issued_label)
        key_row = QtWidgets.QHBoxLayout()
        self.key_field = QtWidgets.QLineEdit()
        self.key_field.setReadOnly(True)
        self.key_field.setObjectName("key")
        self.key_field.setFont(
            QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        )
        self.copy_button = QtWidgets.QPushButton("&Copy")
        key_row.addWidget(self.key_field, 1)
        key_row.addWidget(self.copy_button)
        issued_layout.addLayout(key_row)
        self.once_note = QtWidgets.QLabel(ONCE_NOTE)
        self.once_note.setWordWrap(True)
        self.once_note.setStyleSheet("font-weight: bold; color: #8a4b00")
        issued_layout.addWidget(self.once_note)
        self.copied_label = QtWidgets.QLabel()
        issued_layout.addWidget(self.copied_label)
        issued_layout.addStretch(1)
        self.done_buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Close
        )
        issued_layout.addWidget(self.done_buttons)
        self.pages.addWidget(issued)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.pages)

        self.create_button.clicked.connect(self._create)
        self.request_buttons.rejected.connect(self.reject)
        self.copy_button.clicked.connect(self._copy)
        self.done_buttons.rejected.connect(self.accept)
        self.finished.connect(self._forget_key)

        self._load_users(users, user_id)

    def _load_users(self, users: Sequence[access.UserSummary], selected: int | None) -> None:
        for user in users:
            if user.is_active:
                text = user.username
                if user.display_name and user.display_name != user.username:
                    text += f" ({user.display_name})"
                self.user_combo.addItem(text, user.id)
        if selected is not None:
            index = self.user_combo.findData(selected)
            if index >= 0:
                self.user_combo.setCurrentIndex(index)
        if self.user_combo.count() == 0:
            self._show_error("There are no active users. Add a user first.")
            self.create_button.setEnabled(False)

    @property
    def key(self) -> str:
        """The plain key while the dialog shows it; empty before creation and after closing."""
        return self.key_field.text()

    @property
    def creating(self) -> bool:
        """The key is being issued (the write has not answered yet)."""
        return self._creating

    def _create(self) -> None:
        if self.pages.currentIndex() != 0 or self._creating:
            return  # one dialog issues one key
        user_id = self.user_combo.currentData()
        if user_id is None:
            self._show_error("Choose the user the key acts for.")
            return
        owner, label = int(user_id), self.label_edit.text()

        def run(session: Session) -> Outcome[IssuedKey]:
            issued = api_keys.create_api_key(session, owner, label)
            # A new way in: the permissions view re-reads the directory, which lists keys.
            return Outcome(issued, change_of(directory=True))

        self._set_creating(True)
        self._operations.write("issue an API key", run, self._issued, self._refused)

    def _set_creating(self, creating: bool) -> None:
        self._creating = creating
        for widget in (self.create_button, self.user_combo, self.label_edit):
            widget.setEnabled(not creating)
        cancel = self.request_buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        if cancel is not None:
            cancel.setEnabled(not creating)
        self.create_button.setText("Creating…" if creating else "Create key")

    def _issued(self, issued: IssuedKey) -> None:
        self._set_creating(False)
        self.error_label.hide()
        user = self.user_combo.currentText()
        name = f"“{issued.label}” " if issued.label else ""
        self.issued_label.setText(f"Key {issued.uid} {name}for {user}:")
        self.key_field.setText(issued.key)
        self.key_field.selectAll()
        self.pages.setCurrentIndex(1)
        self.copy_button.setFocus()
        self.created.emit(issued.uid)

    def _refused(self, error: Exception) -> bool:
        """A refusal, or a failure the person can act on, is said here; a bug is not taken."""
        self._set_creating(False)
        if isinstance(error, ValidationFailed):
            self._show_error("\n".join(f"{k}: {v}" for k, v in error.errors.items()))
            return True
        message = self._operations.expected_message(error)
        if message is None:
            return False
        self._show_error(message)
        return True

    def reject(self) -> None:
        # Not while the key is being issued: it would be committed with nobody to see it.
        if not self._creating:
            super().reject()

    def _copy(self) -> None:
        clipboard = QtGui.QGuiApplication.clipboard()
        clipboard.setText(self.key_field.text())
        self.copied_label.setText("Copied to the clipboard.")

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()

    def _forget_key(self, _result: int = 0) -> None:
        self.key_field.clear()
