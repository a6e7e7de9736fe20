"""The batch write path indexes a batch for search in one statement, around the SQLite insert
trigger (models.search_index): the index holds what the trigger would have written, and the
trigger is back, unchanged, whether the batch was written or refused."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from app.models.database import Database
from app.models.search_index import SQLITE_INSERT_TRIGGER
from app.services import datasets, new_datasets, search
from tests.conftest import AUTHOR, make_record

pytestmark = pytest.mark.sqlite_only("about SQLite's FTS5 insert trigger")


def _trigger(connection: Connection) -> str | None:
    return connection.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
        {"name": SQLITE_INSERT_TRIGGER},
    ).scalar()


def _integrity_check(connection: Connection) -> None:
    """FTS5 compares its index with the content view (rank 1): raises if they differ."""
    connection.exec_driver_sql(
        "INSERT INTO datasets_fts(datasets_fts, rank) VALUES ('integrity-check', 1)"
    )


def _found(database: Database, words: str) -> int:
    with database.read() as session:
        return search.count(session, search.terms(words))


def test_a_batch_is_found_by_its_words_and_the_trigger_is_back(database: Database) -> None:
    with database.read() as session:
        before = _trigger(session.connection())
    assert before is not None
    records = [
        make_record(title=f"Bus punctuality {n}", tags=["transport", f"route{n}"]) for n in range(3)
    ]
    with database.transaction() as session:
        datasets.create_datasets(session, records, author=AUTHOR)
    with database.read() as session:
        connection = session.connection()
        assert _trigger(connection) == before
        _integrity_check(connection)
    assert _found(database, "punctuality") == 3
    assert _found(database, "route1") == 1  # a tag's value
    assert _found(database, "received") == 3  # the description's text
    assert _found(database, "cycling") == 0


def _batch_over(database: Database, taken_pk: int) -> list[new_datasets.NewDataset]:
    """Two new datasets, the second on a pk the catalogue already uses."""
    with database.transaction() as session:
        first = new_datasets.reserve_pks(session.connection(), 1)[0]
    records = [
        new_datasets.stored_record(
            make_record(id=dataset_id, title=title, createdAt=now, updatedAt=now)
        )
        for dataset_id, title, now in (
            ("aaaa1", "Street trees", "2024-01-01T00:00:00Z"),
            ("aaaa2", "Noise complaints", "2024-01-01T00:00:00Z"),
        )
    ]
    return [
        new_datasets.NewDataset(first, 1, records[0]),
        new_datasets.NewDataset(taken_pk, 1, records[1]),
    ]


def test_a_refused_batch_writes_nothing_and_keeps_the_trigger(
    database: Database, new_dataset: dict[str, object]
) -> None:
    with database.read() as session:
        before = _trigger(session.connection())
        taken_pk = session.execute(text("SELECT pk FROM datasets")).scalar_one()
    batch = _batch_over(database, taken_pk)
    with pytest.raises(IntegrityError), database.transaction() as session:
        new_datasets.write_new(session.connection(), batch, author=AUTHOR, action="create", at=None)
    with database.read() as session:
        connection = session.connection()
        assert _trigger(connection) == before
        assert connection.execute(text("SELECT count(*) FROM datasets")).scalar() == 1
        _integrity_check(connection)
    assert _found(database, "trees") == 0


def test_a_batch_refused_inside_a_savepoint_leaves_the_transaction_whole(
    database: Database, new_dataset: dict[str, object]
) -> None:
    """A caller that catches the failure and goes on commits a catalogue with its trigger."""
    with database.read() as session:
        before = _trigger(session.connection())
        taken_pk = session.execute(text("SELECT pk FROM datasets")).scalar_one()
    batch = _batch_over(database, taken_pk)
    with database.transaction() as session:
        with pytest.raises(IntegrityError), session.begin_nested():
            new_datasets.write_new(
                session.connection(), batch, author=AUTHOR, action="create", at=None
            )
        datasets.create_dataset(session, make_record(title="Library visits"), author=AUTHOR)
    with database.read() as session:
        connection = session.connection()
        assert _trigger(connection) == before
        _integrity_check(connection)
    assert _found(database, "library") == 1
    assert _found(database, "trees") == 0
