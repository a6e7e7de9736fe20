"""Dataset > Edit selected…: one change to every highlighted dataset, as calibre's bulk
metadata edit (services.batch_edit does the work, without Qt).

The dialog resolves the highlighted rows to ids and reads the teams and licences off the GUI
thread, then previews what the change does to each dataset (field, before -> after, or why it
is refused) each time a control changes, again off the GUI thread. Apply writes it as ONE
operation (views.operations) with the versions the preview saw: one undo reverses it all, and a
dataset changed meanwhile or refused stops the whole batch with nothing written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from app.services import access, batch_edit, managed_lists
from app.services.batch_edit import BatchChange, BatchInvalid, Preview
from app.services.errors import StaleEdit
from app.services.progress import Progress
from app.services.undoable import Step
from app.views.operations import LatestRead, Operations, Outcome, change_of
from app.views.qt import QtCore, QtWidgets, Signal
from app.views.rows_model import RowsModel
from app.views.undo import UndoHistory

if TYPE_CHECKING:
    from app.views.main_window import MainWindow

PREVIEW_DELAY_MS = 200  # preview once the person pauses, not per keystroke


def _shown(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return " · ".join(str(part) for part in value.values() if part) or "—"
    return str(value)


@dataclass(frozen=True)
class _Line:
    dataset: str
    field: str
    before: str
    after: str
    refused: bool


class PreviewModel(RowsModel[_Line]):
    """One row per field a dataset changes (or per reason it is refused)."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(("Dataset", "Field", "Before", "After"), parent)

    def set_preview(self, preview: Preview | None) -> None:
        lines: list[_Line] = []
        for item in preview.datasets if preview is not None else ():
            name = f"{item.title} ({item.dataset_id})"
            for path, message in item.errors.items():
                lines.append(_Line(name, path, "refused", message, True))
            if not item.errors:
                for change in item.changes:
                    lines.append(
                        _Line(name, change.label, _shown(change.before), _shown(change.after),
                              False)
                    )  # fmt: skip
        self.set_rows(lines)

    def cell(self, row: _Line, column: int, role: int) -> Any:
        if role in (QtCore.Qt.ItemDataRole.DisplayRole, QtCore.Qt.ItemDataRole.ToolTipRole):
            return (row.dataset, row.field, row.before, row.after)[column]
        if role == QtCore.Qt.ItemDataRole.ForegroundRole and row.refused:
            return QtWidgets.QApplication.palette().brush(
                QtWidgets.QApplication.palette().ColorRole.LinkVisited
            )
        return None


