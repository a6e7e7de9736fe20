"""The watch notices what other connections commit, and not what this window wrote."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url, select, text

from app.models import Dataset
from app.models.database import Database
from app.services import access, datasets, synthetic
from app.services.catalogue_watch import CatalogueChange, CatalogueWatch, newest_version
from app.services.changes import CHANNEL, DIRECTORY
from app.services.records import Record
from tests.conftest import make_record


def test_others_commits_are_news_and_our_own_are_not(
    database: Database, new_dataset: Record
) -> None:
    watch = CatalogueWatch(database)
    other = Database(database.url)  # another writer on the same file: the server, a sync
    try:
        assert watch.poll() is None
        dataset_id = new_dataset["id"]
        with other.transaction() as session:
            datasets.update_dataset(session, dataset_id, {"title": "Theirs"}, author="bob")
        assert watch.poll() == CatalogueChange(frozenset({dataset_id}), outside=True)
        assert watch.poll() is None

        with database.transaction() as session:  # a write of ours, told to the watch
            first = newest_version(session)
            datasets.update_dataset(session, dataset_id, {"title": "Ours"}, author="me")
            watch.own(first, newest_version(session))
        assert watch.poll() is None
    finally:
        watch.close()
        other.dispose()


def next_news(watch: CatalogueWatch) -> CatalogueChange | None:
    """What the window's worker is told next: on SQLite its timer's poll; on PostgreSQL the
    first wait that a notification ends with news (this window's own notices wake it too)."""
    if not watch.listens:
        return watch.poll()
    for _ in range(10):
        change = watch.wait(timeout=3600)  # only a notification ends it within the bound
        if change is not None:
            return change
    return None


def test_others_directory_writes_are_news(database: Database, new_dataset: Record) -> None:
    watch = CatalogueWatch(database)
    other = Database(database.url)
    try:
        assert watch.poll() is None
        with other.transaction() as session:  # no version: users, teams, rulesets
            access.create_user(session, "carol")
        assert next_news(watch) == CatalogueChange(directory=True, outside=True)
        assert watch.poll() is None
        with other.transaction() as session:
            access.create_team(session, "tm001", "Team One")
        assert next_news(watch) == CatalogueChange(directory=True, outside=True)

        # Ours is not news: the next news is another's dataset edit alone.
        with database.transaction() as session:
            access.create_user(session, "dora")
        assert watch.poll(ours=True) is None
        with other.transaction() as session:
            datasets.update_dataset(session, new_dataset["id"], {"title": "T"}, author="bob")
        assert next_news(watch) == CatalogueChange(frozenset({new_dataset["id"]}), outside=True)
    finally:
        watch.close()
        other.dispose()


def test_a_directory_write_of_ours_is_no_news_but_others_datasets_still_are(
    database: Database, new_dataset: Record
) -> None:
    watch = CatalogueWatch(database)
    other = Database(database.url)
    try:
        with database.transaction() as session:  # ours: a user, which writes no version
            access.create_user(session, "dora")
        assert watch.poll(ours=True) is None  # asked by the write itself, once committed
        assert watch.poll() is None  # and the timer's next look finds nothing either

        dataset_id = new_dataset["id"]
        with other.transaction() as session:  # theirs, just before ours
            datasets.update_dataset(session, dataset_id, {"title": "Theirs"}, author="bob")
        with database.transaction() as session:
            access.create_user(session, "erin")
        assert watch.poll(ours=True) == CatalogueChange(frozenset({dataset_id}), outside=True)
        assert watch.poll() is None
    finally:
        watch.close()
        other.dispose()


def test_on_postgresql_the_watch_reads_new_versions(pg_database: Database) -> None:
    with pg_database.transaction() as session:
        dataset_id = datasets.create_dataset(session, make_record(), author="me")["id"]
    watch = CatalogueWatch(pg_database)
    other = Database(pg_database.url)
    try:
        assert watch.poll() is None
        with other.transaction() as session:
            datasets.update_dataset(session, dataset_id, {"title": "Theirs"}, author="bob")
        assert watch.poll() == CatalogueChange(frozenset({dataset_id}), outside=True)
        assert watch.poll() is None
    finally:
        watch.close()
        other.dispose()


# -- PostgreSQL: LISTEN/NOTIFY ------------------------------------------------------------------

# Another process writes to the catalogue: the server, a sync, `main.py import`.
OTHER_PROCESS = """
import sys
from app.models.database import Database
from app.services import datasets

database = Database(sys.argv[1])
with database.transaction() as session:
    datasets.update_dataset(session, sys.argv[2], {"title": "Theirs"}, author="bob")
database.dispose()
"""
ROOT = Path(__file__).resolve().parents[2]


class Waiting:
    """`watch.wait()` on a thread of its own, as the window's listener thread does."""

    def __init__(self, watch: CatalogueWatch, timeout: float) -> None:
        self.result: CatalogueChange | None = None
        self._thread = threading.Thread(target=self._run, args=(watch, timeout), daemon=True)
        self._thread.start()

    def _run(self, watch: CatalogueWatch, timeout: float) -> None:
        self.result = watch.wait(timeout)

    def woken(self, bound: float = 60) -> bool:
        """Whether the wait returned (within `bound` seconds, far more than a notice takes)."""
        self._thread.join(bound)
        return not self._thread.is_alive()


def created(database: Database, *titles: str) -> list[str]:
    with database.transaction() as session:
        return [
            datasets.create_dataset(session, make_record(title=title), author="me")["id"]
            for title in titles
        ]


def test_on_postgresql_a_commit_in_another_process_wakes_the_watch(pg_database: Database) -> None:
    (dataset_id,) = created(pg_database, "Street Trees")
    watch = CatalogueWatch(pg_database)
    try:
        assert watch.listens and watch.listening
        # An hour's fallback: only the notification can wake it within the bound.
        waiting = Waiting(watch, timeout=3600)
        subprocess.run(
            [sys.executable, "-c", OTHER_PROCESS, pg_database.url, dataset_id],
            cwd=ROOT,
            check=True,
        )
        assert waiting.woken()
        assert waiting.result == CatalogueChange(frozenset({dataset_id}), outside=True)
    finally:
        watch.close()


def test_close_wakes_a_waiting_watch(pg_database: Database) -> None:
    watch = CatalogueWatch(pg_database)
    waiting = Waiting(watch, timeout=3600)
    watch.close()
    assert waiting.woken()
    assert waiting.result is None


def listening_to(database: Database) -> psycopg.Connection:
    """A connection of the test's own, listening to the catalogue's channel."""
    url = make_url(database.url)
    listener = psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    )
    listener.execute(f"LISTEN {CHANNEL}")
    return listener


