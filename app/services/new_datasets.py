"""The one batch write path for new datasets: import, pull, `generate` and the form's "New".

A batch of records goes in with one executemany per table (datasets, resources, links, access
lists, versions), with no ORM object per row: validation, the access lists' users and teams
(one query each for the batch), the derived fields, the history version and the search index
(on SQLite one INSERT ... SELECT for the batch in place of the insert trigger's row by row,
`search_index_by_batch`; PostgreSQL's generated column) are all in it. The
stored record is computed from the written record as `records.dataset_to_record` would read it
back (a test compares the two), so no row is read back either.

JSON columns are written as the text SQLAlchemy's JSON type writes (json.dumps), and a
version's changes and snapshot as models.history.Packed packs them, so the bytes are those of
an ORM write.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import Connection, column, func, insert, select, text
from sqlalchemy import table as sql_table

from app.models import (
    Dataset,
    DatasetVersion,
    Link,
    Resource,
    Team,
    User,
    dataset_collaborators,
    dataset_read_teams,
    dataset_read_users,
)
from app.models.history import pack
from app.models.search_index import SQLITE_INDEX_ROWS, SQLITE_INSERT_TRIGGER, SQLITE_REBUILD
from app.services import catalogue_version
from app.services.errors import ValidationFailed
from app.services.record.canonical import canonical_record
from app.services.record.fields import Kind
from app.services.records import (
    OBJECT_COLUMNS,
    SCALAR_COLUMNS,
    Record,
    people_named,
    unknown_people,
)
from app.services.text import html_to_text, slugify
from app.services.validation import validate_record

Row = tuple[Any, ...]

# The dataset row: its key, the slug and version, then the record's columns (records knows
# which record key each column holds).
_SCALARS = tuple(
    (key, attribute, field.is_list or field.kind is Kind.CUSTOM)
    for key, attribute, field in SCALAR_COLUMNS
)
DATASET_COLUMNS = (
    "pk",
    "slug",
    "version",
    *(attribute for _, attribute, _ in _SCALARS),
    *(attribute for _, parts in OBJECT_COLUMNS for _, attribute in parts),
)
STAMPED_COLUMNS = (*DATASET_COLUMNS, "catalogue_version", "changed_at")
RESOURCE_COLUMNS = (
    "dataset_pk",
    "rid",
    "position",
    "title",
    "description",
    "url",
    "filename",
    "time_from",
    "time_to",
    "format",
    "hash",
    "size",
    "timestamp",
    "origin",
)
LINK_COLUMNS = (
    "dataset_pk",
    "lid",
    "position",
    "title",
    "url",
    "description",
    "qa_timestamp",
    "qa_hash",
    "qa_size",
    "qa_mimetype",
    "qa_http_status",
)
VERSION_COLUMNS = (
    "dataset_pk",
    "dataset_id",
    "number",
    "at",
    "author",
    "action",
    "changes",
    "snapshot",
)
PAIR_COLUMNS = ("dataset_pk", "user_id")
TEAM_PAIR_COLUMNS = ("dataset_pk", "team_id")


@dataclass(frozen=True, slots=True)
class NewDataset:
    """A dataset to write: its primary key, history number and full record (ids assigned)."""

    pk: int
    number: int
    record: Record


def stored_record(record: Record) -> Record:
    """`record` as the catalogue stores and reads it back: every field in canonical form, the
    title stripped, the description's text derived, files and links in their order, the
    access lists sorted (records.dataset_to_record reads them ordered by id)."""
    stored = canonical_record(record)
    stored["descriptionText"] = html_to_text(stored["description"])
    # canonical_record made fresh dicts and lists: those of one item need no sorting.
    for key in ("resources", "links"):
        children = stored[key]
        if len(children) > 1:
            stored[key] = dict(sorted(children.items(), key=_order))
    for key in ("collaborators", "readusers", "readteams"):
        if len(stored[key]) > 1:
            stored[key].sort()
    stored["site"] = stored["site"] or ""
    return stored


def _order(item: tuple[str, Record]) -> Any:
    return item[1]["order"]


def first_free_pk(connection: Connection) -> int:
    """The first dataset pk never used: AUTOINCREMENT never reuses a deleted row's pk, nor do
    we (on PostgreSQL, one past the highest: a caller writing explicit pks moves the sequence)."""
    highest = connection.scalar(select(func.max(Dataset.pk))) or 0
    if connection.dialect.name == "sqlite":
        sequence = connection.exec_driver_sql(
            "SELECT seq FROM sqlite_sequence WHERE name = 'datasets'"
        ).scalar()
        highest = max(highest, int(sequence or 0))
    return int(highest) + 1


def reserve_pks(connection: Connection, count: int) -> list[int]:
    """`count` primary keys for new datasets, never used before (a deleted dataset's pk is
    not reused: AUTOINCREMENT on SQLite, the sequence on PostgreSQL). Inside the writing
    transaction, which holds SQLite's write lock."""
    if count == 0:
        return []
    if connection.dialect.name == "sqlite":
        first = first_free_pk(connection)
        return list(range(first, first + count))
    rows = connection.execute(
        text(
            "SELECT nextval(pg_get_serial_sequence('datasets', 'pk')) FROM generate_series(1, :n)"
        ),
        {"n": count},
    )
    return [int(pk) for (pk,) in rows]


