"""Noticing what others committed to the catalogue: the server's PATCH, a sync, another process.

The window polls a `CatalogueWatch` on a light timer from a worker thread. On SQLite it first asks
`PRAGMA data_version` on a connection of its own, which changes when any other connection
commits and costs no table read; only then does it read which datasets changed, from the
history (every dataset write appends a version, services.history), after the newest version
it has seen. On PostgreSQL there is no data_version: the newest version's pk is read each time
(an index lookup); LISTEN/NOTIFY would let the server push it and is not done yet. A change
that wrote no version (users, teams, rulesets, API keys) is reported with `directory` set,
on SQLite only.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import DatasetVersion
from app.models.database import Database


@dataclass(frozen=True)
class CatalogueChange:
    """What changed in the catalogue: the ids of the datasets created, edited, deleted or
    restored; whether the people and rules around them (users, groups, teams, rulesets, keys)
    may have; and whether the change came from outside this window."""

    datasets: frozenset[str] = frozenset()
    directory: bool = False
    outside: bool = False
    every_dataset: bool = False  # any dataset may have changed (an import, a pull)

    def __bool__(self) -> bool:
        return bool(self.datasets) or self.directory or self.every_dataset

    def touches(self, dataset_id: str | None) -> bool:
        return dataset_id is not None and (self.every_dataset or dataset_id in self.datasets)


class CatalogueWatch:
    """`poll()` from one thread at a time (a lock makes sure); `close()` when done."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._data_version: int | None = None
        self._last_pk = self._newest_pk()
        # Version pks this window wrote itself, (after, up to]: not news when polled.
        self._own: list[tuple[int, int]] = []
        if database.is_sqlite and database.engine.url.database not in (None, "", ":memory:"):
            path = database.engine.url.database
            # Its own connection: data_version only moves for commits of other connections.
            self._connection = sqlite3.connect(path, check_same_thread=False)
            self._data_version = self._read_data_version()

    def _read_data_version(self) -> int:
        assert self._connection is not None
        row = self._connection.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def _newest_pk(self) -> int:
        with self._database.read() as session:
            return newest_version(session)

    def own(self, after: int, up_to: int) -> None:
        """Versions after..up_to (pks) were written by this window: the poll leaves them out.
        The writer reads both ends in its own transaction (`newest_version`), while it holds
        the write lock, so they are exactly its versions."""
        if up_to > after:
            with self._lock:
                self._own.append((after, up_to))

    def disown(self, after: int, up_to: int) -> None:
        """The write that called `own(after, up_to)` rolled back: those pks are not ours."""
        with self._lock:
            if (after, up_to) in self._own:
                self._own.remove((after, up_to))

    def poll(self, *, ours: bool = False) -> CatalogueChange | None:
        """What others committed since the last poll, or None if nothing.

        ours: asked right after this window committed a change to the directory, which it
        announces itself; the data_version its commit moved is then no news of others (another
        program's directory change just before is shown by the same re-read)."""
        with self._lock:
            directory = False
            if self._connection is not None:
                version = self._read_data_version()
                if version == self._data_version:
                    return None
                self._data_version = version
                directory = not ours
            with self._database.read() as session:
                rows = session.execute(
                    select(DatasetVersion.pk, DatasetVersion.dataset_id).where(
                        DatasetVersion.pk > self._last_pk
                    )
                ).all()
            if not rows:
                # Another connection committed but wrote no version: users, groups, teams,
                # rulesets or keys. (One that coincides with a dataset write goes unnoticed
                # until the next: the directory is re-read with any dataset change anyway.)
                return CatalogueChange(directory=True, outside=True) if directory else None
            self._last_pk = max(pk for pk, _id in rows)
            own = self._own
            changed = frozenset(
                dataset_id for pk, dataset_id in rows if not any(a < pk <= b for a, b in own)
            )
            self._own = [(a, b) for a, b in own if b > self._last_pk]
            return CatalogueChange(changed, outside=True) if changed else None

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def newest_version(session: Session) -> int:
    """The pk of the newest version in the catalogue's history (0 for none)."""
    return int(session.scalar(select(func.max(DatasetVersion.pk))) or 0)
