"""The catalogue version (docs/ARCHITECTURE.md: catalogue version): one integer that every
committed change of the datasets moves on, what each dataset changed last at, and the
tombstones of the datasets that left the published set.

A transaction that writes a dataset takes a version first (`stamp`): the counter row's UPDATE
holds that row until the transaction ends, so versions are handed out in commit order, and a
reader that sees version N sees every change up to N. The version's time (`at`) never goes
back, so a time and a version say the same thing. Every dataset written is stamped with the
version and its time; a dataset that was public (visibility.is_public: published, public, out
of embargo) before a write and is not after it, or is deleted, leaves a tombstone (`left`).

What changed since version N (`changed_clause`) is then what was stamped after N, and what
came out of embargo since N's day: an embargo passes with time, not by a write. What left
since N (`deleted_since`) is the tombstones after N whose dataset is not public now.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    String,
    bindparam,
    event,
    exists,
    func,
    insert,
    select,
    union,
    update,
)
from sqlalchemy.orm import Session

from app.models import CatalogueCounter, CatalogueVersion, Dataset, Tombstone
from app.services.clock import iso, now_iso, parse_utc, today_iso
from app.services.errors import CatalogueError
from app.services.visibility import ANONYMOUS, public_clause, visible_clause

_HELD = "catalogue_version.stamp"  # Connection.info key: the version this transaction holds
_ONE_MS = timedelta(milliseconds=1)


class VersionAhead(CatalogueError):
    """A `since` past the catalogue's version: a version of another catalogue, or of this one
    before it was restored from an older copy. Answering "nothing changed" would hide every
    change from the caller."""

    code = "version_ahead"


@dataclass(frozen=True, slots=True)
class Stamp:
    """The version a transaction writes under, and its time (ISO UTC) and local day."""

    version: int
    at: str
    day: str


def stamp(bind: Session | Connection) -> Stamp:
    """The version this transaction writes under: taken at its first call, the same after."""
    connection = _connection(bind)
    held: Stamp | None = connection.info.get(_HELD)
    # A savepoint rolled back since may have taken the counter back: then take it again.
    if held is not None and current(connection) == held.version:
        return held
    # One statement takes the row (and, on PostgreSQL, its lock until the transaction ends:
    # SQLite's writers hold the database's write lock already) and moves it on.
    taken = connection.execute(
        update(CatalogueCounter)
        .where(CatalogueCounter.id == 1)
        .values(version=CatalogueCounter.version + 1)
        .returning(CatalogueCounter.version, CatalogueCounter.at)
    ).one()
    version, at = taken.version, now_iso()
    if taken.at and at <= taken.at:  # the clock went back, or two in a millisecond
        at = iso(parse_utc(taken.at) + _ONE_MS)
    connection.execute(update(CatalogueCounter).where(CatalogueCounter.id == 1).values(at=at))
    day = today_iso()
    connection.execute(insert(CatalogueVersion).values(version=version, at=at, day=day))
    held = Stamp(version, at, day)
    connection.info[_HELD] = held
    return held


def _connection(bind: Session | Connection) -> Connection:
    return bind.connection() if isinstance(bind, Session) else bind


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _release(connection: Connection) -> None:
    # A connection the server dropped has no info left to clear, and asking for it would
    # raise over the error that ended the transaction (PostgreSQL restarting, say).
    if not connection.invalidated:
        connection.info.pop(_HELD, None)


def current(bind: Session | Connection) -> int:
    """The catalogue's version: that of its newest committed change (this transaction's own
    if it took one)."""
    connection = _connection(bind)
    return int(connection.scalar(_CURRENT) or 0)


# Built once: building a statement costs more than running these (harvesters ask each day).
_CURRENT = select(CatalogueCounter.version).where(CatalogueCounter.id == 1)
_DAY_OF = select(CatalogueVersion.day).where(
    CatalogueVersion.version == bindparam("version", type_=Integer)
)


def mark(dataset: Dataset, written: Stamp) -> None:
    """Stamp `dataset` (an ORM row being written) with the transaction's version."""
    dataset.catalogue_version = written.version
    dataset.changed_at = written.at


