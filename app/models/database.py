"""Opening a catalogue: the engine, SQLite pragmas, write transactions and migrations."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# How long a write waits for a lock another writer holds before it gives up (and is rolled
# back whole): SQLite's busy_timeout, PostgreSQL's lock_timeout. Every write takes the
# catalogue version's row first, so on either engine writers queue for at most this long.
LOCK_WAIT_MS = 10_000
# The execution option that makes a statement read a table through a given index on SQLite
# ({table: index}; the table's first FROM or JOIN, which is the outer query's): SQLAlchemy
# writes no INDEXED BY, and a hint put in the compiled text would defeat its statement cache.
# Other engines ignore it.
INDEXED_BY = "sqlite_indexed_by"


def default_database_path() -> Path:
    """The embedded default: a SQLite file in the platform's user data folder."""
    return Path(platformdirs.user_data_dir("catalogue-desk", appauthor=False)) / "catalogue.sqlite"


def database_url(db: str | Path | None) -> str:
    """Turn `--db` (a file path or a SQLAlchemy URL, or None for the default) into a URL."""
    if db is None:
        path = default_database_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    text = str(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _install_sqlite_hooks(engine: Engine) -> None:
    """WAL, foreign keys, and explicit BEGIN so that writers can ask for BEGIN IMMEDIATE.

    pysqlite's own transaction handling would begin lazily with a plain BEGIN; two writers that
    both start as readers then deadlock into "database is locked". SQLAlchemy's documented
    recipe hands BEGIN to us.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
        # synchronous=FULL: a commit that returned survives a power cut, not only a crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _indexed_by(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, context: Any, _many: bool
    ) -> tuple[str, Any]:
        indexes = context.execution_options.get(INDEXED_BY) if context is not None else None
        for table, index in (indexes or {}).items():
            statement = re.sub(
                rf"\b(FROM|JOIN) {table}\b", rf"\1 {table} INDEXED BY {index}", statement, count=1
            )
        return statement, parameters

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _install_postgresql_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Outside a transaction, or the pool's rollback on check-in would undo it.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        dbapi_connection.execute(f"SET lock_timeout = {LOCK_WAIT_MS}")
        dbapi_connection.autocommit = autocommit


def create_catalogue_engine(url: str) -> Engine:
    engine = create_engine(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        _install_sqlite_hooks(engine)
    elif backend == "postgresql" and engine.dialect.driver == "psycopg":
        _install_postgresql_hooks(engine)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the catalogue to the current schema (Alembic `upgrade head`).

    BEGIN IMMEDIATE: processes opening the same new file at once queue for the lock instead of
    failing with "database is locked". Alembic is imported here, not at the top: it costs
    ~100 ms and only opening a catalogue needs it.
    """
    with engine.execution_options(sqlite_begin="IMMEDIATE").begin() as connection:
        migrate_connection(connection)


def migrate_connection(connection: Connection) -> None:
    """`migrate` inside the caller's transaction on `connection`: a rollback takes the new
    schema back with whatever else the transaction wrote (services.catalogue_copy)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class Database:
    """One catalogue: its engine and the sessions that read and write it.

    Every thread takes its own sessions from here; a session is never shared between threads.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_catalogue_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        writer = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(writer, expire_on_commit=False)

    @classmethod
    def open(cls, db: str | Path | None = None) -> Database:
        database = cls(database_url(db))
        migrate(database.engine)
        return database

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work."""
        with self._read_sessions() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction: committed whole on success, rolled back whole on error."""
        with self._write_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
