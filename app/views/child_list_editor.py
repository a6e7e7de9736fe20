"""The resources and links of a dataset: an ordered list with a detail editor for the selected one.

The two lists share one `order` space (seed 002 interleaves files and links on the dataset page),
so each editor remembers the loaded order and renumbers only when something was added, removed
or moved (`ChildListEditor.orders`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.services.link_check import is_broken
from app.services.record.canonical import canonical_child
from app.services.record.fields import CHILDREN, LINK, RESOURCE, Field
from app.services.records import Record
from app.services.text import human_size
from app.views.form_widgets import ERROR_COLOUR, FieldRow, get_path, labelled, set_path
from app.views.qt import QtCore, QtGui, QtWidgets, Signal

MONTH_PATTERN = r"^$|^\d{0,4}(-\d{0,2})?$"


@dataclass(frozen=True)
class ChildField:
    sub: str  # path inside the child, e.g. "timeFrame.gte"
    label: str
    kind: str = "line"  # line | text | month | size | readonly
    placeholder: str = ""
    empty: Any = ""  # what an emptied field stores ("" or None)


def child_field(
    table: Field, sub: str, label: str = "", kind: str = "line", placeholder: str = ""
) -> ChildField:
    """A resource's or link's field (`table` is RESOURCE or LINK) with the table's label (unless
    the form words it otherwise) and the table's empty value: None where null is a value."""
    spec = table
    for name in sub.split("."):
        spec = spec.part(name)
    return ChildField(sub, label or spec.label, kind, placeholder, None if spec.nullable else "")


_RESOURCE_FIELDS = (
    child_field(RESOURCE, "title"),
    child_field(RESOURCE, "description", kind="text", placeholder="Plain text"),
    child_field(RESOURCE, "url", "Download URL", placeholder="https://… (empty for a local file)"),
    child_field(RESOURCE, "filename"),
    child_field(RESOURCE, "timeFrame.gte", "Covers from", "month", "YYYY-MM"),
    child_field(RESOURCE, "timeFrame.lte", "Covers to", "month", "YYYY-MM"),
    child_field(RESOURCE, "format", placeholder="csv, xlsx, pdf…"),
    child_field(RESOURCE, "size", kind="size"),
    child_field(RESOURCE, "hash", kind="readonly"),
    child_field(RESOURCE, "timestamp", "File time (UTC)", "readonly"),
    child_field(RESOURCE, "origin", kind="readonly"),
)

_LINK_FIELDS = (
    child_field(LINK, "title"),
    child_field(LINK, "url", placeholder="https://…"),
    child_field(LINK, "description", kind="text", placeholder="Plain text"),
    child_field(LINK, "qa.httpStatus", "QA HTTP status", "readonly"),
    child_field(LINK, "qa.mimetype", "QA MIME type", "readonly"),
    child_field(LINK, "qa.size", "QA size", "readonly"),
    child_field(LINK, "qa.hash", "QA ETag", "readonly"),
    child_field(LINK, "qa.timestamp", "QA checked at", "readonly"),
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
        table: Field,
        headers: Sequence[str],
        columns: Callable[[Record], list[str]],
        fields: Sequence[ChildField],
        warning: Callable[[Record], str | None] | None = None,
    ) -> None:
        kind, title = table.name, table.label
        super().__init__(title)
        self._table = table  # RESOURCE or LINK
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
        self.placeholder = labelled("hint", f"Select one of the {title.lower()} to edit it.")

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
        sequence = sorted(self.items, key=lambda cid: (order_of(self.items[cid]), cid))
        self.state = ChildState(sequence, {cid: order_of(self.items[cid]) for cid in sequence})
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

    def add_blank(self, cid: str) -> None:
        """Add a new child with every field empty, as the field table says, and select it."""
        self.add(cid, canonical_child(self._table, {}))

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

    def child_records(self, next_free: int) -> tuple[dict[str, Record], int]:
        """The children in list order, each with its `order` (see `orders`); the next free one."""
        orders, next_free = self.orders(next_free)
        children: dict[str, Record] = {}
        for cid in self.ids():
            child = copy.deepcopy(self.items[cid])
            if orders is not None and child.get("order") != orders[cid]:
                child["order"] = orders[cid]
            children[cid] = child
        return children, next_free

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
            bits.append(f"hash {data['hash']}")
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
            if not text.strip():  # seed 002: both bounds optional, an absent one is left out
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


def first_free_order(record: Record) -> int:
    """The `order` after every resource's and link's of `record`: where a new child goes."""
    orders = [
        order_of(child)
        for key in CHILDREN
        for child in (record.get(key) or {}).values()
        if isinstance(child, dict)
    ]
    return max(orders, default=-1) + 1


def order_of(child: Record) -> int:
    try:
        return int(child.get("order") or 0)
    except (TypeError, ValueError):
        return 0


def resources_editor() -> ChildListEditor:
    return ChildListEditor(
        RESOURCE, ["Title", "Format", "Size", "Hash / URL"], _resource_columns, _RESOURCE_FIELDS
    )


def links_editor() -> ChildListEditor:
    return ChildListEditor(
        LINK, ["Title", "Last check", "URL"], _link_columns, _LINK_FIELDS, warning=_link_warning
    )
