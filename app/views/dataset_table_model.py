"""The dataset table's item model: a million rows without loading them (after Anki's browser).

`rowCount` is a SQL count. `data()` serves rows from a small cache of windows of WINDOW rows;
a window that is not cached is fetched on a worker thread (TaskRunner) while a placeholder is
shown, at most one fetch per window in flight (FeelUOwn's fetch-more guard). How a window is
fetched (services.browse):

* the first and the last window, and any window beside a cached one: a keyset query from the
  neighbour's key — an index walk of one window, whatever the depth, so "jump to the end" is as
  quick as the first page;
* any other window: the ordered pk list, which loads in the background after each query (8 bytes
  a row, cancelled if a newer query supersedes it). A window asked for before it arrives shows
  placeholders until then.

Fetches are asynchronous because a window over a search, a filter or the state sort can take
tens of milliseconds on a big catalogue, and nothing that long may run on the GUI thread.
Every answer carries the generation of the query it was asked for; a late answer for an older
query is dropped.
"""

from __future__ import annotations

import functools
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from app.models.database import Database
from app.services import browse, desktop_query
from app.services.browse import BrowseRow, BrowseSpec, SortColumn
from app.services.clock import today_iso
from app.services.desktop_query import QueryError
from app.services.progress import Progress
from app.views.qt import QtCore, QtGui, QtWidgets, Signal
from app.views.tasks import Task, TaskRunner

WINDOW = 100
# Windows kept; the least recently shown go first. 50 x 100 rows is a few MB.
MAX_WINDOWS = 50
PLACEHOLDER = "…"
BROKEN_COLOUR = "#c62828"
DatasetIdRole = QtCore.Qt.ItemDataRole.UserRole + 1
_ROOT = QtCore.QModelIndex()  # the default parent: a table has no other
RESOLVE_CHUNK = 500  # pks looked up a query when a selection's ids are resolved
# Runs on a worker: the ids of a selection's rows (see DatasetTableModel.resolve_rows).
RowsResolver = Callable[[Progress], tuple[str, ...]]


@dataclass(frozen=True)
class TableColumn:
    key: str
    header: str
    sort: SortColumn | None  # None: the column cannot be sorted on (no index could serve it)


COLUMNS: tuple[TableColumn, ...] = (
    TableColumn("id", "ID", "id"),
    TableColumn("title", "Title", "title"),
    TableColumn("state", "State", "state"),
    TableColumn("sharing", "Sharing", None),
    TableColumn("team", "Team", "team"),
    TableColumn("updated_at", "Updated", "updated_at"),
    TableColumn("created_at", "Created", "created_at"),
    TableColumn("tags", "Tags", None),
    TableColumn("resources", "Resources", None),
    TableColumn("broken_links", "Broken links", None),
)
TITLE_COLUMN = 1


def _display(row: BrowseRow, key: str) -> str | int:
    if key in ("updated_at", "created_at"):
        stamp: str = getattr(row, key)
        return stamp[:16].replace("T", " ")
    if key == "team":
        return row.team_title or row.team or ""
    if key == "tags":
        return ", ".join(row.tags)
    value: str | int = getattr(row, key)
    return value


_ROLES = frozenset(
    {
        QtCore.Qt.ItemDataRole.DisplayRole,
        QtCore.Qt.ItemDataRole.ToolTipRole,
        QtCore.Qt.ItemDataRole.TextAlignmentRole,
        QtCore.Qt.ItemDataRole.DecorationRole,
        QtCore.Qt.ItemDataRole.ForegroundRole,
        DatasetIdRole,
    }
)


@functools.cache
def _warning_icon() -> QtGui.QIcon:
    # Made on first use, on the GUI thread, once an application (and its style) exists.
    style = QtWidgets.QApplication.style()
    return style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MessageBoxWarning)


def _broken_links_data(broken: int, role: int) -> Any:
    """The broken-links cell: a warning icon, the count in red, and a tooltip saying what."""
    if not broken:
        return None
    if role == QtCore.Qt.ItemDataRole.DisplayRole:
        return broken
    if role == QtCore.Qt.ItemDataRole.DecorationRole:
        return _warning_icon()
    if role == QtCore.Qt.ItemDataRole.ForegroundRole:
        return QtGui.QColor(BROKEN_COLOUR)
    if role == QtCore.Qt.ItemDataRole.ToolTipRole:
        return f"{broken} link{'s' if broken != 1 else ''} failed the last link check"
    return None


