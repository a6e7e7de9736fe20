"""The query side of the dataset table: count, keyset windows, search, and row positions.

The table never loads the catalogue. It asks for a count, then for windows of rows:

* forward from a key or from the start, backward from a key or from the end — keyset paging
  on ``(sort key, pk)`` with a row-value comparison, which an index on ``(column, pk)`` serves
  in O(window) at any depth; never OFFSET;
* by primary keys, for a jump to any row once the ordered pk list is known. `ordered_pks`
  streams that list (8 bytes a row, as Anki's browser keeps its id list); the table loads it
  in the background while the first windows come from keyset queries.

Search is the box's text read by services.desktop_query: seed 003's query language, where plain
words are services.search as ever (every word a prefix of a word of the id, title, description
text or tags; FTS5 on SQLite, a tsvector on PostgreSQL) with its fast count and walk plans.
The state column and filter come from the one visibility module, the broken-links count from
the one policy. Sortable columns: title, id, state, updated_at, created_at and team (by team
id); the state sort has no index (it depends on today's date), so its windows cost a scan.
"""

from __future__ import annotations

import sys
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, Select, and_, func, select, true, tuple_
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.models import Dataset, Link, Resource, Team
from app.services import desktop_query, search
from app.services.clock import today_iso
from app.services.facet_filters import facet_clause
from app.services.policy import broken_link_clause
from app.services.progress import Cancelled
from app.services.visibility import OWNER, Principal, display_state_expr, visible_clause

SortColumn = Literal["title", "id", "state", "updated_at", "created_at", "team"]
SORT_COLUMNS: tuple[SortColumn, ...] = get_args(SortColumn)
DISPLAY_STATES = ("draft", "embargoed", "private", "published")
# A search window walks the sort index when at least 1 row in this many matches.
WALK_DENSITY = 500
# Rows fetched per chunk while streaming the ordered pk list.
PK_CHUNK = 20_000


@dataclass(frozen=True)
class BrowseSpec:
    """What the table shows: a search, a sort and an optional display-state filter, of the
    datasets `principal` may read (the desktop's owner: all of them)."""

    search: str = ""
    sort: SortColumn = "title"
    descending: bool = False
    state: str | None = None
    principal: Principal = OWNER
    # The facet sidebar's choices: (facet, value) pairs, all required (services.facets).
    facets: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.sort not in SORT_COLUMNS:
            raise ValueError(f"cannot sort by {self.sort!r}")
        if self.state is not None and self.state not in DISPLAY_STATES:
            raise ValueError(f"unknown state {self.state!r}")


Key = tuple[Any, int]


@dataclass(frozen=True)
class BrowseRow:
    """One row of the table. `key` is the row's keyset position: (sort value, pk)."""

    pk: int
    id: str
    title: str
    state: str
    sharing: str
    team: str | None
    team_title: str | None
    updated_at: str
    created_at: str
    tags: tuple[str, ...]
    resources: int
    broken_links: int  # links whose last check failed (policy.is_broken_link)
    key: Key


def _sort_expr(spec: BrowseSpec, today: str) -> ColumnElement[Any]:
    if spec.sort == "state":
        return display_state_expr(today)
    if spec.sort == "team":
        # Datasets without a team sort first, as '' (a NULL would break the row comparison).
        return func.coalesce(Dataset.team, "")
    columns: dict[str, InstrumentedAttribute[str]] = {
        "title": Dataset.title,
        "id": Dataset.id,
        "updated_at": Dataset.updated_at,
        "created_at": Dataset.created_at,
    }
    return columns[spec.sort].expression


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _filter(
    session: Session, spec: BrowseSpec, today: str, *, walk: bool = False
) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = [
        visible_clause(spec.principal, today),
        desktop_query.query_condition(session, spec.search, walk=walk),
    ]
    if spec.state is not None:
        clauses.append(display_state_expr(today) == spec.state)
    clauses.extend(facet_clause(session, facet, value, today) for facet, value in spec.facets)
    return and_(true(), *clauses)


def filter_clause(session: Session, spec: BrowseSpec, today: str) -> ColumnElement[bool]:
    """The condition for the rows the table shows with `spec` (services.facets counts these)."""
    return _filter(session, spec, today)


def _row_select(spec: BrowseSpec, today: str) -> Select[Any]:
    resources = (
        select(func.count())
        .select_from(Resource)
        .where(Resource.dataset_pk == Dataset.pk)
        .scalar_subquery()
    )
    # One probe of links' dataset_pk index per row shown (about one link a dataset), and only
    # for the rows of a window: fetch_pks applies this select to a window's pks alone.
    broken_links = (
        select(func.count())
        .select_from(Link)
        .where(Link.dataset_pk == Dataset.pk, broken_link_clause())
        .scalar_subquery()
    )
    team_title = select(Team.title).where(Team.id == Dataset.team).scalar_subquery()
    return select(
        Dataset.pk,
        Dataset.id,
        Dataset.title,
        display_state_expr(today).label("display_state"),
        Dataset.sharing,
        Dataset.team,
        team_title.label("team_title"),
        Dataset.updated_at,
        Dataset.created_at,
        Dataset.tags,
        resources.label("resources"),
        _sort_expr(spec, today).label("sort_key"),
        broken_links.label("broken_links"),
    )


