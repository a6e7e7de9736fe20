"""Sync > Remotes…: the portals this catalogue syncs with — add, test the connection, remove.

A remote is a kind (DataPress, Opendatasoft, CKAN), a base URL and an API key. The key goes to
the OS keyring through services.sync.remotes; the catalogue file never holds it. Where no
keyring backend exists the add dialog says so before anything is typed, and offers the service's
explicit alternative: a key read from an environment variable on every run. A key is never
written to a plain-text file, silently or otherwise.

*Test connection* reaches the portal (on the asyncio loop) and shows what the key may do — read,
read private datasets, edit, create — or the clear reason it cannot. Adding a remote tests it
straight away. Database work (list, add, remove) runs on the TaskRunner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.services.errors import ValidationFailed
from app.views.form_widgets import STYLE_SHEET
from app.views.operations import Outcome, change_of
from app.views.qt import QtCore, QtGui, QtWidgets, Signal
from app.views.server_panel import WARNING_STYLE
from app.views.sync_preview_dialog import KIND_NAMES
from app.views.task_progress import error_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.services.progress import Progress
    from app.services.sync.adapter import Access
    from app.services.sync.remotes import RemoteInfo
    from app.views.sync_controller import SyncController

KINDS = tuple(KIND_NAMES.items())
# A remote's settings write no dataset version: announced as a directory change, so the watch
# takes the commit as this window's own rather than as a change made elsewhere.
SETTINGS_CHANGE = change_of(directory=True)
COLUMNS = ("Name", "Kind", "URL", "Key", "What the key may do", "Linked", "Last synced")
NAME_COLUMN, ACCESS_COLUMN = 0, 4


@dataclass(frozen=True, slots=True)
class RemoteRequest:
    """What the add dialog gathered, as remotes.add_remote takes it."""

    name: str
    kind: str
    base_url: str
    key: str | None
    key_env: str | None


def no_keyring_text(backend: str) -> str:
    return (
        f"No OS keyring is available on this computer (keyring backend: {backend}), so an API "
        "key cannot be kept safely here. Catalogue Desk never writes keys to a plain-text file. "
        "Instead it can read the key from an environment variable each time it syncs: choose "
        "that below and set the variable before starting Catalogue Desk. Or install and unlock "
        "a keyring (GNOME Keyring or KWallet through Secret Service) and add the remote again."
    )


def backend_name() -> str:
    from app.services.sync import remotes

    backend = remotes.keyring_backend()
    return f"{type(backend).__module__}.{type(backend).__name__}"


class AddRemoteDialog(QtWidgets.QDialog):
    """Gathers a RemoteRequest; the RemotesDialog adds it and reports errors back here."""

    submitted = Signal(object)  # RemoteRequest

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a remote")
        self.setStyleSheet(STYLE_SHEET)
        self.setMinimumWidth(640)
        self.error_labels: dict[str, QtWidgets.QLabel] = {}

        self.keyring_banner = QtWidgets.QLabel()
        self.keyring_banner.setWordWrap(True)
        self.keyring_banner.setStyleSheet(WARNING_STYLE)
        self.keyring_banner.hide()
        self.error_banner = QtWidgets.QLabel()
        self.error_banner.setWordWrap(True)
        self.error_banner.setProperty("role", "banner")
        self.error_banner.hide()

        self.name_edit = QtWidgets.QLineEdit()
        self.name_edit.setPlaceholderText("e.g. london-datastore")
        self.kind_combo = QtWidgets.QComboBox()
        for kind, label in KINDS:
            self.kind_combo.addItem(label, kind)
        self.url_edit = QtWidgets.QLineEdit()
        self.url_edit.setPlaceholderText("https://data.example.org")
        self.key_edit = QtWidgets.QLineEdit()
        self.key_edit.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("the portal's API key")
        self.show_key = QtWidgets.QCheckBox("Show")
        self.show_key.toggled.connect(
            lambda shown: self.key_edit.setEchoMode(
                QtWidgets.QLineEdit.EchoMode.Normal
                if shown
                else QtWidgets.QLineEdit.EchoMode.Password
            )
        )
        key_row = QtWidgets.QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.show_key)

        self.keyring_radio = QtWidgets.QRadioButton("Keep the key in the OS &keyring")
        self.env_radio = QtWidgets.QRadioButton(
            "Read the key from an &environment variable each time (nothing is stored):"
        )
        self.env_edit = QtWidgets.QLineEdit()
        self.env_edit.setPlaceholderText("VARIABLE_NAME")
        self.anonymous_radio = QtWidgets.QRadioButton(
            "&No key: public datasets only, read-only on most portals"
        )
        self.storage = QtWidgets.QButtonGroup(self)
        for radio in (self.keyring_radio, self.env_radio, self.anonymous_radio):
            self.storage.addButton(radio)
        self.keyring_radio.setChecked(True)
        self.storage.buttonToggled.connect(lambda *_args: self._update_key_fields())
        storage_box = QtWidgets.QVBoxLayout()
        storage_box.addWidget(self.keyring_radio)
        storage_box.addWidget(self.env_radio)
        # The variable's name on a line of its own, under its choice: beside the long radio
        # text it was squeezed to a few characters.
        env_row = QtWidgets.QHBoxLayout()
        env_row.setContentsMargins(24, 0, 0, 0)
        env_row.addWidget(self.env_edit, 1)
        storage_box.addLayout(env_row)
        storage_box.addWidget(self.anonymous_radio)

        form = QtWidgets.QFormLayout()
        form.addRow("&Name", self._with_error("name", self.name_edit))
        form.addRow("&Kind", self._with_error("kind", self.kind_combo))
        form.addRow("Base &URL", self._with_error("url", self.url_edit))
        form.addRow("API &key", self._with_error("key", key_row))
        form.addRow("Key storage", self._with_error("key_env", storage_box))

        self.buttons = QtWidgets.QDialogButtonBox()
        self.add_button = self.buttons.addButton(
            "&Add", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.add_button.setDefault(True)
        self.buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.keyring_banner)
        layout.addWidget(self.error_banner)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._update_key_fields()
        self._fit_height()

    def _fit_height(self) -> None:
        """Tall enough for everything shown at the current width.

        A dialog's layout does not grow it for word-wrapped labels (their height depends on
        the width), so a banner shown after opening overlapped the fields below it."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        width = max(self.width(), self.minimumWidth())
        needed = layout.totalHeightForWidth(width)
        if needed < 0:
            needed = layout.totalSizeHint().height()
        self.setMinimumHeight(needed)
        if self.height() < needed:
            self.resize(width, needed)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit_height()

    def _with_error(
        self, key: str, content: QtWidgets.QWidget | QtWidgets.QLayout
    ) -> QtWidgets.QWidget:
        box = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        if isinstance(content, QtWidgets.QLayout):
            column.addLayout(content)
        else:
            column.addWidget(content)
        error = QtWidgets.QLabel()
        error.setProperty("role", "error")
        error.setWordWrap(True)
        error.hide()
        column.addWidget(error)
        self.error_labels[key] = error
        return box

    def _update_key_fields(self) -> None:
        keyring = self.keyring_radio.isChecked()
        self.key_edit.setEnabled(keyring)
        self.show_key.setEnabled(keyring)
        self.env_edit.setEnabled(self.env_radio.isChecked())

    def keyring_unavailable(self, message: str, *, none_at_all: bool = True) -> None:
        """No keyring (or it refused): say so, and switch to the explicit alternative, which
        the person confirms by pressing Add. With no backend at all the keyring choice goes;
        a keyring that refused (locked) may be unlocked and tried again."""
        self.keyring_banner.setText(message)
        self.keyring_banner.show()
        if none_at_all:
            self.keyring_radio.setEnabled(False)
            self.keyring_radio.setText("Keep the key in the OS keyring (no keyring available)")
        if self.keyring_radio.isChecked():
            self.env_radio.setChecked(True)
            self.key_edit.clear()  # kept nowhere, not even in this form
            self.env_edit.setFocus()
        self._fit_height()

    def request(self) -> RemoteRequest | None:
        """The form as a request; None (with the errors shown) if something is missing."""
        errors: dict[str, str] = {}
        key: str | None = None
        key_env: str | None = None
        if self.keyring_radio.isChecked():
            key = self.key_edit.text().strip()
            if not key:
                errors["key"] = "enter the API key, or choose “No key”"
        elif self.env_radio.isChecked():
            key_env = self.env_edit.text().strip()
            if not key_env:
                errors["key_env"] = "name the environment variable that holds the key"
        if errors:
            self.show_errors(errors)
            return None
        return RemoteRequest(
            name=self.name_edit.text().strip(),
            kind=str(self.kind_combo.currentData()),
            base_url=self.url_edit.text().strip(),
            key=key,
            key_env=key_env,
        )

    def _submit(self) -> None:
        request = self.request()
        if request is not None:
            self.set_busy(True)
            self.submitted.emit(request)

    def set_busy(self, busy: bool) -> None:
        self.add_button.setEnabled(not busy)
        self.add_button.setText("Adding…" if busy else "&Add")

    def show_errors(self, errors: dict[str, str], general: str = "") -> None:
        self.set_busy(False)
        for key, label in self.error_labels.items():
            message = errors.get(key, "")
            label.setText(message)
            label.setVisible(bool(message))
        loose = [m for k, m in errors.items() if k not in self.error_labels]
        text = "\n".join(([general] if general else []) + loose)
        self.error_banner.setText(text)
        self.error_banner.setVisible(bool(text))
        self._fit_height()


