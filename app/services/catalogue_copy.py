"""Moving a catalogue: every table of one catalogue into a new or empty one, between any two
engines (a SQLite file, PostgreSQL), checked before it is said done. `main.py copy`
(app/cli_copy.py) is its client.

What is copied is the schema's own list: every table of the models' metadata, in foreign-key
order, so a new table is copied with no change here; the source's migrated schema is checked
to hold no table or column the metadata does not know. The search index is derived, never
copied (models.search_index): rebuilt once at the end on SQLite, computed by its generated
column on PostgreSQL. Values go through as stored: JSON as its text, the history as its packed
bytes.

The destination does everything in one transaction: the migrations (`migrate_connection`), the
check that it holds nothing a fresh catalogue does not, the rows in batches (memory stays flat),
the sequences (each table's high-water mark, so a deleted dataset's pk is never handed out
again), and the check: each table read back in primary-key order, in a canonical form no engine
changes (`canonical_row`), counted and hashed with SHA-256 against the same digest of the
source's rows as they were read. A difference raises CopyMismatch naming the table; the
transaction rolls back and the destination holds nothing of the copy (a SQLite file the copy
made is removed). The source is read in one snapshot (one read transaction, REPEATABLE READ on
PostgreSQL), so a catalogue in use is copied as it was at one moment.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Engine,
    String,
    Table,
    Text,
    cast,
    column,
    create_engine,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
    type_coerce,
)
from sqlalchemy import table as sql_table
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from app.models import Base, Dataset
from app.models.database import (
    Database,
    create_catalogue_engine,
    database_url,
    migrate_connection,
)
from app.models.schema_filter import include_object
from app.services.catalogue_files import (
    catalogue_location,
    check_file,
    check_tables,
    open_database,
    place_name,
    sqlite_path,
    translated_errors,
)
from app.services.errors import CatalogueError, CatalogueUnreachable, NotACatalogue
from app.services.new_datasets import indexes_rebuilt_after, search_index_by_batch
from app.services.progress import NO_PROGRESS, Progress

BATCH = 2000  # rows a statement: memory stays flat whatever the catalogue's size
# The SQLite destination's page cache, for this connection only: the indexes of the history,
# resources and links grow by inserts all over them, and SQLite's default 2 MiB cache made
# them read pages back from the file (100,000 datasets: 112 s with it, 42 s with this).
SQLITE_CACHE_KIB = 65_536


class DestinationNotEmpty(CatalogueError):
    """The destination holds a catalogue already: a copy never merges into one."""

    code = "destination_not_empty"


class CopyMismatch(CatalogueError):
    """The copy read back differs from the source; nothing was written."""

    code = "copy_mismatch"


class UnknownSchema(CatalogueError):
    """The catalogue has tables or columns the models do not declare: copying it would lose
    them."""

    code = "unknown_schema"


@dataclass(frozen=True, slots=True)
class Digest:
    """A table's rows: how many, and the SHA-256 of their canonical form in primary-key order."""

    rows: int
    sha256: str


@dataclass(frozen=True, slots=True)
class TableCheck:
    table: str
    source: Digest
    copy: Digest

    @property
    def agrees(self) -> bool:
        return self.source == self.copy


@dataclass(frozen=True, slots=True)
class CopyReport:
    source: str  # where, for a person (no password)
    destination: str
    tables: tuple[TableCheck, ...]

    @property
    def rows(self) -> int:
        return sum(check.copy.rows for check in self.tables)


def copy_catalogue(
    source: str | Path, destination: str | Path, *, progress: Progress = NO_PROGRESS
) -> CopyReport:
    """Copy the catalogue at `source` into `destination` (a path or a URL; new, or empty), and
    check the copy; returns the per-table checks. Raises DestinationNotEmpty, CopyMismatch,
    NotACatalogue or CatalogueUnreachable, and then the destination holds nothing of it."""
    source_url, destination_url = database_url(source), database_url(destination)
    if source_url == destination_url:
        raise CatalogueError("The source and the destination are the same catalogue.")
    source_db = _open_source(source_url)
    try:
        with _snapshot(source_db.engine) as reader:
            _check_schema(reader, place_name(source_url))
            counts = _counts(reader)
            with _destination(destination_url) as writer:
                tables = _copy(reader, writer, counts, progress)
    finally:
        source_db.dispose()
    return CopyReport(catalogue_location(source_url), catalogue_location(destination_url), tables)


