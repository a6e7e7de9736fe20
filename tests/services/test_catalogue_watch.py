"""The watch notices what other connections commit, and not what this window wrote."""

from __future__ import annotations

from app.models.database import Database
from app.services import access, datasets
from app.services.catalogue_watch import CatalogueChange, CatalogueWatch, newest_version
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

        with other.transaction() as session:  # no version: users, teams, rulesets
            access.create_user(session, "carol")
        assert watch.poll() == CatalogueChange(directory=True, outside=True)
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
