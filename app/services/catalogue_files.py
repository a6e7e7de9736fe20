"""Opening the catalogue a person names (`--db`, File > Open, New, Recent), and its name.

`open_database` is `Database.open` with a message a person can act on instead of a traceback:
a text file, a folder or another program's SQLite database is `NotACatalogue`; a folder that
does not exist, a file that cannot be read or a server that does not answer is
`CatalogueUnreachable`. A SQLite file is looked at (read-only, its first bytes and its table
names) before Alembic is let near it, because migrating another program's database would add
our tables to it; a PostgreSQL database is looked at the same way (its table names), and its
connection errors are translated too.

`catalogue_name` is what the title bar and the Recent menu show: the file name, or the
database and host of a URL (never a password).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from app.models.database import Database, database_url
from app.services.errors import CatalogueUnreachable, NotACatalogue

SQLITE_MAGIC = b"SQLite format 3\x00"
# Every catalogue has these; a SQLite file with tables but neither is another program's.
CATALOGUE_TABLES = {"alembic_version", "datasets"}


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another engine or an in-memory database."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def catalogue_name(url: str) -> str:
    """A catalogue's name for a person: `archive.sqlite`, or `catalogue on db.example.org`."""
    path = sqlite_path(url)
    if path is not None:
        return path.name
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if not parsed.database:
        return parsed.render_as_string(hide_password=True)
    return f"{parsed.database} on {parsed.host}" if parsed.host else parsed.database


def catalogue_location(url: str) -> str:
    """Where a catalogue is, in full, for a tooltip: the file's path or the URL, no password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def may_remember(url: str) -> bool:
    """Whether `url` may be kept in the settings (Recent catalogues): not with a password in it,
    which would then sit in a plain-text file."""
    try:
        return make_url(url).password is None
    except ArgumentError:
        return False


def check_file(path: Path) -> None:
    """Raise NotACatalogue or CatalogueUnreachable unless `path` may hold a catalogue: a file that
    is a catalogue, an empty file, or a name not taken yet in a folder that exists."""
    shown = str(path)
    if path.is_dir():
        raise NotACatalogue(f"{shown} is a folder, not a catalogue file. Choose a file in it.")
    if not path.exists():
        if not path.parent.is_dir():
            raise CatalogueUnreachable(
                f"Cannot open {shown}: the folder {path.parent} does not exist "
                "(a removed drive or a renamed folder?)."
            )
        return
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise CatalogueUnreachable(f"Cannot read {shown}: {error.strerror or error}.") from None
    if not head:
        return  # an empty file becomes a new catalogue, as a new name does
    if head != SQLITE_MAGIC:
        raise NotACatalogue(
            f"{path.name} is not a catalogue: it is not a SQLite database. A CSV, Excel or JSON "
            "file is brought into a catalogue by importing it."
        )
    tables = _table_names(path)
    if tables and not tables >= CATALOGUE_TABLES:
        raise NotACatalogue(
            f"{path.name} is a SQLite database of another program, not a catalogue. It was "
            "left untouched."
        )


def _table_names(path: Path) -> set[str]:
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return {str(name) for (name,) in rows}
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise NotACatalogue(f"{path.name} is not a catalogue: {error}.") from None


def _check_server_database(url: str, where: str) -> None:
    """A database on a server (PostgreSQL) that holds another program's tables is refused, as
    another program's SQLite file is: migrating it would add the catalogue's tables to it."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    check_tables(tables, where)


def open_database(db: str | Path | None) -> Database:
    """`Database.open` (migrated to the current schema), refusing what is not a catalogue."""
    url = database_url(db)
    path = sqlite_path(url)
    if path is not None:
        check_file(path)
    where = place_name(url)
    with translated_errors(where):
        if path is None:
            _check_server_database(url, where)
        return Database.open(url)


def place_name(url: str) -> str:
    """What a message calls the catalogue at `url`: its file name, or its URL without a
    password."""
    path = sqlite_path(url)
    return path.name if path is not None else catalogue_location(url)


def check_tables(tables: set[str], where: str) -> None:
    """NotACatalogue for a database holding tables but not a catalogue's (another program's):
    migrating it would add the catalogue's tables to it."""
    if tables and not tables >= CATALOGUE_TABLES:
        raise NotACatalogue(
            f"{where} holds another program's tables, not a catalogue. It was left untouched."
        )


@contextmanager
def translated_errors(where: str) -> Iterator[None]:
    """The engine's and Alembic's errors on opening `where` as NotACatalogue or
    CatalogueUnreachable, with a message a person can act on."""
    try:
        yield
    except NoSuchModuleError:
        raise CatalogueUnreachable(f"{where}: not a database URL this program knows.") from None
    except DBAPIError as error:
        detail = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        if "not a database" in detail or "malformed" in detail:
            raise NotACatalogue(f"{where} is not a catalogue: {detail}.") from None
        raise CatalogueUnreachable(f"Cannot open {where}: {detail}.") from None
    except Exception as error:
        # Alembic: a catalogue made by a newer version (a revision this one does not know).
        if type(error).__module__.startswith("alembic"):
            raise NotACatalogue(
                f"{where} was made by another version of Catalogue Desk and cannot be opened "
                f"by this one ({error})."
            ) from None
        raise


def create_database(path: Path) -> Database:
    """A new, empty catalogue at `path` (File > New): refuses a file that is there already."""
    if path.exists() and path.stat().st_size > 0:
        raise CatalogueUnreachable(
            f"{path.name} exists already. Open it with File › Open catalogue, or choose a new name."
        )
    return open_database(path)
