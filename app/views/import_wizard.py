"""File > Import (or a file dropped on the window): file -> column mapping -> preview -> import.

Every step that reads the file or the catalogue runs on the TaskRunner, with a progress bar:

1. Reading: `importing.detect_format`, and for a CSV or XLSX file `importing.table_columns`.
2. Mapping (CSV and XLSX only): a ColumnMappingTable, pre-filled with the service's suggestion.
3. Preview: `importing.plan_import` (writes nothing) — how many datasets are new, changed and
   unchanged, every row-level error with its row and column, each dataset's planned action, and
   the choice for ids already in the catalogue (changing it plans again).
4. Import: `importing.commit_import`, one transaction; enabled only for a plan without errors
   that changes something. On success `imported(ImportSummary)`, `stepDone` with what it wrote
   as one undoable step (services.undoable, for the window's Undo), and the dialog closes.

Cancel stops whatever runs: reading or planning wrote nothing, so the dialog closes; a cancelled
commit rolls back, and the dialog stays to say that nothing was written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from app.models.database import Database
from app.services import importing
from app.services.errors import StaleEdit
from app.services.importing import (
    ImportFormat,
    ImportPlan,
    ImportSummary,
    OnExisting,
    PlannedItem,
    TableColumns,
)
from app.services.progress import Progress
from app.views.column_mapping import ColumnMappingTable
from app.views.form_widgets import STYLE_SHEET
from app.views.qt import QtCore, QtWidgets, Signal
from app.views.rows_model import RowsModel
from app.views.task_progress import TaskProgressBar, error_text
from app.views.tasks import Task, TaskRunner, delivering

FILE_FILTER = (
    "Catalogue files (*.csv *.tsv *.xlsx *.json *.jsonld *.ttl *.rdf *.xml);;All files (*)"
)
FORMAT_NAMES: dict[ImportFormat, str] = {
    ImportFormat.CSV: "CSV table",
    ImportFormat.XLSX: "Excel workbook",
    ImportFormat.DATAPRESS_JSON: "DataPress export (JSON)",
    ImportFormat.DATASET_JSON: "one DataPress dataset (JSON)",
    ImportFormat.CKAN_JSON: "CKAN package list (JSON)",
    ImportFormat.JSONLD: "DCAT JSON-LD",
    ImportFormat.TURTLE: "DCAT Turtle",
    ImportFormat.RDFXML: "DCAT RDF/XML",
}
TABLE_FORMATS = frozenset({ImportFormat.CSV, ImportFormat.XLSX})
ACTION_NAMES = {
    "create": "new",
    "update": "update",
    "copy": "new copy",
    "skip": "skip (already there)",
    "unchanged": "unchanged",
}
ON_EXISTING_CHOICES = (
    (OnExisting.SKIP, "Skip them: keep the catalogue's version"),
    (OnExisting.UPDATE, "Update them from the file"),
    (OnExisting.COPY, "Import them as copies, with new ids"),
)


@dataclass(frozen=True)
class _ReadResult:
    format: ImportFormat
    columns: TableColumns | None  # a table's header, for the mapping step


class Step(Enum):
    READING = 0
    MAPPING = 1
    PREVIEW = 2


class ListModel(RowsModel[tuple[Any, ...]]):
    """A read-only table of plain rows: the preview's errors and planned datasets."""

    def cell(self, row: tuple[Any, ...], column: int, role: int) -> Any:
        if role not in (QtCore.Qt.ItemDataRole.DisplayRole, QtCore.Qt.ItemDataRole.ToolTipRole):
            return None
        value = row[column]
        return "" if value is None else str(value)


def _table_view(model: ListModel, name: str) -> QtWidgets.QTableView:
    view = QtWidgets.QTableView()
    view.setObjectName(name)
    view.setModel(model)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(22)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    view.setWordWrap(False)
    # Short columns fit their contents; the last (a message, changed fields) takes the rest.
    header = view.horizontalHeader()
    for column in range(model.columnCount()):
        mode = QtWidgets.QHeaderView.ResizeMode.ResizeToContents
        header.setSectionResizeMode(column, mode)
    header.setStretchLastSection(True)
    return view


