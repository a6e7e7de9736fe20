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
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.models.database import Database
from app.services import access, datasets, files, managed_lists
from app.services.link_check import is_broken
from app.services.progress import Progress
from app.services.records import Record
from app.views.qt import QtCore, QtGui, QtWidgets, Signal
from app.views.tasks import Task, TaskRunner

ERROR_COLOUR = "#c62828"
MONTH_PATTERN = r"^$|^\d{0,4}(-\d{0,2})?$"
CUSTOM_HINT = (
    "Separate values with “;” to store a list (London; Barnet). "
    "End a single value with “;” for a one-item list."
)

STYLE_SHEET = f"""
QLabel[role="error"] {{ color: {ERROR_COLOUR}; }}
QLabel[role="hint"] {{ color: palette(dark); }}
QLabel[role="banner"] {{
    color: {ERROR_COLOUR}; background: #fdecea; border: 1px solid #f5c2c0;
    border-radius: 4px; padding: 6px;
}}
QLabel[role="heading"] {{ font-size: 15px; font-weight: 600; }}
QLabel[role="badge"] {{
    border: 1px solid palette(mid); border-radius: 8px; padding: 1px 8px;
}}
QLineEdit[invalid="true"], QPlainTextEdit[invalid="true"], QDateEdit[invalid="true"] {{
    border: 1px solid {ERROR_COLOUR}; border-radius: 3px; padding: 2px;
}}
QTableWidget[invalid="true"], QListWidget[invalid="true"] {{ border: 1px solid {ERROR_COLOUR}; }}
QListWidget#chips::item {{
    border: 1px solid palette(mid); border-radius: 9px; padding: 2px 8px; margin: 2px;
}}
QListWidget#chips::item:selected {{
    background: palette(highlight); color: palette(highlighted-text);
}}
"""


# -- small helpers -------------------------------------------------------------------------------


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover - the loop always returns


def custom_value_text(value: Any) -> str:
    """How a custom field's value is written in its cell (see CUSTOM_HINT)."""
    if isinstance(value, list):
        items = [str(v) for v in value]
        return items[0] + ";" if len(items) == 1 else "; ".join(items)
    return "" if value is None else str(value)


def parse_custom_value(text: str) -> str | list[str]:
    """A cell's text as stored: text with ";" (or a line break) is a list of the parts."""
    if ";" not in text and "\n" not in text:
        return text.strip()
    parts = text.replace("\n", ";").split(";")
    return [part.strip() for part in parts if part.strip()]


def custom_kind(value: str | list[str]) -> str:
    if isinstance(value, list):
        return f"list of {len(value)}"
    return "text"


def get_path(record: Record, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def set_path(record: Record, path: str, value: Any) -> None:
    parts = path.split(".")
    target = record
    for part in parts[:-1]:
        inner = target.get(part)
        if not isinstance(inner, dict):
            inner = {}
            target[part] = inner
        target = inner
    target[parts[-1]] = value


def _set_invalid(widget: QtWidgets.QWidget, invalid: bool) -> None:
    if bool(widget.property("invalid")) == invalid:
        return
    widget.setProperty("invalid", invalid)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def _labelled(role: str, text: str = "") -> QtWidgets.QLabel:
    label = QtWidgets.QLabel(text)
    label.setProperty("role", role)
    label.setWordWrap(True)
    return label


class FieldRow(QtWidgets.QFrame):
    """A field widget with its error message under it."""

    def __init__(self, path: str, widget: QtWidgets.QWidget, hint: str = "") -> None:
        super().__init__()
        self.setProperty("role", "field")
        self.path = path
        self.widget = widget
        self.error_label = _labelled("error")
        self.error_label.setObjectName(f"error:{path}")
        self.error_label.hide()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(widget)
        if hint:
            layout.addWidget(_labelled("hint", hint))
        layout.addWidget(self.error_label)

    def set_error(self, message: str | None) -> None:
        self.error_label.setText(message or "")
        self.error_label.setVisible(bool(message))
        _set_invalid(self, bool(message))
        _set_invalid(self.widget, bool(message))

    @property
    def error(self) -> str | None:
        return self.error_label.text() if not self.error_label.isHidden() else None


# -- editors for the list-shaped fields ----------------------------------------------------------


class StringListEditor(QtWidgets.QWidget):
    """Tags: type and press Enter (or Add); select and press Delete (or Remove)."""

    changed = Signal()

    def __init__(self, placeholder: str) -> None:
        super().__init__()
        self.input = QtWidgets.QLineEdit()
        self.input.setPlaceholderText(placeholder)
        self.input.returnPressed.connect(self.add_from_input)
        self.add_button = QtWidgets.QPushButton("Add")
        self.add_button.clicked.connect(self.add_from_input)
        self.remove_button = QtWidgets.QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.list = QtWidgets.QListWidget()
        self.list.setObjectName("chips")
        self.list.setFlow(QtWidgets.QListView.Flow.LeftToRight)
        self.list.setWrapping(True)
        self.list.setResizeMode(QtWidgets.QListView.ResizeMode.Adjust)
        self.list.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setFixedHeight(64)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        delete = QtGui.QAction("Remove tag", self.list)
        delete.setShortcut(QtGui.QKeySequence(QtGui.QKeySequence.StandardKey.Delete))
        delete.setShortcutContext(QtCore.Qt.ShortcutContext.WidgetShortcut)
        delete.triggered.connect(self.remove_selected)
        self.list.addAction(delete)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.input, 1)
        top.addWidget(self.add_button)
        top.addWidget(self.remove_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.list)
        self._update_buttons()

    def values(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def set_values(self, values: Iterable[str]) -> None:
        self.list.clear()
        for value in values:
            self.list.addItem(str(value))
        self._update_buttons()

    def add_from_input(self) -> None:
        text = " ".join(self.input.text().split())
        if not text:
            return
        self.input.clear()
        existing = self.list.findItems(text, QtCore.Qt.MatchFlag.MatchFixedString)
        if existing:  # no duplicates (validation refuses them): point at the one there is
            self.list.setCurrentItem(existing[0])
            return
        self.list.addItem(text)
        self._update_buttons()
        self.changed.emit()

    def remove_selected(self) -> None:
        rows = sorted((self.list.row(item) for item in self.list.selectedItems()), reverse=True)
        for row in rows:
            self.list.takeItem(row)
        if rows:
            self._update_buttons()
            self.changed.emit()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.list.selectedItems()))


