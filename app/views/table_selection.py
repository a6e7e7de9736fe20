"""The table's selection and the form, as one thing (issue 13: they drifted apart).

The form shows the current row; when the rows change under it (a sort, a search, a filter, a
re-query after a save or another's write) the form's dataset is found again off the GUI thread
(`DatasetTableModel.locate`) and made the current and only selected row, in view. After a
delete, the row that took the deleted one's place is selected. A row made current before its
data arrived (Ctrl+End, a jump) is opened once its window loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.views.dataset_table_model import TITLE_COLUMN, merge_ranges
from app.views.qt import QtCore, QtGui, QtWidgets

if TYPE_CHECKING:
    from app.views.main_window import MainWindow


# Keys that move the current row; with Ctrl, Qt would move it without selecting it.
_MOVING_KEYS = frozenset(
    {
        QtCore.Qt.Key.Key_Home,
        QtCore.Qt.Key.Key_End,
        QtCore.Qt.Key.Key_Up,
        QtCore.Qt.Key.Key_Down,
        QtCore.Qt.Key.Key_PageUp,
        QtCore.Qt.Key.Key_PageDown,
    }
)


class DatasetTableView(QtWidgets.QTableView):
    """The dataset table: Ctrl+End (and Ctrl with the other moving keys) selects the row it
    moves to, as without Ctrl, so the highlighted row is always the one the form shows (Qt's
    default moves the current row and leaves the highlight behind). Ctrl+click still adds to or
    takes from the selection."""

    def selectionCommand(
        self,
        index: QtCore.QModelIndex | QtCore.QPersistentModelIndex,
        event: QtCore.QEvent | None = None,
    ) -> QtCore.QItemSelectionModel.SelectionFlag:
        if (
            isinstance(event, QtGui.QKeyEvent)
            and event.key() in _MOVING_KEYS
            and event.modifiers() == QtCore.Qt.KeyboardModifier.ControlModifier
        ):
            flags = QtCore.QItemSelectionModel.SelectionFlag
            return flags.ClearAndSelect | flags.Rows
        return super().selectionCommand(index, event)


class TableSelection:
    def __init__(self, window: MainWindow) -> None:
        self._window = window
        # Set while the window itself moves the current row (no open, no prompt).
        self.moving = False
        # A row made current before its data arrived: opened once its window loads.
        self.row_waiting: int | None = None
        # After a delete, the row selected once the table re-queried (the next dataset).
        self.row_after_query: int | None = None

    def ranges(self) -> list[tuple[int, int]]:
        """The selected rows as (first, last) ranges, merged: cheap for a million rows."""
        table = self._window.table
        selection = table.selectionModel().selection()
        ranges = [
            (selection.at(i).top(), selection.at(i).bottom()) for i in range(selection.size())
        ]
        return merge_ranges(ranges, table.model().rowCount())

    def count(self) -> int:
        return sum(last - first + 1 for first, last in self.ranges())

    def keep(self) -> None:
        """After a (re)query: the form's dataset selected and in view again; or, after a
        delete, the row that took its place."""
        window = self._window
        current = window._current
        if current is not None and not window._current_is_new:
            dataset_id = current["id"]

            def found(row: int | None) -> None:
                if window._current is not None and window._current.get("id") == dataset_id:
                    self.move(row)

            window.model.locate(dataset_id, found)
        elif self.row_after_query is not None:
            row, self.row_after_query = self.row_after_query, None
            if window.model.rowCount():
                self.move(min(row, window.model.rowCount() - 1))
                index = window.table.currentIndex()
                window._on_row_changed(index, QtCore.QModelIndex())

    def select_dataset(self, dataset_id: str) -> None:
        """Select `dataset_id`'s row (and only it) and scroll to it; the form follows."""
        window = self._window

        def found(row: int | None) -> None:
            if row is not None:
                window.table.setCurrentIndex(window.model.index(row, self.current_column()))
                window.table.scrollTo(window.table.currentIndex())

        window.model.locate(dataset_id, found)

    def move(self, row: int | None) -> None:
        """Make `row` the current and only selected row, in view (None: nothing selected),
        without opening it: the form already shows it, or holds an edit to keep."""
        window = self._window
        selection = window.table.selectionModel()
        self.moving = True
        try:
            if row is None:
                selection.clear()
            else:
                index = window.model.index(row, self.current_column())
                flags = QtCore.QItemSelectionModel.SelectionFlag
                selection.setCurrentIndex(index, flags.ClearAndSelect | flags.Rows)
                window.table.scrollTo(index)
        finally:
            self.moving = False
        window._update_actions()

    def on_window_loaded(self, first: int, last: int) -> None:
        row = self.row_waiting
        table = self._window.table
        if row is not None and first <= row <= last and table.currentIndex().row() == row:
            index = table.currentIndex()
            self._window._on_row_changed(index, index)

    def current_column(self) -> int:
        column = self._window.table.currentIndex().column()
        return column if column >= 0 else TITLE_COLUMN
