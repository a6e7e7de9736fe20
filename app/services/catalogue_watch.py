"""Noticing what others committed to the catalogue: the server's PATCH, a sync, another process.

On SQLite the window polls a `CatalogueWatch` on a light timer from a worker thread: `poll()`
first asks `PRAGMA data_version` on a connection of its own, which changes when any other
connection commits and costs no table read; only then does it read which datasets changed, from
the history (every dataset write appends a version, services.history), after the newest version
it has seen. A change that wrote no version (users, teams, rulesets, API keys) is reported with
`directory` set.

On PostgreSQL the watch LISTENs on a connection of its own (psycopg, autocommit) to the channel
every committed dataset write notifies (services.changes.notify, in the writer's transaction:
heard on commit, never for a rollback), and a worker blocks in `wait()` until a notification
wakes it, then reads the history as `poll()` does. The history stays the truth: a notification
only says when to look. A commit to the directory arrives as `directory` from the tables'
triggers; one sent by a connection of this window's own engine (its backend pid) is not news.
`wait` also looks after its timeout, a slow poll that covers a listening connection that
dropped (it listens again on the next wait) or a writer that does not notify (a directory
change it missed meanwhile shows at the next re-read of the directory).
"""

from __future__ import annotations

import select as selecting
import socket
import sqlite3
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.models import DatasetVersion
from app.models.database import Database
from app.services.changes import CHANNEL, DIRECTORY

if TYPE_CHECKING:
    import psycopg

# How long `wait()` waits, at most, without a notification (or without a listening connection,
# between its tries to listen again) before it reads the history all the same.
FALLBACK_S = 5.0


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
    """`poll()` or `wait()` from any thread (locks make sure); `close()` when done, from any
    thread: it wakes a `wait` in progress."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._data_version: int | None = None
        # PostgreSQL through psycopg: LISTEN (another driver leaves the watch to polling).
        self._can_listen = not database.is_sqlite and database.engine.dialect.driver == "psycopg"
        self._listen_lock = threading.Lock()  # held while the listening connection is used
        self._listener: psycopg.Connection | None = None
        self._closed = threading.Event()
        # PostgreSQL: the backend pids of this window's own connections (a directory notice
        # from one is ours), and whether another's directory notice arrived since the last poll.
        self._own_pids: set[int] = set()
        self._heard_directory = False
        if self._can_listen:
            event.listen(database.engine, "checkout", self._note_own_pid)
        self._wake, self._waker = socket.socketpair()  # close() writes: a wait's select wakes
        try:
            if self._can_listen:
                # Listening before the newest version is read: no commit after it goes unheard.
                self._listener = self._listen()
            self._last_pk = self._newest_pk()
        except BaseException:
            self.close()
            raise
        # Version pks this window wrote itself, (after, up to]: not news when polled.
        self._own: list[tuple[int, int]] = []
        if database.is_sqlite and database.engine.url.database not in (None, "", ":memory:"):
            path = database.engine.url.database
            # Its own connection: data_version only moves for commits of other connections.
            self._connection = sqlite3.connect(path, check_same_thread=False)
            self._data_version = self._read_data_version()

    def _note_own_pid(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        self._own_pids.add(dbapi_connection.info.backend_pid)

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

    @property
    def listens(self) -> bool:
        """Whether notifications wake `wait` (PostgreSQL through psycopg): a caller waits
        rather than polling on a timer."""
        return self._can_listen

    @property
    def listening(self) -> bool:
        """Whether the listening connection is up now."""
        return self._listener is not None

    def _listen(self) -> psycopg.Connection:
        import psycopg  # only PostgreSQL catalogues need it

        engine = self._database.engine
        args, params = engine.dialect.create_connect_args(engine.url)
        # Bounded: a server that went away must not hold up close() (it waits for a wait).
        params.setdefault("connect_timeout", 10)
        connection = psycopg.connect(*args, **params, autocommit=True)
        try:
            connection.execute(f"LISTEN {CHANNEL}")
        except BaseException:
            connection.close()
            raise
        return connection

    def wait(self, timeout: float = FALLBACK_S) -> CatalogueChange | None:
        """Block until another connection commits to the catalogue (PostgreSQL's notification),
        `timeout` seconds pass or `close()` is called; then what `poll()` says (None once
        closed). Without a listening connection (SQLite, another driver, or one that dropped
        and cannot connect again yet) it only waits `timeout`, then polls."""
        with self._listen_lock:
            if self._closed.is_set():
                return None
            deaf = self._can_listen and self._listener is None
            if deaf:
                self._listener = self._listen_again()
            if self._listener is None:
                self._closed.wait(timeout)
            elif not deaf:  # after a deaf spell, what it missed is read at once
                self._await_notification(self._listener, timeout)
        if self._closed.is_set():
            return None
        return self.poll()

    def _listen_again(self) -> psycopg.Connection | None:
        import psycopg

        try:
            return self._listen()
        except psycopg.OperationalError:
            return None  # the server is away: poll, and try again on the next wait

    def _await_notification(self, listener: psycopg.Connection, timeout: float) -> None:
        import psycopg

        wake = self._wake.fileno()
        ready, _, _ = selecting.select([listener.fileno(), wake], [], [], timeout)
        if wake in ready:
            return
        try:
            # The history says which datasets changed; a notice only says the directory did.
            for notice in listener.notifies(timeout=0):
                if notice.payload == DIRECTORY and notice.pid not in self._own_pids:
                    with self._lock:
                        self._heard_directory = True
        except psycopg.OperationalError:
            # The connection dropped (the server restarted, an idle timeout): deaf until the
            # next wait connects again; this one's poll reads what may have been missed.
            self._listener = None
            listener.close()

    def poll(self, *, ours: bool = False) -> CatalogueChange | None:
        """What others committed since the last poll, or None if nothing.

        ours: asked right after this window committed a change to the directory, which it
        announces itself; the data_version its commit moved is then no news of others (another
        program's directory change just before is shown by the same re-read)."""
        with self._lock:
            # PostgreSQL: another's directory commit, told by its notice.
            heard, self._heard_directory = self._heard_directory and not ours, False
            directory = heard
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
            if not (changed or heard):
                return None
            return CatalogueChange(changed, directory=heard, outside=True)

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if event.contains(self._database.engine, "checkout", self._note_own_pid):
            event.remove(self._database.engine, "checkout", self._note_own_pid)
        self._waker.send(b"x")  # a wait in select wakes, and lets go of the listener
        with self._listen_lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            self._wake.close()
            self._waker.close()
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def newest_version(session: Session) -> int:
    """The pk of the newest version in the catalogue's history (0 for none)."""
    return int(session.scalar(select(func.max(DatasetVersion.pk))) or 0)