def _to_row(row: Any) -> BrowseRow:
    return BrowseRow(
        pk=row.pk,
        id=row.id,
        title=row.title,
        state=row.display_state,
        sharing=row.sharing,
        team=row.team,
        team_title=row.team_title,
        updated_at=row.updated_at,
        created_at=row.created_at,
        tags=tuple(row.tags or ()),
        resources=row.resources,
        broken_links=row.broken_links,
        key=(row.sort_key, row.pk),
    )


def prefer_walk(
    session: Session, spec: BrowseSpec, matches: int | None = None, *, today: str | None = None
) -> bool:
    """Should a search window walk the sort index and probe the matches (True), or fetch
    every match and sort them (False)?

    Fetching costs about one row look-up per match: 80-100 ms for 33,000 matches among a
    million. Walking costs the index entries passed before a window is full: about
    window / density, a few ms while matches are at least 1 in WALK_DENSITY rows, but the whole
    index for a rare word. `matches` is the search's count, if the caller has it.
    """
    # Only plain words have the choice (services.desktop_query): a structured query fetches.
    terms = desktop_query.read(spec.search).terms
    if not terms or spec.sort == "state" or not _is_sqlite(session):
        return False
    if matches is None:
        matches = count(session, spec, today=today)
    highest = session.scalar(select(func.max(Dataset.pk))) or 0
    return matches * WALK_DENSITY >= highest


def count(session: Session, spec: BrowseSpec, *, today: str | None = None) -> int:
    """How many datasets the table shows for `spec`."""
    today = today or today_iso()
    query = desktop_query.read(spec.search).terms
    if query and spec.state is None and not spec.facets:
        return search.count(session, query)
    stmt = select(func.count()).select_from(Dataset).where(_filter(session, spec, today))
    return int(session.scalar(stmt) or 0)


def fetch_after(
    session: Session,
    spec: BrowseSpec,
    key: Key | None,
    limit: int,
    *,
    today: str | None = None,
    walk: bool | None = None,
) -> list[BrowseRow]:
    """Up to `limit` rows that follow `key` in table order (from the start if key is None).

    walk: the search plan (prefer_walk); None decides here, at the cost of a count.
    """
    return _fetch(session, spec, key, limit, forward=True, today=today, walk=walk)


def fetch_before(
    session: Session,
    spec: BrowseSpec,
    key: Key | None,
    limit: int,
    *,
    today: str | None = None,
    walk: bool | None = None,
) -> list[BrowseRow]:
    """Up to `limit` rows that precede `key` (up to the end if key is None), in table order."""
    rows = _fetch(session, spec, key, limit, forward=False, today=today, walk=walk)
    rows.reverse()
    return rows


def _fetch(
    session: Session,
    spec: BrowseSpec,
    key: Key | None,
    limit: int,
    *,
    forward: bool,
    today: str | None,
    walk: bool | None,
) -> list[BrowseRow]:
    """Two steps: the window's pks (an index-only walk when the sort has an index), then the
    display columns of those rows only, so the per-row subqueries never run for rows that a
    sort or a search throws away."""
    today = today or today_iso()
    stmt = window_statement(session, spec, key, limit, forward=forward, today=today, walk=walk)
    return fetch_pks(session, spec, list(session.scalars(stmt)), today=today)


def rows_statement(session: Session, spec: BrowseSpec, *, today: str | None = None) -> Select[Any]:
    """Every row's display columns in table order, unbounded: for a streaming consumer (an
    export), or the benchmark's load-everything model. Never for the table itself."""
    today = today or today_iso()
    sort = _sort_expr(spec, today)
    order = (sort.desc(), Dataset.pk.desc()) if spec.descending else (sort, Dataset.pk)
    return _row_select(spec, today).where(_filter(session, spec, today)).order_by(*order)


def window_statement(
    session: Session,
    spec: BrowseSpec,
    key: Key | None,
    limit: int,
    *,
    forward: bool = True,
    today: str | None = None,
    walk: bool | None = None,
) -> Select[int]:
    """The pks of one keyset window: `(sort key, pk)` after (or before) `key`, in order."""
    today = today or today_iso()
    if walk is None:
        walk = prefer_walk(session, spec, today=today)
    sort = _sort_expr(spec, today)
    ascending = forward != spec.descending
    stmt = select(Dataset.pk).where(_filter(session, spec, today, walk=walk))
    if key is not None:
        position = tuple_(sort, Dataset.pk)
        bound = tuple_(*key)
        stmt = stmt.where(position > bound if ascending else position < bound)
    order = (sort, Dataset.pk) if ascending else (sort.desc(), Dataset.pk.desc())
    return stmt.order_by(*order).limit(limit)


