"""The search box above the table: seed 003's query language (services.desktop_query), with a
short error under the box for a query that cannot be read, and field names completed.

The table searches once the person pauses typing (`searchChanged`); the error comes with the
table's answer (DatasetTableModel.query_error, read on its worker), and goes once the query
reads. A malformed query still searches its words (services.desktop_query), so the table never
goes blank while the person fixes it.

Completion is of the word under the cursor only, from the field names (`keyword:`), once it
is at least MIN_PREFIX characters and begins a field name; never inside quotes, after a
field's colon or a comparison, or in a function's name. A pick replaces the word; the colon is
left out where one already follows or where a function (`#exact(keyword, "FOI")`) takes the
name.
"""

from __future__ import annotations

import re

from app.services.desktop_query import QueryError
from app.services.query_language.fields import completions
from app.views.qt import QtCore, QtWidgets, Signal

PAUSE_MS = 150  # query once the person pauses rather than per keystroke
MIN_PREFIX = 3  # two letters begin too many plain words (to, de, cr...)
ERROR_COLOUR = "#c62828"
# What ends a word of the query language (its grammar's WORD excludes these).
_BREAKS = frozenset(' \t()"\u201c\u201d[]{}:<>=#,')
_FUNCTION_OPEN = re.compile(r"#[A-Za-z_]+\s*$")
PLACEHOLDER = "Search, or e.g.  tag:FOI AND modified >= 2024   (Ctrl+F)"
SYNTAX_HELP = (
    "<b>Words</b> find ids, titles, descriptions and tags that have words beginning so: "
    "<i>air qual</i><br>"
    '<b>"exact phrase"</b>, <b>AND</b>, <b>OR</b>, <b>NOT</b>, (parentheses)<br>'
    "<b>A field</b>: <i>title:paris</i>, <i>tag:FOI</i>, <i>topic:health</i>, "
    "<i>team:parks</i>, <i>licence:ogl</i><br>"
    "<b>Dates and counts</b>: <i>modified &gt;= 2024/01/01</i>, "
    "<i>created:[2020 TO 2023]</i>, <i>records_count &gt; 5</i>, "
    "<i>modified &gt; #now(months=-1)</i><br>"
    '<b>Functions</b>: <i>#exact(tag, "FOI")</i>, <i>#null(topic)</i>, '
    '<i>#startswith(title, "Air")</i><br>'
    "Field names complete as you type."
)


class QueryLineEdit(QtWidgets.QLineEdit):
    """A line edit that completes the field name under the cursor."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.completer_ = QtWidgets.QCompleter([f"{name}:" for name in completions()], self)
        # Not setCompleter: that would complete the whole text, not the word being typed.
        self.completer_.setWidget(self)
        self.completer_.setCaseSensitivity(QtCore.Qt.CaseSensitivity.CaseInsensitive)
        self.completer_.setCompletionMode(QtWidgets.QCompleter.CompletionMode.PopupCompletion)
        self.completer_.activated.connect(self.insert_completion)
        self.textEdited.connect(lambda _text: self._suggest())

    @property
    def popup(self) -> QtWidgets.QAbstractItemView:
        """The completer's list of names (made by QCompleter on first ask)."""
        popup = self.completer_.popup()
        assert popup is not None
        return popup

    def word_span(self) -> tuple[int, int]:
        """[start, end) of the word the cursor is in (or at the end of)."""
        text, cursor = self.text(), self.cursorPosition()
        start = cursor
        while start > 0 and text[start - 1] not in _BREAKS:
            start -= 1
        end = cursor
        while end < len(text) and text[end] not in _BREAKS:
            end += 1
        return start, end

    def _names_a_field(self, start: int) -> bool:
        """Whether a word starting at `start` stands where a field name may."""
        before = self.text()[:start]
        if before.count('"') % 2 or before.count("\u201c") > before.count("\u201d"):
            return False  # inside a phrase
        last = before.rstrip()[-1:]
        return last not in (":", "<", ">", "=", "#", "[")

    def _in_function(self, start: int) -> bool:
        """Whether the word at `start` is an argument of `#name(...)`."""
        before = self.text()[:start]
        depth = 0
        for offset in range(len(before) - 1, -1, -1):
            char = before[offset]
            if char == ")":
                depth += 1
            elif char == "(":
                if depth == 0:
                    return _FUNCTION_OPEN.search(before[:offset]) is not None
                depth -= 1
        return False

    def _suggest(self) -> None:
        popup = self.popup
        start, end = self.word_span()
        prefix = self.text()[start : self.cursorPosition()]
        whole = self.text()[start:end]
        followed = self.text()[end : end + 1] == ":"
        if len(prefix) < MIN_PREFIX or not self._names_a_field(start):
            popup.hide()
            return
        self.completer_.setCompletionPrefix(prefix)
        complete = self.completer_.completionCount() == 1 and (
            self.completer_.currentCompletion().lower() == f"{whole.lower()}:"
        )
        if self.completer_.completionCount() == 0 or (complete and followed):
            popup.hide()  # nothing to offer, or the name is already written out
            return
        area = self.cursorRect()
        area.setWidth(popup.sizeHintForColumn(0) + popup.verticalScrollBar().sizeHint().width() + 8)
        self.completer_.complete(area)

    def insert_completion(self, completion: str) -> None:
        """Put the chosen field name in place of the word under the cursor."""
        start, end = self.word_span()
        text = self.text()
        name = completion.removesuffix(":")
        colon = not (text[end : end + 1] == ":" or self._in_function(start))
        self.setSelection(start, end - start)
        self.insert(name + (":" if colon else ""))
        self.popup.hide()


class SearchBar(QtWidgets.QWidget):
    """The box and, under it, the query's error (hidden while there is none)."""

    searchChanged = Signal(str)  # the text to search, once typing pauses

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.box = QueryLineEdit()
        self.box.setPlaceholderText(PLACEHOLDER)
        self.box.setToolTip(SYNTAX_HELP)
        self.box.setClearButtonEnabled(True)
        self.error = QtWidgets.QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.error.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.error.hide()
        self._timer = QtCore.QTimer(self, singleShot=True, interval=PAUSE_MS)
        self._timer.timeout.connect(lambda: self.searchChanged.emit(self.box.text()))
        self.box.textChanged.connect(lambda _text: self._timer.start())
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.box)
        layout.addWidget(self.error)

    def show_error(self, error: QueryError | None) -> None:
        """Say under the box why the table's search is not a query (None: hide the line)."""
        if error is None:
            self.error.clear()
            self.error.hide()
            return
        self.error.setText(f"{error.message}. Searching for its words meanwhile.")
        self.error.show()