def _words(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


class BatchEditDialog(QtWidgets.QDialog):
    previewed = Signal(object)  # the Preview shown now
    applied = Signal(object)  # the Step written

    def __init__(
        self,
        operations: Operations,
        undo: UndoHistory,
        author: str,
        resolve: Callable[[Progress], Sequence[str]],
        count: int,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._operations = operations
        self._undo = undo
        self._author = author
        self._ids: tuple[str, ...] | None = None
        self._preview: Preview | None = None
        # The preview of the newest controls only: a late answer for older ones is dropped.
        self._previews: LatestRead[Preview] = LatestRead(
            operations, "preview the batch edit", self._show
        )
        self._applying = False
        noun = "1 dataset" if count == 1 else f"{count:,} datasets"
        self.setWindowTitle(f"Edit {noun}")
        self.resize(900, 640)

        self.state = QtWidgets.QComboBox()
        for text, value in (("Leave as is", None), ("Publish", "publish"),
                            ("Unpublish (back to draft)", "unpublish")):  # fmt: skip
            self.state.addItem(text, value)
        self.add_tags, self.remove_tags = QtWidgets.QLineEdit(), QtWidgets.QLineEdit()
        self.add_topics, self.remove_topics = QtWidgets.QLineEdit(), QtWidgets.QLineEdit()
        for box in (self.add_tags, self.remove_tags, self.add_topics, self.remove_topics):
            box.setPlaceholderText("comma-separated")
        self.set_team = QtWidgets.QCheckBox("Set team")
        self.team = QtWidgets.QComboBox()
        self.set_licence = QtWidgets.QCheckBox("Set licence")
        self.licence = QtWidgets.QComboBox()
        self.set_contact = QtWidgets.QCheckBox("Set contact")
        self.contact_title, self.contact_email = QtWidgets.QLineEdit(), QtWidgets.QLineEdit()
        self.contact_title.setPlaceholderText("name")
        self.contact_email.setPlaceholderText("email")
        self.set_embargo = QtWidgets.QCheckBox("Set embargo")
        self.embargo = QtWidgets.QLineEdit()
        self.embargo.setPlaceholderText("YYYY-MM-DD, empty to lift it")

        form = QtWidgets.QFormLayout()
        form.addRow("Publication", self.state)
        form.addRow("Add tags", self.add_tags)
        form.addRow("Remove tags", self.remove_tags)
        form.addRow("Add topics", self.add_topics)
        form.addRow("Remove topics", self.remove_topics)
        form.addRow(self.set_team, self.team)
        form.addRow(self.set_licence, self.licence)
        contact = QtWidgets.QHBoxLayout()
        contact.addWidget(self.contact_title)
        contact.addWidget(self.contact_email)
        form.addRow(self.set_contact, contact)
        form.addRow(self.set_embargo, self.embargo)

        self.model = PreviewModel(self)
        self.preview_view = QtWidgets.QTableView()
        self.preview_view.setModel(self.model)
        self.preview_view.verticalHeader().setVisible(False)
        self.preview_view.horizontalHeader().setStretchLastSection(True)
        self.preview_view.setSelectionBehavior(
            QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows
        )
        for column, width in enumerate((260, 110, 200)):
            self.preview_view.horizontalHeader().resizeSection(column, width)
        self.summary = QtWidgets.QLabel(f"Reading the {noun}…")
        self.summary.setWordWrap(True)
        self.buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Apply
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        self.apply_button = self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Apply)
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        self.buttons.rejected.connect(self.reject)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QtWidgets.QLabel("<b>Preview</b>"))
        layout.addWidget(self.preview_view, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.buttons)

        self._timer = QtCore.QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.refresh_preview)
        for box in (self.add_tags, self.remove_tags, self.add_topics, self.remove_topics,
                    self.contact_title, self.contact_email, self.embargo):  # fmt: skip
            box.textChanged.connect(lambda _text: self._timer.start())
        for check in (self.set_team, self.set_licence, self.set_contact, self.set_embargo):
            check.toggled.connect(lambda _on: self._timer.start())
        for combo in (self.state, self.team, self.licence):
            combo.currentIndexChanged.connect(lambda _i: self._timer.start())
        self.setEnabled(False)

        def read(session: Session) -> tuple[tuple[str, ...], list[Any], list[Any]]:
            ids = tuple(resolve(Progress()))  # the rows not cached are looked up in chunks
            teams = [(t.title or t.id, t.id) for t in access.list_teams(session)]
            licences = [(lic.title, lic.url) for lic in managed_lists.list_licences(session)]
            return ids, teams, licences

        operations.read(f"read the {noun}", read, self._loaded)

    def _loaded(self, found: tuple[tuple[str, ...], list[Any], list[Any]]) -> None:
        ids, teams, licences = found
        self._ids = ids
        self.team.addItem("(no team)", "")
        for title, team_id in teams:
            self.team.addItem(f"{title} ({team_id})", team_id)
        self.licence.addItem("(no licence)", {"url": "", "title": ""})
        for title, url in licences:
            self.licence.addItem(title, {"url": url, "title": title})
        self.setEnabled(True)
        self.refresh_preview()

    def change(self) -> BatchChange:
        """The change the controls describe."""
        contact = {"title": self.contact_title.text().strip(),
                   "email": self.contact_email.text().strip()}  # fmt: skip
        return BatchChange(
            state=self.state.currentData(),
            add_tags=_words(self.add_tags.text()),
            remove_tags=_words(self.remove_tags.text()),
            add_topics=_words(self.add_topics.text()),
            remove_topics=_words(self.remove_topics.text()),
            set_team=self.team.currentData() if self.set_team.isChecked() else None,
            set_licence=self.licence.currentData() if self.set_licence.isChecked() else None,
            set_contact=contact if self.set_contact.isChecked() else None,
            set_embargo=self.embargo.text().strip() if self.set_embargo.isChecked() else None,
        )

    def refresh_preview(self) -> None:
        """Preview the controls' change off the GUI thread; a late answer for older controls
        is dropped."""
        if self._ids is None:
            return
        ids, change = self._ids, self.change()
        self.apply_button.setEnabled(False)
        self._previews.run(lambda s: batch_edit.preview(s, ids, change))

    def _show(self, preview: Preview, note: str = "") -> None:
        self._preview = preview
        self.model.set_preview(preview)
        changing, refused = len(preview.changing), len(preview.refused)
        parts = [f"{changing:,} of {len(preview.datasets):,} datasets will change"]
        if preview.unchanged:
            parts.append(f"{preview.unchanged:,} already so")
        if refused:
            parts.append(f"{refused:,} refused: fix the change or leave them out of the selection")
        self.summary.setText((note + " " if note else "") + "; ".join(parts) + ".")
        self.apply_button.setEnabled(bool(changing) and not refused and not self._applying)
        self.previewed.emit(preview)

    def apply(self) -> None:
        """Write the previewed change as one operation (one undo step)."""
        preview = self._preview
        if preview is None or preview.refused or not preview.changing or self._applying:
            return
        expected, change, author = preview.expected_versions(), self.change(), self._author

        def run(session: Session) -> Outcome[Step]:
            step = batch_edit.apply(session, expected, change, author=author)
            return Outcome(step, change_of(step.dataset_ids))

        def done(step: Step) -> None:
            self._applying = False
            if step.edits:
                self._undo.push(step)
            self.applied.emit(step)
            self.accept()

        def failed(error: Exception) -> bool:
            self._applying = False
            if not isinstance(error, (BatchInvalid, StaleEdit)):
                return False
            self.summary.setText(f"Nothing was changed: {error}")
            self.refresh_preview()  # shows what is refused now, and each dataset's version
            return True

        self._applying = True
        self.apply_button.setEnabled(False)
        self.summary.setText("Applying…")
        self._operations.write(f"batch edit {len(expected):,} datasets", run, done, failed)


def open_batch_edit(window: MainWindow) -> BatchEditDialog | None:
    """Dataset > Edit selected…: the dialog for the highlighted rows, if any."""
    ranges = window.selected_ranges()
    count = sum(last - first + 1 for first, last in ranges)
    if not count:
        return None
    for old in window.findChildren(BatchEditDialog):
        old.deleteLater()  # the last one is kept (closed) until the next, as the other dialogs
    dialog = BatchEditDialog(
        window.operations, window.undo, window.author, window.model.resolve_rows(ranges), count,
        window,
    )  # fmt: skip
    dialog.applied.connect(
        lambda step: window.statusBar().showMessage(f"Done: {step.describe()}", 8000)
    )
    dialog.show()
    return dialog