class CheckList(QtWidgets.QListWidget):
    """A multi-select list of choices (topics, users, teams) as check boxes."""

    changed = Signal()

    VISIBLE_ROWS = 6

    def __init__(self) -> None:
        super().__init__()
        self.setAlternatingRowColors(True)
        self.itemChanged.connect(lambda _item: self.changed.emit())

    def set_choices(self, choices: Sequence[tuple[Any, str]], checked: Iterable[Any]) -> None:
        """Offer `choices` (value, label); checked values missing from them are shown too."""
        wanted = list(checked)
        known = {value for value, _label in choices}
        blocker = QtCore.QSignalBlocker(self)
        self.clear()
        extra = [(value, f"{value} (not in the catalogue's list)") for value in wanted]
        for value, label in [*choices, *(e for e in extra if e[0] not in known)]:
            item = QtWidgets.QListWidgetItem(label)
            item.setData(QtCore.Qt.ItemDataRole.UserRole, value)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            state = (
                QtCore.Qt.CheckState.Checked if value in wanted else QtCore.Qt.CheckState.Unchecked
            )
            item.setCheckState(state)
            self.addItem(item)
        del blocker
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as its rows, up to VISIBLE_ROWS; then it scrolls."""
        row = self.sizeHintForRow(0) if self.count() else -1
        row = row if row > 0 else self.fontMetrics().height() + 4
        rows = max(2, min(self.count(), self.VISIBLE_ROWS))
        self.setFixedHeight(rows * row + 2 * self.frameWidth() + 2)

    def checked(self) -> list[Any]:
        return [
            self.item(i).data(QtCore.Qt.ItemDataRole.UserRole)
            for i in range(self.count())
            if self.item(i).checkState() == QtCore.Qt.CheckState.Checked
        ]

    def set_checked(self, value: Any, checked: bool) -> None:
        for i in range(self.count()):
            item = self.item(i)
            if item.data(QtCore.Qt.ItemDataRole.UserRole) == value:
                state = QtCore.Qt.CheckState.Checked if checked else QtCore.Qt.CheckState.Unchecked
                item.setCheckState(state)


class OptionalDateEdit(QtWidgets.QWidget):
    """A date or none: a check box switches the date on."""

    changed = Signal()

    def __init__(self, label: str) -> None:
        super().__init__()
        self.enabled_box = QtWidgets.QCheckBox(label)
        self.date_edit = QtWidgets.QDateEdit()
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.date_edit.setDate(QtCore.QDate.currentDate())
        self.date_edit.setEnabled(False)
        self.enabled_box.toggled.connect(self.date_edit.setEnabled)
        self.enabled_box.toggled.connect(lambda _on: self.changed.emit())
        self.date_edit.dateChanged.connect(lambda _date: self.changed.emit())
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.enabled_box)
        layout.addWidget(self.date_edit)
        layout.addStretch(1)

    def value(self) -> str | None:
        if not self.enabled_box.isChecked():
            return None
        return str(self.date_edit.date().toString(QtCore.Qt.DateFormat.ISODate))

    def set_value(self, value: str | None) -> None:
        date = QtCore.QDate.fromString(value or "", QtCore.Qt.DateFormat.ISODate)
        self.enabled_box.setChecked(date.isValid())
        self.date_edit.setDate(date if date.isValid() else QtCore.QDate.currentDate())


# -- resources and links -------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildField:
    sub: str  # path inside the child, e.g. "timeFrame.gte"
    label: str
    kind: str = "line"  # line | text | month | size | readonly
    placeholder: str = ""
    empty: Any = ""  # what an emptied field stores ("" or None)


RESOURCE_FIELDS = (
    ChildField("title", "Title"),
    ChildField("description", "Description", "text", "Plain text"),
    ChildField("url", "Download URL", placeholder="https://… (empty for a local file)"),
    ChildField("filename", "File name", empty=None),
    ChildField("timeFrame.gte", "Covers from", "month", "YYYY-MM", None),
    ChildField("timeFrame.lte", "Covers to", "month", "YYYY-MM", None),
    ChildField("format", "Format", placeholder="csv, xlsx, pdf…", empty=None),
    ChildField("size", "Size", "size"),
    ChildField("hash", "MD5", "readonly"),
    ChildField("timestamp", "File time (UTC)", "readonly"),
    ChildField("origin", "Origin", "readonly"),
)

LINK_FIELDS = (
    ChildField("title", "Title"),
    ChildField("url", "URL", placeholder="https://…"),
    ChildField("description", "Description", "text", "Plain text"),
    ChildField("qa.httpStatus", "QA HTTP status", "readonly"),
    ChildField("qa.mimetype", "QA MIME type", "readonly"),
    ChildField("qa.size", "QA size", "readonly"),
    ChildField("qa.hash", "QA ETag", "readonly"),
    ChildField("qa.timestamp", "QA checked at", "readonly"),
)


def _resource_columns(data: Record) -> list[str]:
    return [
        data.get("title") or "(untitled)",
        (data.get("format") or "").upper(),
        human_size(data.get("size")),
        data.get("hash") or data.get("url") or "",
    ]


def link_check_text(qa: Any) -> str:
    """A link's last check in a word or two: "200", "404 broken", "no answer", "" (never)."""
    qa = qa if isinstance(qa, dict) else {}
    status = qa.get("httpStatus")
    if qa.get("timestamp") is None and not status:
        return ""
    if not is_broken(qa):
        return str(status or "ok")
    return f"{status} broken" if isinstance(status, int) and status > 0 else "no answer"


def _link_columns(data: Record) -> list[str]:
    return [
        data.get("title") or "(untitled)",
        link_check_text(data.get("qa")),
        data.get("url") or "",
    ]


def _link_warning(data: Record) -> str | None:
    """Why a link is shown as broken, or None (never checked, or it answered)."""
    qa = data.get("qa")
    if not isinstance(qa, dict) or not is_broken(qa):
        return None
    status = qa.get("httpStatus")
    when = str(qa.get("timestamp") or "")[:16].replace("T", " ")
    answer = f"answered {status}" if isinstance(status, int) and status > 0 else "did not answer"
    return f"Broken: the link {answer} when checked on {when}"


@dataclass
class ChildState:
    """Loaded order of a child list, to keep `order` values stable when nothing moved."""

    sequence: list[str] = field(default_factory=list)
    orders: dict[str, int] = field(default_factory=dict)


