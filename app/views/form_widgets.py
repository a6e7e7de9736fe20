"""The dataset form's small widgets, and the look every dialog shares (STYLE_SHEET).

A field is shown in a FieldRow: its widget, an optional hint, and the error message under it;
`Bindings` ties each row to its record path, which is how the form gives back an unedited record
exactly. The fields that are not one line of text have their own widgets: StringListEditor (tags),
CheckList (topics, users, teams), OptionalDateEdit (a date or none), MastheadCombo, TeamCombo,
LicenceBox and ChoiceButtons (one of a field's choices). FormChoices: what the lists offer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.services import access, managed_lists
from app.services.record.fields import Field
from app.services.records import Record
from app.views.qt import QtCore, QtGui, QtWidgets, Signal

ERROR_COLOUR = "#c62828"

STYLE_SHEET = f"""
QLabel[role="error"] {{ color: {ERROR_COLOUR}; }}
QLabel[role="hint"] {{ color: palette(dark); }}
QLabel[role="warning"] {{
    color: #664d03; background: #fff3cd; border: 1px solid #e0c36a;
    border-radius: 4px; padding: 4px 6px;
}}
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


def set_invalid(widget: QtWidgets.QWidget, invalid: bool) -> None:
    if bool(widget.property("invalid")) == invalid:
        return
    widget.setProperty("invalid", invalid)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def labelled(role: str, text: str = "") -> QtWidgets.QLabel:
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
        self.error_label = labelled("error")
        self.error_label.setObjectName(f"error:{path}")
        self.error_label.hide()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(widget)
        if hint:
            layout.addWidget(labelled("hint", hint))
        layout.addWidget(self.error_label)

    def set_error(self, message: str | None) -> None:
        self.error_label.setText(message or "")
        self.error_label.setVisible(bool(message))
        set_invalid(self, bool(message))
        set_invalid(self.widget, bool(message))

    @property
    def error(self) -> str | None:
        return self.error_label.text() if not self.error_label.isHidden() else None


# -- editors for the list-shaped fields ----------------------------------------------------------


@dataclass
class Binding:
    """One record field shown by one widget."""

    path: str
    row: FieldRow
    get: Callable[[], Any]  # what the widget shows now, comparable with `shown`
    convert: Callable[[Any], Any]  # from what it shows to the record's value
    shown: Any = None  # what the widget showed right after the record was loaded


class Bindings:
    """A record's fields as their widgets show them, in the order they were bound.

    `loaded()` notes what every widget shows right after a record is loaded; `apply(record)`
    then writes back only the fields whose widget shows something else, so an unedited form
    gives back exactly the record it was given.
    """

    def __init__(self) -> None:
        self._by_path: dict[str, Binding] = {}

    def add(self, row: FieldRow, get: Callable[[], Any], convert: Callable[[Any], Any]) -> None:
        self._by_path[row.path] = Binding(row.path, row, get, convert)

    def __iter__(self) -> Iterator[Binding]:
        return iter(self._by_path.values())

    def __len__(self) -> int:
        return len(self._by_path)

    def get(self, path: str) -> Binding | None:
        return self._by_path.get(path)

    def owner(self, path: str) -> Binding | None:
        """The binding of `path`, or of the nearest field holding it ("licence" for "licence.x")."""
        while path:
            if path in self._by_path:
                return self._by_path[path]
            path = path.rpartition(".")[0]
        return None

    def rank(self, binding: Binding) -> int:
        return list(self._by_path).index(binding.path)

    def loaded(self) -> None:
        for binding in self:
            binding.shown = binding.get()

    def apply(self, record: Record) -> None:
        for binding in self:
            now = binding.get()
            if now != binding.shown:
                set_path(record, binding.path, binding.convert(now))


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
    """A date or none: a check box switches the date on.

    The date box stays editable while the box is off: typing or picking a date in it (a year,
    say) switches the date on, rather than being ignored by a disabled box.
    """

    changed = Signal()

    def __init__(self, label: str) -> None:
        super().__init__()
        self._setting = False
        self.enabled_box = QtWidgets.QCheckBox(label)
        self.date_edit = QtWidgets.QDateEdit()
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.date_edit.setDate(QtCore.QDate.currentDate())
        self.enabled_box.toggled.connect(self._show_enabled)
        self.enabled_box.toggled.connect(lambda _on: self.changed.emit())
        self.date_edit.dateChanged.connect(self._on_date_edited)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.enabled_box)
        layout.addWidget(self.date_edit)
        layout.addStretch(1)
        self._show_enabled(False)

    def _show_enabled(self, on: bool) -> None:
        # Greyed while off, yet still takes input (see the class docstring).
        self.date_edit.setStyleSheet("" if on else "QDateEdit { color: palette(mid); }")

    def _on_date_edited(self, _date: QtCore.QDate) -> None:
        if self._setting:
            return
        if not self.enabled_box.isChecked():
            self.enabled_box.setChecked(True)  # emits changed
            return
        self.changed.emit()

    def value(self) -> str | None:
        if not self.enabled_box.isChecked():
            return None
        return str(self.date_edit.date().toString(QtCore.Qt.DateFormat.ISODate))

    def set_value(self, value: str | None) -> None:
        date = QtCore.QDate.fromString(value or "", QtCore.Qt.DateFormat.ISODate)
        self._setting = True
        try:
            self.enabled_box.setChecked(date.isValid())
            self.date_edit.setDate(date if date.isValid() else QtCore.QDate.currentDate())
        finally:
            self._setting = False


