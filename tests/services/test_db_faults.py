"""The environment's faults in words a person can act on; a bug stays a bug."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.models.database import LOCK_WAIT_MS, Database
from app.services.db_faults import (
    CatalogueBusy,
    CatalogueReadOnly,
    CatalogueUnreachable,
    explain,
)
from app.services.errors import NotACatalogue


def test_a_locked_catalogue_says_what_to_do(database: Database) -> None:
    holder: sqlite3.Connection | psycopg.Connection[Any]
    if database.is_sqlite:
        path = str(database.engine.url.database)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another program writing, and taking its time
        impatient = create_engine(database.url, connect_args={"timeout": 0})
        setup = ""
    else:  # another desktop's transaction holds the table; this one waits 50 ms, not 10 s
        holder = psycopg.connect(str(database.engine.url.set(drivername="postgresql")))
        holder.execute("LOCK TABLE teams IN ACCESS EXCLUSIVE MODE")
        impatient = create_engine(database.url)
        setup = "SET LOCAL lock_timeout = 50"
    try:
        with impatient.begin() as connection, pytest.raises(OperationalError) as caught:
            if setup:
                connection.exec_driver_sql(setup)
            connection.exec_driver_sql("INSERT INTO teams (id, title) VALUES ('t1', 'T')")
    finally:
        holder.rollback()
        holder.close()
        impatient.dispose()
    explained = explain(caught.value)
    assert isinstance(explained, CatalogueBusy)
    assert "Nothing was changed" in explained.message and "Try again" in explained.message


def test_a_write_waits_for_a_lock_ten_seconds_at_most(database: Database) -> None:
    setting = "PRAGMA busy_timeout" if database.is_sqlite else "SHOW lock_timeout"
    with database.read() as session:
        assert str(session.execute(text(setting)).scalar()) in {"10000", "10s"}
    assert LOCK_WAIT_MS == 10_000


@pytest.mark.parametrize("engine", ["postgresql"])
def test_a_server_out_of_reach_says_so(database: Database, engine: str) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    away = Database(str(database.engine.url.set(port=port)))
    try:
        with pytest.raises(OperationalError) as caught, away.read() as session:
            session.execute(text("SELECT 1"))
    finally:
        away.dispose()
    explained = explain(caught.value)
    assert isinstance(explained, CatalogueUnreachable)
    assert "cannot be reached" in explained.message


@pytest.mark.parametrize("engine", ["postgresql"])
def test_a_connection_the_server_ended_says_so(database: Database, engine: str) -> None:
    with pytest.raises(OperationalError) as caught, database.read() as session:
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
        with database.engine.connect() as other:  # the administrator, or a restart
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        session.execute(text("SELECT 1"))
    assert isinstance(explain(caught.value), CatalogueUnreachable)


@pytest.mark.parametrize("engine", ["postgresql"])
def test_a_user_without_rights_is_told_to_ask_for_them(database: Database, engine: str) -> None:
    with database.engine.connect() as connection:
        connection.execute(text("CREATE ROLE reader_only LOGIN"))
        connection.commit()
    reader = Database(str(database.engine.url.set(username="reader_only")))
    try:
        with pytest.raises(ProgrammingError) as caught, reader.transaction() as session:
            session.execute(text("INSERT INTO teams (id, title) VALUES ('t1', 'T')"))
    finally:
        reader.dispose()
        with database.engine.connect() as connection:
            connection.execute(text("DROP ROLE reader_only"))
            connection.commit()
    explained = explain(caught.value)
    assert isinstance(explained, CatalogueReadOnly)
    assert "Nothing was changed" in explained.message


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