def _open_source(url: str) -> Database:
    """The source, migrated as every client opens a catalogue; refused if there is none there
    (opening would make an empty one)."""
    where = place_name(url)
    path = sqlite_path(url)
    if path is not None:
        if not path.is_file() or path.stat().st_size == 0:
            raise CatalogueUnreachable(f"There is no catalogue to copy at {path}.")
    else:
        with translated_errors(where):
            engine = create_engine(url)
            try:
                with engine.connect() as connection:
                    if not inspect(connection).get_table_names():
                        raise NotACatalogue(f"{where} is empty: there is no catalogue to copy.")
            finally:
                engine.dispose()
    return open_database(url)


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction: every table as of one moment."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield connection


@contextmanager
def _destination(url: str) -> Iterator[Connection]:
    """One write transaction on the destination, migrated and checked to be empty; committed if
    the caller's block returns, else rolled back (and a SQLite file made here removed)."""
    where = place_name(url)
    path = sqlite_path(url)
    made: list[Path] = []
    if path is not None:
        check_file(path)
        if not path.exists():
            made = [path, *(path.with_name(path.name + end) for end in ("-wal", "-shm"))]
    engine = create_catalogue_engine(url)
    try:
        # Only opening is said as "cannot open": a failure of the copy is its own.
        with translated_errors(where):
            connection = engine.connect().execution_options(sqlite_begin="IMMEDIATE")
        with connection:
            if connection.dialect.name == "sqlite":
                # On the driver's connection: a statement here would begin the transaction.
                raw: Any = connection.connection.dbapi_connection
                raw.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            with translated_errors(where):
                transaction = connection.begin()
            with transaction:
                with translated_errors(where):
                    existing = set(inspect(connection).get_table_names())
                    check_tables(existing, where)
                    migrate_connection(connection)
                if existing:
                    _check_empty(connection, where)
                # What a fresh catalogue holds (the catalogue version's first row) goes: the
                # source's takes its place.
                for table in reversed(Base.metadata.sorted_tables):
                    connection.execute(delete(table))
                yield connection
    except BaseException:
        engine.dispose()
        for file in made:
            file.unlink(missing_ok=True)
        raise
    engine.dispose()


def _check_empty(connection: Connection, where: str) -> None:
    fresh = _fresh_counts()
    held = {name: n for name, n in _counts(connection).items() if n != fresh.get(name, 0)}
    if held:
        largest = sorted(held.items(), key=lambda item: (-item[1], item[0]))
        listed = ", ".join(f"{name}: {n:,} rows" for name, n in largest[:3])
        if len(largest) > 3:
            listed += f", and {len(largest) - 3} more tables"
        raise DestinationNotEmpty(
            f"{where} holds a catalogue already ({listed}). Copy into a new file or an empty "
            "database; nothing was written."
        )


@functools.cache
def _fresh_counts() -> dict[str, int]:
    """Each table's rows in a catalogue just migrated (the catalogue version's first row)."""
    engine = create_catalogue_engine("sqlite://")
    try:
        with engine.connect() as connection, connection.begin():
            migrate_connection(connection)
            return _counts(connection)
    finally:
        engine.dispose()


