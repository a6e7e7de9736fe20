"""Sync conflicts, resolved one field at a time: base, mine and theirs side by side.

A conflict is one unit of a dataset (`title`, `tags`, `resources/k93`, or `*` for the whole
dataset) changed on both sides since the last sync (services.sync.merge). For each the person
picks *Keep mine*, *Take theirs* or *Edit merged*: a text editor pre-filled with their own
value — plain text for text fields, JSON for structured ones — checked before it is accepted
(JSON syntax, the field's shape, then services.validation on the dataset with the value in
place). A conflict left undecided is left alone on both sides and shown again next time.

The dialog only gathers `plan.Resolution`s keyed by `(item.key, unit)`; the preview hands them
to `engine.apply`. Nothing is written here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from app.services.errors import ValidationFailed
from app.services.record.canonical import canonical_field, canonical_link, canonical_resource
from app.services.record.fields import FIELDS, Field, Kind, label
from app.services.sync.merge import FieldConflict, set_units
from app.services.sync.plan import KEEP_MINE, TAKE_THEIRS, WHOLE, PlanItem, Resolution, merged
from app.services.validation import validate_record
from app.views.form_widgets import STYLE_SHEET
from app.views.qt import QtCore, QtGui, QtWidgets

Choice = Literal["mine", "theirs", "merged"]

_LIST_ITEMS = {Kind.TEAM_REFS: "team ids", Kind.USER_REFS: "user ids"}


def _json_shape(field: Field) -> tuple[type, str] | None:
    """The JSON a person must type for a field edited as JSON, and how to say it."""
    if field.is_list:
        return list, f"a JSON list of {_LIST_ITEMS.get(field.kind, 'strings')}"
    if field.kind is Kind.OBJECT:
        members = ", ".join(f'"{part.name}": ...' for part in field.parts)
        return dict, f"a JSON object {{{members}}}"
    if field.kind is Kind.CUSTOM:
        return dict, "a JSON object of names to strings or lists of strings"
    return None


# Edited as plain text; every other field is JSON. Empty means "none" for the optional ones.
TEXT_FIELDS = frozenset(f.name for f in FIELDS.values() if f.is_text and f.synced)
OPTIONAL_TEXT = frozenset(f.name for f in FIELDS.values() if f.is_text and f.nullable)
_SHAPES = {name: shape for name, f in FIELDS.items() if (shape := _json_shape(f))}
# The three sides' colours, as the preview uses them too.
MINE_COLOUR = "#1565c0"
THEIRS_COLOUR = "#b45309"
BASE_COLOUR = "#616161"


def unit_label(unit: str) -> str:
    """What a person calls a unit: "Title", "File k93", "Link el3", "The whole dataset"."""
    key, _, child = unit.partition("/")
    if child:
        return f"{'File' if key == 'resources' else 'Link'} {child}"
    return "The whole dataset" if unit == WHOLE else label(key)


def is_text_unit(unit: str) -> bool:
    return unit in TEXT_FIELDS


def full_value(unit: str, value: Any) -> str:
    """A unit's value in full, as shown side by side and as the merged editor starts."""
    if is_text_unit(unit):
        return "" if value is None else str(value)
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=unit == WHOLE)


def short_value(unit: str, value: Any, width: int = 80) -> str:
    """A one-line glimpse of a value for lists and trees."""
    if value is None:
        return "(none)" if unit in OPTIONAL_TEXT else "(removed)"
    if isinstance(value, str):
        text = " ".join(value.split())
        text = f"“{text}”"
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= width else text[: width - 1] + "…"


def side_text(unit: str, value: Any, *, deleted: str) -> str:
    """A side of a conflict in full; a whole dataset that is gone says so."""
    if value is None and unit == WHOLE:
        return deleted
    if value is None and not is_text_unit(unit):
        return "(absent)"
    return full_value(unit, value)


