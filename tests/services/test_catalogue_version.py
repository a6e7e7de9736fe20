"""The catalogue version: one counter every committed dataset write moves, each dataset's last
version, and tombstones of what left the published set (services.catalogue_version)."""

from __future__ import annotations

import threading
from datetime import date, datetime

import pytest
from sqlalchemy import select, text

from app.models import CatalogueVersion, Dataset, Tombstone
from app.models.database import Database
from app.services import catalogue_version, datasets, publication, synthetic
from app.services.catalogue_version import Since, VersionAhead
from tests.conftest import AUTHOR, make_record


def _version(database: Database) -> int:
    with database.read() as session:
        return catalogue_version.current(session)


def _published(database: Database, **overrides: object) -> str:
    with database.transaction() as session:
        record = datasets.create_dataset(session, make_record(**overrides), author=AUTHOR)
        publication.publish(session, record["id"], author=AUTHOR)
        dataset_id: str = record["id"]
        return dataset_id


def _stamped(database: Database, dataset_id: str) -> int:
    with database.read() as session:
        value = session.scalar(select(Dataset.catalogue_version).where(Dataset.id == dataset_id))
        assert value is not None
        return value


def _changed(database: Database, since: Since, today: str) -> set[str]:
    with database.read() as session:
        statement = catalogue_version.changed_statement(today)
        pks = [pk for pk, _ in session.execute(statement, catalogue_version.since_params(since))]
        return set(session.scalars(select(Dataset.id).where(Dataset.pk.in_(pks))))


def test_a_transaction_is_one_version_whatever_it_writes(database: Database) -> None:
    assert _version(database) == 0
    with database.transaction() as session:
        a = datasets.create_dataset(session, make_record(title="A"), author=AUTHOR)["id"]
        b = datasets.create_dataset(session, make_record(title="B"), author=AUTHOR)["id"]
        datasets.update_dataset(session, a, {"title": "A2"}, author=AUTHOR)
    assert _version(database) == 1
    assert _stamped(database, a) == _stamped(database, b) == 1
    with database.transaction() as session:
        datasets.update_dataset(session, b, {"title": "B2"}, author=AUTHOR)
    assert (_version(database), _stamped(database, a), _stamped(database, b)) == (2, 1, 2)


def test_a_rollback_takes_no_version_and_an_unchanged_save_none(database: Database) -> None:
    dataset_id = _published(database)
    before = _version(database)
    with pytest.raises(RuntimeError), database.transaction() as session:
        datasets.update_dataset(session, dataset_id, {"title": "Gone"}, author=AUTHOR)
        raise RuntimeError("rolled back")
    with database.transaction() as session:
        datasets.update_dataset(session, dataset_id, {}, author=AUTHOR)
    assert _version(database) == before
    with database.transaction() as session:
        datasets.update_dataset(session, dataset_id, {"title": "Kept"}, author=AUTHOR)
    assert _version(database) == before + 1


def test_a_savepoint_rolled_back_gives_its_version_back(database: Database) -> None:
    dataset_id = _published(database)
    before = _version(database)
    with database.transaction() as session:
        nested = session.begin_nested()
        datasets.update_dataset(session, dataset_id, {"title": "Undone"}, author=AUTHOR)
        nested.rollback()
        datasets.update_dataset(session, dataset_id, {"title": "Done"}, author=AUTHOR)
    assert _version(database) == before + 1
    assert _stamped(database, dataset_id) == before + 1
    with database.read() as session:
        logged = list(session.scalars(select(CatalogueVersion.version)))
    assert logged == sorted(set(logged)) and logged[-1] == before + 1


def test_times_never_go_back_with_the_versions(database: Database) -> None:
    for n in range(5):
        _published(database, title=f"D{n}")
    with database.read() as session:
        rows = session.execute(
            select(CatalogueVersion.version, CatalogueVersion.at).order_by(CatalogueVersion.version)
        ).all()
    times = [at for _, at in rows]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_leaving_the_published_set_is_a_tombstone_only_if_it_was_in_it(
    database: Database,
) -> None:
    unpublished = _published(database, title="Unpublished")
    private = _published(database, title="Made private")
    embargoed = _published(database, title="Embargoed again")
    deleted = _published(database, title="Deleted")
    kept = _published(database, title="Edited")
    with database.transaction() as session:
        draft = datasets.create_dataset(session, make_record(title="Draft"), author=AUTHOR)["id"]
    start = _version(database)
    with database.transaction() as session:
        publication.unpublish(session, unpublished, author=AUTHOR)
        datasets.update_dataset(session, private, {"sharing": "private"}, author=AUTHOR)
        publication.set_embargo(session, embargoed, "2999-01-01", author=AUTHOR)
        datasets.delete_dataset(session, deleted, author=AUTHOR)
        datasets.update_dataset(session, kept, {"title": "Edited twice"}, author=AUTHOR)
        datasets.delete_dataset(session, draft, author=AUTHOR)  # never public: no tombstone
    with database.read() as session:
        stones = dict(session.execute(select(Tombstone.dataset_id, Tombstone.version)).all())
        gone = catalogue_version.deleted_since(session, start)
        none_later = catalogue_version.deleted_since(session, start + 1)
    assert stones == {i: start + 1 for i in (unpublished, private, embargoed, deleted)}
    assert gone == sorted([unpublished, private, embargoed, deleted])
    assert none_later == []