def check_people(connection: Connection, records: Sequence[Record]) -> None:
    """ValidationFailed if a record names a user or team the catalogue does not have (one
    query each for the batch)."""
    user_ids, team_ids = people_named(records)
    users = _existing(connection, User.id, user_ids)
    teams = _existing(connection, Team.id, team_ids)
    for record in records:
        errors = unknown_people(record, users, teams)
        if errors:
            raise ValidationFailed(errors)


def _existing(connection: Connection, key: Any, wanted: set[Any]) -> set[Any]:
    """Those of `wanted` that are in `key`'s column (no query for none)."""
    return set(connection.scalars(select(key).where(key.in_(wanted)))) if wanted else set()


def write_new(
    connection: Connection,
    batch: Sequence[NewDataset],
    *,
    author: str,
    action: str,
    at: str | None,
    validate: bool = True,
) -> None:
    """Insert `batch` (stored records, see `stored_record`) with their `create` versions;
    `at`: the versions' time (None: each dataset's createdAt, as a generated catalogue has).
    Validation (unless the caller has validated these records) and the access-list check come
    first, so a refused batch writes nothing."""
    write_prepared(
        connection, prepare(batch, author=author, action=action, at=at, validate=validate)
    )


@dataclass(slots=True)
class Prepared:
    """A batch validated and turned into rows, ready to insert: all the work that needs no
    database, so that a producer (`generate`) may do it in another process."""

    batch: list[NewDataset]
    rows: _Rows
    author: str
    action: str
    at: str | None

    def rename(self, index: int, dataset_id: str) -> None:
        """Give the `index`th dataset another id (one taken since the batch was prepared)."""
        new = self.batch[index]
        renamed = NewDataset(new.pk, new.number, {**new.record, "id": dataset_id})
        self.batch[index] = renamed
        self.rows.datasets[index] = _dataset_row(renamed.pk, renamed.number, renamed.record)
        self.rows.versions[index] = _version_row(renamed, self.author, self.action, self.at)


def prepare(
    batch: Sequence[NewDataset],
    *,
    author: str,
    action: str,
    at: str | None,
    validate: bool = True,
) -> Prepared:
    """`batch` validated (unless the caller has) and as rows."""
    if validate:
        for new in batch:
            validate_record(new.record)
    rows = _Rows()
    for new in batch:
        rows.add(new, author=author, action=action, at=at)
    return Prepared(list(batch), rows, author, action, at)


def write_prepared(connection: Connection, prepared: Prepared) -> None:
    """Check the users and teams `prepared` names (ValidationFailed: nothing written) and
    insert its rows."""
    check_people(connection, [new.record for new in prepared.batch])
    prepared.rows.insert(connection)