def left(bind: Session | Connection, dataset_id: str, written: Stamp) -> None:
    """Dataset `dataset_id` left the published set in this transaction: its tombstone."""
    connection = _connection(bind)
    moved = connection.execute(
        update(Tombstone)
        .where(Tombstone.dataset_id == dataset_id)
        .values(version=written.version, at=written.at)
    )
    if not moved.rowcount:
        connection.execute(
            insert(Tombstone).values(dataset_id=dataset_id, version=written.version, at=written.at)
        )


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Since:
    """A point a harvester has seen: changes stamped after `version`, and embargoes that passed
    after day `passed_after` (local ISO day; "" for any)."""

    version: int
    passed_after: str


def since_version(bind: Session | Connection, version: int) -> Since:
    """The point of version `version` (VersionAhead past the catalogue's)."""
    connection = _connection(bind)
    newest = current(connection)
    if version > newest:
        raise VersionAhead(
            f"since={version} is ahead of this catalogue's version {newest}: "
            "harvest it again from the start"
        )
    day = connection.scalar(_DAY_OF, {"version": version})
    return Since(version, day or "")


def since_time(bind: Session | Connection, moment: datetime, *, inclusive: bool = True) -> Since:
    """The point of time `moment` (naive UTC): the changes made at or after it (after it, not
    inclusive). An embargo that ended on its day or later counts as a change."""
    connection = _connection(bind)
    at = iso(moment)
    seen = CatalogueVersion.at < at if inclusive else CatalogueVersion.at <= at
    before = connection.scalar(select(func.max(CatalogueVersion.version)).where(seen))
    # Datasets changed before the first version carry 0: from a time before the log, all.
    version = -1 if before is None else int(before)
    try:
        local_day = moment.replace(tzinfo=UTC).astimezone().date() - timedelta(days=1)
    except OverflowError:  # the calendar's first or last days
        local_day = moment.date()
    return Since(version, local_day.isoformat())


def changed_clause(since: Since, today: str) -> ColumnElement[bool]:
    """Datasets whose public form may have changed after `since`: stamped after it, or out of
    embargo since (to be combined with the caller's visibility). Written as a pk IN a union
    of two index ranges, so that it costs what changed, not the catalogue's size."""
    return _changed(since.version, since.passed_after, today)


def _changed(version: Any, passed_after: Any, today: str) -> ColumnElement[bool]:
    stamped = select(Dataset.pk).where(Dataset.catalogue_version > version)
    passed = select(Dataset.pk).where(
        Dataset.embargo_until > passed_after, Dataset.embargo_until <= today
    )
    return Dataset.pk.in_(union(stamped, passed))


def since_params(since: Since) -> dict[str, object]:
    """The values of `changed_statement`'s parameters for `since`."""
    return {"since_version": since.version, "passed_after": since.passed_after}


@functools.lru_cache(maxsize=8)
def changed_statement(today: str) -> Select[int, int]:
    """The (pk, version) of the published datasets changed after a point, by pk; the point is
    bound as `since_params` gives it (one statement a day, compiled once)."""
    changed = _changed(
        bindparam("since_version", type_=Integer),
        bindparam("passed_after", type_=String),
        today,
    )
    return (
        select(Dataset.pk, Dataset.version)
        .where(changed, visible_clause(ANONYMOUS, today, published_only=True))
        .order_by(Dataset.pk)
    )


def changed_since(
    bind: Session | Connection, since: Since, today: str, *, limit: int | None = None
) -> list[tuple[int, int]]:
    """The (pk, version) of the published datasets changed after `since`, by pk (at most
    `limit` of them)."""
    statement = changed_statement(today)
    if limit is not None:
        statement = statement.limit(limit)
    found = _connection(bind).execute(statement, since_params(since))
    return [(pk, version) for pk, version in found]


def not_back(today: str) -> ColumnElement[bool]:
    """A tombstone whose dataset is not public now (deleted, or still out of the set)."""
    return ~exists().where(Dataset.id == Tombstone.dataset_id, public_clause(today))


@functools.lru_cache(maxsize=8)
def _deleted_statement(today: str) -> Select[str]:
    return (
        select(Tombstone.dataset_id)
        .where(Tombstone.version > bindparam("version", type_=Integer), not_back(today))
        .order_by(Tombstone.dataset_id)
    )


def deleted_since(bind: Session | Connection, version: int, today: str | None = None) -> list[str]:
    """The ids of the datasets that left the published set after `version` and are not back."""
    connection = _connection(bind)
    statement = _deleted_statement(today or today_iso())
    return list(connection.scalars(statement, {"version": version}))