def test_a_dataset_back_in_the_published_set_is_not_deleted(database: Database) -> None:
    dataset_id = _published(database)
    start = _version(database)
    with database.transaction() as session:
        publication.unpublish(session, dataset_id, author=AUTHOR)
    with database.read() as session:
        assert catalogue_version.deleted_since(session, start) == [dataset_id]
    with database.transaction() as session:
        publication.publish(session, dataset_id, author=AUTHOR)
    with database.read() as session:
        assert catalogue_version.deleted_since(session, start) == []
    assert _changed(database, catalogue_version.Since(start, "9999-12-31"), "2026-01-01") == {
        dataset_id
    }


def test_changed_since_holds_what_was_stamped_after_and_embargoes_that_passed(
    database: Database,
) -> None:
    old = _published(database, title="Old")
    ending = _published(database, title="Embargo ends")
    with database.transaction() as session:
        publication.set_embargo(session, ending, "2030-06-01", author=AUTHOR)
    with database.read() as session:
        since = catalogue_version.since_version(session, catalogue_version.current(session))
    edited = _published(database, title="New")
    assert old not in _changed(database, since, since.passed_after)
    # Before its day the embargoed dataset is not published; from its day it is, with no write.
    assert _changed(database, since, "2030-05-31") == {edited}
    assert _changed(database, since, "2030-06-01") == {edited, ending}


def test_a_since_ahead_of_the_catalogue_is_refused(database: Database) -> None:
    _published(database)
    with database.read() as session:
        newest = catalogue_version.current(session)
        with pytest.raises(VersionAhead, match="ahead"):
            catalogue_version.since_version(session, newest + 1)


def test_a_time_before_every_version_is_everything(database: Database) -> None:
    dataset_id = _published(database)
    with database.read() as session:
        since = catalogue_version.since_time(session, datetime(2000, 1, 1))
        later = catalogue_version.since_time(session, datetime(2999, 1, 1))
    assert since.version == -1
    today = "2026-01-01"
    assert dataset_id in _changed(database, since, today)
    assert _changed(database, later, today) == set()


def test_the_generator_stamps_its_datasets(database: Database) -> None:
    synthetic.generate(database, 30, seed=2)
    with database.read() as session:
        versions = set(session.scalars(select(Dataset.catalogue_version)))
        changed = set(session.scalars(select(Dataset.changed_at)))
    assert versions and 0 not in versions
    assert max(versions) == _version(database)
    assert "" not in changed


def test_a_new_catalogue_is_version_0_made_today(database: Database) -> None:
    with database.read() as session:
        since = catalogue_version.since_version(session, 0)
    assert since == Since(0, date.today().isoformat())


def test_on_postgresql_versions_follow_the_commits(pg_database: Database) -> None:
    """A second writer waits for the first's version row: versions come in commit order and
    no two transactions share one."""
    first_id = _published(pg_database, title="First")
    second_id = _published(pg_database, title="Second")
    start = _version(pg_database)
    done: list[int] = []
    with pg_database.transaction() as session:
        datasets.update_dataset(session, first_id, {"title": "First 2"}, author=AUTHOR)

        def second() -> None:
            with pg_database.transaction() as other:
                datasets.update_dataset(other, second_id, {"title": "Second 2"}, author=AUTHOR)
            done.append(_stamped(pg_database, second_id))

        thread = threading.Thread(target=second)
        thread.start()
        waiting = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        with pg_database.engine.connect() as watcher:
            while not watcher.execute(waiting).scalar():
                assert thread.is_alive()
                watcher.rollback()
    thread.join()
    assert _stamped(pg_database, first_id) == start + 1
    assert done == [start + 2]
    assert _version(pg_database) == start + 2
