"""The main window: the dataset table on the left; form, history and permissions on the right."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.models.database import Database
from app.services import datasets
from app.services.catalogue_files import catalogue_location
from app.services.catalogue_watch import CatalogueChange
from app.services.errors import NotFound
from app.services.records import Record
from app.views.catalogue_menu import CatalogueMenu, window_title
from app.views.dataset_form import DatasetForm
from app.views.dataset_table_model import TITLE_COLUMN, DatasetTableModel
from app.views.facet_sidebar import FacetSidebar
from app.views.failures import FailureReporter
from app.views.file_drops import accept_local_files
from app.views.form_widgets import FormChoices
from app.views.help_dialogs import HelpMenu
from app.views.history_panel import HistoryPanel
from app.views.link_checker import LinkChecker, summary
from app.views.operations import Operations
from app.views.permissions_view import PermissionsView
from app.views.qt import QtCore, QtGui, QtWidgets, Signal
from app.views.search_box import SearchBar
from app.views.server_panel import ServerPanel
from app.views.sync_controller import SyncController
from app.views.table_notice import EmptyTableNotice
from app.views.table_selection import DatasetTableView, TableSelection
from app.views.tasks import TaskRunner
from app.views.undo import UndoHistory
from app.views.window_commands import WindowCommands
from app.views.window_settings import WindowState

if TYPE_CHECKING:  # the exporters and importers (openpyxl, rdflib) load on first use
    from app.services.exporting import ExportResult
    from app.services.importing import ImportSummary
    from app.views.batch_edit_dialog import BatchEditDialog
    from app.views.duplicates_dialog import DuplicatesDialog
    from app.views.export_dialog import ExportDialog
    from app.views.import_wizard import ImportWizard
    from app.views.trash_view import DeletedDialog

# Starting widths in pixels by column key; "created_at" starts hidden (View > Columns).
COLUMN_WIDTHS = {"id": 64, "title": 300, "state": 86, "sharing": 70, "team": 170,
                 "updated_at": 128, "created_at": 128, "tags": 200, "resources": 80,
                 "broken_links": 96}  # fmt: skip
HIDDEN_COLUMNS = {"created_at", "sharing"}

STATE_FILTERS = [("All states", None), ("Draft", "draft"), ("Published", "published"),
                 ("Private", "private"), ("Embargoed", "embargoed")]  # fmt: skip


# Every dataset may have changed (an import, a pull): refresh everything shown.
EVERYTHING = CatalogueChange(directory=True, outside=True, every_dataset=True)


class MainWindow(QtWidgets.QMainWindow):
    datasetOpened = Signal(object)  # the form now shows this dataset id (None: no dataset)

    def __init__(self, database: Database, author: str | None = None) -> None:
        super().__init__()
        self.database = database
        self.author = author or getpass.getuser()
        self.failures = FailureReporter(self)
        self.tasks = TaskRunner(self)
        self.tasks.error.connect(self._show_error)
        # Every write of this window, and news of others' (docs/ARCHITECTURE.md: one write path).
        self.operations = Operations(database, self.failures, self)
        self.operations.catalogueChanged.connect(self._on_catalogue_changed)
        self.undo = UndoHistory(self.operations, lambda: self.author, self)
        # The record in the form as last loaded from (or saved to) the catalogue; None = nothing.
        self._current: Record | None = None
        self._current_version: int | None = None
        self._current_is_new = False
        self._open_generation = 0  # bumps with each open: a late read for an older one is dropped
        # The table's selection follows the form's dataset (views.table_selection).
        self.selection = TableSelection(self)
        self.deleted_dialog: DeletedDialog | None = None
        self.duplicates_dialog: DuplicatesDialog | None = None
        # Asks yes or no before a delete (and other irreversible steps); replaced in tests.
        self.confirm: Callable[[str, str], bool] = self._confirm
        # Asks "Save, Discard or Cancel?"; replaced in tests.
        self.ask_unsaved = self._ask_unsaved
        # The export and import dialogs last opened (tests drive them through these).
        self.export_dialog: ExportDialog | None = None
        self.import_wizard: ImportWizard | None = None
        self._export_folder = Path.home()
        # A file dropped anywhere but on the form (which takes files as resources) is imported.
        self.setAcceptDrops(True)

        self.setWindowTitle(window_title(database.url))
        self.resize(1400, 860)
        self._build_table()
        self._build_side()
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self._table_panel)
        splitter.addWidget(self.side_tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        # Facets and saved searches left of the table (views.facet_sidebar).
        self.facets = FacetSidebar(self.operations, self.model, self.search_box, database.url)
        splitter.insertWidget(0, self.facets)
        splitter.setSizes([270, 730, 400])
        self.setCentralWidget(splitter)
        self._build_actions()
        self._build_menus_and_toolbar()
        # Sync with hosted portals: the controller owns its menu, dialogs and running sync.
        self.sync = SyncController(self.database, self.tasks, self, self.operations,
                                   before_start=lambda: self.confirm_discard())  # fmt: skip
        self.sync.build_menu(self.menuBar())
        self.sync.catalogueChanged.connect(self._reload_after_write)
        self.count_label = QtWidgets.QLabel()
        self.statusBar().addPermanentWidget(self.link_checker.widget)
        self.statusBar().addPermanentWidget(self.count_label)
        self.undo.changed.connect(self._update_actions)
        self.undo.refused.connect(self._undo_refused)
        self.undo.applied.connect(self.commands.step_applied)
        self.history.stepDone.connect(self.undo.push)
        # File > New, Open and Recent catalogues (views.catalogue_switch acts on them), Help,
        # "no matches" over an empty table, and the layout this window had last time.
        self.catalogues = CatalogueMenu(database.url, self)
        self.catalogues.install(self.menuBar())
        self.help = HelpMenu(self, catalogue_location(database.url))
        self.help.install(self.menuBar())
        self.empty_notice = EmptyTableNotice(self.table, self.model)
        self.window_state = WindowState(self)
        self._update_actions()
        self.operations.start_watching()

    # -- building -----------------------------------------------------------------------------

    def _build_table(self) -> None:
        # Its own runner: window fetches never queue behind an export or a file hash.
        self.model = DatasetTableModel(self.database, TaskRunner(self), self)
        self.model.countChanged.connect(self._on_count_changed)
        self.model.windowLoaded.connect(self.selection.on_window_loaded)
        # The query language, its errors and field names (views.search_box); it queries once
        # the person pauses typing.
        self.search_bar = SearchBar()
        self.search_box = self.search_bar.box
        self.search_bar.searchChanged.connect(self.model.set_search)
        self.state_filter = QtWidgets.QComboBox()
        for label, value in STATE_FILTERS:
            self.state_filter.addItem(label, value)
        self.state_filter.currentIndexChanged.connect(
            lambda _i: self.model.set_state_filter(self.state_filter.currentData())
        )
        self.table = DatasetTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        # Several rows can be selected (Ctrl/Shift+click) for an export or a link check; the
        # form edits the current one.
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        header.setSortIndicator(TITLE_COLUMN, QtCore.Qt.SortOrder.AscendingOrder)
        for column, spec in enumerate(self.model.columns):
            header.resizeSection(column, COLUMN_WIDTHS.get(spec.key, 120))
            header.setSectionHidden(column, spec.key in HIDDEN_COLUMNS)
        header.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._show_column_menu)
        self.table.selectionModel().currentRowChanged.connect(self._on_row_changed)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.search_bar, 1)
        top.addWidget(self.state_filter, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        layout = QtWidgets.QVBoxLayout()
        layout.setContentsMargins(6, 6, 0, 6)
        layout.addLayout(top)
        layout.addWidget(self.table)
        self._table_panel = QtWidgets.QWidget()
        self._table_panel.setLayout(layout)

    def _build_side(self) -> None:
        self.form = DatasetForm(self.database, self.tasks, self)
        self.form.saveRequested.connect(self.save_record)
        self.form.revertRequested.connect(self._revert)
        self.form.dirtyChanged.connect(lambda _dirty: self._update_actions())
        self.history = HistoryPanel(self.database, self, operations=self.operations)
        self.permissions = PermissionsView(self.database, self, operations=self.operations)
        self.side_tabs = QtWidgets.QTabWidget()
        self.side_tabs.addTab(self.form, "Dataset")
        self.side_tabs.addTab(self.history, "History")
        self.side_tabs.addTab(self.permissions, "Permissions")
        self.server_panel = ServerPanel(self.database, self, operations=self.operations)
        self.side_tabs.addTab(self.server_panel, "Server")
        self.form.setEnabled(False)

    def _action(self, text: str, slot: Any, shortcut: Any = None, tip: str = "") -> QtGui.QAction:
        action = QtGui.QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QtGui.QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        keys = QtGui.QKeySequence.StandardKey
        # The writes: save, delete, publish, unpublish (views.window_commands).
        self.commands = WindowCommands(self)
        self.new_action = self._action("&New dataset", self.new_dataset, keys.New)
        self.save_action = self._action("&Save", self.save_current, keys.Save)
        self.delete_action = self._action("&Delete dataset…", self.delete_selected, keys.Delete)
        self.publish_action = self._action("&Publish", self.publish_selected, "Ctrl+P")
        self.unpublish_action = self._action("&Unpublish", self.unpublish_selected, "Ctrl+Shift+P")
        self.batch_edit_action = self._action(
            "&Edit selected…", self.edit_selected, "Ctrl+Shift+E",
            "Change tags, topics, team, licence, contact, embargo or state of the highlighted rows",
        )  # fmt: skip
        for action, short in ((self.delete_action, "Delete"), (self.publish_action, "Publish"),
                              (self.unpublish_action, "Unpublish")):  # fmt: skip
            action.setIconText(short)  # the toolbar's text stays short whatever the count
        self.undo_action, self.redo_action = self.undo.make_actions(self)
        self.deleted_action = self._action(
            "&Deleted datasets…", self.open_deleted, "Ctrl+Shift+D",
            "The deleted datasets: restore them, or empty them for good",
        )  # fmt: skip
        self.find_action = self._action("&Find", self._focus_search, keys.Find)
        self.refresh_action = self._action("&Refresh", self.model.refresh, keys.Refresh)
        self.quit_action = self._action("&Quit", self.close, keys.Quit)
        self.import_action = self._action("&Import…", self.import_file, "Ctrl+I",
                                          "Import datasets from a file")  # fmt: skip
        self.export_action = self._action(
            "&Export…", self.open_export, "Ctrl+E", "Export the catalogue to a file"
        )
        self.link_checker = LinkChecker(self.database, self.tasks, self.operations, self)
        self.link_checker.finished.connect(  # the table and form follow its catalogueChanged
            lambda results: self.statusBar().showMessage(summary(results), 15000)
        )
        self.link_checker.cancelled.connect(
            lambda: self.statusBar().showMessage("Link check cancelled; nothing recorded", 8000)
        )
        self.link_checker.runningChanged.connect(lambda _running: self._update_actions())
        self.check_selected_links_action = self._action(
            "Check links of the &selected datasets",
            lambda: self.check_links(selected=True),
            tip="Ask each link's server whether it still answers",
        )
        self.check_all_links_action = self._action(
            "Check &all links",
            lambda: self.check_links(selected=False),
            tip="Ask each link's server whether it still answers",
        )
        self.duplicates_action = self._action(
            "Find &duplicates…", self.open_duplicates, tip="Datasets with the same title or file"
        )
        for action in (self.undo_action, self.redo_action):
            # Undo of saved edits must not fire while the person is typing in a field.
            action.setShortcutContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.table.addAction(action)
        self.delete_action.setShortcutContext(QtCore.Qt.ShortcutContext.WidgetShortcut)
        self.table.addAction(self.delete_action)

    def _build_menus_and_toolbar(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addActions([self.new_action, self.save_action])
        file_menu.addSeparator()
        file_menu.addActions([self.import_action, self.export_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = menu.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        edit_menu.addSeparator()
        edit_menu.addActions([self.find_action, self.delete_action])
        self.view_menu = menu.addMenu("&View")
        self.view_menu.addAction(self.refresh_action)
        self.view_menu.addAction(self.deleted_action)
        self.columns_menu = self.view_menu.addMenu("&Columns")
        self.columns_menu.aboutToShow.connect(lambda: self._fill_column_menu(self.columns_menu))
        dataset_menu = menu.addMenu("&Dataset")
        dataset_menu.addActions([self.publish_action, self.unpublish_action])
        dataset_menu.addAction(self.batch_edit_action)
        tools_menu = menu.addMenu("&Tools")
        tools_menu.addActions([self.check_selected_links_action, self.check_all_links_action])
        tools_menu.addSeparator()
        tools_menu.addAction(self.duplicates_action)
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.addActions([self.new_action, self.save_action, self.delete_action])
        toolbar.addSeparator()
        toolbar.addActions([self.undo_action, self.redo_action])
        toolbar.addSeparator()
        toolbar.addActions([self.publish_action, self.unpublish_action])

    # -- column chooser -----------------------------------------------------------------------

    def _fill_column_menu(self, menu: QtWidgets.QMenu) -> None:
        menu.clear()
        header = self.table.horizontalHeader()
        for column in range(self.model.columnCount()):
            name = self.model.headerData(column, QtCore.Qt.Orientation.Horizontal)
            action = menu.addAction(str(name))
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            action.toggled.connect(
                lambda checked, c=column: self.set_column_visible(c, bool(checked))
            )

    def _show_column_menu(self, pos: QtCore.QPoint) -> None:
        menu = QtWidgets.QMenu(self)
        self._fill_column_menu(menu)
        menu.exec(self.table.horizontalHeader().mapToGlobal(pos))

    def set_column_visible(self, column: int, visible: bool) -> None:
        header = self.table.horizontalHeader()
        hidden = [c for c in range(self.model.columnCount()) if header.isSectionHidden(c)]
        if not visible and len(hidden) + 1 >= self.model.columnCount():
            return  # keep at least one column
        header.setSectionHidden(column, not visible)

    # -- selection ----------------------------------------------------------------------------

    def selected_ranges(self) -> list[tuple[int, int]]:
        """The highlighted rows as merged (first, last) ranges."""
        return self.selection.ranges()

    def selected_count(self) -> int:
        return self.selection.count()

    # -- export and import --------------------------------------------------------------------

    def open_export(self) -> ExportDialog:
        """File > Export: the dialog, told what the selection and the search are now."""
        from app.views.export_dialog import ExportDialog

        ranges = self.selected_ranges()
        spec = self.model.spec
        # The table's count is the search's only when no state or facet narrows it further.
        search_count = self.model.rowCount() if spec.state is None and not spec.facets else None
        dialog = ExportDialog(
            self.database,
            self.tasks,
            folder=self._export_folder,
            selected=sum(last - first + 1 for first, last in ranges),
            resolve_selection=self.model.resolve_rows(ranges),
            search=spec.search,
            search_count=search_count,
            parent=self,
        )
        dialog.exported.connect(self._on_exported)
        self._replace_dialog(self.export_dialog)
        self.export_dialog = dialog
        dialog.open()
        return dialog

    def _on_exported(self, result: ExportResult) -> None:
        from app.views.export_dialog import export_message

        self._export_folder = result.destination.parent
        self.statusBar().showMessage(export_message(result), 15000)

    def import_file(self, path: Path | None = None) -> ImportWizard | None:
        """File > Import (or a dropped file): the import wizard on `path`, asked for if None."""
        from app.views.import_wizard import FILE_FILTER, ImportWizard

        if path is None:
            name, _filter = QtWidgets.QFileDialog.getOpenFileName(
                self, "Import datasets from", str(self._export_folder), FILE_FILTER
            )
            if not name:
                return None
            path = Path(name)
        wizard = ImportWizard(self.database, self.tasks, self.author, self)
        wizard.imported.connect(self._on_imported)
        wizard.stepDone.connect(self.undo.push)  # one step: Undo deletes what it created
        self._replace_dialog(self.import_wizard)
        self.import_wizard = wizard
        wizard.open()
        wizard.open_file(path)
        return wizard

    def _on_imported(self, summary: ImportSummary) -> None:
        from app.views.import_wizard import imported_text

        self.statusBar().showMessage(imported_text(summary), 15000)
        self._reload_after_write()

    def _reload_after_write(self) -> None:
        """An import or a pull wrote to the catalogue: show it all again."""
        self.operations.announce(EVERYTHING)

    @staticmethod
    def _replace_dialog(dialog: QtWidgets.QDialog | None) -> None:
        # A finished dialog is dropped; one still open (non-modal use) is left alone.
        if dialog is not None and not dialog.isVisible():
            dialog.deleteLater()

    # -- link check ---------------------------------------------------------------------------

    def check_links(self, *, selected: bool) -> bool:
        """Tools > Check links, of the selected datasets or of all; False if it did not start."""
        if self.link_checker.running or not self.confirm_discard():
            # The check records its findings as a new version of each dataset: unsaved edits
            # in the form are saved or dropped first, as before a publish.
            return False
        if selected:
            count = self.selected_count()
            if not count:
                return False
            resolve = self.model.resolve_rows(self.selected_ranges())
            what = "the selected dataset" if count == 1 else f"{count:,} selected datasets"
            return self.link_checker.start(resolve, what)
        return self.link_checker.start(None, "every dataset")

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if not accept_local_files(event):
            super().dragEnterEvent(event)

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        paths = accept_local_files(event)
        if not paths:
            super().dropEvent(event)
            return
        if len(paths) > 1:
            self.statusBar().showMessage(
                f"One file at a time: importing {paths[0].name} only", 8000
            )
        # Queued: a modal dialog must not open inside the drop's own event handling.
        QtCore.QTimer.singleShot(0, lambda: self.import_file(paths[0]))

    # -- selection and loading ----------------------------------------------------------------

    def _on_row_changed(self, current: QtCore.QModelIndex, previous: QtCore.QModelIndex) -> None:
        if self.selection.moving:
            return
        self.selection.row_waiting = None
        dataset_id = self.model.dataset_id_at(current.row()) if current.isValid() else None
        if current.isValid() and dataset_id is None:
            # Its rows are still being fetched (Ctrl+End, a jump): open it once they arrive.
            self.selection.row_waiting = current.row()
            return
        if self._current is not None and dataset_id == self._current["id"]:
            return
        if not self.confirm_discard(then=lambda: self.open_dataset(dataset_id)):
            if self.form.is_dirty() and not self.commands.saving:
                # Cancelled: the selection goes back to where the unsaved edit is.
                self.selection.move(previous.row() if previous.isValid() else None)
            return
        self.open_dataset(dataset_id)

    def open_dataset(self, dataset_id: str | None) -> None:
        """Show a dataset in the form, history and permissions (read off the GUI thread;
        `datasetOpened` says when); None clears them."""
        self._open_generation += 1
        generation = self._open_generation
        if dataset_id is None:
            self._show_record(None, None)
            return

        def read(session: Any) -> tuple[Record, int, FormChoices] | None:
            try:  # with the form's lists (teams, users...): none is read on the GUI thread
                dataset = datasets.get_dataset(session, dataset_id)
                record = datasets.get_record(session, dataset_id)
            except NotFound:
                return None
            return record, dataset.version, FormChoices.read(session)

        def done(found: tuple[Record, int, FormChoices] | None) -> None:
            if generation == self._open_generation:
                self._show_record(*(found or (None, None, None)))

        self.operations.read(f"open dataset {dataset_id}", read, done)

    def _show_record(
        self, record: Record | None, version: int | None, choices: FormChoices | None = None
    ) -> None:
        self._current = record
        self._current_version = version
        self._current_is_new = False
        if record is None:
            self.form.setEnabled(False)
        else:
            self.form.setEnabled(True)
            self.form.load(record, choices)
        self.history.set_dataset(record["id"] if record else None)
        self.permissions.set_dataset(record["id"] if record else None)
        current_row = self.table.currentIndex().row()
        if record is not None and self.model.dataset_id_at(current_row) != record["id"]:
            self.selection.keep()  # the form's dataset is the highlighted row, always
        self._update_actions()
        self.datasetOpened.emit(record["id"] if record else None)

    def confirm_discard(self, then: Callable[[], None] | None = None) -> bool:
        """True when it is fine to drop the form's content now (saved, discarded, or nothing).
        "Save" starts the save and answers False: `then` runs once it is saved."""
        if self._current is None or not self.form.is_dirty():
            return True
        answer = self.ask_unsaved()
        if answer == QtWidgets.QMessageBox.StandardButton.Save:
            self.commands.save(self.form.record(), then=then)
            return False
        return answer == QtWidgets.QMessageBox.StandardButton.Discard

    def _ask_unsaved(self) -> QtWidgets.QMessageBox.StandardButton:
        buttons = QtWidgets.QMessageBox.StandardButton
        return QtWidgets.QMessageBox.question(
            self,
            "Unsaved changes",
            f"“{self.form.record().get('title') or 'This dataset'}” has unsaved changes.",
            buttons.Save | buttons.Discard | buttons.Cancel,
            buttons.Save,
        )

    def _confirm(self, title: str, text: str) -> bool:
        buttons = QtWidgets.QMessageBox.StandardButton
        # No is the default: Enter must not delete.
        answer = QtWidgets.QMessageBox.question(self, title, text, buttons.Yes | buttons.No,
                                                buttons.No)  # fmt: skip
        return answer == buttons.Yes

    # -- commands (the writes live in views.window_commands) ----------------------------------

    def new_dataset(self) -> None:
        if not self.confirm_discard(then=self.new_dataset):
            return
        with self.database.read() as session:  # a fresh id (one indexed lookup), short lists
            record, choices = datasets.new_record(session), FormChoices.read(session)
        self._open_generation += 1  # an open still reading must not replace the new record
        self.selection.move(None)
        self._current = record
        self._current_is_new = True
        self._current_version = None
        self.form.setEnabled(True)
        self.form.load(record, choices)
        self.history.set_dataset(None)
        self.permissions.set_dataset(None)
        self.side_tabs.setCurrentWidget(self.form)
        self.form.setFocus()
        self._update_actions()

    def save_current(self) -> None:
        if self._current is not None:
            self.save_record(self.form.record())

    def save_record(self, record: Record) -> None:
        """Save the form's record off the GUI thread; bad input is shown next to the field."""
        self.commands.save(record)

    def delete_selected(self) -> None:
        self.commands.delete_selected()

    def publish_selected(self) -> None:
        self.commands.transition("publish")

    def unpublish_selected(self) -> None:
        self.commands.transition("unpublish")

    def edit_selected(self) -> BatchEditDialog | None:
        """Dataset > Edit selected…: one change to every highlighted dataset, previewed."""
        from app.views.batch_edit_dialog import open_batch_edit

        return open_batch_edit(self)

    def open_deleted(self) -> DeletedDialog:
        """View > Deleted datasets: list, restore, empty for good."""
        from app.views.trash_view import DeletedDialog

        if self.deleted_dialog is None:
            self.deleted_dialog = DeletedDialog(self.operations, self.undo, self.author, self)
            self.deleted_dialog.restored.connect(lambda ids: self.open_dataset(ids[0]))
        self.deleted_dialog.show()
        self.deleted_dialog.refresh()
        return self.deleted_dialog

    def open_duplicates(self) -> DuplicatesDialog:
        """Tools > Find duplicates: groups of likely duplicates, merged as one undoable step."""
        from app.views.duplicates_dialog import DuplicatesDialog

        if self.duplicates_dialog is None:
            self.duplicates_dialog = DuplicatesDialog(self.operations, self.undo, self.author, self)
        self.duplicates_dialog.show()
        self.duplicates_dialog.refresh()
        return self.duplicates_dialog

    def _revert(self) -> None:
        if self._current is not None:
            self.form.load(self._current)

    def _undo_refused(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)
        self.failures.show(QtWidgets.QMessageBox.Icon.Information, message)

    # -- the catalogue changed ----------------------------------------------------------------

    def _on_catalogue_changed(self, change: CatalogueChange) -> None:
        """One refresh for every change, ours or others': table, form, history, permissions."""
        self.model.refresh()  # the selection follows the form's dataset (_on_count_changed)
        current = self._current
        shown = current["id"] if current is not None and not self._current_is_new else None
        if change.touches(shown):
            if not self.form.is_dirty():
                self.open_dataset(shown)
            elif change.outside:
                self.statusBar().showMessage(
                    f"“{current.get('title') if current else shown}” was changed elsewhere: "
                    "saving merges your edit with it, asking about fields you both changed.", 15000
                )  # fmt: skip
        elif change.touches(self.history.dataset_id):
            self.history.refresh()
        # The permissions view re-reads on a directory change itself (the same signal).
        if self.deleted_dialog is not None and self.deleted_dialog.isVisible():
            self.deleted_dialog.refresh()

    def _on_count_changed(self, count: int) -> None:
        self.count_label.setText(f"{count:,} datasets")
        self.search_bar.show_error(self.model.query_error)
        self.selection.keep()

    def select_dataset(self, dataset_id: str) -> None:
        """Select `dataset_id`'s row (and only it) and scroll to it; the form follows."""
        self.selection.select_dataset(dataset_id)

    def _focus_search(self) -> None:
        self.search_box.setFocus()
        self.search_box.selectAll()

    def _update_actions(self) -> None:
        has = self._current is not None
        saved = has and not self._current_is_new
        state = self._current.get("state") if self._current else None
        count = self.selected_count()
        self.save_action.setEnabled(has and not self.commands.saving)
        plural = f" {count:,} datasets" if count > 1 else ""
        self.delete_action.setText(f"&Delete{plural or ' dataset'}…")
        self.publish_action.setText(f"&Publish{plural}")
        self.unpublish_action.setText(f"&Unpublish{plural}")
        self.batch_edit_action.setText(f"&Edit{plural or ' selected'}…")
        self.batch_edit_action.setEnabled(count > 0)
        # One row: what its state allows; several: those that can are, the rest left alone.
        self.delete_action.setEnabled(count > 0)
        self.publish_action.setEnabled(count > 1 or (count == 1 and saved and state == "draft"))
        self.unpublish_action.setEnabled(
            count > 1 or (count == 1 and saved and state == "published")
        )
        checking = self.link_checker.running
        self.check_selected_links_action.setEnabled(not checking and count > 0)
        self.check_all_links_action.setEnabled(not checking)

    def _show_error(self, error: object) -> None:
        if isinstance(error, BaseException):
            self.failures.report(error)
        else:
            self.failures.show(QtWidgets.QMessageBox.Icon.Warning, str(error))

    def _close_again(self) -> None:
        self.close()  # after the save the closing asked for

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        if not self.server_panel.confirm_close():
            event.ignore()  # the person keeps serving
            return
        if not self.sync.ready_to_close():
            event.ignore()  # a running sync is cancelled first; the window closes once it stops
            return
        if self.confirm_discard(then=self._close_again):
            self.server_panel.stop()
            # Running exports, imports and link checks stop: the window waits for its tasks.
            self.link_checker.cancel()
            for dialog in (self.export_dialog, self.import_wizard, self.deleted_dialog,
                           self.duplicates_dialog):  # fmt: skip
                if dialog is not None and dialog.isVisible():
                    dialog.reject()
            self.operations.stop()  # the writes in flight finish first
            event.accept()
        else:
            event.ignore()
