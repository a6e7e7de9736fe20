"""Which records the OAI-PMH repository holds, their datestamps and order (docs/ARCHITECTURE.md:
OAI-PMH).

The records are the published datasets (what an anonymous caller sees: visibility.visible_clause
with published_only) and, as headers with status="deleted", the tombstones
(services.catalogue_version) of datasets that left the published set and are not public now.

A record's datestamp is when its public form last changed:
- a dataset's `changed_at` (the time of the catalogue version that last wrote it);
- but a dataset whose embargo passed after that write became public at the start of its
  embargo's day (local midnight, as policy.embargoed counts days), without any write: its
  datestamp is that moment. A harvester that harvested before the embargo passed, with
  responseDate R, did not get it; R is before that midnight, so its next harvest `from=R`
  does. Its `changed_at` would be before R, and it would never be sent;
- a deleted record's datestamp is its tombstone's time.

Lists are ordered by (datestamp, kind, key): datasets (kind 0, by pk) before deleted records
(kind 1, by id) of the same datestamp. A write moves a dataset to the end (a new datestamp
is later than any a harvester has seen, services.catalogue_version.stamp), so a walk by
keyset on that order (tokens.Position) sees every record that did not change during it
exactly once, and one that changed at its new place if it is still ahead. Each list is the
merge of three index walks, each taking at most a page: datasets by `ix_datasets_changed_at`,
datasets whose embargo passed after their last write by `ix_datasets_embargo_until` (their
datestamps follow the embargo days' order), and tombstones by `ix_dataset_tombstones_version`
(a tombstone's time grows with its version).

A `set` (a team `team:<id>` or a topic `topic:<id>`) restricts the datasets only: a deleted
record's sets are not known (a deleted dataset is gone, and an unpublished one's team is
not public), so every set-restricted list carries all the deleted records in its range. A
harvester of a set then deletes what it holds among them and ignores the rest: it never
keeps a withdrawn record, and no hidden dataset's set is shown.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
)
from sqlalchemy.orm import Session

from app.models import CatalogueCounter, CatalogueVersion, Dataset, Team, Tombstone, Topic
from app.services.catalogue_version import not_back
from app.services.clock import parse_utc
from app.services.facet_filters import list_elements
from app.services.oai.protocol import SET_SPEC, DateRange, iso_ms
from app.services.oai.tokens import Position
from app.services.visibility import ANONYMOUS, visible_clause

LIVE, DELETED = 0, 1
_NEVER = 2**62  # a version no catalogue reaches: "no such version" in a bound


@dataclass(frozen=True, slots=True)
class Entry:
    """One record of a list: its datestamp (ISO UTC, ms), kind and key (tokens.Position), its
    dataset id and, for a dataset, its team and topics."""

    at: str
    kind: int
    key: int | str
    dataset_id: str
    team: str | None = None
    topics: tuple[str, ...] = ()
    version: int = 0  # a dataset's version: what its metadata fragment is kept by

    @property
    def position(self) -> Position:
        return Position(self.at, self.kind, self.key)

    @property
    def deleted(self) -> bool:
        return self.kind == DELETED

    def set_specs(self) -> list[str]:
        specs = [f"team:{self.team}"] if self.team and SET_SPEC.fullmatch(self.team) else []
        specs.extend(f"topic:{t}" for t in self.topics if SET_SPEC.fullmatch(t))
        return specs


@dataclass(frozen=True, slots=True)
class Selection:
    """What a list asks for: a date range and a set (None: all)."""

    dates: DateRange
    set_spec: str | None


# -- embargo days as moments ---------------------------------------------------------------------


def midnight(day: date) -> str:
    """The start of local day `day` (which policy.embargoed counts in) as ISO UTC, ms."""
    return iso_ms(datetime(day.year, day.month, day.day).astimezone())


def _to_local(moment_utc: datetime) -> date:
    """The local day of a naive UTC moment."""
    return moment_utc.replace(tzinfo=UTC).astimezone().date()


def first_day_from(at: str) -> str:
    """The first day whose start (midnight) is at or after `at`, ISO."""
    day = _to_local(parse_utc(at))
    if midnight(day) < at:
        day += timedelta(days=1)
    return day.isoformat()


# -- the clauses ---------------------------------------------------------------------------------


def _day_of_change() -> Any:
    """The local day of a dataset's last write (its version's; before the version log, the UTC
    day of its changed_at)."""
    logged = (
        select(CatalogueVersion.day)
        .where(CatalogueVersion.version == Dataset.catalogue_version)
        .scalar_subquery()
    )
    return func.coalesce(logged, func.substr(Dataset.changed_at, 1, 10))


def passed_after_change() -> ColumnElement[bool]:
    """Its embargo passed after its last write (with the visible clause: it has passed)."""
    return and_(Dataset.embargo_until.is_not(None), Dataset.embargo_until > _day_of_change())


def public_now(today: str) -> ColumnElement[bool]:
    return visible_clause(ANONYMOUS, today, published_only=True)


def _in_set(session: Session, set_spec: str | None, today: str) -> ColumnElement[bool]:
    if set_spec is None:
        return true()
    kind, _, value = set_spec.partition(":")
    if kind == "team":
        return Dataset.team == value
    if kind == "topic":
        elements = list_elements(session, Dataset.topics)
        return select(literal(1)).select_from(elements).where(elements.c.value == value).exists()
    return literal(False)


def _first_version_from(at: Any) -> Any:
    """The first version made at or after `at` (_NEVER for none)."""
    return func.coalesce(
        select(func.min(CatalogueVersion.version))
        .where(CatalogueVersion.at >= at)
        .scalar_subquery(),
        _NEVER,
    )


_DATASET_KEYS = (
    Dataset.pk,
    Dataset.id,
    Dataset.changed_at,
    Dataset.embargo_until,
    Dataset.team,
    type_coerce(Dataset.topics, Text).label("topics"),
    Dataset.version,
)


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a page's statements depend on beyond their values (bound parameters): the set,
    which bounds there are, the kind of the position and, for the embargo walk, whether the
    position is the start of a day. A statement is compiled once per shape and day."""

    set_spec: str | None
    start: bool
    end: bool
    after: int | None  # the position's kind; None: from the first
    after_midnight: bool = False


def _shape(selection: Selection, after: Position | None) -> _Shape:
    at_midnight = False
    if after is not None and after.kind == LIVE:
        at_midnight = midnight(_to_local(parse_utc(after.at))) == after.at
    return _Shape(
        selection.set_spec,
        selection.dates.start is not None,
        selection.dates.end is not None,
        None if after is None else after.kind,
        at_midnight,
    )


def _values(selection: Selection, after: Position | None) -> dict[str, Any]:
    """The bound values of a page's statements (each takes those it names)."""
    values: dict[str, Any] = {"limit": 0}
    if selection.dates.start is not None:
        values["start"] = selection.dates.start
        values["start_day"] = first_day_from(selection.dates.start)
    if selection.dates.end is not None:
        values["end"] = selection.dates.end
        values["end_day"] = first_day_from(selection.dates.end)
    if after is not None:
        values["after_at"] = after.at
        values["after_key"] = after.key
        values["after_day"] = _to_local(parse_utc(after.at)).isoformat()
    return values


def _changed(session: Session, shape: _Shape, today: str) -> Any:
    """Datasets dated by their last write, by (changed_at, pk)."""
    where: list[ColumnElement[bool]] = [
        public_now(today),
        not_(passed_after_change()),
        _in_set(session, shape.set_spec, today),
    ]
    if shape.start:
        where.append(Dataset.changed_at >= bindparam("start", type_=String))
    if shape.end:
        where.append(Dataset.changed_at < bindparam("end", type_=String))
    if shape.after == LIVE:
        where.append(
            tuple_(Dataset.changed_at, Dataset.pk)
            > tuple_(bindparam("after_at", type_=String), bindparam("after_key", type_=Integer))
        )
    elif shape.after == DELETED:
        where.append(Dataset.changed_at > bindparam("after_at", type_=String))
    return (
        select(*_DATASET_KEYS)
        .where(*where)
        .order_by(Dataset.changed_at, Dataset.pk)
        .limit(bindparam("limit", type_=Integer))
    )


def _passed(session: Session, shape: _Shape, today: str) -> Any:
    """Datasets dated by their embargo's end, by (embargo_until, pk): their datestamps'
    order (midnight grows with the day)."""
    where: list[ColumnElement[bool]] = [
        public_now(today),
        passed_after_change(),
        Dataset.embargo_until <= today,  # the index's range: embargoes still running end it
        _in_set(session, shape.set_spec, today),
    ]
    if shape.start:
        where.append(Dataset.embargo_until >= bindparam("start_day", type_=String))
    if shape.end:
        where.append(Dataset.embargo_until < bindparam("end_day", type_=String))
    if shape.after is not None:
        day = bindparam("after_day", type_=String)
        later = Dataset.embargo_until > day
        if shape.after_midnight:  # datasets of that very datestamp come after a smaller pk
            later = or_(
                later,
                and_(
                    Dataset.embargo_until == day,
                    Dataset.pk > bindparam("after_key", type_=Integer),
                ),
            )
        where.append(later)
    return (
        select(*_DATASET_KEYS)
        .where(*where)
        .order_by(Dataset.embargo_until, Dataset.pk)
        .limit(bindparam("limit", type_=Integer))
    )


def _deleted(session: Session, shape: _Shape, today: str) -> Any:
    """Tombstones of datasets not public now, by (version, id): their times' order."""
    where: list[ColumnElement[bool]] = [not_back(today)]
    if shape.start:
        where.append(Tombstone.version >= _first_version_from(bindparam("start", type_=String)))
    if shape.end:
        where.append(Tombstone.version < _first_version_from(bindparam("end", type_=String)))
    if shape.after == LIVE:
        where.append(Tombstone.version >= _first_version_from(bindparam("after_at", type_=String)))
    elif shape.after == DELETED:
        version = (
            select(CatalogueVersion.version)
            .where(CatalogueVersion.at == bindparam("after_at", type_=String))
            .scalar_subquery()
        )
        key = bindparam("after_key", type_=String)
        where.append(tuple_(Tombstone.version, Tombstone.dataset_id) > tuple_(version, key))
    return (
        select(Tombstone.dataset_id, Tombstone.at)
        .where(*where)
        .order_by(Tombstone.version, Tombstone.dataset_id)
        .limit(bindparam("limit", type_=Integer))
    )


def _topics(text: Any) -> tuple[str, ...]:
    if text is None:
        return ()
    value = orjson.loads(text) if isinstance(text, str | bytes) else text
    return tuple(str(t) for t in value or ())


def _live_entries(rows: Any, passed: bool) -> Iterator[Entry]:
    for pk, dataset_id, changed_at, embargo_until, team, topics, version in rows:
        at = midnight(date.fromisoformat(embargo_until)) if passed else changed_at
        yield Entry(at, LIVE, pk, dataset_id, team, _topics(topics), version)


_BY_CHANGE = "ix_datasets_changed_at"
_BY_EMBARGO = "ix_datasets_embargo_until"
_Builder = Callable[[Session, _Shape, str], Any]
_STREAMS: tuple[tuple[_Builder, str | None], ...] = (
    (_changed, _BY_CHANGE),
    (_passed, _BY_EMBARGO),
    (_deleted, None),
)
# (builder, shape, day, dialect) -> the statement's SQL, its parameters' names in order, and
# the values the builder bound itself (today's date, a set's id).
_COMPILED: dict[tuple[Any, ...], tuple[str, tuple[str, ...], dict[str, Any]]] = {}
_MAX_COMPILED = 256


def _run(
    session: Session, stream: int, shape: _Shape, today: str, values: dict[str, Any]
) -> Sequence[Any]:
    """The rows of one of the three walks, its statement compiled once per shape and day.

    A page is a walk of an index in the list's order that stops after `limit` rows; SQLite,
    without statistics, would rather take every published dataset by ix_datasets_state and sort
    them all for each page (a hundred times the work on 100,000 datasets). SQLAlchemy renders no
    table hint for SQLite, so `INDEXED BY` is written into the compiled statement's outer FROM."""
    build, index = _STREAMS[stream]
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "sqlite":
        statement = build(session, shape, today)
        names = statement.compile(dialect=dialect).binds
        return connection.execute(statement, {k: v for k, v in values.items() if k in names}).all()
    key = (stream, shape, today, dialect.name)
    compiled = _COMPILED.get(key)
    if compiled is None:
        statement = build(session, shape, today).compile(dialect=dialect)
        sql = str(statement)
        if index is not None:
            outer = "FROM datasets \n"
            if outer not in sql:
                raise AssertionError(f"no outer FROM datasets in {sql}")
            sql = sql.replace(outer, f"FROM datasets INDEXED BY {index} \n", 1)
        fixed = statement.construct_params(_check=False)  # literals bound: today, a set
        names = tuple(statement.positiontup or ())
        if len(_COMPILED) >= _MAX_COMPILED:
            _COMPILED.clear()
        compiled = _COMPILED[key] = (sql, names, fixed)  # one entry: threads read it whole
    sql, names, fixed = compiled
    bound = {**fixed, **values}
    return connection.exec_driver_sql(sql, tuple(bound[name] for name in names)).all()


def page(
    session: Session,
    selection: Selection,
    after: Position | None,
    limit: int,
    today: str,
) -> list[Entry]:
    """Up to `limit` records after `after` (None: from the first), in the list's order."""
    shape = _shape(selection, after)
    values = {**_values(selection, after), "limit": limit}
    changed = _run(session, 0, shape, today, values)
    passed = _run(session, 1, shape, today, values)
    deleted = _run(session, 2, shape, today, values)
    streams = (
        _live_entries(changed, False),
        _live_entries(passed, True),
        (Entry(at, DELETED, dataset_id, dataset_id) for dataset_id, at in deleted),
    )
    merged = heapq.merge(*streams, key=lambda e: (e.at, e.kind, e.key))
    return [entry for _, entry in zip(range(limit), merged, strict=False)]


def count(session: Session, selection: Selection, today: str) -> int:
    """How many records the whole list holds (completeListSize)."""
    shape = _shape(selection, None)
    values = {k: v for k, v in _values(selection, None).items() if k != "limit"}
    connection = session.connection()
    total = 0
    for build, _ in _STREAMS:
        whole = build(session, shape, today).limit(None)
        counted = select(func.count()).select_from(whole.subquery())
        names = counted.compile(dialect=connection.dialect).binds
        total += connection.scalar(counted, {k: v for k, v in values.items() if k in names}) or 0
    return total


def one(session: Session, dataset_id: str, today: str) -> Entry | None:
    """The record of dataset `dataset_id`: the published dataset, its deleted header, or None
    (never published, or unknown)."""
    row = session.execute(
        select(*_DATASET_KEYS, passed_after_change()).where(
            Dataset.id == dataset_id, public_now(today)
        )
    ).first()
    if row is not None:
        *keys, passed = row
        return next(_live_entries([keys], bool(passed)))
    at = session.scalar(
        select(Tombstone.at).where(Tombstone.dataset_id == dataset_id, not_back(today))
    )
    return None if at is None else Entry(at, DELETED, dataset_id, dataset_id)


def earliest(session: Session, today: str) -> str | None:
    """The earliest datestamp (ISO UTC, ms) of any record; None for an empty repository. A
    dataset dated by its embargo's end is later than its changed_at, so the changed_at of
    every published dataset bounds them all."""
    first_live = session.scalar(
        select(Dataset.changed_at)
        .where(public_now(today))
        .order_by(Dataset.changed_at, Dataset.pk)
        .limit(1)
    )
    first_deleted = session.scalar(
        select(Tombstone.at)
        .where(not_back(today))
        .order_by(Tombstone.version, Tombstone.dataset_id)
        .limit(1)
    )
    found = [at for at in (first_live, first_deleted) if at]
    return min(found) if found else None


def sets(session: Session, today: str) -> list[tuple[str, str]]:
    """(setSpec, setName) of every team and topic that holds a published dataset, by spec: a
    team or topic of hidden datasets only is not shown."""
    teams = session.execute(
        select(Team.id, Team.title)
        .where(exists().where(Dataset.team == Team.id, public_now(today)))
        .order_by(Team.id)
    ).all()
    elements = list_elements(session, Dataset.topics)
    used = (
        select(elements.c.value)
        .select_from(Dataset)
        .join(elements, true())
        .where(public_now(today))
        .distinct()
    )
    topic_ids = {str(value) for (value,) in session.execute(used)}
    titles = dict(session.execute(select(Topic.id, Topic.title)).all())
    found = [(f"team:{team_id}", title) for team_id, title in teams]
    found.extend((f"topic:{t}", titles.get(t, t)) for t in sorted(topic_ids))
    return [(spec, name) for spec, name in found if SET_SPEC.fullmatch(spec)]


def has_set(session: Session, set_spec: str, today: str) -> bool:
    """Whether `set_spec` is one of `sets`: a team or topic with a published dataset."""
    kind = set_spec.partition(":")[0]
    if kind not in ("team", "topic"):
        return False
    return bool(
        session.scalar(
            select(literal(1)).where(public_now(today), _in_set(session, set_spec, today)).limit(1)
        )
    )


def catalogue_time(session: Session) -> str:
    """The time of the newest committed catalogue version ("" before the first)."""
    return session.scalar(select(CatalogueCounter.at).where(CatalogueCounter.id == 1)) or ""