class ChildListEditor(QtWidgets.QGroupBox):
    """An ordered list of resources or links, with a detail editor for the selected one."""

    changed = Signal()

    def __init__(
        self,
        kind: str,
        title: str,
        headers: Sequence[str],
        columns: Callable[[Record], list[str]],
        fields: Sequence[ChildField],
        warning: Callable[[Record], str | None] | None = None,
    ) -> None:
        super().__init__(title)
        self.kind = kind
        self._columns = columns
        self._warning = warning  # a problem to flag on a row that has no field errors
        self._fields = fields
        self.items: dict[str, Record] = {}
        self.state = ChildState()
        self._errors: dict[str, dict[str, str]] = {}
        self._loading = False
        self._loading_detail = False

        self.tree = QtWidgets.QTreeWidget()
        self.tree.setObjectName(f"{kind}-list")
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setHeaderLabels(list(headers))
        self.tree.setMinimumHeight(110)
        self.tree.setMaximumHeight(170)
        # The title takes the room; the last column (an MD5 or a URL) is elided at a fixed width,
        # in full in its tooltip; the short ones in between fit their contents.
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        last = len(headers) - 1
        for column in range(1, last):
            header.setSectionResizeMode(column, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(last, QtWidgets.QHeaderView.ResizeMode.Interactive)
        header.resizeSection(last, 140)
        self.tree.setTextElideMode(QtCore.Qt.TextElideMode.ElideMiddle)
        self.tree.currentItemChanged.connect(self._on_current_changed)

        self.buttons = QtWidgets.QHBoxLayout()
        self.remove_button = QtWidgets.QPushButton("Remove")
        self.up_button = QtWidgets.QPushButton("Move up")
        self.down_button = QtWidgets.QPushButton("Move down")
        self.remove_button.clicked.connect(self.remove_current)
        self.up_button.clicked.connect(lambda: self.move_current(-1))
        self.down_button.clicked.connect(lambda: self.move_current(1))
        self.buttons.addStretch(1)
        for button in (self.remove_button, self.up_button, self.down_button):
            self.buttons.addWidget(button)

        self.detail = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout(self.detail)
        form.setContentsMargins(0, 6, 0, 0)
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.rows: dict[str, FieldRow] = {}
        self.editors: dict[str, QtWidgets.QLineEdit | QtWidgets.QPlainTextEdit] = {}
        for spec in fields:
            editor = self._make_editor(spec)
            row = FieldRow(f"{kind}.*.{spec.sub}", editor)
            self.rows[spec.sub] = row
            self.editors[spec.sub] = editor
            form.addRow(spec.label, row)
        self.placeholder = _labelled("hint", f"Select one of the {title.lower()} to edit it.")

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(self.buttons)
        layout.addWidget(self.tree)
        self.extra = QtWidgets.QVBoxLayout()  # the form puts its file progress here
        layout.addLayout(self.extra)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.detail)
        self._show_detail(None)

    def _make_editor(self, spec: ChildField) -> QtWidgets.QLineEdit | QtWidgets.QPlainTextEdit:
        if spec.kind == "text":
            text = QtWidgets.QPlainTextEdit()
            text.setPlaceholderText(spec.placeholder)
            text.setFixedHeight(64)
            text.textChanged.connect(lambda s=spec, w=text: self._edited(s, w.toPlainText()))
            return text
        line = QtWidgets.QLineEdit()
        line.setObjectName(f"{self.kind}.{spec.sub}")
        line.setPlaceholderText(spec.placeholder)
        if spec.kind in ("readonly", "size"):
            line.setReadOnly(True)
            line.setFrame(False)
        else:
            line.textEdited.connect(lambda text, s=spec: self._edited(s, text))
        if spec.kind == "month":
            line.setValidator(
                QtGui.QRegularExpressionValidator(QtCore.QRegularExpression(MONTH_PATTERN), line)
            )
            line.setMaximumWidth(110)
        return line

    # -- content --------------------------------------------------------------------------------

    def load(self, children: dict[str, Record] | None) -> None:
        self._loading = True
        self.items = copy.deepcopy(dict(children or {}))
        sequence = sorted(self.items, key=lambda cid: (_order_of(self.items[cid]), cid))
        self.state = ChildState(sequence, {cid: _order_of(self.items[cid]) for cid in sequence})
        self._errors = {}
        self.tree.clear()
        for cid in sequence:
            self.tree.addTopLevelItem(self._new_row(cid))
        self._loading = False
        rows = self._rows()
        if rows:
            self.tree.setCurrentItem(rows[0])
        self._show_detail(self.current_id())

    def _rows(self) -> list[QtWidgets.QTreeWidgetItem]:
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [item for item in items if item is not None]

    def ids(self) -> list[str]:
        return [self._id_of(item) for item in self._rows()]

    def current_id(self) -> str | None:
        item = self.tree.currentItem()
        return self._id_of(item) if item is not None else None

    def row_of(self, cid: str) -> QtWidgets.QTreeWidgetItem | None:
        for item in self._rows():
            if self._id_of(item) == cid:
                return item
        return None

    def add(self, cid: str, data: Record) -> None:
        self.items[cid] = data
        item = self._new_row(cid)
        self.tree.addTopLevelItem(item)
        self.tree.setCurrentItem(item)
        self._update_buttons()
        self.changed.emit()

    def remove_current(self) -> None:
        item = self.tree.currentItem()
        if item is None:
            return
        cid = self._id_of(item)
        self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        self.items.pop(cid, None)
        self._errors.pop(cid, None)
        self._show_detail(self.current_id())
        self.changed.emit()

    def move_current(self, step: int) -> None:
        item = self.tree.currentItem()
        if item is None:
            return
        row = self.tree.indexOfTopLevelItem(item)
        target = row + step
        if not 0 <= target < self.tree.topLevelItemCount():
            return
        blocker = QtCore.QSignalBlocker(self.tree)
        self.tree.takeTopLevelItem(row)
        self.tree.insertTopLevelItem(target, item)
        self.tree.setCurrentItem(item)
        del blocker
        self._update_buttons()
        self.changed.emit()

    def orders(self, next_free: int) -> tuple[dict[str, int] | None, int]:
        """`order` for each child by position; None when nothing was added, removed or moved.

        Links and resources share one order space on the web page (seed 002 interleaves them),
        so moving a resource reuses the slots resources held rather than renumbering from 0,
        and a new child goes after everything there was.
        """
        ids = self.ids()
        if ids == self.state.sequence:
            return None, next_free  # the loaded `order` values stand, whatever they are
        slots = sorted(self.state.orders[cid] for cid in ids if cid in self.state.orders)
        for cid in ids:
            if cid not in self.state.orders:
                slots.append(next_free)
                next_free += 1
        previous = -1
        for index, slot in enumerate(slots):  # strictly increasing, so position decides
            slots[index] = previous = max(slot, previous + 1)
        return dict(zip(ids, slots, strict=True)), max(next_free, previous + 1)

    # -- errors ---------------------------------------------------------------------------------

    def set_errors(self, errors: dict[str, dict[str, str]]) -> None:
        self._errors = errors
        for item in self._rows():
            self._flag(item)
        self._show_errors_in_detail()

    def _flag(self, item: QtWidgets.QTreeWidgetItem) -> None:
        """Red, with a warning icon and the reason as tooltip: field errors, else a warning."""
        cid = self._id_of(item)
        problems = self._errors.get(cid, {})
        text = "\n".join(f"{sub}: {message}" for sub, message in problems.items())
        if not text and self._warning is not None:
            text = self._warning(self.items.get(cid, {})) or ""
        brush = QtGui.QBrush(QtGui.QColor(ERROR_COLOUR)) if text else QtGui.QBrush()
        for column in range(self.tree.columnCount()):
            item.setForeground(column, brush)
        icon = self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MessageBoxWarning)
        item.setIcon(0, icon if text else QtGui.QIcon())
        item.setToolTip(0, text or self._tooltip(cid))

    def row_errors(self, cid: str) -> dict[str, str]:
        return dict(self._errors.get(cid, {}))

    def select_for_error(self, cid: str, sub: str) -> QtWidgets.QWidget:
        """Select the child at fault; the widget to focus (its field, or the list)."""
        item = self.row_of(cid)
        if item is not None:
            self.tree.setCurrentItem(item)
        row = self.rows.get(sub)
        return row.widget if row is not None and item is not None else self.tree

    # -- internals ------------------------------------------------------------------------------

    @staticmethod
    def _id_of(item: QtWidgets.QTreeWidgetItem) -> str:
        return str(item.data(0, QtCore.Qt.ItemDataRole.UserRole))

    def _new_row(self, cid: str) -> QtWidgets.QTreeWidgetItem:
        item = QtWidgets.QTreeWidgetItem()
        item.setData(0, QtCore.Qt.ItemDataRole.UserRole, cid)
        self._refresh_row(item)
        return item

    def _tooltip(self, cid: str) -> str:
        data = self.items.get(cid, {})
        size = data.get("size")
        bits = [f"id {cid}"]
        if isinstance(size, int):
            bits.append(f"{size:,} bytes")
        if data.get("hash"):
            bits.append(f"MD5 {data['hash']}")
        return " · ".join(bits)

    def _refresh_row(self, item: QtWidgets.QTreeWidgetItem) -> None:
        cid = self._id_of(item)
        for column, text in enumerate(self._columns(self.items.get(cid, {}))):
            item.setText(column, text)
        self._flag(item)
        for column in range(1, self.tree.columnCount()):
            item.setToolTip(column, item.text(column))

    def _on_current_changed(
        self, current: QtWidgets.QTreeWidgetItem | None, _previous: QtWidgets.QTreeWidgetItem | None
    ) -> None:
        self._show_detail(self._id_of(current) if current is not None else None)

    def _show_detail(self, cid: str | None) -> None:
        self._loading_detail = True
        data = self.items.get(cid or "")
        self.detail.setVisible(data is not None)
        self.placeholder.setVisible(data is None)
        for spec in self._fields:
            editor = self.editors[spec.sub]
            value = get_path(data or {}, spec.sub)
            if spec.kind == "size":
                text = f"{value:,} bytes ({human_size(value)})" if isinstance(value, int) else ""
            else:
                text = "" if value is None else str(value)
            if isinstance(editor, QtWidgets.QPlainTextEdit):
                editor.setPlainText(text)
            else:
                editor.setText(text)
                editor.setCursorPosition(0)
        self._loading_detail = False
        self._show_errors_in_detail()
        self._update_buttons()

    def _show_errors_in_detail(self) -> None:
        problems = self._errors.get(self.current_id() or "", {})
        for sub, row in self.rows.items():
            row.set_error(problems.get(sub))

    def _edited(self, spec: ChildField, text: str) -> None:
        if self._loading or self._loading_detail:
            return
        cid = self.current_id()
        if cid is None or cid not in self.items:
            return
        data = self.items[cid]
        value: Any = text if text.strip() else spec.empty
        if spec.sub.startswith("timeFrame."):
            frame = data.get("timeFrame")
            if not isinstance(frame, dict):
                frame = data["timeFrame"] = {}
            bound = spec.sub.split(".", 1)[1]
            if value is None:  # seed 002: both bounds optional, an absent one is left out
                frame.pop(bound, None)
            else:
                frame[bound] = value
        else:
            set_path(data, spec.sub, value)
        if cid in self._errors and spec.sub in self._errors[cid]:
            self._errors[cid].pop(spec.sub)
            self.rows[spec.sub].set_error(None)
        item = self.tree.currentItem()
        if item is not None:
            self._refresh_row(item)
        self.changed.emit()

    def _update_buttons(self) -> None:
        item = self.tree.currentItem()
        row = self.tree.indexOfTopLevelItem(item) if item is not None else -1
        self.remove_button.setEnabled(item is not None)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < self.tree.topLevelItemCount() - 1)