def capabilities(access: Access) -> str:
    """What a remote's key may do, in a table cell."""
    if not access.reachable:
        return "unreachable"
    if not access.read and not access.authenticated:
        return "key refused"
    rights = [
        name
        for name, allowed in (
            ("read", access.read),
            ("read private", access.read_private),
            ("edit", access.edit),
            ("create", access.create),
            ("delete", access.delete),
            ("upload files", access.upload),
        )
        if allowed
    ]
    text = ", ".join(rights) or "nothing"
    if not access.authenticated:
        text += " (anonymous)"
    if access.datasets is not None:
        text += f" · {access.datasets:,} datasets"
    return text


class RemotesDialog(QtWidgets.QDialog):
    """The list of remotes with Add…, Test connection, Remove, Pull and Push."""

    def __init__(self, controller: SyncController, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.add_dialog: AddRemoteDialog | None = None
        self.confirm_box: QtWidgets.QMessageBox | None = None
        self.setWindowTitle("Remotes")
        self.setStyleSheet(STYLE_SHEET)
        self.resize(1000, 440)

        intro = QtWidgets.QLabel(
            "The portals this catalogue is kept in sync with. API keys live in the OS keyring "
            "(or come from an environment variable), never in the catalogue file."
        )
        intro.setWordWrap(True)
        intro.setProperty("role", "hint")
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        for column, width in enumerate((130, 100, 230, 150, 230, 60)):
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update)
        self.details = QtWidgets.QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        self.details.setMinimumHeight(80)
        self.details.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.details.setMargin(6)

        self.add_button = QtWidgets.QPushButton("&Add…")
        self.add_button.clicked.connect(self.open_add)
        self.test_button = QtWidgets.QPushButton("&Test connection")
        self.test_button.clicked.connect(self._test_selected)
        self.remove_button = QtWidgets.QPushButton("&Remove…")
        self.remove_button.clicked.connect(self._confirm_remove)
        self.pull_button = QtWidgets.QPushButton("&Pull…")
        self.pull_button.clicked.connect(lambda: self._sync_selected("pull"))
        self.push_button = QtWidgets.QPushButton("P&ush…")
        self.push_button.clicked.connect(lambda: self._sync_selected("push"))
        close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.add_button, self.test_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        for button in (self.pull_button, self.push_button):
            buttons.addWidget(button)
        buttons.addWidget(close)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addLayout(buttons)

        controller.remotesChanged.connect(self._fill)
        controller.accessChanged.connect(self._on_access)
        # Bound methods, not lambdas: Qt drops these connections when the dialog is deleted.
        controller.busyChanged.connect(self._on_busy)
        self._select_after_fill: str | None = None
        self._fill(controller.remotes)

    # -- the list -----------------------------------------------------------------------------

    def names(self) -> list[str]:
        return [self._cell(row, NAME_COLUMN) for row in range(self.table.rowCount())]

    def _cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def row_text(self, name: str) -> dict[str, str]:
        """A remote's row as the person reads it, by column heading."""
        row = self.names().index(name)
        return {heading: self._cell(row, c) for c, heading in enumerate(COLUMNS)}

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self._cell(rows[0].row(), NAME_COLUMN) if rows else None

    def select(self, name: str) -> None:
        self.table.selectRow(self.names().index(name))

    def _fill(self, infos: list[RemoteInfo]) -> None:
        wanted = self._select_after_fill or self.selected_name()
        self._select_after_fill = None
        self.table.setRowCount(len(infos))
        for row, info in enumerate(infos):
            cells = (
                info.name,
                dict(KINDS).get(info.kind, info.kind),
                info.base_url,
                info.key_description,
                self._access_text(info.name),
                f"{info.linked:,}",
                (info.last_synced_at or "never")[:19].replace("T", " "),
            )
            for column, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if column == ACCESS_COLUMN:
                    item.setToolTip(self._details_text(info.name))
                self.table.setItem(row, column, item)
        names = [info.name for info in infos]
        if wanted in names:
            self.table.selectRow(names.index(wanted))
        elif names and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)
        self._update()

    def _access_text(self, name: str) -> str:
        check = self.controller.checks.get(name)
        if check is None:
            return "not tested yet"
        if check.running:
            return "testing…"
        if check.access is not None:
            return capabilities(check.access)
        return "error"

    def _details_text(self, name: str) -> str:
        check = self.controller.checks.get(name)
        if check is None:
            return f"{name}: press “Test connection” to find out what its key may do."
        if check.running:
            return f"Testing the connection to {name}…"
        if check.error is not None:
            return f"{name}: {check.error}"
        access = check.access
        assert access is not None
        lines = [f"{name}: {access.summary()}"]
        lines += [f"• {note}" for note in access.notes]
        return "\n".join(lines)

    def _on_busy(self, _busy: bool) -> None:
        self._update()

    def _on_access(self, name: str) -> None:
        if name not in self.names():
            return
        row = self.names().index(name)
        item = self.table.item(row, ACCESS_COLUMN)
        if item is not None:
            item.setText(self._access_text(name))
            item.setToolTip(self._details_text(name))
        self._update()

    def _update(self) -> None:
        name = self.selected_name()
        busy = self.controller.busy
        testing = name is not None and bool(
            (check := self.controller.checks.get(name)) and check.running
        )
        self.test_button.setEnabled(name is not None and not testing)
        self.remove_button.setEnabled(name is not None and not busy)
        self.pull_button.setEnabled(name is not None and not busy)
        self.push_button.setEnabled(name is not None and not busy)
        if name is None:
            self.details.setText("No remote yet: press “Add…” to add a portal.")
        else:
            self.details.setText(self._details_text(name))
            check = self.controller.checks.get(name)
            failed = check is not None and (
                check.error is not None
                or (check.access is not None and not (check.access.reachable and check.access.read))
            )
            self.details.setStyleSheet("color: #b00020;" if failed else "")

    # -- actions ------------------------------------------------------------------------------

    def _test_selected(self) -> None:
        name = self.selected_name()
        if name is not None:
            self.controller.test_connection(name)

    def _sync_selected(self, direction: str) -> None:
        name = self.selected_name()
        if name is None:
            return
        self.accept()  # the preview takes over; the remotes list is not needed under it
        self.controller.start("pull" if direction == "pull" else "push", name)

    def open_add(self) -> AddRemoteDialog:
        dialog = AddRemoteDialog(self)
        dialog.submitted.connect(lambda request: self._add(dialog, request))
        dialog.finished.connect(lambda _result: self._add_closed(dialog))
        self.add_dialog = dialog
        dialog.open()
        self._check_keyring(dialog)
        return dialog

    def _add_closed(self, dialog: AddRemoteDialog) -> None:
        if self.add_dialog is dialog:
            self.add_dialog = None
        dialog.deleteLater()

    def _check_keyring(self, dialog: AddRemoteDialog) -> None:
        """Say before anything is typed whether a keyring can keep the key (off the GUI thread:
        a keyring backend may have to start a D-Bus service to answer)."""

        def probe(_progress: Progress) -> str | None:
            from app.services.sync import remotes

            return None if remotes.keyring_usable() else backend_name()

        def answer(backend: str | None) -> None:
            if backend is not None and self.add_dialog is dialog:
                dialog.keyring_unavailable(no_keyring_text(backend))

        self.controller.tasks.run(probe, on_done=answer, on_error=lambda _error: None)

    def _add(self, dialog: AddRemoteDialog, request: RemoteRequest) -> None:

        def add(session: Session) -> Outcome[RemoteInfo]:
            from app.services.sync import remotes

            info = remotes.add_remote(
                session,
                request.name,
                request.kind,
                request.base_url,
                key=request.key,
                key_env=request.key_env,
            )
            return Outcome(info, SETTINGS_CHANGE)

        def added(info: RemoteInfo) -> None:
            if self.add_dialog is dialog:
                dialog.accept()
            self._select_after_fill = info.name
            self.controller.refresh_remotes()
            self.controller.test_connection(info.name)  # show at once what the key may do

        def refused(error: Exception) -> bool:
            from app.services.sync import remotes
            from app.services.sync.remotes import KeyringUnavailable

            if self.add_dialog is not dialog:
                return True  # closed meanwhile: nobody to tell
            if isinstance(error, KeyringUnavailable):
                dialog.show_errors({})
                gone = not remotes.keyring_usable()
                text = no_keyring_text(backend_name()) if gone else error.message
                dialog.keyring_unavailable(text, none_at_all=gone)
            elif isinstance(error, ValidationFailed):
                dialog.show_errors(error.errors)
            else:
                dialog.show_errors({}, f"The remote was not added: {error_text(error)}")
            return True

        self.controller.operations.write(f"add the remote {request.name}", add, added, refused)

    def _confirm_remove(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        info = next((r for r in self.controller.remotes if r.name == name), None)
        linked = info.linked if info is not None else 0
        box = QtWidgets.QMessageBox(
            QtWidgets.QMessageBox.Icon.Question,
            "Remove remote",
            f"Remove the remote {name}?",
            QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
            self,
        )
        box.setInformativeText(
            f"Its key is removed from the keyring and its {linked:,} sync link(s) are forgotten. "
            "The datasets stay in this catalogue, and on the portal."
        )
        box.setDefaultButton(QtWidgets.QMessageBox.StandardButton.No)
        box.finished.connect(lambda _result: self._removal_answered(box, name))
        self.confirm_box = box
        box.open()

    def _removal_answered(self, box: QtWidgets.QMessageBox, name: str) -> None:
        self.confirm_box = None
        box.deleteLater()
        if box.clickedButton() is not box.button(QtWidgets.QMessageBox.StandardButton.Yes):
            return

        def remove(session: Session) -> Outcome[None]:
            from app.services.sync import remotes

            remotes.remove_remote(session, name)
            return Outcome(None, SETTINGS_CHANGE)

        def failed(error: Exception) -> bool:
            self.details.setText(f"{name} was not removed: {error_text(error)}")
            return True

        self.controller.operations.write(
            f"remove the remote {name}", remove, lambda _none: self.controller.refresh_remotes(),
            failed,
        )  # fmt: skip