def _counts(connection: Connection) -> dict[str, int]:
    return {
        table.name: int(connection.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
    }


def _check_schema(connection: Connection, where: str) -> None:
    """UnknownSchema if the catalogue holds a table or column the models do not declare, the
    derived search index and Alembic's own table aside (models.schema_filter)."""
    known = {table.name: table for table in Base.metadata.sorted_tables}
    inspector = inspect(connection)
    unknown: list[str] = []
    for name in inspector.get_table_names():
        if name == "alembic_version" or not include_object(None, name, "table", True, None):
            continue
        if name not in known:
            unknown.append(name)
            continue
        for found in inspector.get_columns(name):
            derived = not include_object(None, found["name"], "column", True, None)
            if not derived and found["name"] not in known[name].c:
                unknown.append(f"{name}.{found['name']}")
    if unknown:
        raise UnknownSchema(
            f"{where} has tables or columns this version does not know ({', '.join(unknown)}): "
            "copying would lose them, so nothing was written."
        )


def _copy(
    reader: Connection, writer: Connection, counts: dict[str, int], progress: Progress
) -> tuple[TableCheck, ...]:
    total = 2 * sum(counts.values())  # each row written, then read back
    done = 0

    def step(rows: int) -> None:
        nonlocal done
        done += rows
        progress.report(done, total)

    progress.report(0, total)
    sources: dict[str, Digest] = {}
    incoming = counts[Dataset.__tablename__]
    # SQLite's search index is rebuilt once, after the rows (PostgreSQL's computes itself).
    search_index: AbstractContextManager[None] = (
        search_index_by_batch(writer, None) if writer.dialect.name == "sqlite" else nullcontext()
    )
    with indexes_rebuilt_after(writer, incoming), search_index:
        for table in Base.metadata.sorted_tables:
            sources[table.name] = _copy_table(reader, writer, table, step)
    _copy_sequences(reader, writer)
    checks = tuple(
        TableCheck(table.name, sources[table.name], _digest(writer, table, step))
        for table in Base.metadata.sorted_tables
    )
    for check in checks:
        if not check.agrees:
            raise CopyMismatch(
                f"The copy of table {check.table} differs from the source "
                f"({check.copy.rows:,} rows, SHA-256 {check.copy.sha256[:16]}, against "
                f"{check.source.rows:,} rows, {check.source.sha256[:16]}): nothing was written."
            )
    return checks


def _copy_table(
    reader: Connection, writer: Connection, table: Table, step: Callable[[int], None]
) -> Digest:
    """The table's rows into the destination, batch by batch, digested as they go."""
    write = _batch_writer(writer, table)
    digest = _Digester(table)
    result = reader.execution_options(yield_per=BATCH).execute(_rows(table, reader))
    for batch in result.partitions():
        digest.add(batch)
        write(batch)
        step(len(batch))
    return digest.done()


def _batch_writer(writer: Connection, table: Table) -> Callable[[Sequence[Any]], object]:
    """How a batch of rows goes into `table`, as read (JSON text, packed bytes): PostgreSQL's
    COPY, SQLite's executemany; the statement is built once, not a row at a time (SQLAlchemy's
    insert spent a third of the copy binding parameters)."""
    quote = writer.dialect.identifier_preparer.quote
    target = quote(table.name)
    names = ", ".join(quote(c.name) for c in table.columns)
    if writer.dialect.name == "postgresql":
        raw: Any = writer.connection.dbapi_connection
        statement = f"COPY {target} ({names}) FROM STDIN"

        def copy(rows: Sequence[Any]) -> None:
            with raw.cursor() as cursor, cursor.copy(statement) as pipe:
                for row in rows:
                    pipe.write_row(row)

        return copy
    if writer.dialect.name == "sqlite":
        marks = ", ".join("?" * len(table.columns))
        statement = f"INSERT INTO {target} ({names}) VALUES ({marks})"
        return lambda rows: writer.exec_driver_sql(statement, [tuple(row) for row in rows])
    keys = [c.name for c in table.columns]
    untyped = sql_table(table.name, *(column(key) for key in keys))
    return lambda rows: writer.execute(
        insert(untyped), [dict(zip(keys, row, strict=True)) for row in rows]
    )


def _digest(connection: Connection, table: Table, step: Callable[[int], None]) -> Digest:
    digest = _Digester(table)
    result = connection.execution_options(yield_per=BATCH).execute(_rows(table, connection))
    for batch in result.partitions():
        digest.add(batch)
        step(len(batch))
    return digest.done()


def _rows(table: Table, connection: Connection) -> Any:
    """Every row of `table` as stored (JSON as its text, a TypeDecorator's value as its
    underlying type's), in primary-key order; text keys in code point order on either engine."""
    columns: list[ColumnElement[Any]] = []
    for c in table.columns:
        if isinstance(c.type, JSON):
            columns.append(cast(c, Text).label(c.name))  # PostgreSQL's driver would parse it
        elif isinstance(c.type, TypeDecorator):
            columns.append(type_coerce(c, c.type.impl_instance).label(c.name))
        else:
            columns.append(c)
    keys = list(table.primary_key.columns) or list(table.columns)
    postgresql = connection.dialect.name == "postgresql"
    order = [k.collate("C") if postgresql and isinstance(k.type, String) else k for k in keys]
    return select(*columns).order_by(*order)


class _Digester:
    """A running count and SHA-256 of a table's rows in canonical form."""

    def __init__(self, table: Table) -> None:
        kinds = [c.type for c in table.columns]
        self._json = tuple(i for i, kind in enumerate(kinds) if isinstance(kind, JSON))
        self._flags = tuple(i for i, kind in enumerate(kinds) if isinstance(kind, Boolean))
        self._hash = hashlib.sha256()
        self._rows = 0

    def add(self, rows: Sequence[Sequence[Any]]) -> None:
        update = self._hash.update
        for row in rows:
            update(canonical_row(row, self._json, self._flags))
        self._rows += len(rows)

    def done(self) -> Digest:
        return Digest(self._rows, self._hash.hexdigest())


def canonical_row(
    row: Sequence[Any], json_columns: Sequence[int] = (), flag_columns: Sequence[int] = ()
) -> bytes:
    """A row as a line of bytes no engine changes: the JSON text at `json_columns` parsed and
    dumped with sorted keys, the booleans at `flag_columns` as integers, bytes as hex;
    integers, text and None as they are. Any other type is a TypeError: a new column type
    needs its canonical form here."""
    values = list(row)
    for i in json_columns:
        if values[i] is not None:
            values[i] = json.loads(values[i])  # not orjson's: it reads a big integer as a float
    for i in flag_columns:
        if values[i] is not None:
            values[i] = int(values[i])
    try:
        return orjson.dumps(values, default=_bytes, option=_ORJSON_OPTIONS)
    except TypeError:  # an integer past 64 bits, which orjson does not write
        line = json.dumps(values, default=_bytes, sort_keys=True, ensure_ascii=False)
        return line.encode() + b"\n"


_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


def _bytes(value: Any) -> Any:
    """What orjson and json do not write themselves: bytes only (orjson calls this for nothing
    else it knows)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": bytes(value).hex()}
    raise TypeError(f"no canonical form for a {type(value).__name__} value")


# The sequences: each table with an integer key its engine hands out keeps its high-water
# mark, the highest key ever handed out (SQLite AUTOINCREMENT's sqlite_sequence, PostgreSQL's
# serial sequence), which may be past the highest key still there.


def _copy_sequences(reader: Connection, writer: Connection) -> None:
    for table in Base.metadata.sorted_tables:
        key = table.autoincrement_column
        if key is None:
            continue
        mark = _high_water(reader, table.name, key.name)
        if _set_high_water(writer, table.name, key.name, mark):
            copied = _high_water(writer, table.name, key.name)
            if copied != mark:
                raise CopyMismatch(
                    f"The copy of table {table.name} would hand out keys from {copied + 1}, "
                    f"the source from {mark + 1}: nothing was written."
                )


def _high_water(connection: Connection, table: str, key: str) -> int:
    highest = int(connection.scalar(text(f'SELECT max("{key}") FROM "{table}"')) or 0)
    if connection.dialect.name == "sqlite":
        if _sqlite_autoincrement(connection, table):
            kept = connection.scalar(
                text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}
            )
            highest = max(highest, int(kept or 0))
        return highest
    sequence = _pg_sequence(connection, table, key)
    if sequence is not None:
        last, called = connection.execute(
            text(f"SELECT last_value, is_called FROM {sequence}")
        ).one()
        highest = max(highest, int(last) if called else int(last) - 1)
    return highest


def _set_high_water(connection: Connection, table: str, key: str, mark: int) -> bool:
    """The destination's next key for `table` past `mark`; False where its engine keeps no
    mark for it (a SQLite table without AUTOINCREMENT reuses its highest free key)."""
    if connection.dialect.name == "sqlite":
        if not _sqlite_autoincrement(connection, table):
            return False
        moved = connection.execute(
            text("UPDATE sqlite_sequence SET seq = :m WHERE name = :t"), {"m": mark, "t": table}
        )
        if moved.rowcount == 0:
            connection.execute(
                text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :m)"),
                {"m": mark, "t": table},
            )
        return True
    sequence = _pg_sequence(connection, table, key)
    if sequence is None:
        return False
    connection.execute(
        text("SELECT setval(:s, :m, :called)"),
        {"s": sequence, "m": max(mark, 1), "called": mark > 0},
    )
    return True


def _sqlite_autoincrement(connection: Connection, table: str) -> bool:
    made = connection.scalar(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    )
    return "AUTOINCREMENT" in str(made or "").upper()


def _pg_sequence(connection: Connection, table: str, key: str) -> str | None:
    found = connection.scalar(
        text("SELECT pg_get_serial_sequence(:t, :k)"), {"t": f'"{table}"', "k": key}
    )
    return str(found) if found else None
