"""The dataset form: every field of the seed-002 record, with validation messages at the field.

The form edits a copy of one record and never writes it: Save (the button, or Ctrl+S while the
focus is inside the form) emits `saveRequested(record)`; the main window saves it and then calls
`load()` with the stored record or `show_errors()` with the service's field messages.

Round trip: `record()` starts from the loaded record and replaces only the fields whose widget
shows something other than what `load()` put there, so an unedited form gives back exactly the
record it was given (unknown keys, None versus "" and key order included). `is_dirty()` is
simply `record() != loaded record`, so typing a change and undoing it makes the form clean again.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app.models.database import Database
from app.services import datasets, files
from app.services.record.canonical import empty_record
from app.services.record.fields import FIELDS, label
from app.services.records import Record
from app.services.visibility import display_state_of
from app.views.child_list_editor import (
    ChildListEditor,
    first_free_order,
    links_editor,
    resources_editor,
)
from app.views.custom_fields_editor import CustomFieldsEditor
from app.views.file_drops import FileReader, accept_local_files
from app.views.form_widgets import (
    STYLE_SHEET,
    Bindings,
    CheckList,
    ChoiceButtons,
    FieldRow,
    FormChoices,
    LicenceBox,
    MastheadCombo,
    OptionalDateEdit,
    StringListEditor,
    TeamCombo,
    form_layout,
    labelled,
    line_edit,
)
from app.views.html_preview import HtmlPreview
from app.views.qt import QtCore, QtGui, QtWidgets, Signal
from app.views.state_wording import SHARING_TEXT, embargo_notice, state_text
from app.views.tasks import TaskRunner


class DatasetForm(QtWidgets.QWidget):
    """Edit one dataset record. See the module docstring for the save and dirty contract."""

    dirtyChanged = Signal(bool)
    saveRequested = Signal(object)  # the edited record (dict)
    revertRequested = Signal()
    resourceAdded = Signal(str)  # the id of a resource made from a local file
    filesFinished = Signal()  # the queue of files to describe is empty again

    TABS = ("Content", "Sidebar", "Files && links", "Access", "Metadata")

    def __init__(
        self, database: Database, tasks: TaskRunner, parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._database = database
        self._tasks = tasks
        self._loaded: Record = {}
        self._dirty = False
        self._loading = False
        self._bindings = Bindings()
        self._choices = FormChoices([], [], [], [], [])
        self._next_order = 0
        self.setAcceptDrops(True)
        self.setStyleSheet(STYLE_SHEET)
        self.setMinimumWidth(440)
        self._build()
        self.reload_choices()
        self.load(empty_record("", ""))

    # -- building -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.heading = labelled("heading")
        self.heading.setWordWrap(False)
        self.heading.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state_badge = labelled("badge")
        self.dirty_label = labelled("hint")
        header = QtWidgets.QHBoxLayout()
        header.addWidget(self.heading, 1)
        header.addWidget(self.dirty_label)
        header.addWidget(self.state_badge)

        # Says what the state means when the stored state alone would mislead: an embargo date
        # that has passed, or one still ahead.
        self.state_notice = labelled("warning")
        self.state_notice.setObjectName("state-notice")
        self.state_notice.hide()

        self.banner = labelled("banner")
        self.banner.setObjectName("error-banner")
        self.banner.hide()

        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setDocumentMode(True)
        self._pages: list[QtWidgets.QScrollArea] = []
        self._page_widgets: list[QtWidgets.QWidget] = []
        builders = (
            self._build_content,
            self._build_sidebar,
            self._build_files,
            self._build_access,
            self._build_metadata,
        )
        for name, build in zip(self.TABS, builders, strict=True):
            page = QtWidgets.QWidget()
            build(page)
            scroll = QtWidgets.QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
            scroll.setWidget(page)
            self._pages.append(scroll)
            self._page_widgets.append(page)
            self.tabs.addTab(scroll, name)

        self.revert_button = QtWidgets.QPushButton("Revert")
        self.revert_button.setToolTip("Drop the unsaved changes and show the saved dataset")
        self.revert_button.clicked.connect(self.revertRequested.emit)
        self.save_button = QtWidgets.QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.setToolTip("Save this dataset (Ctrl+S)")
        self.save_button.clicked.connect(self.request_save)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)

        # Instead of a greyed, empty form whose placeholders read like a dataset.
        self.nothing_label = labelled(
            "hint", "No dataset selected.\n\nSelect one in the table to see and edit it, or "
            "make a new one with New dataset (Ctrl+N)."
        )  # fmt: skip
        self.nothing_label.setObjectName("nothing-selected")
        self.nothing_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.nothing_label.hide()

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.nothing_label, 1)
        layout.addLayout(header)
        layout.addWidget(self.state_notice)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)

    @classmethod
    def _page_form(cls, page: QtWidgets.QWidget) -> QtWidgets.QFormLayout:
        """A tab's form, kept at the top of the tab rather than spread over its height."""
        outer = QtWidgets.QVBoxLayout(page)
        form = form_layout()
        outer.addLayout(form)
        outer.addStretch(1)
        return form

    def _bind(
        self,
        form: QtWidgets.QFormLayout,
        label: str,
        path: str,
        widget: QtWidgets.QWidget,
        get: Callable[[], Any],
        convert: Callable[[Any], Any],
        changed: Any,
        hint: str = "",
    ) -> None:
        row = FieldRow(path, widget, hint)
        self._bind_row(row, get, convert, changed)
        form.addRow(label, row)

    def _bind_row(
        self, row: FieldRow, get: Callable[[], Any], convert: Callable[[Any], Any], changed: Any
    ) -> None:
        self._bindings.add(row, get, convert)
        changed.connect(lambda *_args, p=row.path: self._on_field_edited(p))

    def _bind_line(
        self, form: QtWidgets.QFormLayout, label: str, line: QtWidgets.QLineEdit
    ) -> QtWidgets.QLineEdit:
        """Bind a line edit named after its field's path; blank is the field's empty value."""
        path = line.objectName()
        self._bind(form, label, path, line, line.text, _from_text(path), line.textChanged)
        return line

    def _build_content(self, page: QtWidgets.QWidget) -> None:
        form = self._page_form(page)
        self.id_edit = line_edit("id")
        self.id_edit.setReadOnly(True)
        self.id_edit.setMaximumWidth(120)
        self.id_row = FieldRow("id", self.id_edit)
        form.addRow("ID", self.id_row)

        self.title_edit = line_edit("title", "Required: what the data is, in a few words")
        self.title_edit.textChanged.connect(self._update_heading)
        self._bind_line(form, _label("title", "T"), self.title_edit)

        self.description_edit = QtWidgets.QPlainTextEdit()
        self.description_edit.setObjectName("description")
        self.description_edit.setPlaceholderText("What the data is and where it comes from")
        # Tab moves to the next field, as everywhere else in the form (Ctrl+Tab types a tab).
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setMinimumHeight(200)
        mono = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        self.description_edit.setFont(mono)
        self.description_preview = HtmlPreview(self.description_edit)  # source | rendered
        self._bind(form, _label("description", "D"), "description", self.description_preview,
                   self.description_edit.toPlainText, _from_text("description"),
                   self.description_edit.textChanged,
                   "HTML; beside it, how it will look (without scripts).")  # fmt: skip

        self.iframe_edit = self._bind_line(
            form, _label("descriptionIframe", "I"),
            line_edit("descriptionIframe", "Optional: the address of a page to embed"),
        )  # fmt: skip

        self.masthead_combo = MastheadCombo()
        self.masthead_combo.setObjectName("masthead")
        self._bind(form, _label("masthead", "M"), "masthead", self.masthead_combo,
                   self.masthead_combo.value, _from_text("masthead"),
                   self.masthead_combo.currentTextChanged)  # fmt: skip

        self.tags_editor = StringListEditor("Add a tag and press Enter")
        self._bind(form, _label("tags", "a"), "tags", self.tags_editor, self.tags_editor.values,
                   list, self.tags_editor.changed)  # fmt: skip

        self.topics_list = CheckList()
        self.topics_list.setObjectName("topics")
        self._bind(form, _label("topics", "p"), "topics", self.topics_list,
                   self.topics_list.checked, functools.partial(self._ordered_like_loaded, "topics"),
                   self.topics_list.changed)  # fmt: skip

    def _build_sidebar(self, page: QtWidgets.QWidget) -> None:
        form = self._page_form(page)
        self.review_date = OptionalDateEdit("Review on")
        self._bind(form, _label("nextReviewDate", "r"), "nextReviewDate", self.review_date,
                   self.review_date.value, _same, self.review_date.changed)  # fmt: skip

        self.licence_box = LicenceBox(_label("licence"))
        self.licence_combo = self.licence_box.combo
        self.licence_title_edit = self._bind_line(self.licence_box.form, "Title",
                                                  self.licence_box.title_edit)  # fmt: skip
        self.licence_url_edit = self._bind_line(self.licence_box.form, "URL",
                                                self.licence_box.url_edit)  # fmt: skip
        form.addRow(self.licence_box)

        contact_box = QtWidgets.QGroupBox(_label("contact"))
        contact_form = form_layout(contact_box)
        self.contact_email_edit = self._bind_line(
            contact_form, "&Email", line_edit("contact.email", "Where people can write")
        )
        self.contact_title_edit = self._bind_line(
            contact_form, "Name", line_edit("contact.title", "Who answers, e.g. a team")
        )
        form.addRow(contact_box)

        self.custom_fields = CustomFieldsEditor()
        self.custom_table = self.custom_fields.table
        self.remove_custom_button = self.custom_fields.remove_button
        self._bind_row(self.custom_fields.row, self.custom_fields.rows, self.custom_fields.value,
                       self.custom_fields.changed)  # fmt: skip
        form.addRow(self.custom_fields)

    def _build_files(self, page: QtWidgets.QWidget) -> None:
        layout = QtWidgets.QVBoxLayout(page)
        self.resources = resources_editor()
        self.add_file_button = QtWidgets.QPushButton("Add file…")
        self.add_file_button.setToolTip("Attach local files (or drop them on the form)")
        self.add_file_button.clicked.connect(self._choose_files)
        self.add_url_button = QtWidgets.QPushButton("Add URL")
        self.add_url_button.clicked.connect(self.add_resource)
        self.resources.buttons.insertWidget(0, self.add_file_button)
        self.resources.buttons.insertWidget(1, self.add_url_button)
        self.resources.changed.connect(lambda: self._on_field_edited("resources"))

        self.file_reader = FileReader(self._tasks)
        self.file_reader.described.connect(self._on_file_described)
        self.file_reader.finished.connect(self.filesFinished)
        self.file_status = self.file_reader  # the progress row, shown while files are read
        self.file_label = self.file_reader.label
        self.file_progress = self.file_reader.progress
        self.cancel_files_button = self.file_reader.cancel_button
        self.file_error = self.file_reader.error
        self.resources.extra.addWidget(self.file_status)
        self.resources.extra.addWidget(self.file_error)

        self.links = links_editor()
        self.add_link_button = QtWidgets.QPushButton("Add link")
        self.add_link_button.clicked.connect(self.add_link)
        self.links.buttons.insertWidget(0, self.add_link_button)
        self.links.changed.connect(lambda: self._on_field_edited("links"))
        layout.addWidget(self.resources)
        layout.addWidget(self.links)
        layout.addStretch(1)

    def _build_access(self, page: QtWidgets.QWidget) -> None:
        form = self._page_form(page)
        self.sharing = ChoiceButtons(FIELDS["sharing"], SHARING_TEXT)
        self.public_radio = self.sharing.buttons["public"]
        self.private_radio = self.sharing.buttons["private"]
        self._bind(form, _label("sharing"), "sharing", self.sharing, self.sharing.value, _same,
                   self.sharing.changed)  # fmt: skip

        self.team_combo = TeamCombo()
        self.team_combo.setObjectName("team")
        self._bind(form, _label("team", "t"), "team", self.team_combo, self.team_combo.value,
                   _same, self.team_combo.currentIndexChanged)  # fmt: skip

        self.embargo_date = OptionalDateEdit("Hidden from the public until")
        self._bind(form, _label("embargoUntil", "E"), "embargoUntil", self.embargo_date,
                   self.embargo_date.value, _same, self.embargo_date.changed)  # fmt: skip
        self.embargo_date.changed.connect(self._update_state_notice)
        self.sharing.changed.connect(self._update_state_notice)

        self.collaborators_list = CheckList()
        self.readusers_list = CheckList()
        self.readteams_list = CheckList()
        for path, widget in (
            ("collaborators", self.collaborators_list),
            ("readusers", self.readusers_list),
            ("readteams", self.readteams_list),
        ):
            widget.setObjectName(path)
            ordered = functools.partial(self._ordered_like_loaded, path)
            self._bind(form, _label(path), path, widget, widget.checked, ordered, widget.changed)
        form.addRow(labelled("hint", "Read users and read teams apply to private datasets."))

    def _build_metadata(self, page: QtWidgets.QWidget) -> None:
        form = self._page_form(page)
        self.meta_edits: dict[str, QtWidgets.QLineEdit] = {}
        for key in ("id", "state", "site", "createdAt", "updatedAt"):
            edit = line_edit(f"meta-{key}")
            edit.setReadOnly(True)
            self.meta_edits[key] = edit
            form.addRow("ID" if key == "id" else _label(key), edit)
        form.addRow(labelled("hint", "Publish and unpublish from the Dataset menu."))

    # -- choices from the catalogue -------------------------------------------------------------

    def reload_choices(self) -> None:
        """Read the managed lists again, here (a handful of short rows: at construction)."""
        with self._database.read() as session:
            self._choices = FormChoices.read(session)

    # -- public API ---------------------------------------------------------------------------

    def load(self, record: Record, choices: FormChoices | None = None) -> None:
        """Show `record` in every field, and `choices` in its lists (read with the record, off
        the GUI thread; None: the last ones); the form is clean afterwards."""
        self.cancel_files()
        self._choices = choices or self._choices
        c = self._choices
        self._loading = True
        self._loaded = copy.deepcopy(record)
        r = self._loaded
        self.id_edit.setText(str(r.get("id") or ""))
        self.title_edit.setText(_text(r.get("title")))
        self.description_edit.setPlainText(_text(r.get("description")))
        self.iframe_edit.setText(_text(r.get("descriptionIframe")))
        self.masthead_combo.set_choices(c.mastheads, r.get("masthead"))
        self.tags_editor.set_values(r.get("tags") or [])
        self.tags_editor.input.clear()
        topics = [(tid, f"{title} ({tid})") for tid, title in c.topics]
        self.topics_list.set_choices(topics, r.get("topics") or [])
        self.review_date.set_value(r.get("nextReviewDate"))
        licence = r.get("licence") or {}
        self.licence_title_edit.setText(_text(licence.get("title")))
        self.licence_url_edit.setText(_text(licence.get("url")))
        self.licence_box.set_choices(c.licences)
        contact = r.get("contact") or {}
        self.contact_email_edit.setText(_text(contact.get("email")))
        self.contact_title_edit.setText(_text(contact.get("title")))
        self.custom_fields.load(r.get("custom") or {})
        self.resources.load(r.get("resources"))
        self.links.load(r.get("links"))
        self._next_order = first_free_order(r)
        self.sharing.set_value(r.get("sharing"))
        self.team_combo.set_choices(c.teams, r.get("team"))
        self.embargo_date.set_value(r.get("embargoUntil"))
        self.collaborators_list.set_choices(c.users, r.get("collaborators") or [])
        self.readusers_list.set_choices(c.users, r.get("readusers") or [])
        self.readteams_list.set_choices(c.teams, r.get("readteams") or [])
        for key, edit in self.meta_edits.items():
            edit.setText(_text(r.get(key)))
        # The table's word for the state (services.visibility, after policy), not the stored one.
        shown = display_state_of(r.get("state"), r.get("sharing"), r.get("embargoUntil"))
        self.state_badge.setText(shown.capitalize())
        self.meta_edits["state"].setText(state_text(r))
        self._bindings.loaded()
        self._loading = False
        self.clear_errors()
        self.file_error.hide()
        self._update_heading()
        self._update_state_notice()
        self._show_nothing_selected()
        self._set_dirty(False)

    def load_edit(self, record: Record, base: Record) -> None:
        """Show `record` as an unsaved edit of `base` (a save conflict resolved over the
        version stored now: dirty until saved, so news of others does not replace it)."""
        self.load(record)
        self._loaded = copy.deepcopy(base)
        self._set_dirty(self.record() != self._loaded)

    def record(self) -> Record:
        """The edited record: the loaded one with every changed field replaced."""
        out = copy.deepcopy(self._loaded)
        self._bindings.apply(out)
        next_free = self._next_order
        for editor in (self.resources, self.links):
            children, next_free = editor.child_records(next_free)
            if editor.kind in out or children:
                out[editor.kind] = children
        return out

    def is_dirty(self) -> bool:
        return self._dirty

    def show_errors(self, errors: dict[str, str]) -> None:
        """Put each message next to its field (or on its resource or link row); focus the first."""
        self.clear_errors()
        unplaced: list[str] = []
        child_errors: dict[str, dict[str, dict[str, str]]] = {"resources": {}, "links": {}}
        targets: list[tuple[int, Callable[[], QtWidgets.QWidget]]] = []
        for path, message in errors.items():
            head, _, rest = path.partition(".")
            if head in child_errors and rest:
                cid, _, sub = rest.partition(".")
                child_errors[head].setdefault(cid, {})[sub or "id"] = message
                editor = self.resources if head == "resources" else self.links
                rank = len(self._bindings) + (head == "links")
                targets.append((rank, functools.partial(editor.select_for_error, cid, sub)))
                continue
            binding = self._bindings.owner(path)
            if binding is None:
                if path == "id":
                    self.id_row.set_error(message)
                unplaced.append(f"{label(path.partition('.')[0])}: {message}")
                continue
            extra = path[len(binding.path) + 1 :]
            text = f"{extra}: {message}" if extra else message
            if binding.row.error:
                text = f"{binding.row.error}\n{text}"
            binding.row.set_error(text)
            rank = self._bindings.rank(binding)
            targets.append((rank, functools.partial(_same, binding.row.widget)))
        self.resources.set_errors(child_errors["resources"])
        self.links.set_errors(child_errors["links"])
        count = len(errors)
        summary = f"Not saved: {count} problem{'s' if count != 1 else ''} to fix, marked below."
        self.banner.setText("\n".join([summary, *unplaced]))
        self.banner.setVisible(bool(errors))
        self._mark_tabs(errors)
        if targets:
            _rank, target = min(targets, key=lambda t: t[0])
            self._reveal(target())

    def clear_errors(self) -> None:
        for binding in self._bindings:
            binding.row.set_error(None)
        self.id_row.set_error(None)
        self.resources.set_errors({})
        self.links.set_errors({})
        self.banner.hide()
        self.banner.clear()
        for index in range(self.tabs.count()):
            self.tabs.setTabIcon(index, QtGui.QIcon())

    def error_for(self, path: str) -> str | None:
        """The message shown for a field path (resource/link paths included), or None."""
        head, _, rest = path.partition(".")
        if head in ("resources", "links") and rest:
            cid, _, sub = rest.partition(".")
            editor = self.resources if head == "resources" else self.links
            return editor.row_errors(cid).get(sub or "id")
        binding = self._bindings.get(path)
        return binding.row.error if binding is not None else None

    def request_save(self) -> None:
        self.saveRequested.emit(self.record())

    # -- resources, links and files -------------------------------------------------------------

    def add_resource(self) -> None:
        """A resource that points at a URL; the person fills in the detail editor."""
        self._add_child(self.resources)

    def add_link(self) -> None:
        self._add_child(self.links)

    def _add_child(self, editor: ChildListEditor) -> None:
        editor.add_blank(self._new_child_id())
        self._reveal(editor.editors["url"])

    def add_files(self, paths: Sequence[Path | str]) -> None:
        """Describe each file off the GUI thread (MD5, size, format), then add it as a resource."""
        self.file_reader.add([Path(p) for p in paths])

    def cancel_files(self) -> None:
        """Stop describing files; nothing more is added from the queue."""
        self.file_reader.cancel()

    @property
    def files_busy(self) -> bool:
        return self.file_reader.busy

    def _choose_files(self) -> None:
        names, _filter = QtWidgets.QFileDialog.getOpenFileNames(self, "Add files to the dataset")
        self.add_files([Path(name) for name in names])

    def _on_file_described(self, info: files.FileInfo) -> None:
        rid = self._new_child_id()
        self.resources.add(rid, files.resource_from_file(info, order=0))
        self.resourceAdded.emit(rid)

    def _new_child_id(self) -> str:
        return datasets.new_child_id(set(self.resources.items) | set(self.links.items))

    # -- drag and drop, Ctrl+S ------------------------------------------------------------------

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if not accept_local_files(event):
            super().dragEnterEvent(event)

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        paths = accept_local_files(event)
        if paths:
            self.tabs.setCurrentWidget(self._pages[2])
            self.add_files(paths)
        else:
            super().dropEvent(event)

    def event(self, event: QtCore.QEvent) -> bool:
        # Claim Ctrl+S while the focus is in the form, so it saves what is in the form and does
        # not clash with the main window's Save shortcut ("ambiguous shortcut").
        if (
            event.type() == QtCore.QEvent.Type.ShortcutOverride
            and isinstance(event, QtGui.QKeyEvent)
            and event.matches(QtGui.QKeySequence.StandardKey.Save)
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        if event.matches(QtGui.QKeySequence.StandardKey.Save):
            event.accept()
            self.request_save()
            return
        super().keyPressEvent(event)

    # -- field plumbing -------------------------------------------------------------------------

    def _on_field_edited(self, path: str) -> None:
        if self._loading:
            return
        binding = self._bindings.get(path)
        if binding is not None and binding.row.error:
            binding.row.set_error(None)
        self._set_dirty(self.record() != self._loaded)

    def _set_dirty(self, dirty: bool) -> None:
        self.dirty_label.setText("Unsaved changes" if dirty else "")
        self.revert_button.setEnabled(dirty)
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirtyChanged.emit(dirty)

    def _mark_tabs(self, errors: dict[str, str]) -> None:
        warning = self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MessageBoxWarning)
        for path in errors:
            head = path.partition(".")[0]
            if head in ("resources", "links"):
                widget: QtWidgets.QWidget = self.resources
            elif path == "id":
                widget = self.id_row
            else:
                binding = self._bindings.owner(path)
                if binding is None:
                    continue
                widget = binding.row
            for index, page in enumerate(self._page_widgets):
                if page.isAncestorOf(widget):
                    self.tabs.setTabIcon(index, warning)

    def _reveal(self, widget: QtWidgets.QWidget) -> None:
        """Show the tab holding `widget`, scroll to it and give it the focus."""
        for scroll, page in zip(self._pages, self._page_widgets, strict=True):
            if page.isAncestorOf(widget):
                self.tabs.setCurrentWidget(scroll)
                scroll.ensureWidgetVisible(widget)
                break
        widget.setFocus(QtCore.Qt.FocusReason.OtherFocusReason)

    def _update_state_notice(self) -> None:
        until = self.embargo_date.value()
        text = embargo_notice(until, str(self.sharing.value()))
        self.state_notice.setText(text)
        self.state_notice.setVisible(bool(text))

    def _update_heading(self) -> None:
        title = self.title_edit.text().strip() or "Untitled dataset"
        metrics = self.heading.fontMetrics()
        width = max(200, self.width() - 260)
        self.heading.setText(metrics.elidedText(title, QtCore.Qt.TextElideMode.ElideRight, width))
        self.heading.setToolTip(title)

    def changeEvent(self, event: QtCore.QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QtCore.QEvent.Type.EnabledChange:
            self._show_nothing_selected()

    def _show_nothing_selected(self) -> None:
        """Disabled with no dataset in it (no id, no title): say so instead of showing fields."""
        nothing = (
            not self.isEnabled() and not self._loaded.get("id") and not self._loaded.get("title")
        )
        self.nothing_label.setVisible(nothing)
        for widget in (self.heading, self.dirty_label, self.state_badge, self.tabs):
            widget.setVisible(not nothing)
        for button in (self.revert_button, self.save_button):
            button.setVisible(not nothing)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_heading()

    def _ordered_like_loaded(self, path: str, checked: list[Any]) -> list[Any]:
        """Checked values, keeping the loaded ones in their loaded order, new ones after."""
        loaded = [v for v in (self._loaded.get(path) or []) if v in checked]
        return loaded + [v for v in checked if v not in loaded]

    # custom fields

    def add_custom_field(self) -> None:
        self.custom_fields.add_field()

    def set_custom_field(self, key: str, text: str) -> None:
        """Set (or add) a custom field's value text as a person would type it."""
        self.custom_fields.set_field(key, text)


def _label(name: str, key: str = "") -> str:
    """The field table's label for `name`, its first `key` marked as the Alt+key accelerator."""
    text = FIELDS[name].label
    return text.replace(key, "&" + key, 1) if key else text


def _from_text(path: str) -> Callable[[Any], Any]:
    """What a text field stores from its box: blank is null where the field table allows null."""
    name, _, part = path.partition(".")
    field = FIELDS[name].part(part) if part else FIELDS[name]
    return _none_if_blank if field.nullable else str


def _same(value: Any) -> Any:
    return value


def _none_if_blank(value: Any) -> Any:
    text = str(value or "").strip()
    return text or None


def _text(value: Any) -> str:
    return "" if value is None else str(value)
