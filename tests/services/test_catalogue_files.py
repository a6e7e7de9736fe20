"""Opening what a person names as a catalogue: a clear refusal for what is not one, and the
name the title bar shows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from app.services.catalogue_files import (
    catalogue_location,
    catalogue_name,
    create_database,
    may_remember,
    open_database,
)
from app.services.errors import CatalogueUnreachable, NotACatalogue
from app.services.sample_catalogue import is_empty, new_catalogue, open_catalogue
from tests.postgres import fresh_database


def test_a_text_file_is_not_a_catalogue_and_stays_as_it_was(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Minutes of the records committee\n", encoding="utf-8")
    with pytest.raises(NotACatalogue, match=r"notes\.txt is not a catalogue"):
        open_database(notes)
    assert notes.read_text(encoding="utf-8") == "Minutes of the records committee\n"


def test_another_programs_sqlite_database_is_left_untouched(tmp_path: Path) -> None:
    other = tmp_path / "photos.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE albums (id INTEGER PRIMARY KEY, name TEXT)")
    connection.close()
    with pytest.raises(NotACatalogue, match="another program"):
        open_database(other)
    with sqlite3.connect(other) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    connection.close()
    assert tables == {"albums"}  # no catalogue tables were added to it


def test_a_folder_and_a_missing_folder_say_so(tmp_path: Path) -> None:
    with pytest.raises(NotACatalogue, match="is a folder"):
        open_database(tmp_path)
    with pytest.raises(CatalogueUnreachable, match="does not exist"):
        open_database(tmp_path / "gone" / "archive.sqlite")
    assert not (tmp_path / "gone").exists()


def test_an_unreachable_server_is_a_message_without_the_password() -> None:
    url = "postgresql+psycopg://archivist:s3cret@127.0.0.1:1/catalogue"
    with pytest.raises(CatalogueUnreachable) as raised:
        open_database(url)
    assert "s3cret" not in raised.value.message
    assert raised.value.message.startswith("Cannot open")


def test_a_catalogue_and_an_empty_file_open(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    database = open_database(empty)
    database.dispose()
    again = open_database(empty)  # now a catalogue
    assert is_empty(again)
    again.dispose()


def test_new_refuses_a_file_that_is_there_and_stays_empty_for_good(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite"
    database = new_catalogue(path, with_sample=False)
    database.dispose()
    with pytest.raises(CatalogueUnreachable, match="exists already"):
        create_database(path)
    # Opening it as the start-up does (with the sample for a brand-new catalogue) keeps it empty.
    reopened = open_catalogue(path, with_sample=True)
    assert is_empty(reopened)
    reopened.dispose()


def test_the_name_is_the_file_name_or_the_database_and_host(tmp_path: Path) -> None:
    path = tmp_path / "Borough archive.sqlite"
    assert catalogue_name(f"sqlite:///{path}") == "Borough archive.sqlite"
    assert catalogue_location(f"sqlite:///{path}") == str(path)
    url = "postgresql+psycopg://archivist:s3cret@db.example.org/catalogue"
    assert catalogue_name(url) == "catalogue on db.example.org"
    assert "s3cret" not in catalogue_location(url)


def test_a_url_with_a_password_is_never_remembered(tmp_path: Path) -> None:
    assert may_remember(f"sqlite:///{tmp_path / 'a.sqlite'}")
    assert may_remember("postgresql+psycopg://archivist@db.example.org/catalogue")
    assert not may_remember("postgresql+psycopg://archivist:s3cret@db.example.org/catalogue")


def test_another_programs_postgresql_database_is_left_untouched(pg_server: str) -> None:
    with fresh_database(pg_server, migrated=False) as other:
        with other.engine.begin() as connection:
            connection.execute(text("CREATE TABLE invoices (id integer PRIMARY KEY)"))
        with pytest.raises(NotACatalogue, match="another program's tables"):
            open_database(other.url)
        with other.engine.connect() as connection:
            assert inspect(connection).get_table_names() == ["invoices"]


def test_an_empty_postgresql_database_becomes_a_catalogue_and_opens_again(pg_server: str) -> None:
    with fresh_database(pg_server, migrated=False) as empty:
        first = open_database(empty.url)
        first.dispose()
        again = open_database(empty.url)
        assert is_empty(again)
        again.dispose()