def form_layout(parent: QtWidgets.QWidget | None = None) -> QtWidgets.QFormLayout:
    """A form whose fields take the width, with labels right-aligned beside (or above) them."""
    form = QtWidgets.QFormLayout(parent)
    form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.WrapLongRows)
    form.setLabelAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
    return form


def line_edit(name: str, placeholder: str = "") -> QtWidgets.QLineEdit:
    line = QtWidgets.QLineEdit()
    line.setObjectName(name)
    line.setPlaceholderText(placeholder)
    return line


class MastheadCombo(QtWidgets.QComboBox):
    """The catalogue's mastheads by title, or a masthead id typed in; empty for none."""

    def __init__(self) -> None:
        super().__init__()
        self.setEditable(True)
        self.setInsertPolicy(QtWidgets.QComboBox.InsertPolicy.NoInsert)
        line = self.lineEdit()
        if line is not None:
            line.setPlaceholderText("none")

    def set_choices(self, choices: Sequence[tuple[str, str]], value: Any) -> None:
        """Offer `choices` (id, title) and show `value`: its title, or the id itself if unknown."""
        self.clear()
        self.addItem("", None)
        for mid, title in choices:
            self.addItem(title, mid)
        index = self.findData(value) if value else 0
        if index >= 0:
            self.setCurrentIndex(index)
        else:
            self.setEditText(str(value))

    def value(self) -> str:
        text = self.currentText().strip()
        index = self.findText(text, QtCore.Qt.MatchFlag.MatchFixedString)
        if text and index > 0:
            return str(self.itemData(index))
        return text  # not a managed masthead: the id as typed


class TeamCombo(QtWidgets.QComboBox):
    """One team or none; a team id the catalogue does not have is offered as it is."""

    def set_choices(self, choices: Sequence[tuple[str, str]], value: Any) -> None:
        self.clear()
        self.addItem("No team", None)
        for tid, label in choices:
            self.addItem(label, tid)
        if value and self.findData(value) < 0:
            self.addItem(f"{value} (not in the catalogue)", value)
        self.setCurrentIndex(max(0, self.findData(value)) if value else 0)

    def value(self) -> Any:
        return self.currentData()


class LicenceBox(QtWidgets.QGroupBox):
    """The licence's title and URL, and a choice of the catalogue's licences that fills them in.

    The two line edits are the fields; the form binds them into `form`, below the choice.
    """

    def __init__(self, title: str) -> None:
        super().__init__(title)
        self.form = form_layout(self)
        self.combo = QtWidgets.QComboBox()
        self.combo.setObjectName("licence-choice")
        self.combo.activated.connect(self._on_chosen)
        self.form.addRow("Choose", self.combo)
        self.title_edit = line_edit("licence.title", "The licence's name")
        self.url_edit = line_edit("licence.url", "https://…")
        for edit in (self.title_edit, self.url_edit):
            edit.textChanged.connect(self._sync_combo)

    def set_choices(self, licences: Sequence[tuple[str, str]]) -> None:
        """Offer `licences` (url, title), after "Other" for one typed in."""
        blocker = QtCore.QSignalBlocker(self.combo)
        self.combo.clear()
        self.combo.addItem("Other (type below)", None)
        for url, title in licences:
            self.combo.addItem(title, url)
        del blocker
        self._sync_combo()

    def _on_chosen(self, index: int) -> None:
        url = self.combo.itemData(index)
        if url is None:
            return
        self.url_edit.setText(str(url))
        self.title_edit.setText(self.combo.itemText(index))

    def _sync_combo(self) -> None:
        index = self.combo.findData(self.url_edit.text().strip())
        blocker = QtCore.QSignalBlocker(self.combo)
        self.combo.setCurrentIndex(max(index, 0))
        del blocker


class ChoiceButtons(QtWidgets.QWidget):
    """One of a field's choices, as radio buttons with their `texts`; unknown shows the default."""

    changed = Signal()

    def __init__(self, field: Field, texts: Mapping[str, str]) -> None:
        super().__init__()
        self._default = field.default
        self.group = QtWidgets.QButtonGroup(self)
        self.buttons: dict[str, QtWidgets.QRadioButton] = {}
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for choice in field.choices:
            button = QtWidgets.QRadioButton(texts.get(choice, choice.capitalize()))
            self.buttons[choice] = button
            self.group.addButton(button)
            layout.addWidget(button)
        self.group.buttonToggled.connect(lambda *_args: self.changed.emit())

    def value(self) -> Any:
        checked = (choice for choice, button in self.buttons.items() if button.isChecked())
        return next(checked, self._default)

    def set_value(self, value: Any) -> None:
        self.buttons.get(str(value), self.buttons[self._default]).setChecked(True)


@dataclass(frozen=True)
class FormChoices:
    """The managed lists the form offers, as (value, text) pairs: read with the record it
    shows, off the GUI thread (views.main_window)."""

    topics: list[tuple[str, str]]
    licences: list[tuple[str, str]]
    mastheads: list[tuple[str, str]]
    users: list[tuple[int, str]]
    teams: list[tuple[str, str]]

    @classmethod
    def read(cls, session: Session) -> FormChoices:
        return cls(
            [(t.id, t.title) for t in managed_lists.list_topics(session)],
            [(lic.url, lic.title) for lic in managed_lists.list_licences(session)],
            [(m.id, m.title) for m in managed_lists.list_mastheads(session)],
            [
                (u.id, f"{u.display_name} ({u.username})" if u.display_name else u.username)
                for u in access.list_users(session)
            ],
            [(t.id, f"{t.title} ({t.id})") for t in access.list_teams(session)],
        )