def test_a_write_is_notified_on_commit_and_never_for_a_rollback(pg_database: Database) -> None:
    kept, dropped = created(pg_database, "Kept", "Rolled back")
    with pg_database.read() as session:
        kept_pk = datasets.get_dataset(session, kept).pk
    with listening_to(pg_database) as listener:
        with pytest.raises(RuntimeError), pg_database.transaction() as session:
            datasets.update_dataset(session, dropped, {"title": "Never"}, author="bob")
            raise RuntimeError("the write fails after the update: all of it rolls back")
        with pg_database.transaction() as session:
            datasets.update_dataset(session, kept, {"title": "Kept, edited"}, author="bob")
        # Notifications arrive in commit order: the first one heard is the committed write's.
        (notice,) = listener.notifies(timeout=60, stop_after=1)
        assert (notice.channel, notice.payload) == (CHANNEL, str(kept_pk))
        assert list(listener.notifies(timeout=0)) == []


def test_the_generators_bulk_writes_are_notified(pg_database: Database) -> None:
    with listening_to(pg_database) as listener:
        synthetic.generate(pg_database, 3)
        # Its teams, users and lists are the directory's (their tables' triggers) first.
        payloads = [notice.payload for notice in listener.notifies(timeout=60, stop_after=2)]
    with pg_database.read() as session:
        pks = session.scalars(select(Dataset.pk).order_by(Dataset.pk)).all()
    assert payloads == [DIRECTORY, ",".join(str(pk) for pk in pks)] and len(pks) == 3


def test_the_watch_listens_again_after_its_connection_dropped(pg_database: Database) -> None:
    (dataset_id,) = created(pg_database, "Street Trees")
    watch = CatalogueWatch(pg_database)
    other = Database(pg_database.url)
    try:
        with other.engine.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query = :listen"
                ),
                {"listen": f"LISTEN {CHANNEL}"},
            )
        for _ in range(10):  # the drop shows once its end of the socket is read
            if not watch.listening:
                break
            assert watch.wait(60) is None
        assert not watch.listening
        # Committed while nobody listened: the next wait listens again and reads it at once.
        with other.transaction() as session:
            datasets.update_dataset(session, dataset_id, {"title": "Theirs"}, author="bob")
        assert watch.wait(3600) == CatalogueChange(frozenset({dataset_id}), outside=True)
        assert watch.listening
        waiting = Waiting(watch, timeout=3600)
        with other.transaction() as session:
            datasets.update_dataset(session, dataset_id, {"title": "Theirs again"}, author="bob")
        assert waiting.woken()
        assert waiting.result == CatalogueChange(frozenset({dataset_id}), outside=True)
    finally:
        watch.close()
        other.dispose()
