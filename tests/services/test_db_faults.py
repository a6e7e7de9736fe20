"""The environment's faults in words a person can act on; a bug stays a bug."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from app.models.database import Database
from app.services.db_faults import CatalogueBusy, explain
from app.services.errors import NotACatalogue


@pytest.mark.sqlite_only("holds SQLite's file lock")
def test_a_locked_catalogue_says_what_to_do(database: Database) -> None:
    path = str(database.engine.url.database)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program writing, and taking its time
    impatient = create_engine(database.url, connect_args={"timeout": 0})
    try:
        with impatient.begin() as connection, pytest.raises(OperationalError) as caught:
            connection.exec_driver_sql("INSERT INTO teams (id, title) VALUES ('t1', 'T')")
    finally:
        holder.rollback()
        holder.close()
        impatient.dispose()
    explained = explain(caught.value)
    assert isinstance(explained, CatalogueBusy)
    assert "Nothing was changed" in explained.message and "Try again" in explained.message


def test_a_file_that_is_no_catalogue(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database, just notes\n" * 100)
    connection = sqlite3.connect(text)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        connection.execute("SELECT * FROM datasets")
    connection.close()
    assert isinstance(explain(caught.value), NotACatalogue)


def test_a_bug_is_not_explained_away() -> None:
    assert explain(ZeroDivisionError("division by zero")) is None
    assert explain(KeyError("title")) is None