class _Rows:
    def __init__(self) -> None:
        self.datasets: list[Row] = []
        self.resources: list[Row] = []
        self.links: list[Row] = []
        self.versions: list[Row] = []
        self.collaborators: list[Row] = []
        self.read_users: list[Row] = []
        self.read_teams: list[Row] = []

    def add(self, new: NewDataset, *, author: str, action: str, at: str | None) -> None:
        pk, record = new.pk, new.record
        self.datasets.append(_dataset_row(pk, new.number, record))
        # Most datasets of an import have no files, links or access lists: no generator each.
        if record["resources"]:
            self.resources.extend(_resource_rows(pk, record))
        if record["links"]:
            self.links.extend(_link_rows(pk, record))
        if record["collaborators"]:
            self.collaborators.extend((pk, user_id) for user_id in record["collaborators"])
        if record["readusers"]:
            self.read_users.extend((pk, user_id) for user_id in record["readusers"])
        if record["readteams"]:
            self.read_teams.extend((pk, team_id) for team_id in record["readteams"])
        self.versions.append(_version_row(new, author, action, at))

    def insert(self, connection: Connection) -> None:
        # The catalogue version is the transaction's, known only now (services.catalogue_version).
        written = catalogue_version.stamp(connection)
        stamped = (written.version, written.at)
        tables = (
            (Dataset.__tablename__, STAMPED_COLUMNS, [row + stamped for row in self.datasets]),
            (Resource.__tablename__, RESOURCE_COLUMNS, self.resources),
            (Link.__tablename__, LINK_COLUMNS, self.links),
            (DatasetVersion.__tablename__, VERSION_COLUMNS, self.versions),
            (dataset_collaborators.name, PAIR_COLUMNS, self.collaborators),
            (dataset_read_users.name, PAIR_COLUMNS, self.read_users),
            (dataset_read_teams.name, TEAM_PAIR_COLUMNS, self.read_teams),
        )
        if connection.dialect.name != "sqlite":
            for name, columns, rows in tables:
                if rows:
                    # Untyped columns: the JSON text and packed bytes go through as they are.
                    untyped = sql_table(name, *(column(c) for c in columns))
                    connection.execute(
                        insert(untyped), [dict(zip(columns, r, strict=True)) for r in rows]
                    )
            return
        with search_index_by_batch(connection, [row[0] for row in self.datasets]):
            for name, columns, rows in tables:
                if rows:
                    placeholders = ", ".join("?" * len(columns))
                    connection.exec_driver_sql(
                        f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({placeholders})", rows
                    )


@contextmanager
def search_index_by_batch(connection: Connection, pks: list[int] | None) -> Iterator[None]:
    """The SQLite search index of the datasets `pks`, written in one statement after their rows
    rather than by the insert trigger row by row (models.search_index says why); `pks` None:
    the whole index rebuilt after (a copied catalogue, services.catalogue_copy). The trigger is
    back before this returns, whatever happens. A catalogue without the trigger keeps none."""
    trigger = _insert_trigger(connection)
    if trigger is None or pks == []:
        yield
        return
    connection.exec_driver_sql(f"DROP TRIGGER {SQLITE_INSERT_TRIGGER}")
    try:
        yield
        if pks is None:
            connection.exec_driver_sql(SQLITE_REBUILD)
        else:
            connection.exec_driver_sql(SQLITE_INDEX_ROWS, (json.dumps(pks),))
    except BaseException:
        # The original error is the one to report. SQLite may have rolled the transaction
        # back already (the trigger is then back with it).
        with suppress(Exception):
            if _insert_trigger(connection) is None:
                connection.exec_driver_sql(trigger)
        raise
    connection.exec_driver_sql(trigger)


# A batch at least this large, and at least as large as the table it goes into, is written
# with the datasets' secondary indexes rebuilt after it (`indexes_rebuilt_after`).
BULK_MIN = 5000