class DatasetTableModel(QtCore.QAbstractTableModel):
    """Rows of `browse` for a BrowseSpec; see the module docstring for how they are loaded."""

    countChanged = Signal(int)  # a (re)query finished: the new row count
    windowLoaded = Signal(int, int)  # rows first..last now hold data
    orderLoaded = Signal()  # the ordered pk list arrived: every row is one query away

    def __init__(
        self,
        database: Database,
        runner: TaskRunner,
        parent: QtCore.QObject | None = None,
        *,
        spec: BrowseSpec | None = None,
    ) -> None:
        super().__init__(parent)
        self.columns = COLUMNS
        self._database = database
        self._runner = runner
        self._requested = spec or BrowseSpec()  # the newest query asked for
        self._spec = self._requested  # the query whose rows are shown
        self._today = today_iso()
        self._walk = False  # the search plan of the shown query (browse.prefer_walk)
        # Why the shown query's search is not a query (its words are searched meanwhile).
        self.query_error: QueryError | None = None
        self._query_generation = 0
        self._generation = 0  # bumps whenever the rows shown change meaning
        self._count = 0
        self._windows: OrderedDict[int, list[BrowseRow]] = OrderedDict()
        self._pending: set[int] = set()
        self._waiting: set[int] = set()  # windows that wait for the ordered pk list
        self._pks: array[int] | None = None
        self._order_task: Task | None = None
        self._order_interrupter = browse.Interrupter()
        self._requery(reset=True)

    # -- the API the main window uses ---------------------------------------------------------

    @property
    def spec(self) -> BrowseSpec:
        return self._requested

    def set_search(self, text: str) -> None:
        self._set_spec(replace(self._requested, search=text))

    def set_state_filter(self, state: str | None) -> None:
        self._set_spec(replace(self._requested, state=state))

    def set_facets(self, facets: tuple[tuple[str, str], ...]) -> None:
        """The facet sidebar's choices: (facet, value) pairs, all required."""
        self._set_spec(replace(self._requested, facets=facets))

    def sort(
        self, column: int, order: QtCore.Qt.SortOrder = QtCore.Qt.SortOrder.AscendingOrder
    ) -> None:
        if not 0 <= column < len(self.columns):
            return
        key = self.columns[column].sort
        if key is None:
            return
        descending = order == QtCore.Qt.SortOrder.DescendingOrder
        self._set_spec(replace(self._requested, sort=key, descending=descending))

    def refresh(self) -> None:
        """Query again with the same spec (after an edit); the rows stay until the answer."""
        self._requery(reset=False)

    def dataset_id_at(self, row: int) -> str | None:
        found = self._row(row)
        return found.id if found is not None else None

    def row_of(self, dataset_id: str) -> int | None:
        """The row showing `dataset_id`, or None. One indexed query once the order is loaded;
        before that a keyset count (tens of milliseconds at a million rows)."""
        with self._database.read() as session:
            if self._pks is not None:
                pk = browse.pk_of(session, dataset_id)
                if pk is None:
                    return None
                try:
                    return self._pks.index(pk)
                except ValueError:
                    return None
            return browse.rank(session, self._spec, dataset_id, today=self._today)

    def locate(self, dataset_id: str, on_found: Callable[[int | None], None]) -> None:
        """Find the row of `dataset_id` off the GUI thread (a keyset count can take tens of
        milliseconds at a million rows): `on_found(row or None)`. If the rows change meaning
        meanwhile (a newer query), the stale answer is dropped and the new rows are asked."""
        generation, spec, today, pks = self._generation, self._spec, self._today, self._pks
        database = self._database

        def run(_progress: Progress) -> int | None:
            with database.read() as session:
                if pks is not None:
                    pk = browse.pk_of(session, dataset_id)
                    if pk is None:
                        return None
                    try:
                        return pks.index(pk)
                    except ValueError:
                        return None
                return browse.rank(session, spec, dataset_id, today=today)

        def done(row: int | None) -> None:
            if generation == self._generation:
                on_found(row if row is None or row < self._count else None)
            else:  # the rows changed meaning meanwhile: ask again of the new ones
                self.locate(dataset_id, on_found)

        self._runner.run(run, on_done=done)

    def resolve_rows(self, ranges: Sequence[tuple[int, int]]) -> RowsResolver:
        """A function for a worker thread: the dataset ids of the rows in `ranges` (first, last;
        inclusive), in table order.

        A selection can span a million rows of which only the shown windows are cached, so the
        rest are looked up from the ordered pk list, a chunk a query, off the GUI thread. Rows
        that are neither cached nor in a loaded pk list (a query still running) are left out.
        """
        rows = merge_ranges(ranges, self._count)
        windows = dict(self._windows)  # a snapshot: the cache changes on the GUI thread
        pks, spec, today, database = self._pks, self._spec, self._today, self._database

        def resolve(progress: Progress) -> tuple[str, ...]:
            found: list[str | None] = []
            missing: list[tuple[int, int]] = []  # (position in found, pk)
            for first, last in rows:
                for row in range(first, last + 1):
                    cached = windows.get(row // WINDOW)
                    offset = row % WINDOW
                    if cached is not None and offset < len(cached):
                        found.append(cached[offset].id)
                    else:
                        if pks is not None:
                            missing.append((len(found), pks[row]))
                        found.append(None)
            for start in range(0, len(missing), RESOLVE_CHUNK):
                progress.report(start, len(missing))
                chunk = missing[start : start + RESOLVE_CHUNK]
                wanted = [pk for _, pk in chunk]
                with database.read() as session:
                    looked_up = browse.fetch_pks(session, spec, wanted, today=today)
                ids = {row.pk: row.id for row in looked_up}
                for position, pk in chunk:
                    found[position] = ids.get(pk)
            return tuple(dataset_id for dataset_id in found if dataset_id is not None)

        return resolve

    def is_loaded(self, row: int) -> bool:
        return self._row(row) is not None

    @property
    def order_loaded(self) -> bool:
        return self._pks is not None

    # -- Qt model -----------------------------------------------------------------------------

    def rowCount(self, parent: QtCore.QModelIndex | QtCore.QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: QtCore.QModelIndex | QtCore.QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self,
        section: int,
        orientation: QtCore.Qt.Orientation,
        role: int = QtCore.Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if (
            orientation == QtCore.Qt.Orientation.Horizontal
            and role == QtCore.Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.columns)
        ):
            return self.columns[section].header
        return super().headerData(section, orientation, role)

    def data(
        self,
        index: QtCore.QModelIndex | QtCore.QPersistentModelIndex,
        role: int = QtCore.Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < self._count:
            return None
        if role not in _ROLES:
            return None
        row = self._row(index.row())
        if row is None:
            self._ensure_window(index.row() // WINDOW)
            if role == QtCore.Qt.ItemDataRole.DisplayRole and index.column() == TITLE_COLUMN:
                return PLACEHOLDER
            return None
        key = self.columns[index.column()].key
        if role == DatasetIdRole:
            return row.id
        if role == QtCore.Qt.ItemDataRole.TextAlignmentRole:
            if key == "resources":
                return int(
                    QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
                )
            return None
        if key == "broken_links":
            return _broken_links_data(row.broken_links, role)
        if key == "title" and row.broken_links:
            # Beside the title too, so it shows however narrow the table or hidden the column.
            if role == QtCore.Qt.ItemDataRole.DecorationRole:
                return _warning_icon()
            if role == QtCore.Qt.ItemDataRole.ToolTipRole:
                return f"{row.title}\n{_broken_links_data(row.broken_links, role)}"
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            return row.title if key == "title" else None
        if role != QtCore.Qt.ItemDataRole.DisplayRole:
            return None
        return _display(row, key)

    # -- queries ------------------------------------------------------------------------------

    def _set_spec(self, spec: BrowseSpec) -> None:
        if spec != self._requested:
            self._requested = spec
            self._requery(reset=True)

    def _requery(self, *, reset: bool) -> None:
        self._query_generation += 1
        query_generation = self._query_generation
        spec = self._requested
        today = today_iso()

        def run(_progress: Progress) -> tuple[int, bool, list[BrowseRow], QueryError | None]:
            with self._database.read() as session:
                total = browse.count(session, spec, today=today)
                walk = browse.prefer_walk(session, spec, total, today=today)
                first = browse.fetch_after(session, spec, None, WINDOW, today=today, walk=walk)
            # Read here, not on the GUI thread: the first query builds the parser.
            return total, walk, first, desktop_query.read(spec.search).error

        def done(result: tuple[int, bool, list[BrowseRow], QueryError | None]) -> None:
            if query_generation == self._query_generation:
                total, walk, first, self.query_error = result
                self._apply(spec, today, walk, total, first, reset=reset)

        self._runner.run(run, on_done=done)

    def _apply(
        self,
        spec: BrowseSpec,
        today: str,
        walk: bool,
        total: int,
        first: list[BrowseRow],
        *,
        reset: bool,
    ) -> None:
        if self._order_task is not None:
            self._order_task.cancel()
            self._order_interrupter.interrupt()
            self._order_task = None
        if reset or spec != self._spec:
            self.beginResetModel()
            self._set_rows(spec, today, walk, total, first)
            self.endResetModel()
        else:
            # Change the row count first with the old rows in place (the model tester checks
            # that the rows around an insert or a removal keep their data), then swap the rows.
            old = self._count
            if total > old:
                self.beginInsertRows(QtCore.QModelIndex(), old, total - 1)
                self._count = total
                self.endInsertRows()
            elif total < old:
                self.beginRemoveRows(QtCore.QModelIndex(), total, old - 1)
                self._count = total
                self.endRemoveRows()
            self._set_rows(spec, today, walk, total, first)
            if total:
                last_column = len(self.columns) - 1
                self.dataChanged.emit(self.index(0, 0), self.index(total - 1, last_column))
        self.countChanged.emit(total)
        if first:
            self.windowLoaded.emit(0, len(first) - 1)
        self._load_order()

    def _set_rows(
        self, spec: BrowseSpec, today: str, walk: bool, total: int, first: list[BrowseRow]
    ) -> None:
        self._generation += 1
        self._spec = spec
        self._today = today
        self._walk = walk
        self._count = total
        self._windows.clear()
        self._pending.clear()
        self._waiting.clear()
        self._pks = None
        if first:
            self._windows[0] = first

    def _load_order(self) -> None:
        generation, spec, today = self._generation, self._spec, self._today
        interrupter = self._order_interrupter = browse.Interrupter()

        def run(progress: Progress) -> array[int]:
            with self._database.read() as session:
                return browse.ordered_pks(
                    session,
                    spec,
                    today=today,
                    check=lambda n: progress.report(n, 0),
                    interrupter=interrupter,
                )

        def done(pks: array[int]) -> None:
            if generation != self._generation:
                return
            self._order_task = None
            self._pks = pks
            waiting, self._waiting = self._waiting, set()
            for window in sorted(waiting):
                self._emit_window_changed(
                    window, WINDOW
                )  # the view asks again if it still shows it
            self.orderLoaded.emit()

        self._order_task = self._runner.run(run, on_done=done, on_cancelled=lambda: None)

    def _row(self, row: int) -> BrowseRow | None:
        rows = self._windows.get(row // WINDOW)
        if rows is None:
            return None
        offset = row % WINDOW
        return rows[offset] if offset < len(rows) else None

    def _ensure_window(self, window: int) -> None:
        if window in self._pending or window in self._windows:
            if window in self._windows:
                self._windows.move_to_end(window)
            return
        fetch = self._plan(window)
        if fetch is None:
            self._waiting.add(window)
            return
        self._pending.add(window)
        generation = self._generation

        def run(_progress: Progress) -> list[BrowseRow]:
            with self._database.read() as session:
                return fetch(session)

        def done(rows: list[BrowseRow]) -> None:
            if generation == self._generation:
                self._window_arrived(window, rows)

        def failed(error: Exception) -> None:
            if generation == self._generation:
                self._pending.discard(window)
            self._runner.error.emit(error)

        self._runner.run(run, on_done=done, on_error=failed)

    def _plan(self, window: int) -> Callable[[Session], list[BrowseRow]] | None:
        """How to fetch `window` now, or None if it must wait for the ordered pk list."""
        spec, today, walk = self._spec, self._today, self._walk
        start = window * WINDOW
        size = min(WINDOW, self._count - start)
        if self._pks is not None:
            pks = self._pks[start : start + size].tolist()
            return lambda session: browse.fetch_pks(session, spec, pks, today=today)
        if window == 0:
            return lambda session: browse.fetch_after(
                session, spec, None, size, today=today, walk=walk
            )
        if start + size >= self._count:
            return lambda session: browse.fetch_before(
                session, spec, None, size, today=today, walk=walk
            )
        before = self._windows.get(window - 1)
        if before is not None and len(before) == WINDOW:
            after_key = before[-1].key
            return lambda session: browse.fetch_after(
                session, spec, after_key, size, today=today, walk=walk
            )
        following = self._windows.get(window + 1)
        if following:
            before_key = following[0].key
            return lambda session: browse.fetch_before(session, spec, before_key, size, today=today)
        return None

    def _window_arrived(self, window: int, rows: list[BrowseRow]) -> None:
        self._pending.discard(window)
        self._windows[window] = rows
        self._windows.move_to_end(window)
        while len(self._windows) > MAX_WINDOWS:
            self._windows.popitem(last=False)
        if rows:
            self._emit_window_changed(window, len(rows))
            self.windowLoaded.emit(window * WINDOW, window * WINDOW + len(rows) - 1)
        # Neighbours that waited for a key can go now; the view asks again for those it shows.
        for neighbour in (window - 1, window + 1):
            if neighbour in self._waiting:
                self._waiting.discard(neighbour)
                self._emit_window_changed(neighbour, WINDOW)

    def _emit_window_changed(self, window: int, size: int) -> None:
        first = window * WINDOW
        last = min(first + size, self._count) - 1
        if 0 <= first <= last:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(self.columns) - 1))


def merge_ranges(ranges: Sequence[tuple[int, int]], count: int) -> list[tuple[int, int]]:
    """Ranges of rows, clipped to the table, sorted, overlaps joined: each row once, in order."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted((max(0, a), min(b, count - 1)) for a, b in ranges):
        if first > last:
            continue
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged
