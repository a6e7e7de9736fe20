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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
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
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.models import CatalogueCounter, CatalogueVersion, Dataset, Team, Tombstone, Topic
from app.services import policy
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


def _first_version_from(at: str) -> Any:
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


def _changed(session: Session, selection: Selection, after: Position | None, today: str) -> Any:
    """Datasets dated by their last write, by (changed_at, pk)."""
    where: list[ColumnElement[bool]] = [
        public_now(today),
        not_(passed_after_change()),
        _in_set(session, selection.set_spec, today),
    ]
    if selection.dates.start is not None:
        where.append(Dataset.changed_at >= selection.dates.start)
    if selection.dates.end is not None:
        where.append(Dataset.changed_at < selection.dates.end)
    if after is not None:
        if after.kind == LIVE:
            where.append(tuple_(Dataset.changed_at, Dataset.pk) > tuple_(after.at, after.key))
        else:
            where.append(Dataset.changed_at > after.at)
    return select(*_DATASET_KEYS).where(*where).order_by(Dataset.changed_at, Dataset.pk)


def _passed(session: Session, selection: Selection, after: Position | None, today: str) -> Any:
    """Datasets dated by their embargo's end, by (embargo_until, pk): their datestamps'
    order (midnight grows with the day)."""
    where: list[ColumnElement[bool]] = [
        public_now(today),
        passed_after_change(),
        Dataset.embargo_until <= today,  # the index's range: embargoes still running end it
        _in_set(session, selection.set_spec, today),
    ]
    if selection.dates.start is not None:
        where.append(Dataset.embargo_until >= first_day_from(selection.dates.start))
    if selection.dates.end is not None:
        where.append(Dataset.embargo_until < first_day_from(selection.dates.end))
    if after is not None:
        day = _to_local(parse_utc(after.at))
        later = Dataset.embargo_until > day.isoformat()
        if after.kind == LIVE and midnight(day) == after.at:
            later = or_(
                later, and_(Dataset.embargo_until == day.isoformat(), Dataset.pk > after.key)
            )
        where.append(later)
    return select(*_DATASET_KEYS).where(*where).order_by(Dataset.embargo_until, Dataset.pk)


def _not_back(today: str) -> ColumnElement[bool]:
    back = exists().where(
        Dataset.id == Tombstone.dataset_id,
        policy.public(policy.SQL, Dataset.state, Dataset.sharing, Dataset.embargo_until, today),
    )
    return not_(back)


def _deleted(selection: Selection, after: Position | None, today: str) -> Any:
    """Tombstones of datasets not public now, by (version, id): their times' order."""
    where: list[ColumnElement[bool]] = [_not_back(today)]
    if selection.dates.start is not None:
        where.append(Tombstone.version >= _first_version_from(selection.dates.start))
    if selection.dates.end is not None:
        where.append(Tombstone.version < _first_version_from(selection.dates.end))
    if after is not None:
        if after.kind == LIVE:
            where.append(Tombstone.version >= _first_version_from(after.at))
        else:
            version = (
                select(CatalogueVersion.version)
                .where(CatalogueVersion.at == after.at)
                .scalar_subquery()
            )
            where.append(
                tuple_(Tombstone.version, Tombstone.dataset_id) > tuple_(version, after.key)
            )
    return (
        select(Tombstone.dataset_id, Tombstone.at)
        .where(*where)
        .order_by(Tombstone.version, Tombstone.dataset_id)
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


def _indexed(connection: Connection, statement: Any, index: str) -> Sequence[Any]:
    """The rows of `statement` (over `datasets`), read in `index`'s order on SQLite.

    A page is a walk of the index in the list's order that stops after `limit` rows; SQLite,
    without statistics, would rather take every published dataset by ix_datasets_state and sort
    them all for each page (a hundred times the work on 100,000 datasets). SQLAlchemy renders no
    table hint for SQLite, so `INDEXED BY` is written into the compiled statement's outer FROM."""
    if connection.dialect.name != "sqlite":
        return connection.execute(statement).all()
    compiled = statement.compile(dialect=connection.dialect)
    sql = str(compiled)
    outer = "FROM datasets \n"
    if outer not in sql:
        raise AssertionError(f"no outer FROM datasets in {sql}")
    sql = sql.replace(outer, f"FROM datasets INDEXED BY {index} \n", 1)
    values = compiled.construct_params()
    positions = compiled.positiontup or ()
    return connection.exec_driver_sql(sql, tuple(values[name] for name in positions)).all()


def page(
    session: Session,
    selection: Selection,
    after: Position | None,
    limit: int,
    today: str,
) -> list[Entry]:
    """Up to `limit` records after `after` (None: from the first), in the list's order."""
    connection = session.connection()
    changed = _indexed(
        connection, _changed(session, selection, after, today).limit(limit), _BY_CHANGE
    )
    passed = _indexed(
        connection, _passed(session, selection, after, today).limit(limit), _BY_EMBARGO
    )
    deleted = connection.execute(_deleted(selection, after, today).limit(limit)).all()
    streams = (
        _live_entries(changed, False),
        _live_entries(passed, True),
        (Entry(at, DELETED, dataset_id, dataset_id) for dataset_id, at in deleted),
    )
    merged = heapq.merge(*streams, key=lambda e: (e.at, e.kind, e.key))
    return [entry for _, entry in zip(range(limit), merged, strict=False)]


def count(session: Session, selection: Selection, today: str) -> int:
    """How many records the whole list holds (completeListSize)."""
    connection = session.connection()
    total = 0
    for statement in (
        _changed(session, selection, None, today),
        _passed(session, selection, None, today),
        _deleted(selection, None, today),
    ):
        total += connection.scalar(select(func.count()).select_from(statement.subquery())) or 0
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
        select(Tombstone.at).where(Tombstone.dataset_id == dataset_id, _not_back(today))
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
        .where(_not_back(today))
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