def _order_of(child: Record) -> int:
    try:
        return int(child.get("order") or 0)
    except (TypeError, ValueError):
        return 0


# -- the form --------------------------------------------------------------------------------------


@dataclass
class Binding:
    """One record field shown by one widget."""

    path: str
    row: FieldRow
    get: Callable[[], Any]  # what the widget shows now, comparable with `shown`
    convert: Callable[[Any], Any]  # from what it shows to the record's value
    shown: Any = None  # what the widget showed right after load()


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
        self._bindings: dict[str, Binding] = {}
        self._licences: list[tuple[str, str]] = []
        self._next_order = 0
        self._file_queue: deque[Path] = deque()
        self._file_task: Task | None = None
        self._file_count = 0
        self._file_index = 0
        self._file_path = Path()
        self.setAcceptDrops(True)
        self.setStyleSheet(STYLE_SHEET)
        self.setMinimumWidth(440)
        self._build()
        self.reload_choices()
        self.load(_blank_record())

    # -- building -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.heading = _labelled("heading")
        self.heading.setWordWrap(False)
        self.heading.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state_badge = _labelled("badge")
        self.dirty_label = _labelled("hint")
        header = QtWidgets.QHBoxLayout()
        header.addWidget(self.heading, 1)
        header.addWidget(self.dirty_label)
        header.addWidget(self.state_badge)

        self.banner = _labelled("banner")
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

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(header)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)

    @classmethod
    def _page_form(cls, page: QtWidgets.QWidget) -> QtWidgets.QFormLayout:
        """A tab's form, kept at the top of the tab rather than spread over its height."""
        outer = QtWidgets.QVBoxLayout(page)
        form = cls._form_layout(None)
        outer.addLayout(form)
        outer.addStretch(1)
        return form

    @staticmethod
    def _form_layout(parent: QtWidgets.QWidget | None) -> QtWidgets.QFormLayout:
        form = QtWidgets.QFormLayout(parent)
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setLabelAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        return form

    def _bind(
        self,
        form: QtWidgets.QFormLayout | None,
        label: str,
        path: str,
        widget: QtWidgets.QWidget,
        get: Callable[[], Any],
        convert: Callable[[Any], Any],
        changed: Any,
        hint: str = "",
    ) -> FieldRow:
        row = FieldRow(path, widget, hint)
        self._bindings[path] = Binding(path, row, get, convert)
        changed.connect(lambda *_args, p=path: self._on_field_edited(p))
        if form is not None:
            form.addRow(label, row)
        return row

    def _line(self, path: str, placeholder: str = "") -> QtWidgets.QLineEdit:
        line = QtWidgets.QLineEdit()
        line.setObjectName(path)
        line.setPlaceholderText(placeholder)
        return line

    def _build_content(self, page: QtWidgets.QWidget) -> None:
        form = self._page_form(page)
        self.id_edit = self._line("id")
        self.id_edit.setReadOnly(True)
        self.id_edit.setMaximumWidth(120)
        self.id_row = FieldRow("id", self.id_edit)
        form.addRow("ID", self.id_row)

        self.title_edit = self._line("title", "Freedom of Information Requests")
        self.title_edit.textChanged.connect(self._update_heading)
        self._bind(form, "&Title", "title", self.title_edit, self.title_edit.text,
                   str, self.title_edit.textChanged)  # fmt: skip

        self.description_edit = QtWidgets.QPlainTextEdit()
        self.description_edit.setObjectName("description")
        self.description_edit.setPlaceholderText("<p>What the data is, where it comes from…</p>")
        self.description_edit.setMinimumHeight(200)
        mono = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        self.description_edit.setFont(mono)
        self._bind(form, "&Description", "description", self.description_edit,
                   self.description_edit.toPlainText, str, self.description_edit.textChanged,
                   "HTML, as shown on the dataset page.")  # fmt: skip

        self.iframe_edit = self._line("descriptionIframe", "https://…/iframe.html")
        self._bind(form, "&Iframe", "descriptionIframe", self.iframe_edit, self.iframe_edit.text,
                   _none_if_blank, self.iframe_edit.textChanged)  # fmt: skip

        self.masthead_combo = QtWidgets.QComboBox()
        self.masthead_combo.setObjectName("masthead")
        self.masthead_combo.setEditable(True)
        self.masthead_combo.setInsertPolicy(QtWidgets.QComboBox.InsertPolicy.NoInsert)
        masthead_line = self.masthead_combo.lineEdit()
        if masthead_line is not None:
            masthead_line.setPlaceholderText("none")
        self._bind(form, "&Masthead", "masthead", self.masthead_combo, self._masthead_value,
                   _none_if_blank, self.masthead_combo.currentTextChanged)  # fmt: skip

        self.tags_editor = StringListEditor("Add a tag and press Enter")
        self._bind(form, "T&ags", "tags", self.tags_editor, self.tags_editor.values,
                   list, self.tags_editor.changed)  # fmt: skip

        self.topics_list = CheckList()
        self.topics_list.setObjectName("topics")
        self._bind(form, "To&pics", "topics", self.topics_list, self.topics_list.checked,
                   self._topics_value, self.topics_list.changed)  # fmt: skip

    def _build_sidebar(self, page: QtWidgets.QWidget) -> None:
        form = self._page_form(page)
        self.review_date = OptionalDateEdit("Review on")
        self._bind(form, "Next &review", "nextReviewDate", self.review_date,
                   self.review_date.value, lambda v: v, self.review_date.changed)  # fmt: skip

        licence_box = QtWidgets.QGroupBox("Licence")
        licence_form = self._form_layout(licence_box)
        self.licence_combo = QtWidgets.QComboBox()
        self.licence_combo.setObjectName("licence-choice")
        self.licence_combo.activated.connect(self._on_licence_chosen)
        licence_form.addRow("Choose", self.licence_combo)
        self.licence_title_edit = self._line("licence.title", "UK Open Government Licence")
        self.licence_url_edit = self._line("licence.url", "https://…")
        for edit in (self.licence_title_edit, self.licence_url_edit):
            edit.textChanged.connect(self._sync_licence_combo)
        self._bind(licence_form, "Title", "licence.title", self.licence_title_edit,
                   self.licence_title_edit.text, _none_if_blank,
                   self.licence_title_edit.textChanged)  # fmt: skip
        self._bind(licence_form, "URL", "licence.url", self.licence_url_edit,
                   self.licence_url_edit.text, _none_if_blank,
                   self.licence_url_edit.textChanged)  # fmt: skip
        form.addRow(licence_box)

        contact_box = QtWidgets.QGroupBox("Contact")
        contact_form = self._form_layout(contact_box)
        self.contact_email_edit = self._line("contact.email", "opendata@example.org")
        self.contact_title_edit = self._line("contact.title", "Open Data Team")
        self._bind(contact_form, "&Email", "contact.email", self.contact_email_edit,
                   self.contact_email_edit.text, _none_if_blank,
                   self.contact_email_edit.textChanged)  # fmt: skip
        self._bind(contact_form, "Name", "contact.title", self.contact_title_edit,
                   self.contact_title_edit.text, _none_if_blank,
                   self.contact_title_edit.textChanged)  # fmt: skip
        form.addRow(contact_box)

        custom_box = QtWidgets.QGroupBox("Custom fields")
        custom_layout = QtWidgets.QVBoxLayout(custom_box)
        self.custom_table = QtWidgets.QTableWidget(0, 3)
        self.custom_table.setObjectName("custom")
        self.custom_table.setHorizontalHeaderLabels(["Field", "Value", "Stored as"])
        self.custom_table.verticalHeader().setVisible(False)
        self.custom_table.verticalHeader().setDefaultSectionSize(24)
        self.custom_table.setMinimumHeight(150)
        self.custom_table.setAlternatingRowColors(True)
        header = self.custom_table.horizontalHeader()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(0, 130)
        self.custom_table.itemChanged.connect(self._on_custom_item_changed)
        self.custom_table.itemSelectionChanged.connect(self._update_custom_buttons)
        self.add_custom_button = QtWidgets.QPushButton("Add field")
        self.add_custom_button.clicked.connect(self.add_custom_field)
        self.remove_custom_button = QtWidgets.QPushButton("Remove field")
        self.remove_custom_button.clicked.connect(self.remove_custom_field)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_custom_button)
        buttons.addWidget(self.remove_custom_button)
        self._custom_changed = _Relay(self)
        self.custom_row = self._bind(None, "", "custom", self.custom_table, self._custom_rows,
                                     self._custom_value, self._custom_changed.fired,
                                     CUSTOM_HINT)  # fmt: skip
        custom_layout.addLayout(buttons)
        custom_layout.addWidget(self.custom_row)
        form.addRow(custom_box)

    def _build_files(self, page: QtWidgets.QWidget) -> None:
        layout = QtWidgets.QVBoxLayout(page)
        self.resources = ChildListEditor(
            "resources", "Files", ["Title", "Format", "Size", "MD5 / URL"],
            _resource_columns, RESOURCE_FIELDS,
        )  # fmt: skip
        self.add_file_button = QtWidgets.QPushButton("Add file…")
        self.add_file_button.setToolTip("Attach local files (or drop them on the form)")
        self.add_file_button.clicked.connect(self._choose_files)
        self.add_url_button = QtWidgets.QPushButton("Add URL")
        self.add_url_button.clicked.connect(self.add_resource)
        self.resources.buttons.insertWidget(0, self.add_file_button)
        self.resources.buttons.insertWidget(1, self.add_url_button)
        self.resources.changed.connect(lambda: self._on_field_edited("resources"))

        self.file_progress = QtWidgets.QProgressBar()
        self.file_progress.setRange(0, 1000)
        self.file_progress.setTextVisible(False)
        self.file_progress.setMaximumHeight(14)
        self.file_label = QtWidgets.QLabel()
        self.file_label.setProperty("role", "hint")
        self.cancel_files_button = QtWidgets.QPushButton("Cancel")
        self.cancel_files_button.clicked.connect(self.cancel_files)
        progress_row = QtWidgets.QHBoxLayout()
        progress_row.addWidget(self.file_label, 1)
        progress_row.addWidget(self.file_progress, 1)
        progress_row.addWidget(self.cancel_files_button)
        self.file_status = QtWidgets.QWidget()
        self.file_status.setLayout(progress_row)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.file_status.hide()
        self.file_error = _labelled("error")
        self.file_error.setObjectName("file-error")
        self.file_error.hide()
        self.resources.extra.addWidget(self.file_status)
        self.resources.extra.addWidget(self.file_error)

        self.links = ChildListEditor(
            "links", "Links", ["Title", "Last check", "URL"], _link_columns, LINK_FIELDS,
            warning=_link_warning,
        )  # fmt: skip
        self.add_link_button = QtWidgets.QPushButton("Add link")
        self.add_link_button.clicked.connect(self.add_link)
        self.links.buttons.insertWidget(0, self.add_link_button)
        self.links.changed.connect(lambda: self._on_field_edited("links"))
        layout.addWidget(self.resources)
        layout.addWidget(self.links)
        layout.addStretch(1)

    def _build_access(self, page: QtWidgets.QWidget) -> None:
        form = self._page_form(page)
        sharing = QtWidgets.QWidget()
        self.public_radio = QtWidgets.QRadioButton("Public — anyone can see it once published")
        self.private_radio = QtWidgets.QRadioButton("Private — only the people listed below")
        self.sharing_group = QtWidgets.QButtonGroup(self)
        self.sharing_group.addButton(self.public_radio)
        self.sharing_group.addButton(self.private_radio)
        sharing_layout = QtWidgets.QVBoxLayout(sharing)
        sharing_layout.setContentsMargins(0, 0, 0, 0)
        sharing_layout.addWidget(self.public_radio)
        sharing_layout.addWidget(self.private_radio)
        self._bind(form, "Sharing", "sharing", sharing, self._sharing_value, lambda v: v,
                   self.sharing_group.buttonToggled)  # fmt: skip

        self.team_combo = QtWidgets.QComboBox()
        self.team_combo.setObjectName("team")
        self._bind(form, "Owner &team", "team", self.team_combo,
                   lambda: self.team_combo.currentData(), lambda v: v,
                   self.team_combo.currentIndexChanged)  # fmt: skip

        self.embargo_date = OptionalDateEdit("Embargoed until")
        self._bind(form, "Embargo", "embargoUntil", self.embargo_date, self.embargo_date.value,
                   lambda v: v, self.embargo_date.changed)  # fmt: skip

        self.collaborators_list = CheckList()
        self.readusers_list = CheckList()
        self.readteams_list = CheckList()
        for path, label, widget in (
            ("collaborators", "Collaborators", self.collaborators_list),
            ("readusers", "Read users", self.readusers_list),
            ("readteams", "Read teams", self.readteams_list),
        ):
            widget.setObjectName(path)
            ordered = functools.partial(self._ordered_like_loaded, path)
            self._bind(form, label, path, widget, widget.checked, ordered, widget.changed)
        form.addRow(_labelled("hint", "Read users and read teams apply to private datasets."))

    def _build_metadata(self, page: QtWidgets.QWidget) -> None:
        form = self._page_form(page)
        self.meta_edits: dict[str, QtWidgets.QLineEdit] = {}
        for key, label in (
            ("id", "ID"),
            ("state", "State"),
            ("site", "Site"),
            ("createdAt", "Created"),
            ("updatedAt", "Updated"),
        ):
            edit = self._line(f"meta-{key}")
            edit.setReadOnly(True)
            self.meta_edits[key] = edit
            form.addRow(label, edit)
        form.addRow(_labelled("hint", "Publish and unpublish from the Dataset menu."))

    # -- choices from the catalogue -------------------------------------------------------------

    def reload_choices(self) -> None:
        """Read the managed lists (topics, licences, mastheads, users, teams) again."""
        with self._database.read() as session:
            self._topics = [(t.id, t.title) for t in managed_lists.list_topics(session)]
            self._licences = [(lic.url, lic.title) for lic in managed_lists.list_licences(session)]
            self._mastheads = [(m.id, m.title) for m in managed_lists.list_mastheads(session)]
            self._users = [
                (u.id, f"{u.display_name} ({u.username})" if u.display_name else u.username)
                for u in access.list_users(session)
            ]
            self._teams = [(t.id, f"{t.title} ({t.id})") for t in access.list_teams(session)]

    # -- public API ---------------------------------------------------------------------------

    def load(self, record: Record) -> None:
        """Show `record` in every field; the form is clean afterwards."""
        self.cancel_files()
        self.reload_choices()
        self._loading = True
        self._loaded = copy.deepcopy(record)
        r = self._loaded
        self.id_edit.setText(str(r.get("id") or ""))
        self.title_edit.setText(_text(r.get("title")))
        self.description_edit.setPlainText(_text(r.get("description")))
        self.iframe_edit.setText(_text(r.get("descriptionIframe")))
        self._fill_masthead(r.get("masthead"))
        self.tags_editor.set_values(r.get("tags") or [])
        self.tags_editor.input.clear()
        self.topics_list.set_choices(self._topics_choices(), r.get("topics") or [])
        self.review_date.set_value(r.get("nextReviewDate"))
        licence = r.get("licence") or {}
        self.licence_title_edit.setText(_text(licence.get("title")))
        self.licence_url_edit.setText(_text(licence.get("url")))
        self._fill_licence_combo()
        contact = r.get("contact") or {}
        self.contact_email_edit.setText(_text(contact.get("email")))
        self.contact_title_edit.setText(_text(contact.get("title")))
        self._fill_custom(r.get("custom") or {})
        self.resources.load(r.get("resources"))
        self.links.load(r.get("links"))
        orders = [
            _order_of(child)
            for key in ("resources", "links")
            for child in (r.get(key) or {}).values()
            if isinstance(child, dict)
        ]
        self._next_order = max(orders, default=-1) + 1
        private = r.get("sharing") == "private"
        self.private_radio.setChecked(private)
        self.public_radio.setChecked(not private)
        self._fill_team(r.get("team"))
        self.embargo_date.set_value(r.get("embargoUntil"))
        self.collaborators_list.set_choices(self._users, r.get("collaborators") or [])
        self.readusers_list.set_choices(self._users, r.get("readusers") or [])
        self.readteams_list.set_choices(
            [(tid, label) for tid, label in self._teams], r.get("readteams") or []
        )
        for key, edit in self.meta_edits.items():
            edit.setText(_text(r.get(key)))
        self.state_badge.setText(str(r.get("state") or "draft").capitalize())
        for binding in self._bindings.values():
            binding.shown = binding.get()
        self._loading = False
        self.clear_errors()
        self.file_error.hide()
        self._update_heading()
        self._set_dirty(False)

    def record(self) -> Record:
        """The edited record: the loaded one with every changed field replaced."""
        out = copy.deepcopy(self._loaded)
        for binding in self._bindings.values():
            now = binding.get()
            if now != binding.shown:
                set_path(out, binding.path, binding.convert(now))
        next_free = self._next_order
        for key, editor in (("resources", self.resources), ("links", self.links)):
            orders, next_free = editor.orders(next_free)
            children: dict[str, Record] = {}
            for cid in editor.ids():
                child = copy.deepcopy(editor.items[cid])
                if orders is not None and child.get("order") != orders[cid]:
                    child["order"] = orders[cid]
                children[cid] = child
            if key in out or children:
                out[key] = children
        return out

    def is_dirty(self) -> bool:
        return self._dirty

    def show_errors(self, errors: dict[str, str]) -> None:
        """Put each message next to its field (or on its resource or link row); focus the first."""
        self.clear_errors()
        unplaced: list[str] = []
        child_errors: dict[str, dict[str, dict[str, str]]] = {"resources": {}, "links": {}}
        targets: list[tuple[int, Callable[[], QtWidgets.QWidget]]] = []
        order = list(self._bindings)
        for path, message in errors.items():
            head, _, rest = path.partition(".")
            if head in child_errors and rest:
                cid, _, sub = rest.partition(".")
                child_errors[head].setdefault(cid, {})[sub or "id"] = message
                editor = self.resources if head == "resources" else self.links
                rank = len(order) + (head == "links")
                targets.append((rank, functools.partial(editor.select_for_error, cid, sub)))
                continue
            binding = self._binding_for(path)
            if binding is None:
                if path == "id":
                    self.id_row.set_error(message)
                unplaced.append(f"{path}: {message}")
                continue
            extra = path[len(binding.path) + 1 :]
            text = f"{extra}: {message}" if extra else message
            if binding.row.error:
                text = f"{binding.row.error}\n{text}"
            binding.row.set_error(text)
            rank = order.index(binding.path)
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
        for binding in self._bindings.values():
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
        rid = self._new_child_id()
        data: Record = {"url": "", "order": 0, "title": "", "description": "", "filename": None,
                        "timeFrame": {}, "format": None, "hash": None, "size": None,
                        "timestamp": None, "origin": None}  # fmt: skip
        self.resources.add(rid, data)
        self._reveal(self.resources.editors["url"])

    def add_link(self) -> None:
        lid = self._new_child_id()
        qa = {"timestamp": None, "hash": None, "size": None, "mimetype": None, "httpStatus": None}
        data: Record = {"url": "", "order": 0, "title": "", "description": "", "qa": qa}
        self.links.add(lid, data)
        self._reveal(self.links.editors["url"])

    def add_files(self, paths: Sequence[Path | str]) -> None:
        """Describe each file off the GUI thread (MD5, size, format), then add it as a resource."""
        new = [Path(p) for p in paths]
        if not new:
            return
        self._file_queue.extend(new)
        self._file_count += len(new)
        self.file_error.hide()
        self.file_error.clear()
        if self._file_task is None:
            self._next_file()

    def cancel_files(self) -> None:
        """Stop describing files; nothing more is added from the queue."""
        task, self._file_task = self._file_task, None
        self._file_queue.clear()
        self._file_count = self._file_index = 0
        self.file_status.hide()
        if task is not None:
            task.cancel()
            self.filesFinished.emit()

    @property
    def files_busy(self) -> bool:
        return self._file_task is not None

    def _choose_files(self) -> None:
        names, _filter = QtWidgets.QFileDialog.getOpenFileNames(self, "Add files to the dataset")
        self.add_files([Path(name) for name in names])

    def _next_file(self) -> None:
        if not self._file_queue:
            self._file_task = None
            self._file_count = self._file_index = 0
            self.file_status.hide()
            self.filesFinished.emit()
            return
        path = self._file_queue.popleft()
        self._file_index += 1
        of = f" ({self._file_index} of {self._file_count})" if self._file_count > 1 else ""
        self.file_label.setText(f"Reading {path.name}{of}…")
        self.file_progress.setValue(0)
        self.file_status.show()
        self._file_path = path
        self._file_task = self._tasks.run(
            lambda progress: _describe_scaled(path, progress),
            on_done=self._on_file_described,
            on_error=self._on_file_failed,
            on_progress=self._on_file_progress,
            on_cancelled=self._on_file_cancelled,
        )

    def _is_current_task(self) -> bool:
        return self._file_task is not None and self.sender() is self._file_task.signals

    def _on_file_progress(self, done: int, total: int) -> None:
        if self._is_current_task():
            self.file_progress.setValue(done * 1000 // total if total else 1000)

    def _on_file_described(self, info: object) -> None:
        if not self._is_current_task() or not isinstance(info, files.FileInfo):
            return
        rid = self._new_child_id()
        self.resources.add(rid, files.resource_from_file(info, order=0))
        self.resourceAdded.emit(rid)
        self._next_file()

    def _on_file_failed(self, error: Exception) -> None:
        if not self._is_current_task():
            return
        if not isinstance(error, OSError):
            self._tasks.error.emit(error)  # a bug, not the file: the main window reports it
        self.file_error.setText(f"Could not read {self._file_path.name}: {error}")
        self.file_error.show()
        self._next_file()

    def _on_file_cancelled(self) -> None:
        if self._is_current_task():  # cancelled from elsewhere than cancel_files()
            self.cancel_files()

    def _new_child_id(self) -> str:
        return datasets.new_child_id(set(self.resources.items) | set(self.links.items))

    # -- drag and drop, Ctrl+S ------------------------------------------------------------------

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if local_files(event.mimeData()):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        paths = local_files(event.mimeData())
        if paths:
            event.acceptProposedAction()
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

    def _binding_for(self, path: str) -> Binding | None:
        while path:
            if path in self._bindings:
                return self._bindings[path]
            path = path.rpartition(".")[0]
        return None

    def _mark_tabs(self, errors: dict[str, str]) -> None:
        warning = self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MessageBoxWarning)
        for path in errors:
            head = path.partition(".")[0]
            if head in ("resources", "links"):
                widget: QtWidgets.QWidget = self.resources
            elif path == "id":
                widget = self.id_row
            else:
                binding = self._binding_for(path)
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

    def _update_heading(self) -> None:
        title = self.title_edit.text().strip() or "Untitled dataset"
        metrics = self.heading.fontMetrics()
        width = max(200, self.width() - 260)
        self.heading.setText(metrics.elidedText(title, QtCore.Qt.TextElideMode.ElideRight, width))
        self.heading.setToolTip(title)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_heading()

    # masthead

    def _fill_masthead(self, value: Any) -> None:
        combo = self.masthead_combo
        combo.clear()
        combo.addItem("", None)
        for mid, title in self._mastheads:
            combo.addItem(title, mid)
        index = combo.findData(value) if value else 0
        if index >= 0:
            combo.setCurrentIndex(index)
        else:
            combo.setEditText(str(value))

    def _masthead_value(self) -> str:
        text = self.masthead_combo.currentText().strip()
        index = self.masthead_combo.findText(text, QtCore.Qt.MatchFlag.MatchFixedString)
        if text and index > 0:
            return str(self.masthead_combo.itemData(index))
        return text  # not a managed masthead: the id as typed

    # topics, users, teams

    def _topics_choices(self) -> list[tuple[Any, str]]:
        return [(tid, f"{title} ({tid})") for tid, title in self._topics]

    def _topics_value(self, checked: list[Any]) -> list[Any]:
        return self._ordered_like_loaded("topics", checked)

    def _ordered_like_loaded(self, path: str, checked: list[Any]) -> list[Any]:
        """Checked values, keeping the loaded ones in their loaded order, new ones after."""
        loaded = [v for v in (self._loaded.get(path) or []) if v in checked]
        return loaded + [v for v in checked if v not in loaded]

    def _sharing_value(self) -> str:
        return "private" if self.private_radio.isChecked() else "public"

    def _fill_team(self, value: Any) -> None:
        combo = self.team_combo
        combo.clear()
        combo.addItem("No team", None)
        for tid, label in self._teams:
            combo.addItem(label, tid)
        if value and combo.findData(value) < 0:
            combo.addItem(f"{value} (not in the catalogue)", value)
        combo.setCurrentIndex(max(0, combo.findData(value)) if value else 0)

    # licence

    def _fill_licence_combo(self) -> None:
        combo = self.licence_combo
        blocker = QtCore.QSignalBlocker(combo)
        combo.clear()
        combo.addItem("Other (type below)", None)
        for url, title in self._licences:
            combo.addItem(title, url)
        del blocker
        self._sync_licence_combo()

    def _on_licence_chosen(self, index: int) -> None:
        url = self.licence_combo.itemData(index)
        if url is None:
            return
        self.licence_url_edit.setText(str(url))
        self.licence_title_edit.setText(self.licence_combo.itemText(index))

    def _sync_licence_combo(self) -> None:
        index = self.licence_combo.findData(self.licence_url_edit.text().strip())
        blocker = QtCore.QSignalBlocker(self.licence_combo)
        self.licence_combo.setCurrentIndex(max(index, 0))
        del blocker

    # custom fields

    def _fill_custom(self, custom: dict[str, Any]) -> None:
        table = self.custom_table
        blocker = QtCore.QSignalBlocker(table)
        table.setRowCount(0)
        for key, value in custom.items():
            self._append_custom_row(str(key), custom_value_text(value))
        del blocker
        self._update_custom_buttons()

    def _append_custom_row(self, key: str, text: str) -> int:
        table = self.custom_table
        row = table.rowCount()
        table.insertRow(row)
        table.setItem(row, 0, QtWidgets.QTableWidgetItem(key))
        table.setItem(row, 1, QtWidgets.QTableWidgetItem(text))
        kind = QtWidgets.QTableWidgetItem()
        kind.setFlags(kind.flags() & ~QtCore.Qt.ItemFlag.ItemIsEditable)
        table.setItem(row, 2, kind)
        self._update_custom_kind(row)
        return row

    def _update_custom_kind(self, row: int) -> None:
        value_item = self.custom_table.item(row, 1)
        kind_item = self.custom_table.item(row, 2)
        if value_item is None or kind_item is None:
            return
        value = parse_custom_value(value_item.text())
        kind_item.setText(custom_kind(value))
        if isinstance(value, list):
            kind_item.setToolTip("\n".join(value))

    def _custom_rows(self) -> list[tuple[str, str]]:
        rows = []
        for row in range(self.custom_table.rowCount()):
            key_item, value_item = self.custom_table.item(row, 0), self.custom_table.item(row, 1)
            key = key_item.text().strip() if key_item is not None else ""
            text = value_item.text() if value_item is not None else ""
            if key or text.strip():
                rows.append((key, text))
        return rows

    def _custom_value(self, rows: list[tuple[str, str]]) -> dict[str, Any]:
        loaded = self._loaded.get("custom") or {}
        custom: dict[str, Any] = {}
        for key, text in rows:
            if key in loaded and custom_value_text(loaded[key]) == text:
                custom[key] = loaded[key]  # unchanged: keep it exactly as it was
            else:
                custom[key] = parse_custom_value(text)
        return custom

    def _on_custom_item_changed(self, item: QtWidgets.QTableWidgetItem) -> None:
        if item.column() == 1:
            blocker = QtCore.QSignalBlocker(self.custom_table)
            self._update_custom_kind(item.row())
            del blocker
        if item.column() != 2:
            self._custom_changed.fired.emit()

    def add_custom_field(self) -> None:
        blocker = QtCore.QSignalBlocker(self.custom_table)
        row = self._append_custom_row("", "")
        del blocker
        self.custom_table.setCurrentCell(row, 0)
        key_item = self.custom_table.item(row, 0)
        if key_item is not None:
            self.custom_table.editItem(key_item)

    def remove_custom_field(self) -> None:
        rows = sorted({index.row() for index in self.custom_table.selectedIndexes()}, reverse=True)
        for row in rows:
            self.custom_table.removeRow(row)
        if rows:
            self._custom_changed.fired.emit()

    def set_custom_field(self, key: str, text: str) -> None:
        """Set (or add) a custom field's value text as a person would type it."""
        for row in range(self.custom_table.rowCount()):
            item = self.custom_table.item(row, 0)
            if item is not None and item.text() == key:
                value_item = self.custom_table.item(row, 1)
                if value_item is not None:
                    value_item.setText(text)
                return
        row = self._append_custom_row(key, text)
        self._custom_changed.fired.emit()
        self.custom_table.setCurrentCell(row, 1)

    def _update_custom_buttons(self) -> None:
        self.remove_custom_button.setEnabled(bool(self.custom_table.selectedIndexes()))


class _Relay(QtCore.QObject):
    """A signal to bind a field to when its widget has no single 'changed' signal."""

    fired = Signal()


def _describe_scaled(path: Path, progress: Progress) -> files.FileInfo:
    """describe_file, with progress in thousandths: byte counts overflow a Qt int past 2 GiB."""

    def forward(done: int, total: int) -> None:
        progress.report(done * 1000 // total if total else 1000, 1000)

    return files.describe_file(path, Progress(on_report=forward))


def local_files(mime: QtCore.QMimeData) -> list[Path]:
    """The local files a drag carries (the form adds them; the main window imports one)."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def _same(widget: QtWidgets.QWidget) -> QtWidgets.QWidget:
    return widget


def _none_if_blank(value: Any) -> Any:
    text = str(value or "").strip()
    return text or None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _blank_record() -> Record:
    return {"id": "", "title": "", "resources": {}, "links": {}}