def summary_text(plan: ImportPlan) -> str:
    parts = [f"{plan.new:,} new", f"{plan.changed:,} changed", f"{plan.unchanged:,} unchanged"]
    if plan.skipped:
        parts.append(f"{plan.skipped:,} skipped")
    return " · ".join(parts)


def imported_text(summary: ImportSummary) -> str:
    """The status line after an import."""
    parts = [f"{summary.created:,} created", f"{summary.updated:,} updated"]
    if summary.copied:
        parts.append(f"{summary.copied:,} copied")
    if summary.skipped:
        parts.append(f"{summary.skipped:,} skipped")
    parts.append(f"{summary.unchanged:,} unchanged")
    return "Imported: " + ", ".join(parts)


class ImportWizard(QtWidgets.QDialog):
    mappingShown = Signal()  # the columns were read; the mapping step is showing
    planShown = Signal(object)  # the ImportPlan now in the preview
    failed = Signal(str)  # a step failed; the message is showing
    imported = Signal(object)  # the ImportSummary, after the commit
    stepDone = Signal(object)  # the commit's undoable.Step, for the window's Undo

    def __init__(
        self,
        database: Database,
        tasks: TaskRunner,
        author: str,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._database = database
        self._tasks = tasks
        self._author = author
        self._path: Path | None = None
        self._format: ImportFormat | None = None
        self._plan: ImportPlan | None = None
        self._task: Task | None = None
        self._committing = False
        self._after: Callable[[object], None] = lambda _result: None  # the running step's next
        self.setWindowTitle("Import datasets")
        self.setStyleSheet(STYLE_SHEET)
        self.resize(820, 600)
        self._build()
        self._show_step(Step.READING)
        self._update_buttons()

    # -- building -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.file_label = QtWidgets.QLabel("No file chosen")
        self.file_label.setObjectName("import-file")
        self.file_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.format_label = QtWidgets.QLabel()
        self.format_label.setProperty("role", "hint")
        self.choose_button = QtWidgets.QPushButton("Choose file…")
        self.choose_button.clicked.connect(self.choose_file)
        file_row = QtWidgets.QHBoxLayout()
        file_row.addWidget(QtWidgets.QLabel("File:"))
        file_row.addWidget(self.file_label, 1)
        file_row.addWidget(self.format_label)
        file_row.addWidget(self.choose_button)

        self.stack = QtWidgets.QStackedWidget()
        self.reading_label = QtWidgets.QLabel()
        self.reading_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.reading_label.setWordWrap(True)
        self.stack.addWidget(self.reading_label)
        self.stack.addWidget(self._build_mapping())
        self.stack.addWidget(self._build_preview())

        self.progress_bar = TaskProgressBar()
        # Hidden between steps without the buttons sliding left over its place.
        policy = self.progress_bar.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.progress_bar.setSizePolicy(policy)
        self.progress_bar.hide()
        self.message_label = QtWidgets.QLabel()
        self.message_label.setObjectName("import-message")
        self.message_label.setWordWrap(True)

        self.back_button = QtWidgets.QPushButton("< Back")
        self.back_button.clicked.connect(self.back)
        self.next_button = QtWidgets.QPushButton("Next >")
        self.next_button.clicked.connect(self.plan)
        self.import_button = QtWidgets.QPushButton("Import")
        self.import_button.setObjectName("import-button")
        self.import_button.clicked.connect(self.commit)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.progress_bar, 1)
        buttons.addSpacing(12)
        for button in (self.back_button, self.next_button, self.import_button, self.cancel_button):
            button.setAutoDefault(False)
            buttons.addWidget(button)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(file_row)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.message_label)
        layout.addLayout(buttons)

    def _build_mapping(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        intro = QtWidgets.QLabel(
            "Say which field of the catalogue each column holds. Columns that match a field "
            "by name are already chosen; an ignored column is not imported."
        )
        intro.setWordWrap(True)
        self.mapping_table = ColumnMappingTable()
        self.mapping_table.mappingChanged.connect(self._on_mapping_changed)
        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(intro)
        layout.addWidget(self.mapping_table, 1)
        return page

    def _build_preview(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        self.summary_label = QtWidgets.QLabel()
        self.summary_label.setObjectName("import-summary")
        self.summary_label.setProperty("role", "heading")
        self.errors_label = QtWidgets.QLabel()
        self.errors_label.setObjectName("import-errors")
        self.errors_label.setWordWrap(True)

        existing_box = QtWidgets.QGroupBox("Datasets whose id is already in the catalogue")
        existing_layout = QtWidgets.QHBoxLayout(existing_box)
        self.on_existing_buttons = QtWidgets.QButtonGroup(self)
        self.on_existing_radios: dict[OnExisting, QtWidgets.QRadioButton] = {}
        for choice, label in ON_EXISTING_CHOICES:
            radio = QtWidgets.QRadioButton(label)
            self.on_existing_radios[choice] = radio
            self.on_existing_buttons.addButton(radio)
            existing_layout.addWidget(radio)
        existing_layout.addStretch(1)
        self.on_existing_radios[OnExisting.SKIP].setChecked(True)
        self.on_existing_buttons.buttonToggled.connect(self._on_existing_toggled)

        self.errors_model = ListModel(["Row", "Column", "Message"], self)
        self.errors_view = _table_view(self.errors_model, "import-error-list")
        self.items_model = ListModel(["Row", "ID", "Title", "Action", "Changed fields"], self)
        self.items_view = _table_view(self.items_model, "import-item-list")
        self.preview_tabs = QtWidgets.QTabWidget()
        self.preview_tabs.addTab(self.errors_view, "Errors")
        self.preview_tabs.addTab(self.items_view, "Datasets")

        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.errors_label)
        layout.addWidget(existing_box)
        layout.addWidget(self.preview_tabs, 1)
        return page

    # -- what the dialog shows ------------------------------------------------------------------

    @property
    def step(self) -> Step:
        return Step(self.stack.currentIndex())

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def import_format(self) -> ImportFormat | None:
        return self._format

    @property
    def current_plan(self) -> ImportPlan | None:
        return self._plan

    @property
    def running(self) -> bool:
        return self._task is not None

    @property
    def on_existing(self) -> OnExisting:
        for choice, radio in self.on_existing_radios.items():
            if radio.isChecked():
                return choice
        return OnExisting.SKIP

    def set_on_existing(self, choice: OnExisting) -> None:
        self.on_existing_radios[choice].click()

    def error_rows(self) -> list[tuple[Any, ...]]:
        """(row, column, message) of every error shown."""
        return self.errors_model.rows()

    def item_rows(self) -> list[tuple[Any, ...]]:
        """(row, id, title, action, changed fields) of every planned dataset shown."""
        return self.items_model.rows()

    # -- steps ----------------------------------------------------------------------------------

    def choose_file(self) -> None:
        start = str(self._path.parent) if self._path else str(Path.home())
        name, _filter = QtWidgets.QFileDialog.getOpenFileName(
            self, "Import datasets from", start, FILE_FILTER
        )
        if name:
            self.open_file(Path(name))

    def open_file(self, path: Path) -> None:
        """Step 1: find out what the file is (and its columns, for a table)."""
        self._stop_task()
        self._path = path
        self._format = None
        self._plan = None
        self.file_label.setText(str(path))
        self.file_label.setToolTip(str(path))
        self.format_label.setText("")
        self.reading_label.setText(f"Reading {path.name}…")
        self._show_step(Step.READING)
        self._say("")

        def read(_progress: Progress) -> _ReadResult:
            found = importing.detect_format(path)
            columns = importing.table_columns(path) if found in TABLE_FORMATS else None
            return _ReadResult(found, columns)

        self._run(read, self._on_read)

    def _on_read(self, result: object) -> None:
        if not isinstance(result, _ReadResult):
            return
        found, columns = result.format, result.columns
        self._format = found
        self.format_label.setText(FORMAT_NAMES.get(found, str(found)))
        if columns is not None:
            self.mapping_table.set_columns(columns)
            self._show_step(Step.MAPPING)
            self._on_mapping_changed()
            self.mappingShown.emit()
        else:
            self.plan()

    def plan(self) -> None:
        """Step 3: plan the import (writes nothing) and preview it."""
        path = self._path
        if path is None or self._format is None:
            return
        mapping: dict[str, str] | None = None
        if self._format in TABLE_FORMATS:
            problem = self.mapping_table.problem()
            if problem is not None:
                self._say(problem, error=True)
                return
            mapping = self.mapping_table.mapping()
        self._stop_task()
        self._plan = None
        on_existing = self.on_existing
        self._show_step(Step.PREVIEW)
        self.summary_label.setText(f"Checking {path.name}…")
        self.errors_label.setText("")
        self.errors_model.set_rows([])
        self.items_model.set_rows([])
        self._say("")
        database = self._database

        def run(progress: Progress) -> ImportPlan:
            return importing.plan_import(
                database, path, mapping=mapping, on_existing=on_existing, progress=progress
            )

        self._run(run, self._on_planned)

    def _on_planned(self, result: object) -> None:
        if not isinstance(result, ImportPlan):
            return
        self._plan = result
        self.summary_label.setText(summary_text(result))
        errors = result.errors
        if errors:
            if len(errors) == 1:
                text = "1 error — nothing can be imported until it is fixed in the file. "
                text += "It is listed below with its row and column."
            else:
                text = f"{len(errors):,} errors — nothing can be imported until they are fixed "
                text += "in the file. Each is listed below with its row and column."
            self.errors_label.setText(text)
            self.errors_label.setProperty("role", "error")
        elif result.new or result.changed:
            self.errors_label.setText("No errors. Import writes all of it in one go.")
            self.errors_label.setProperty("role", "hint")
        else:
            self.errors_label.setText("Nothing to import: the catalogue already has all of it.")
            self.errors_label.setProperty("role", "hint")
        _repolish(self.errors_label)
        self.errors_model.set_rows([(e.row, e.column, e.message) for e in errors])
        self.items_model.set_rows([_item_row(item) for item in result.items])
        self.preview_tabs.setTabText(0, f"Errors ({len(errors):,})")
        self.preview_tabs.setTabText(1, f"Datasets ({len(result.items):,})")
        self.preview_tabs.setTabEnabled(0, bool(errors))
        self.preview_tabs.setCurrentIndex(0 if errors else 1)
        self._update_buttons()
        self.planShown.emit(result)

    def commit(self) -> None:
        """Step 4: write the previewed plan in one transaction."""
        plan = self._plan
        if plan is None or not self._can_import() or self.running:
            return
        database, author = self._database, self._author
        self._committing = True
        self._say("Importing…")

        def run(progress: Progress) -> ImportSummary:
            return importing.commit_import(database, plan, author=author, progress=progress)

        self._run(run, self._on_committed)

    def _on_committed(self, result: object) -> None:
        self._committing = False
        if isinstance(result, ImportSummary):
            self._say(imported_text(result))
            if result.step.edits:  # pushed first: the refresh after `imported` shows its Undo
                self.stepDone.emit(result.step)
            self.imported.emit(result)
            self.accept()

    def back(self) -> None:
        if self.step is Step.PREVIEW and self._format in TABLE_FORMATS and not self.running:
            self._plan = None
            self._say("")
            self._show_step(Step.MAPPING)
            self._update_buttons()

    def reject(self) -> None:
        if self._committing and self._task is not None:
            # The transaction rolls back; stay open to say so.
            self._task.cancel()
            self._say("Cancelling…")
            return
        self._stop_task()  # reading or planning wrote nothing
        super().reject()

    # -- tasks ----------------------------------------------------------------------------------

    def _run(self, fn: Callable[[Progress], object], after: Callable[[object], None]) -> None:
        self._after = after
        self.progress_bar.restart()
        self.progress_bar.show()
        self._task = self._tasks.run(
            fn,
            on_done=self._on_task_done,
            on_error=self._on_failed,
            on_progress=self.progress_bar.report,
            on_cancelled=self._on_cancelled,
        )
        self._update_buttons()

    def _on_task_done(self, result: object) -> None:
        if not self._is_current():
            return  # superseded (a new file, a new choice) or stopped
        self._finish_task()
        self._after(result)
        self._update_buttons()

    def _is_current(self) -> bool:
        return self._task is not None and delivering() is self._task

    def _finish_task(self) -> None:
        self._task = None
        self.progress_bar.hide()

    def _on_failed(self, error: Exception) -> None:
        if not self._is_current():
            return
        self._finish_task()
        committing, self._committing = self._committing, False
        if committing:
            message = f"Nothing was imported: {error_text(error)}"
        elif self.step is Step.READING:
            message = f"This file cannot be imported: {error_text(error)}"
            self.reading_label.setText(message)
        else:
            message = f"This file cannot be imported: {error_text(error)}"
            self.summary_label.setText("Not imported")
        self._say(message, error=True)
        self._update_buttons()
        self.failed.emit(message)
        if committing and isinstance(error, StaleEdit):
            self.plan()  # the catalogue changed since the preview: show what it is now
            self._say(message, error=True)

    def _on_cancelled(self) -> None:
        if not self._is_current():
            return
        self._finish_task()
        if self._committing:
            self._committing = False
            self._say("Import cancelled; nothing was written.")
        self._update_buttons()

    def _stop_task(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()  # its late answer is ignored: it is no longer the current task
        self.progress_bar.hide()
        self._committing = False

    # -- internals ------------------------------------------------------------------------------

    def _show_step(self, step: Step) -> None:
        self.stack.setCurrentIndex(step.value)

    def _on_mapping_changed(self) -> None:
        if self.step is Step.MAPPING:
            problem = self.mapping_table.problem()
            self._say(problem or "", error=problem is not None)
        self._update_buttons()

    def _on_existing_toggled(self, _button: QtWidgets.QAbstractButton, checked: bool) -> None:
        # Only the newly checked radio re-plans (the unchecked one toggles too).
        if checked and self.step is Step.PREVIEW and not self._committing:
            self.plan()

    def _can_import(self) -> bool:
        plan = self._plan
        return plan is not None and plan.ok and (plan.new + plan.changed) > 0

    def _update_buttons(self) -> None:
        running = self.running
        step = self.step
        self.back_button.setVisible(self._format in TABLE_FORMATS)
        self.back_button.setEnabled(step is Step.PREVIEW and not running)
        self.next_button.setVisible(step is not Step.PREVIEW)
        self.next_button.setEnabled(
            step is Step.MAPPING and not running and self.mapping_table.problem() is None
        )
        self.import_button.setEnabled(step is Step.PREVIEW and not running and self._can_import())
        self.import_button.setDefault(self.import_button.isEnabled())
        self.choose_button.setEnabled(not self._committing)
        for radio in self.on_existing_radios.values():
            radio.setEnabled(not self._committing)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message_label.setProperty("role", "error" if error else "hint")
        self.message_label.setText(text)
        _repolish(self.message_label)


def _item_row(item: PlannedItem) -> tuple[Any, ...]:
    return (
        item.row,
        item.dataset_id,
        item.record.get("title", ""),
        ACTION_NAMES.get(item.action, item.action),
        ", ".join(item.changes) if item.action == "update" else "",
    )


def _repolish(widget: QtWidgets.QWidget) -> None:
    """A dynamic property (role) is styled only once the style is applied again."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)
