"""The facet sidebar beside the table: team, topic, licence, tag, state and broken links, each
value with its count for the current search; a click on a value filters the table to it (a
second click lifts it). Below, the saved searches (views.saved_searches): search text and facet
choices under a name, applied with a click.

The counts are read by services.facets off the GUI thread through the window's operation API,
whenever the table's query answers (a new search, a facet chosen, a change to the catalogue),
so they always describe the rows the table shows. A late answer for an older query is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.services import facets
from app.services.clock import today_iso
from app.services.facets import Facet
from app.views import saved_searches
from app.views.dataset_table_model import DatasetTableModel
from app.views.operations import LatestRead, Operations
from app.views.qt import QtCore, QtGui, QtWidgets, Signal
from app.views.saved_searches import SavedSearch

_ROOT = QtCore.QModelIndex()
FACET_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1  # (facet, value) of a value row, else None
NO_PARENT = 0xFFFFFFFF  # internalId of a facet (top-level) row


class FacetModel(QtCore.QAbstractItemModel):
    """Two levels: the facets, and under each its values as "title  count"; the chosen values
    are checked."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._facets: list[Facet] = []
        self._chosen: set[tuple[str, str]] = set()

    def set_facets(self, found: list[Facet], chosen: tuple[tuple[str, str], ...]) -> None:
        self.beginResetModel()
        self._facets = [facet for facet in found if facet.values]
        self._chosen = set(chosen)
        self.endResetModel()

    def facet_keys(self) -> list[str]:
        return [facet.key for facet in self._facets]

    def index(
        self,
        row: int,
        column: int,
        parent: QtCore.QModelIndex | QtCore.QPersistentModelIndex = _ROOT,
    ) -> QtCore.QModelIndex:
        if not 0 <= column < 2 or row < 0:
            return QtCore.QModelIndex()
        if not parent.isValid():
            if row < len(self._facets):
                return self.createIndex(row, column, NO_PARENT)
            return QtCore.QModelIndex()
        if parent.internalId() != NO_PARENT or parent.column() != 0:
            return QtCore.QModelIndex()
        if parent.row() < len(self._facets) and row < len(self._facets[parent.row()].values):
            return self.createIndex(row, column, parent.row())
        return QtCore.QModelIndex()

    def parent(  # type: ignore[override]
        self, child: QtCore.QModelIndex | QtCore.QPersistentModelIndex = _ROOT
    ) -> QtCore.QModelIndex:
        if not child.isValid() or child.internalId() == NO_PARENT:
            return QtCore.QModelIndex()
        return self.createIndex(int(child.internalId()), 0, NO_PARENT)

    def rowCount(self, parent: QtCore.QModelIndex | QtCore.QPersistentModelIndex = _ROOT) -> int:
        if not parent.isValid():
            return len(self._facets)
        if parent.column() != 0 or parent.internalId() != NO_PARENT:
            return 0
        return len(self._facets[parent.row()].values)

    def columnCount(self, parent: QtCore.QModelIndex | QtCore.QPersistentModelIndex = _ROOT) -> int:
        return 2  # the value, and its count: a long team name never hides the count

    def flags(self, index: QtCore.QModelIndex | QtCore.QPersistentModelIndex) -> Any:
        if not index.isValid():
            return QtCore.Qt.ItemFlag.NoItemFlags
        return QtCore.Qt.ItemFlag.ItemIsEnabled | QtCore.Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QtCore.QModelIndex | QtCore.QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        roles = QtCore.Qt.ItemDataRole
        if index.internalId() == NO_PARENT:
            facet = self._facets[index.row()]
            if role == roles.DisplayRole and index.column() == 0:
                return facet.title + (" (most frequent)" if facet.more else "")
            if role == roles.FontRole:
                font = QtGui.QFont()
                font.setBold(True)
                return font
            return None
        facet = self._facets[int(index.internalId())]
        value = facet.values[index.row()]
        pair = (facet.key, value.value)
        if role == roles.DisplayRole:
            return value.title if index.column() == 0 else f"{value.count:,}"
        if role == roles.TextAlignmentRole and index.column() == 1:
            return int(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        if role == roles.ToolTipRole:
            return f"{value.title}: {value.count:,} datasets. Click: only these; again: all"
        if role == roles.CheckStateRole and index.column() == 0:
            checked = pair in self._chosen
            return QtCore.Qt.CheckState.Checked if checked else QtCore.Qt.CheckState.Unchecked
        if role == FACET_ROLE:
            return pair
        return None


def toggled(
    chosen: tuple[tuple[str, str], ...], pair: tuple[str, str]
) -> tuple[tuple[str, str], ...]:
    """The choices after a click on `pair`: chosen -> lifted; else it replaces its facet's."""
    if pair in chosen:
        return tuple(p for p in chosen if p != pair)
    return (*(p for p in chosen if p[0] != pair[0]), pair)


class FacetSidebar(QtWidgets.QWidget):
    countsShown = Signal()  # the counts for the table's current query are shown

    def __init__(
        self,
        operations: Operations,
        table_model: DatasetTableModel,
        search_box: QtWidgets.QLineEdit,
        catalogue_url: str,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._operations = operations
        self._table = table_model
        self._search_box = search_box
        self._url = catalogue_url
        # The counts for the newest query only: a late answer for an older one is dropped.
        self._reads: LatestRead[tuple[list[Facet], tuple[tuple[str, str], ...]]] = LatestRead(
            operations, "count the facets", self._show_counts, self.countsShown.emit
        )
        # Asks a saved search's name (None: cancelled); replaced in tests.
        self.ask_name: Callable[[], str | None] = self._ask_name

        self.model = FacetModel(self)
        self.tree = QtWidgets.QTreeView()
        self.tree.setModel(self.model)
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.tree.clicked.connect(self._clicked)
        self.clear_button = QtWidgets.QPushButton("Show all")
        self.clear_button.setToolTip("Lift every facet choice (the search stays)")
        self.clear_button.clicked.connect(lambda: self.choose(()))
        self.saved = QtWidgets.QListWidget()
        self.saved.itemClicked.connect(self._apply_saved)
        self.saved.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.ActionsContextMenu)
        forget = QtGui.QAction("Forget this saved search", self.saved)
        forget.triggered.connect(self._forget_current)
        self.saved.addAction(forget)
        self.save_button = QtWidgets.QPushButton("Save search…")
        self.save_button.setToolTip("Keep the search text and the facet choices under a name")
        self.save_button.clicked.connect(self.save_current)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 0, 6)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("<b>Filter</b>"), 1)
        top.addWidget(self.clear_button)
        layout.addLayout(top)
        layout.addWidget(self.tree, 3)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(QtWidgets.QLabel("<b>Saved searches</b>"), 1)
        bottom.addWidget(self.save_button)
        layout.addLayout(bottom)
        layout.addWidget(self.saved, 1)
        self._show_saved(saved_searches.load(catalogue_url))
        table_model.countChanged.connect(lambda _count: self.refresh())

    # -- counts -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Count the facets for the table's query, off the GUI thread."""
        spec, today = self._table.spec, today_iso()
        self._reads.run(lambda s: (facets.all_facets(s, spec, today=today), spec.facets))

    def _show_counts(self, found: tuple[list[Facet], tuple[tuple[str, str], ...]]) -> None:
        counts, chosen = found
        folded = {key for row, key in enumerate(self.model.facet_keys())
                  if not self.tree.isExpanded(self.model.index(row, 0))}  # fmt: skip
        self.model.set_facets(counts, chosen)
        for row, key in enumerate(self.model.facet_keys()):
            # Every facet open, but the ones the person folded stay folded.
            self.tree.setExpanded(self.model.index(row, 0), key not in folded)
        self.clear_button.setEnabled(bool(chosen))

    def choose(self, chosen: tuple[tuple[str, str], ...]) -> None:
        """Filter the table to these facet values (the counts follow once it answers)."""
        self._table.set_facets(chosen)

    def _clicked(self, index: QtCore.QModelIndex) -> None:
        pair = index.data(FACET_ROLE)
        if pair is not None:
            self.choose(toggled(self._table.spec.facets, pair))

    # -- saved searches -----------------------------------------------------------------------

    def _show_saved(self, searches: list[SavedSearch]) -> None:
        self.saved.clear()
        for search in searches:
            item = QtWidgets.QListWidgetItem(search.name)
            what = [f"“{search.search}”"] if search.search else []
            what += [f"{facet} {value or '(none)'}" for facet, value in search.facets]
            item.setToolTip(", ".join(what) or "everything")
            item.setData(QtCore.Qt.ItemDataRole.UserRole, search)
            self.saved.addItem(item)

    def save_current(self) -> SavedSearch | None:
        name = self.ask_name()
        if not name or not name.strip():
            return None
        spec = self._table.spec
        search = SavedSearch(name.strip(), spec.search, spec.facets)
        self._show_saved(saved_searches.save(self._url, search))
        return search

    def apply_saved(self, search: SavedSearch) -> None:
        self._search_box.setText(search.search)  # the box's own timer sets the search
        self._table.set_facets(search.facets)

    def _apply_saved(self, item: QtWidgets.QListWidgetItem) -> None:
        self.apply_saved(item.data(QtCore.Qt.ItemDataRole.UserRole))

    def _forget_current(self) -> None:
        item = self.saved.currentItem()
        if item is not None:
            self._show_saved(saved_searches.remove(self._url, item.text()))

    def _ask_name(self) -> str | None:
        name, ok = QtWidgets.QInputDialog.getText(self, "Save search", "Name:")
        return name if ok else None