def parse_merged(unit: str, text: str, local_record: Mapping[str, Any] | None) -> Any:
    """The value typed for `unit`, in the canonical shape; ValueError says what is wrong."""
    key, _, child = unit.partition("/")
    if unit == WHOLE:
        raise ValueError("A whole dataset cannot be merged by hand: keep it or take theirs.")
    if is_text_unit(unit):
        value: Any = text
        if key in OPTIONAL_TEXT:
            value = text.strip() or None
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"Not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
            ) from None
        if child:
            if value is not None and not isinstance(value, dict):
                what = "file" if key == "resources" else "link"
                raise ValueError(f"Must be a JSON object (the {what}), or null to remove it.")
            if value is not None:
                value = canonical_resource(value) if key == "resources" else canonical_link(value)
        elif key in _SHAPES:
            shape, described = _SHAPES[key]
            if not isinstance(value, shape):
                raise ValueError(f"Must be {described}.")
    if not child:
        value = canonical_field(key, value)
    if local_record is not None:
        _check_in_place(unit, value, local_record)
    return value


def _check_in_place(unit: str, value: Any, record: Mapping[str, Any]) -> None:
    """services.validation on the dataset with the value in place; only this unit's errors."""
    prefix = unit.replace("/", ".")
    try:
        validate_record(set_units(record, {unit: value}))
    except ValidationFailed as failure:
        mine = [
            f"{path}: {message}" if path != prefix else message
            for path, message in failure.errors.items()
            if path == prefix or path.startswith(prefix + ".")
        ]
        if mine:
            raise ValueError("; ".join(mine)) from None


@dataclass(frozen=True, slots=True)
class Wording:
    """What the dialog says, for a sync or another use of it."""

    title: str
    intro: str
    base: str
    mine: str
    theirs: str
    ok: str
    decide_all: bool = False  # OK only once every conflict is decided


def sync_wording(remote: str) -> Wording:
    return Wording(
        title=f"Resolve conflicts with {remote}",
        intro="These fields changed here and on the remote since the last sync. Choose, for "
        "each, which value both sides should hold. An undecided one is left alone on both sides.",
        base="Base (last agreed)",
        mine="Mine (this catalogue)",
        theirs=f"Theirs ({remote})",
        ok="Use these resolutions",
    )


@dataclass(slots=True)
class _Entry:
    """One conflict and what the person chose for it so far."""

    item: PlanItem
    conflict: FieldConflict
    choice: Choice | None = None
    text: str = ""
    error: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.item.key, self.conflict.unit)


def _mono() -> QtGui.QFont:
    return QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)


def changed_lines(text: str, base: str) -> list[int]:
    """The lines of `text` that are not lines of `base` (a trailing comma aside): what a side
    changed, to highlight. All of it when base is empty (nothing agreed)."""
    known = {line.strip().rstrip(",") for line in base.splitlines()}
    return [
        number
        for number, line in enumerate(text.splitlines())
        if line.strip() and line.strip().rstrip(",") not in known
    ]


class _Side(QtWidgets.QWidget):
    """One read-only column: a coloured caption over the value, its changes highlighted."""

    def __init__(self, caption: str, colour: str, highlight: str | None = None) -> None:
        super().__init__()
        self.highlight = highlight
        self.caption = QtWidgets.QLabel(caption)
        self.caption.setStyleSheet(f"font-weight: 600; color: {colour};")
        self.text = QtWidgets.QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setStyleSheet(f"QPlainTextEdit {{ border-top: 3px solid {colour}; }}")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.text)

    def show_value(self, text: str, monospace: bool, base: str | None = None) -> None:
        self.text.setFont(_mono() if monospace else self.font())
        self.text.setPlainText(text)
        marks: list[QtWidgets.QTextEdit.ExtraSelection] = []
        if self.highlight is not None and base is not None:
            # Qt's "highlight the current line" idiom: an empty cursor, a full-width format.
            shade = QtGui.QTextCharFormat()
            shade.setBackground(QtGui.QColor(self.highlight))
            shade.setProperty(QtGui.QTextFormat.Property.FullWidthSelection, True)
            document = self.text.document()
            for number in changed_lines(text, base):
                mark = QtWidgets.QTextEdit.ExtraSelection()
                mark.cursor = QtGui.QTextCursor(document.findBlockByNumber(number))
                mark.format = shade
                marks.append(mark)
        self.text.setExtraSelections(marks)


