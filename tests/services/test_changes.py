"""services.changes: every write path announces the datasets it wrote, once committed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.models import Dataset
from app.models.database import Database
from app.services import changes, datasets, history, synthetic
from tests.conftest import AUTHOR, make_record


@pytest.fixture
def heard() -> Iterator[list[changes.ChangeSet]]:
    received: list[changes.ChangeSet] = []
    unsubscribe = changes.subscribe(received.append)
    yield received
    unsubscribe()


def _pks(database: Database) -> set[int]:
    with database.read() as session:
        return set(session.scalars(select(Dataset.pk)))


def test_create_edit_delete_and_restore_are_announced_once_committed(
    database: Database, heard: list[changes.ChangeSet]
) -> None:
    with database.transaction() as session:
        first = datasets.create_dataset(session, make_record(), author=AUTHOR)
        second = datasets.create_dataset(session, make_record(title="Second"), author=AUTHOR)
        assert heard == []
    (created,) = heard
    assert created.datasets == _pks(database)
    with database.transaction() as session:
        pk = datasets.get_dataset(session, first["id"]).pk
        datasets.update_dataset(session, first["id"], {"title": "Renamed"}, author=AUTHOR)
        datasets.update_dataset(session, first["id"], {"title": "Again"}, author=AUTHOR)
    assert [c.datasets for c in heard[1:]] == [frozenset({pk})]  # one change set a transaction
    assert {c.catalogue for c in heard} == {changes.catalogue_of(database.engine)}
    with database.transaction() as session:
        datasets.delete_dataset(session, second["id"], author=AUTHOR)
    deleted = heard[2].datasets
    assert len(deleted) == 1 and not deleted & _pks(database)
    with database.transaction() as session:
        version = history.list_versions(session, second["id"])[-1]
        datasets.restore_version(session, version.pk, author=AUTHOR)
    assert heard[3].datasets == _pks(database) - {pk}


def test_a_rolled_back_write_is_not_announced(
    database: Database, heard: list[changes.ChangeSet]
) -> None:
    with pytest.raises(RuntimeError), database.transaction() as session:
        datasets.create_dataset(session, make_record(), author=AUTHOR)
        raise RuntimeError("abandon")
    with database.transaction() as session:
        datasets.create_dataset(session, make_record(), author=AUTHOR)
    assert [c.datasets for c in heard] == [frozenset(_pks(database))]


def test_generate_announces_what_it_wrote(
    database: Database, heard: list[changes.ChangeSet]
) -> None:
    synthetic.generate(database, 30, seed=1)
    announced = set().union(*(c.datasets for c in heard))
    assert announced == _pks(database) and len(announced) == 30


def test_an_unsubscribed_subscriber_hears_nothing(database: Database) -> None:
    received: list[changes.ChangeSet] = []
    changes.subscribe(received.append)()
    with database.transaction() as session:
        datasets.create_dataset(session, make_record(), author=AUTHOR)
    assert received == []