def fetch_pks(
    session: Session, spec: BrowseSpec, pks: Sequence[int], *, today: str | None = None
) -> list[BrowseRow]:
    """The rows of `pks`, in that order (a pk deleted since is left out)."""
    if not pks:
        return []
    today = today or today_iso()
    stmt = _row_select(spec, today).where(Dataset.pk.in_(list(pks)))
    found = {row.pk: _to_row(row) for row in session.execute(stmt)}
    return [found[pk] for pk in pks if pk in found]


class Interrupter:
    """Stops a long query from another thread: a superseded pk list must not keep a core busy.

    SQLite's interrupt is per connection, so it is only sent while the guarded query runs,
    never to a connection that went back to the pool and serves someone else.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Any = None
        self._stopped = False

    @contextmanager
    def guard(self, session: Session) -> Iterator[None]:
        raw = session.connection().connection.dbapi_connection if _is_sqlite(session) else None
        with self._lock:
            if self._stopped:
                raise Cancelled()
            self._connection = raw
        try:
            yield
        except OperationalError as error:
            if self._stopped and "interrupted" in str(error):
                raise Cancelled() from error
            raise
        finally:
            with self._lock:
                self._connection = None

    def interrupt(self) -> None:
        with self._lock:
            self._stopped = True
            if self._connection is not None:
                self._connection.interrupt()


def ordered_pks(
    session: Session,
    spec: BrowseSpec,
    *,
    today: str | None = None,
    check: Callable[[int], None] | None = None,
    interrupter: Interrupter | None = None,
) -> array[int]:
    """Every pk the table shows, in table order, as 8-byte integers (8 MB a million rows).

    Runs on a worker thread beside the GUI, so it must hardly hold the GIL: Python code per row
    (a million SQLAlchemy rows take seconds, and every data() call of a painting table then
    waits for the GIL). On SQLite, SQLite itself concatenates the pks as fixed-width hex while
    the GIL is released, and Python converts the text in C, a chunk at a time.
    `check(rows_so_far)` is called between chunks; it may raise to stop (progress.Cancelled).
    """
    today = today or today_iso()
    sort = _sort_expr(spec, today)
    order = (sort.desc(), Dataset.pk.desc()) if spec.descending else (sort, Dataset.pk)
    stmt = select(Dataset.pk).where(_filter(session, spec, today)).order_by(*order)
    pks: array[int] = array("q")
    if _is_sqlite(session):
        # A subquery's ORDER BY fixes the order group_concat sees (SQLite < 3.44 has no
        # ORDER BY inside an aggregate); the tests compare the result with Python's sort.
        ordered = stmt.subquery()
        hex_pk = func.printf("%016x", ordered.c.pk)
        concatenated = select(func.group_concat(hex_pk, "")).select_from(ordered)
        with interrupter.guard(session) if interrupter is not None else nullcontext():
            text = session.scalar(concatenated) or ""
        step = 16 * PK_CHUNK
        for start in range(0, len(text), step):
            chunk = array("q", bytes.fromhex(text[start : start + step]))
            if sys.byteorder == "little":
                chunk.byteswap()
            pks.extend(chunk)
            if check is not None:
                check(len(pks))
        return pks
    result = session.execute(stmt.execution_options(yield_per=PK_CHUNK))
    for part in result.scalars().partitions():
        pks.extend(part)
        if check is not None:
            check(len(pks))
    return pks


def pk_of(session: Session, dataset_id: str) -> int | None:
    """The primary key of `dataset_id` (the key of the table's ordered pk list), or None."""
    return session.scalar(select(Dataset.pk).where(Dataset.id == dataset_id))


def rank(
    session: Session, spec: BrowseSpec, dataset_id: str, *, today: str | None = None
) -> int | None:
    """The row number of `dataset_id` in the table, or None if the table does not show it."""
    today = today or today_iso()
    sort = _sort_expr(spec, today)
    where = _filter(session, spec, today)
    found = session.execute(
        select(sort.label("sort_key"), Dataset.pk).where(Dataset.id == dataset_id, where)
    ).first()
    if found is None:
        return None
    position = tuple_(sort, Dataset.pk)
    bound = tuple_(found.sort_key, found.pk)
    before = position > bound if spec.descending else position < bound
    stmt = select(func.count()).select_from(Dataset).where(where, before)
    return int(session.scalar(stmt) or 0)