class ConflictDialog(QtWidgets.QDialog):
    """Every conflict of a plan in a list; the selected one side by side with its choice."""

    def __init__(
        self,
        conflicts: Sequence[tuple[PlanItem, FieldConflict]],
        resolutions: Mapping[tuple[str, str], Resolution] | None = None,
        *,
        remote: str,
        wording: Wording | None = None,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        """remote: who "theirs" are; wording: the words of a use other than a sync's (a save
        over another person's change), where every conflict must be decided."""
        super().__init__(parent)
        self.wording = wording or sync_wording(remote)
        self.setWindowTitle(self.wording.title)
        self.setStyleSheet(STYLE_SHEET)
        self.resize(1120, 680)
        self.remote = remote
        self.entries = [_Entry(item, conflict) for item, conflict in conflicts]
        for entry in self.entries:
            entry.text = full_value(entry.conflict.unit, entry.conflict.local)
            chosen = (resolutions or {}).get(entry.key)
            if chosen is not None:
                entry.choice = chosen.choice
                if chosen.choice == "merged":
                    entry.text = full_value(entry.conflict.unit, chosen.value)
        self._current: _Entry | None = None
        self._build()
        self._fill_list()
        if self.entries:
            self.list.setCurrentRow(0)
        self._update_status()

    # -- building -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.list = QtWidgets.QListWidget()
        self.list.setSpacing(3)
        self.list.setMinimumWidth(250)
        self.list.setMaximumWidth(340)
        self.list.currentRowChanged.connect(self._show_entry)
        self.heading = QtWidgets.QLabel()
        self.heading.setProperty("role", "heading")
        self.heading.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QtWidgets.QLabel()
        self.note.setProperty("role", "hint")
        self.note.setWordWrap(True)
        words = self.wording
        self.base_side = _Side(words.base, BASE_COLOUR)
        self.mine_side = _Side(words.mine, MINE_COLOUR, "#dbe9fb")
        self.theirs_side = _Side(words.theirs, THEIRS_COLOUR, "#fdebd3")
        sides = QtWidgets.QHBoxLayout()
        for side in (self.base_side, self.mine_side, self.theirs_side):
            sides.addWidget(side, 1)

        self.mine_radio = QtWidgets.QRadioButton("Keep &mine")
        self.theirs_radio = QtWidgets.QRadioButton("Take &theirs")
        self.merged_radio = QtWidgets.QRadioButton("&Edit merged value")
        self.choices = QtWidgets.QButtonGroup(self)
        for radio in (self.mine_radio, self.theirs_radio, self.merged_radio):
            self.choices.addButton(radio)
        self.choices.buttonToggled.connect(self._on_choice)
        choice_row = QtWidgets.QHBoxLayout()
        choice_row.addWidget(QtWidgets.QLabel("Resolution:"))
        for radio in (self.mine_radio, self.theirs_radio, self.merged_radio):
            choice_row.addWidget(radio)
        choice_row.addStretch(1)

        self.merged_label = QtWidgets.QLabel("Merged value")
        self.merged_label.setStyleSheet("font-weight: 600;")
        self.merged_edit = QtWidgets.QPlainTextEdit()
        self.merged_edit.setMinimumHeight(110)
        self.merged_edit.textChanged.connect(self._on_text_changed)
        self.merged_error = QtWidgets.QLabel()
        self.merged_error.setProperty("role", "error")
        self.merged_error.setWordWrap(True)
        self.merged_box = QtWidgets.QWidget()
        merged_layout = QtWidgets.QVBoxLayout(self.merged_box)
        merged_layout.setContentsMargins(0, 0, 0, 0)
        merged_layout.addWidget(self.merged_label)
        merged_layout.addWidget(self.merged_edit, 1)
        merged_layout.addWidget(self.merged_error)

        detail = QtWidgets.QWidget()
        detail_layout = QtWidgets.QVBoxLayout(detail)
        detail_layout.setContentsMargins(8, 0, 0, 0)
        detail_layout.addWidget(self.heading)
        detail_layout.addWidget(self.note)
        detail_layout.addLayout(sides, 3)
        detail_layout.addLayout(choice_row)
        detail_layout.addWidget(self.merged_box, 2)

        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.list)
        splitter.addWidget(detail)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)

        self.status_label = QtWidgets.QLabel()
        self.all_mine_button = QtWidgets.QPushButton("Keep all mine")
        self.all_mine_button.clicked.connect(lambda: self.choose_all("mine"))
        self.all_theirs_button = QtWidgets.QPushButton("Take all theirs")
        self.all_theirs_button.clicked.connect(lambda: self.choose_all("theirs"))
        self.buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(words.ok)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.all_mine_button)
        bottom.addWidget(self.all_theirs_button)
        bottom.addWidget(self.status_label, 1)
        bottom.addWidget(self.buttons)

        layout = QtWidgets.QVBoxLayout(self)
        intro = QtWidgets.QLabel(words.intro)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

    def _fill_list(self) -> None:
        for entry in self.entries:
            item = QtWidgets.QListWidgetItem()
            self.list.addItem(item)
            self._update_list_item(entry)

    def _update_list_item(self, entry: _Entry) -> None:
        row = self.entries.index(entry)
        item = self.list.item(row)
        title = entry.item.title or entry.item.dataset_id or entry.item.remote_id or "?"
        state = {
            None: "undecided",
            "mine": "keep mine",
            "theirs": "take theirs",
            "merged": "merged" if not entry.error else "merged — invalid",
        }[entry.choice]
        mark = "✔" if entry.choice is not None and not entry.error else "●"
        item.setText(f"{mark} {title}\n    {unit_label(entry.conflict.unit)} · {state}")
        colour = "#2e7d32" if mark == "✔" else "#c62828"
        item.setForeground(QtGui.QBrush(QtGui.QColor(colour)))
        item.setToolTip(f"{entry.item.dataset_id or entry.item.remote_id} {entry.conflict.unit}")

    # -- showing one conflict -----------------------------------------------------------------

    def _show_entry(self, row: int) -> None:
        if row < 0 or row >= len(self.entries):
            self._current = None
            return
        entry = self._current = self.entries[row]
        conflict = entry.conflict
        unit = conflict.unit
        title = entry.item.title or "(untitled)"
        who = entry.item.dataset_id or entry.item.remote_id or ""
        self.heading.setText(f"{title} — {unit_label(unit)}")
        notes = [f"Dataset {who}."] + [n[:1].upper() + n[1:] + "." for n in entry.item.notes]
        if unit != WHOLE and not is_text_unit(unit):
            notes.append("A merged value is JSON.")
        self.note.setText(" ".join(notes))
        monospace = not is_text_unit(unit)
        base = side_text(unit, conflict.base, deleted="(no agreed state)")
        self.base_side.show_value(base, monospace)
        base_lines = base if conflict.base is not None else ""
        self.mine_side.show_value(
            side_text(unit, conflict.local, deleted="Deleted here"), monospace, base_lines
        )
        self.theirs_side.show_value(
            side_text(unit, conflict.remote, deleted=f"Deleted on {self.remote}"),
            monospace,
            base_lines,
        )
        whole = unit == WHOLE
        self.merged_radio.setEnabled(not whole)
        self.merged_radio.setToolTip(
            "A whole dataset is kept or taken, not merged" if whole else ""
        )
        blocker = QtCore.QSignalBlocker(self.choices)
        self.choices.setExclusive(False)
        radios = {"mine": self.mine_radio, "theirs": self.theirs_radio, "merged": self.merged_radio}
        for choice, radio in radios.items():
            radio.setChecked(choice == entry.choice)
        self.choices.setExclusive(True)
        del blocker
        text_blocker = QtCore.QSignalBlocker(self.merged_edit)
        self.merged_edit.setFont(_mono() if monospace else self.font())
        self.merged_edit.setPlainText(entry.text)
        del text_blocker
        self._show_merged_state(entry)

    def _show_merged_state(self, entry: _Entry) -> None:
        editing = entry.choice == "merged"
        self.merged_box.setVisible(entry.conflict.unit != WHOLE)
        self.merged_edit.setEnabled(editing)
        self.merged_label.setEnabled(editing)
        self.merged_error.setText(entry.error if editing else "")
        self.merged_edit.setProperty("invalid", bool(editing and entry.error))
        self.merged_edit.style().unpolish(self.merged_edit)
        self.merged_edit.style().polish(self.merged_edit)

    # -- choosing -----------------------------------------------------------------------------

    def _on_choice(self, button: QtWidgets.QAbstractButton, checked: bool) -> None:
        entry = self._current
        if entry is None or not checked:
            return
        if button is self.mine_radio:
            entry.choice = "mine"
        elif button is self.theirs_radio:
            entry.choice = "theirs"
        else:
            entry.choice = "merged"
            self._validate(entry)
            self.merged_edit.setFocus()
        self._after_change(entry)

    def _on_text_changed(self) -> None:
        entry = self._current
        if entry is None:
            return
        entry.text = self.merged_edit.toPlainText()
        self._validate(entry)
        self._after_change(entry)

    def _validate(self, entry: _Entry) -> None:
        entry.error = ""
        if entry.choice != "merged":
            return
        try:
            parse_merged(entry.conflict.unit, entry.text, entry.item.state.local_full)
        except ValueError as error:
            entry.error = str(error)

    def _after_change(self, entry: _Entry) -> None:
        if entry.choice != "merged":
            entry.error = ""
        self._update_list_item(entry)
        if entry is self._current:
            self._show_merged_state(entry)
        self._update_status()

    def choose_all(self, choice: Choice) -> None:
        """Keep all mine / Take all theirs: every conflict, the undecided and the decided."""
        for entry in self.entries:
            entry.choice = choice
            entry.error = ""
            self._update_list_item(entry)
        if self._current is not None:
            self._show_entry(self.entries.index(self._current))
        self._update_status()

    def select(self, dataset_key: str, unit: str) -> None:
        """Show the conflict of `unit` in the plan item keyed `dataset_key`."""
        for row, entry in enumerate(self.entries):
            if entry.key == (dataset_key, unit):
                self.list.setCurrentRow(row)
                return
        raise KeyError((dataset_key, unit))

    def _update_status(self) -> None:
        decided = sum(1 for e in self.entries if e.choice is not None and not e.error)
        invalid = sum(1 for e in self.entries if e.error)
        text = f"{decided} of {len(self.entries)} resolved"
        if invalid:
            text += f"; {invalid} merged value{'s' if invalid != 1 else ''} to fix"
        self.status_label.setText(text)
        undecided = decided + invalid < len(self.entries)
        self.ok_button.setEnabled(not invalid and not (self.wording.decide_all and undecided))

    # -- the answer ---------------------------------------------------------------------------

    def resolutions(self) -> dict[tuple[str, str], Resolution]:
        """The decided conflicts (undecided ones are absent: left alone by apply)."""
        chosen: dict[tuple[str, str], Resolution] = {}
        for entry in self.entries:
            if entry.choice == "mine":
                chosen[entry.key] = KEEP_MINE
            elif entry.choice == "theirs":
                chosen[entry.key] = TAKE_THEIRS
            elif entry.choice == "merged":
                value = parse_merged(entry.conflict.unit, entry.text, entry.item.state.local_full)
                chosen[entry.key] = merged(value)
        return chosen

    def accept(self) -> None:
        for entry in self.entries:
            self._validate(entry)
            self._update_list_item(entry)
        bad = next((e for e in self.entries if e.error), None)
        self._update_status()
        if bad is not None:
            self.list.setCurrentRow(self.entries.index(bad))
            return
        super().accept()


def resolved_count(
    conflicts: Iterable[tuple[PlanItem, FieldConflict]],
    resolutions: Mapping[tuple[str, str], Resolution],
) -> int:
    return sum(1 for item, c in conflicts if (item.key, c.unit) in resolutions)
