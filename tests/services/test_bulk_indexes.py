"""A bulk of new datasets (an import of a whole catalogue) is written with the datasets'
secondary indexes made again after it (new_datasets.indexes_rebuilt_after): they are all back,
as they were, used by the queries and consistent with the rows, whether the bulk was written or
refused; a batch smaller than the table leaves them in place."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from app.models.database import Database
from app.services import datasets, new_datasets
from app.services.errors import ValidationFailed
from tests.conftest import AUTHOR, make_record

pytestmark = pytest.mark.sqlite_only("the indexes are dropped and made again on SQLite only")


def _indexes(connection: Connection) -> dict[str, str]:
    rows = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'datasets'"
    )
    return {name: sql for name, sql in rows}


def _records(count: int, start: int = 0) -> list[dict[str, object]]:
    return [make_record(title=f"Dataset {n:03}") for n in range(start, start + count)]


def test_a_bulk_rebuilds_the_indexes_after_its_rows(database: Database) -> None:
    with database.transaction() as session:
        datasets.create_datasets(session, _records(2), author=AUTHOR)
    with database.read() as session:
        before = _indexes(session.connection())
    assert "ix_datasets_title" in before
    with database.transaction() as session:
        connection = session.connection()
        with new_datasets.indexes_rebuilt_after(connection, 20, minimum=10):
            during = _indexes(connection)
            datasets.create_datasets(session, _records(20, start=2), author=AUTHOR)
    # Only the unique id index stayed while the rows went in.
    assert set(during) == {name for name, sql in before.items() if sql is None}
    with database.read() as session:
        connection = session.connection()
        assert _indexes(connection) == before
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        plan = connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT pk FROM datasets ORDER BY title, pk LIMIT 5"
        ).all()
        assert "ix_datasets_title" in str(plan)
        titles = connection.exec_driver_sql(
            "SELECT title FROM datasets ORDER BY title, pk LIMIT 3"
        ).scalars()
        assert list(titles) == ["Dataset 000", "Dataset 001", "Dataset 002"]


def test_a_refused_bulk_leaves_the_indexes_as_they_were(database: Database) -> None:
    with database.read() as session:
        before = _indexes(session.connection())
    with (
        pytest.raises(ValidationFailed),
        database.transaction() as session,
        new_datasets.indexes_rebuilt_after(session.connection(), 20, minimum=10),
    ):
        datasets.create_datasets(session, _records(20), author=AUTHOR)
        datasets.create_datasets(session, [make_record(contact={"email": "x"})], author=AUTHOR)
    with database.read() as session:
        assert _indexes(session.connection()) == before
        assert session.connection().exec_driver_sql("SELECT count(*) FROM datasets").scalar() == 0


def test_a_batch_smaller_than_the_table_keeps_the_indexes(database: Database) -> None:
    with database.transaction() as session:
        datasets.create_datasets(session, _records(30), author=AUTHOR)
    with database.transaction() as session:
        connection = session.connection()
        with new_datasets.indexes_rebuilt_after(connection, 20, minimum=10):
            assert "ix_datasets_title" in _indexes(connection)
