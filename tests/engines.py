"""Fresh catalogues for the tests, on SQLite or PostgreSQL, copied from one migrated template.

The catalogue services, the server and the sync run on both engines: their tests take the
`engine` fixture, which tests/server/conftest.py and tests/services/conftest.py parametrise over
ENGINES (a test or module that is about one engine overrides `engine`). `pytest --engines sqlite`
runs only one. Migrating a new catalogue costs ~0.1 s on either engine; copying a template
migrated once per run costs a tenth of that, and most of the suite's tests open a catalogue.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from app.models.database import Database
from tests.postgres import fresh_database, postgres_server

ENGINES = ["sqlite", "postgresql"]

NO_POSTGRESQL = "no PostgreSQL binaries (scripts/system-deps.sh installs them)"


class Catalogues:
    """Makes empty, migrated catalogues; holds the run's PostgreSQL server, started on first use."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._stack = ExitStack()
        self._sqlite_template: Path | None = None
        self._server: str | None = None
        self._server_tried = False
        self._pg_template: str | None = None

    def close(self) -> None:
        self._stack.close()

    def pg_server(self) -> str:
        """The run's PostgreSQL server URL (no database); skips the calling test if none runs."""
        if not self._server_tried:
            self._server_tried = True
            self._server = self._stack.enter_context(postgres_server())
        if self._server is None:
            pytest.skip(NO_POSTGRESQL)
        return self._server

    @contextmanager
    def fresh(self, engine: str, folder: Path) -> Iterator[Database]:
        """A new catalogue on `engine` (one of ENGINES): a SQLite file in `folder`, or a database
        of its own on the run's PostgreSQL server; disposed (and dropped) afterwards."""
        if engine == "sqlite":
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "catalogue.sqlite"
            shutil.copyfile(self._sqlite(), path)
            database = Database.open(path)
            try:
                yield database
            finally:
                database.dispose()
            return
        if engine != "postgresql":
            raise ValueError(f"unknown engine {engine!r}")
        server = self.pg_server()
        with fresh_database(server, template=self._postgresql(server)) as database:
            yield database

    def _sqlite(self) -> Path:
        if self._sqlite_template is None:
            path = self._folder / "template.sqlite"
            database = Database.open(path)
            with database.engine.connect() as connection:  # the WAL folded into the file
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            database.dispose()
            self._sqlite_template = path
        return self._sqlite_template

    def _postgresql(self, server: str) -> str:
        if self._pg_template is None:
            # Kept, not dropped: the server and its data folder go at the end of the run.
            template = self._stack.enter_context(fresh_database(server))
            template.dispose()  # CREATE DATABASE ... TEMPLATE needs it without connections
            self._pg_template = template.url.rsplit("/", 1)[1]
        return self._pg_template


@contextmanager
def catalogue_on(engine: str, folder: Path, request: pytest.FixtureRequest) -> Iterator[Database]:
    """`Catalogues.fresh` for a fixture of any scope (module-scoped ones make one per engine)."""
    catalogues: Catalogues = request.getfixturevalue("catalogues")
    with catalogues.fresh(engine, folder) as database:
        yield database


@pytest.fixture(params=ENGINES, name="engine")
def both_engines(request: pytest.FixtureRequest) -> str:
    """`engine` over both ENGINES: a conftest that imports this runs its tests on each."""
    name: str = request.param
    return name
