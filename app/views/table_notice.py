"""What the dataset table says when it shows no rows, and where a new search starts.

"No datasets match “x”" over an empty table, instead of a blank one that looks like a fault; and
a new query (a search, a filter, a sort) starts at the top of its results rather than at the
old scroll position, which in a shorter list shows nothing or the middle of the matches.
"""

from __future__ import annotations

from app.views.dataset_table_model import DatasetTableModel
from app.views.qt import QtCore, QtWidgets


def empty_text(search: str, state: str | None) -> str:
    search = " ".join(search.split())
    if search and state:
        return f"No {state} datasets match “{search}”."
    if search:
        return f"No datasets match “{search}”."
    if state:
        return f"No {state} datasets."
    return "No datasets yet.\nNew dataset (Ctrl+N) makes one; File › Import brings them in."


class EmptyTableNotice(QtWidgets.QLabel):
    """A label over the table's viewport, shown while the table has no rows."""

    def __init__(self, table: QtWidgets.QTableView, model: DatasetTableModel) -> None:
        super().__init__(table.viewport())
        self.setObjectName("empty-table-notice")
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setStyleSheet("QLabel { color: palette(dark); font-size: 14px; padding: 24px; }")
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()
        self._table = table
        self._model = model
        model.countChanged.connect(self._on_count)
        model.modelReset.connect(table.scrollToTop)
        table.viewport().installEventFilter(self)

    def _on_count(self, count: int) -> None:
        if count:
            self.hide()
            return
        spec = self._model.spec
        self.setText(empty_text(spec.search, spec.state))
        self._place()
        self.show()

    def _place(self) -> None:
        self.setGeometry(self._table.viewport().rect())

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.Resize:
            self._place()
        return False