@contextmanager
def indexes_rebuilt_after(
    connection: Connection, incoming: int, *, minimum: int = BULK_MIN
) -> Iterator[None]:
    """On SQLite, for a bulk of `incoming` new datasets (an import of a whole catalogue): the
    datasets table's secondary indexes dropped while the rows go in and made again after, in
    the same transaction. A B-tree built from sorted rows costs a small part of one grown by
    random inserts (the title, dates and team indexes: about 2.5 s of 100,000 inserted rows
    against 0.5 s rebuilt); for a batch smaller than the table the rebuild would cost more
    than it saves, so nothing changes. The unique id index stays (a taken id is still found),
    as do the search index trigger and the history's indexes. Readers keep their snapshot,
    indexes included, until the commit; a failure rolls the drop back with the rows."""
    if connection.dialect.name != "sqlite" or incoming < minimum:
        yield
        return
    existing = connection.exec_driver_sql("SELECT count(*) FROM datasets").scalar() or 0
    if incoming < existing:
        yield
        return
    indexes = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'datasets'"
        " AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'"
    ).all()
    for name, _ in indexes:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    try:
        yield
    except BaseException:
        # The caller's error is the one to report; SQLite may have rolled back already (the
        # indexes are then back with it).
        with suppress(Exception):
            _make_indexes(connection, indexes)
        raise
    _make_indexes(connection, indexes)


def _make_indexes(connection: Connection, indexes: Sequence[Any]) -> None:
    present = set(
        connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'datasets'"
        ).scalars()
    )
    for name, sql in indexes:
        if name not in present:
            connection.exec_driver_sql(sql)


def _insert_trigger(connection: Connection) -> str | None:
    return connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
        (SQLITE_INSERT_TRIGGER,),
    ).scalar()


def _version_row(new: NewDataset, author: str, action: str, at: str | None) -> Row:
    record = new.record
    return (
        new.pk,
        record["id"],
        new.number,
        at or record["createdAt"],
        author,
        action,
        _packed_keys(tuple(record)),
        pack(record),
    )


@functools.lru_cache(maxsize=16)
def _packed_keys(keys: tuple[str, ...]) -> bytes:
    """A create's `changes`, packed: every key of the record, the same for nearly all."""
    return pack(sorted(keys))


# The record's scalar values in DATASET_COLUMNS order (one C call), the JSON ones' places in
# the row, and each object's parts.
def _values(keys: Sequence[str]) -> Callable[[Record], tuple[Any, ...]]:
    """The values of `keys` as a tuple (itemgetter gives one key's value bare)."""
    if len(keys) == 1:
        return lambda mapping: (mapping[keys[0]],)
    return operator.itemgetter(*keys)


_SCALAR_VALUES = _values([key for key, _, _ in _SCALARS])
_JSON_PLACES = tuple(3 + i for i, (_, _, is_json) in enumerate(_SCALARS) if is_json)
_OBJECT_PARTS = tuple((key, _values([part for part, _ in parts])) for key, parts in OBJECT_COLUMNS)


def _dataset_row(pk: int, number: int, record: Record) -> Row:
    """The row `records.apply_record` writes for this record, in DATASET_COLUMNS order; JSON
    columns as the text SQLAlchemy's JSON type writes."""
    row: list[Any] = [pk, slugify(record["title"]), number, *_SCALAR_VALUES(record)]
    for place in _JSON_PLACES:
        row[place] = _json_text(row[place])
    for key, parts in _OBJECT_PARTS:
        row.extend(parts(record[key]))
    return tuple(row)


def _json_text(value: Any) -> str:
    """json.dumps(value), the text SQLAlchemy's JSON type writes; a list of texts (tags,
    topics) without json.dumps's encoder set-up for each."""
    if type(value) is list and all(type(item) is str for item in value):
        return "[" + ", ".join(map(encode_basestring_ascii, value)) + "]"
    return json.dumps(value)


def _resource_rows(pk: int, record: Record) -> Iterator[Row]:
    for rid, data in record["resources"].items():
        time_frame = data["timeFrame"]
        yield (
            pk,
            rid,
            data["order"],
            data["title"],
            data["description"],
            data["url"],
            data["filename"],
            time_frame.get("gte"),
            time_frame.get("lte"),
            data["format"],
            data["hash"],
            data["size"],
            data["timestamp"],
            data["origin"],
        )


def _link_rows(pk: int, record: Record) -> Iterator[Row]:
    for lid, data in record["links"].items():
        qa = data["qa"]
        yield (
            pk,
            lid,
            data["order"],
            data["title"],
            data["url"],
            data["description"],
            qa["timestamp"],
            qa["hash"],
            qa["size"],
            qa["mimetype"],
            qa["httpStatus"],
        )
