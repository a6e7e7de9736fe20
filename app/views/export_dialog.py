"""File > Export: pick a format, a scope and a file; the export runs off the GUI thread.

The dialog only gathers an `exporting.ExportRequest` and runs `exporting.export_catalogue` on
the TaskRunner, with a progress bar and Cancel. The service writes atomically, so a cancelled
or failed export leaves nothing under the chosen name; the dialog stays open to say so and to
let the person try again. On success it emits `exported(ExportResult)` and closes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

from app.models.database import Database
from app.services.exporting import (
    EXTENSIONS,
    ExportFormat,
    ExportRequest,
    ExportResult,
    ExportScope,
    export_catalogue,
)
from app.services.progress import Progress
from app.services.text import human_size
from app.views.dataset_table_model import RowsResolver
from app.views.form_widgets import STYLE_SHEET
from app.views.qt import QtCore, QtWidgets, Signal
from app.views.task_progress import TaskProgressBar, error_text
from app.views.tasks import Task, TaskRunner, delivering

FORMATS: tuple[tuple[ExportFormat, str, str], ...] = (
    # (format, what the person picks, the Save dialog's filter)
    (ExportFormat.CSV, "CSV — datasets, one a row", "CSV files (*.csv)"),
    (ExportFormat.RESOURCES_CSV, "CSV — resources, one a row", "CSV files (*.csv)"),
    (ExportFormat.XLSX, "Excel workbook — datasets, resources, links", "Excel workbooks (*.xlsx)"),
    (ExportFormat.JSON, "DataPress JSON (export.json)", "JSON files (*.json)"),
    (ExportFormat.JSONLD, "DCAT JSON-LD", "JSON-LD files (*.jsonld)"),
    (ExportFormat.TURTLE, "DCAT Turtle", "Turtle files (*.ttl)"),
)
# Both CSV exports share ".csv": the resources one gets a name of its own by default.
_NAME_ENDINGS: dict[ExportFormat, str] = {
    **{fmt: ext for fmt, ext in EXTENSIONS.items()},
    ExportFormat.RESOURCES_CSV: "-resources.csv",
}


def default_name(export_format: ExportFormat, today: date | None = None) -> str:
    """catalogue-2025-03-14.xlsx, catalogue-2025-03-14-resources.csv..."""
    return f"catalogue-{(today or date.today()).isoformat()}{_NAME_ENDINGS[export_format]}"


def with_format(path: Path, export_format: ExportFormat) -> Path:
    """`path` with the ending of `export_format` in place of any ending we know."""
    name = path.name
    for ending in sorted(set(_NAME_ENDINGS.values()), key=len, reverse=True):
        if name.lower().endswith(ending):
            name = name[: -len(ending)]
            break
    return path.with_name(name + _NAME_ENDINGS[export_format])


class ExportDialog(QtWidgets.QDialog):
    exported = Signal(object)  # the ExportResult, after the file is in place

    def __init__(
        self,
        database: Database,
        tasks: TaskRunner,
        *,
        folder: Path,
        selected: int = 0,
        resolve_selection: RowsResolver | None = None,
        search: str = "",
        search_count: int | None = None,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._database = database
        self._tasks = tasks
        self._resolve_selection = resolve_selection
        self._search = search.strip()
        self._task: Task | None = None
        self._name_was_chosen = False  # picked in the Save dialog, which asked about overwriting
        # Asks before an existing file is replaced; replaced in tests.
        self.confirm_overwrite: Callable[[Path], bool] = self._confirm_overwrite
        self.setWindowTitle("Export catalogue")
        self.setStyleSheet(STYLE_SHEET)
        self.setMinimumWidth(560)
        self._build(selected, search_count)
        self.destination_edit.setText(str(folder / default_name(self.export_format)))
        self._update()

    # -- building -------------------------------------------------------------------------------

    def _build(self, selected: int, search_count: int | None) -> None:
        self.format_combo = QtWidgets.QComboBox()
        for export_format, label, _filter in FORMATS:
            self.format_combo.addItem(label, export_format)
        self.format_combo.currentIndexChanged.connect(self._on_format_changed)

        self.scope_buttons = QtWidgets.QButtonGroup(self)
        self.scope_radios: dict[ExportScope, QtWidgets.QRadioButton] = {}
        searched = _datasets(search_count) if search_count is not None else "its results"
        scopes = (
            (ExportScope.ALL, "Everything in the catalogue (drafts and private datasets too)"),
            (ExportScope.PUBLISHED, "Published datasets only — what the public sees"),
            (
                ExportScope.SELECTION,
                f"The selected datasets ({selected:,})" if selected else "The selected datasets",
            ),
            (
                ExportScope.SEARCH,
                f"The current search, “{self._search}” ({searched})"
                if self._search
                else "The current search",
            ),
        )
        scope_box = QtWidgets.QVBoxLayout()
        scope_box.setSpacing(4)
        for scope, label in scopes:
            radio = QtWidgets.QRadioButton(label)
            self.scope_radios[scope] = radio
            self.scope_buttons.addButton(radio)
            scope_box.addWidget(radio)
        self.scope_radios[ExportScope.ALL].setChecked(True)
        # A scope with nothing behind it cannot be picked; the tooltip says why.
        self._available = set(ExportScope)
        if not selected:
            self._available.discard(ExportScope.SELECTION)
            self.scope_radios[ExportScope.SELECTION].setToolTip("Select datasets in the table")
        if not self._search:
            self._available.discard(ExportScope.SEARCH)
            self.scope_radios[ExportScope.SEARCH].setToolTip("Type a search above the table")
        for scope, radio in self.scope_radios.items():
            radio.setEnabled(scope in self._available)

        self.destination_edit = QtWidgets.QLineEdit()
        self.destination_edit.setObjectName("destination")
        self.destination_edit.textEdited.connect(self._on_destination_typed)
        self.destination_edit.textChanged.connect(lambda _text: self._update())
        self.choose_button = QtWidgets.QPushButton("Choose…")
        self.choose_button.clicked.connect(self.choose_destination)
        destination_row = QtWidgets.QHBoxLayout()
        destination_row.addWidget(self.destination_edit, 1)
        destination_row.addWidget(self.choose_button)

        form = QtWidgets.QFormLayout()
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Format:", self.format_combo)
        form.addRow("Datasets:", scope_box)
        form.addRow("Save to:", destination_row)

        self.progress_bar = TaskProgressBar()
        self.progress_bar.hide()
        self.message_label = QtWidgets.QLabel()
        self.message_label.setObjectName("export-message")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
        )

        self.buttons = QtWidgets.QDialogButtonBox()
        self.export_button = self.buttons.addButton(
            "Export", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.export_button.setDefault(True)
        self.close_button = self.buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Close)
        # Not accepted/rejected: Export starts work, and Close cancels it first when it runs.
        self.export_button.clicked.connect(self.start_export)
        self.close_button.clicked.connect(self.reject)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addSpacing(8)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.message_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

    # -- what the person chose ------------------------------------------------------------------

    @property
    def export_format(self) -> ExportFormat:
        return ExportFormat(self.format_combo.currentData())

    @property
    def scope(self) -> ExportScope:
        for scope, radio in self.scope_radios.items():
            if radio.isChecked():
                return scope
        return ExportScope.ALL

    def set_format(self, export_format: ExportFormat) -> None:
        self.format_combo.setCurrentIndex(self.format_combo.findData(export_format))

    def set_scope(self, scope: ExportScope) -> None:
        self.scope_radios[scope].click()

    @property
    def destination(self) -> Path | None:
        text = self.destination_edit.text().strip()
        return Path(text).expanduser() if text else None

    def set_destination(self, path: Path) -> None:
        self.destination_edit.setText(str(path))
        self._name_was_chosen = False

    def request(self) -> ExportRequest:
        """The request the dialog would run (selection ids are looked up when it runs)."""
        destination = self.destination
        if destination is None:
            raise ValueError("no destination")
        search = self._search if self.scope is ExportScope.SEARCH else ""
        return ExportRequest(
            format=self.export_format, destination=destination, scope=self.scope, search=search
        )

    @property
    def running(self) -> bool:
        return self._task is not None

    # -- running --------------------------------------------------------------------------------

    def start_export(self) -> None:
        if self.running:
            return
        destination = self.destination
        if destination is None:
            self._say("Choose where to save the export.", error=True)
            return
        if not destination.parent.is_dir():
            self._say(f"The folder {destination.parent} does not exist.", error=True)
            return
        if destination.is_dir():
            self._say(f"{destination} is a folder: add a file name.", error=True)
            return
        if (
            destination.exists()
            and not self._name_was_chosen
            and not self.confirm_overwrite(destination)
        ):
            return
        request = self.request()
        resolve = self._resolve_selection
        database = self._database

        def work(progress: Progress) -> ExportResult:
            chosen = request
            if request.scope is ExportScope.SELECTION and resolve is not None:
                # The table's rows become ids here, off the GUI thread (some may need a query).
                chosen = replace(request, dataset_ids=resolve(progress))
            return export_catalogue(database, chosen, progress)

        self._set_running(True)
        self._say(f"Exporting to {destination.name}…")
        self._task = self._tasks.run(
            work,
            on_done=self._on_done,
            on_error=self._on_failed,
            on_progress=self.progress_bar.report,
            on_cancelled=self._on_cancelled,
        )

    def cancel(self) -> None:
        """Stop a running export; the service removes its temporary file."""
        if self._task is not None:
            self._task.cancel()
            self._say("Cancelling…")

    def reject(self) -> None:
        # Close (or Escape) while exporting cancels first; the dialog stays to say it did.
        if self.running:
            self.cancel()
            return
        super().reject()

    def _is_current(self) -> bool:
        return self._task is not None and delivering() is self._task

    def _on_done(self, result: object) -> None:
        if not self._is_current() or not isinstance(result, ExportResult):
            return
        self._set_running(False)
        self._say(export_message(result))
        self.exported.emit(result)
        self.accept()

    def _on_failed(self, error: Exception) -> None:
        if not self._is_current():
            return
        self._set_running(False)
        self._say(f"The export failed: {error_text(error)}", error=True)

    def _on_cancelled(self) -> None:
        if not self._is_current():
            return
        self._set_running(False)
        self._say("Export cancelled; no file was written.")

    # -- internals ------------------------------------------------------------------------------

    def _set_running(self, running: bool) -> None:
        if not running:
            self._task = None
        self.progress_bar.restart()
        self.progress_bar.setVisible(running)
        for widget in (self.format_combo, self.destination_edit, self.choose_button):
            widget.setEnabled(not running)
        for scope, radio in self.scope_radios.items():
            radio.setEnabled(not running and scope in self._available)
        self.export_button.setEnabled(not running)
        self.close_button.setText("Cancel" if running else "Close")

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message_label.setProperty("role", "error" if error else "hint")
        self.message_label.setText(text)
        # A dynamic property is styled only after the style is polished again.
        self.message_label.style().unpolish(self.message_label)
        self.message_label.style().polish(self.message_label)

    def _on_format_changed(self, _index: int) -> None:
        destination = self.destination
        if destination is not None:
            self.destination_edit.setText(str(with_format(destination, self.export_format)))
            self._name_was_chosen = False
        self._update()

    def _on_destination_typed(self, _text: str) -> None:
        self._name_was_chosen = False

    def _update(self) -> None:
        self.export_button.setEnabled(not self.running and self.destination is not None)

    def choose_destination(self) -> None:
        _fmt, _label, name_filter = FORMATS[self.format_combo.currentIndex()]
        start = self.destination or Path.home() / default_name(self.export_format)
        name, _selected = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export to", str(start), name_filter
        )
        if name:
            path = Path(name)
            if not path.suffix:
                path = with_format(path, self.export_format)
            self.destination_edit.setText(str(path))
            self._name_was_chosen = True  # the Save dialog asked before overwriting
            self._update()

    def _confirm_overwrite(self, path: Path) -> bool:
        answer = QtWidgets.QMessageBox.question(
            self, "Replace file?", f"{path.name} already exists in {path.parent}. Replace it?"
        )
        return answer == QtWidgets.QMessageBox.StandardButton.Yes


def _datasets(count: int) -> str:
    return f"{count:,} dataset{'s' if count != 1 else ''}"


def export_message(result: ExportResult) -> str:
    """The status line after an export: how many, how big, where."""
    size = human_size(result.bytes_written)
    return f"Exported {_datasets(result.datasets)} ({size}) to {result.destination}"
