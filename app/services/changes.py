"""What a transaction wrote, announced once it has committed: derived data subscribes here
instead of being imported by the writers.

A writer notes the datasets it wrote (`note_datasets`) in its session; when the session commits,
every subscriber is called with one `ChangeSet` of all of them (a rollback forgets them). A bulk
writer that commits on a bare connection (services.synthetic) announces its change set itself
(`announce`) after its commit. Subscribers run in the committing thread, after the commit, and
must be quick: what they do with the news is theirs (services.renders forgets the written
datasets' fragments). This module imports nothing of the application's, so anything may use it.

Only this process's writes are announced; a reader that must also see other processes' writes
(another `serve` on the same file) checks the catalogue itself (renders keys by version).

Other processes are told on PostgreSQL: the same transaction, just before it commits, sends
`NOTIFY catalogue_desk` (`notify`) with the written datasets' pks, so a listener
(services.catalogue_watch) hears of it when it commits and never of one that rolled back. A
write to the directory sends `directory` on the same channel from the tables' triggers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.orm import Session

_WRITTEN = "changes.written"  # Session.info key: the dataset pks written in the transaction
# PostgreSQL's channel for committed dataset writes (LISTEN catalogue_desk).
CHANNEL = "catalogue_desk"
# The payload on CHANNEL of a commit that wrote the directory (users, teams, rulesets, keys, the
# managed lists, settings): sent by the tables' triggers (migration 0013), whoever the writer.
DIRECTORY = "directory"
# A NOTIFY payload must be shorter than 8000 bytes; past this the pks give way to "*".
_PAYLOAD_MAX = 7900


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """What one committed transaction wrote: the pks of the datasets created, edited or
    deleted, in which catalogue (`catalogue_of` its engine or connection)."""

    catalogue: str
    datasets: frozenset[int]


def catalogue_of(bind: Engine | Connection) -> str:
    """The name a ChangeSet gives the catalogue that `bind` writes to: its database URL."""
    return bind.engine.url.render_as_string(hide_password=False)


Subscriber = Callable[[ChangeSet], None]

_subscribers: list[Subscriber] = []
_lock = threading.Lock()


def subscribe(subscriber: Subscriber) -> Callable[[], None]:
    """Call `subscriber` with each committed change set from now on; returns the unsubscribe."""
    with _lock:
        _subscribers.append(subscriber)

    def unsubscribe() -> None:
        with _lock:
            if subscriber in _subscribers:
                _subscribers.remove(subscriber)

    return unsubscribe


def note_datasets(session: Session, pks: Iterable[int]) -> None:
    """Datasets `pks` were written in `session`'s transaction."""
    session.info.setdefault(_WRITTEN, set()).update(pks)


def announce(change: ChangeSet) -> None:
    """Tell every subscriber about a committed change."""
    if not change.datasets:
        return
    with _lock:
        subscribers = list(_subscribers)
    for subscriber in subscribers:
        subscriber(change)


def notify(connection: Connection, pks: Iterable[int]) -> None:
    """On PostgreSQL, NOTIFY the catalogue's listeners of the datasets `pks` in `connection`'s
    transaction: delivered when it commits, dropped if it rolls back. Nothing on SQLite (its
    watchers read `PRAGMA data_version`). The payload is the pks, comma-separated, or "*" for
    too many to carry."""
    if connection.dialect.name != "postgresql":
        return
    payload = ",".join(str(pk) for pk in sorted(pks))
    if len(payload) > _PAYLOAD_MAX:
        payload = "*"
    connection.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
    )


@event.listens_for(Session, "before_commit")
def _notify_written(session: Session) -> None:
    # The outer transaction only: a savepoint's commit is not yet the catalogue's.
    written = session.info.get(_WRITTEN)
    if written and not session.in_nested_transaction():
        notify(session.connection(), written)


@event.listens_for(Session, "after_commit")
def _announce_written(session: Session) -> None:
    written = session.info.pop(_WRITTEN, None)
    if written:
        announce(ChangeSet(catalogue_of(session.get_bind()), frozenset(written)))


@event.listens_for(Session, "after_rollback")
def _forget_written(session: Session) -> None:
    session.info.pop(_WRITTEN, None)
