"""Moving a catalogue (services.catalogue_copy): SQLite -> PostgreSQL -> SQLite gives back every
table as it was; the copy on PostgreSQL is a working catalogue; a destination that holds a
catalogue is refused, and a copy that does not read back as the source leaves nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import Base, Dataset, DatasetVersion, ServerSetting, User
from app.models.database import Database
from app.services import api_keys, browse, catalogue_version, datasets, publication, trash
from app.services.catalogue_copy import (
    CopyMismatch,
    DestinationNotEmpty,
    UnknownSchema,
    canonical_row,
    copy_catalogue,
)
from app.services.cursor import load_secret
from app.services.errors import CatalogueError, CatalogueUnreachable, NotACatalogue
from app.services.progress import Cancelled, Progress
from app.services.public_url import set_public_url
from app.services.sample_catalogue import load_sample
from app.services.sync.links import LinkUpdate, save_link
from app.services.sync.remotes import add_remote, get_remote
from tests.conftest import AUTHOR, make_record
from tests.postgres import fresh_database


@dataclass(frozen=True)
class Rich:
    """A catalogue with some of everything, and what the checks need to know of it."""

    path: Path
    api_key: str
    edited_id: str
    deleted_id: str
    deleted_pk: int


def rich_catalogue(path: Path) -> Rich:
    """The sample catalogue (teams, users, groups, rulesets, read lists, datasets with resources,
    links and custom fields) and, through the services, edits, a dataset in the trash that was
    public, an API key, a sync remote with a link, the public URL and the cursor secret."""
    database = Database.open(path)
    try:
        load_sample(database)
        with database.transaction() as session:
            created = datasets.create_dataset(
                session, make_record(title="Ferry Timetables Zürich"), author=AUTHOR
            )
            publication.publish(session, created["id"], author=AUTHOR)
            user_id = session.scalars(select(User.id).order_by(User.id)).first()
            assert user_id is not None
            key = api_keys.create_api_key(session, user_id, "harvester").key
            add_remote(
                session, "portal", "ckan", "https://portal.example.org", key_env="PORTAL_KEY"
            )
            remote_pk = get_remote(session, "portal").pk
            set_public_url(session, "https://data.example.org/catalogue")
        edited = _first_id(database)
        with database.transaction() as session:
            datasets.update_dataset(
                session,
                edited,
                {"title": "Edited title", "custom": {"unit": "Archive", "zone": ["Nord", "Süd"]}},
                author=AUTHOR,
            )
            save_link(
                session,
                remote_pk,
                LinkUpdate(edited, "remote-1", "7", 2, {"title": "Edited title"}),
            )
        with database.transaction() as session:
            # The newest dataset, so its pk is the high-water mark a copy must keep.
            datasets.delete_dataset(session, created["id"], author=AUTHOR)
            pk = session.scalar(select(func.max(Dataset.pk)))
        load_secret(database)
        with database.read() as session:
            assert [d.dataset_id for d in trash.list_deleted(session)] == [created["id"]]
            deleted_pk = session.scalar(
                select(func.max(DatasetVersion.dataset_pk)).where(
                    DatasetVersion.dataset_id == created["id"]
                )
            )
        assert pk is not None and deleted_pk is not None and deleted_pk > pk
    finally:
        database.dispose()
    return Rich(path, key, edited, created["id"], deleted_pk)


def _first_id(database: Database) -> str:
    with database.read() as session:
        return str(session.scalars(select(Dataset.id).order_by(Dataset.pk)).first())


def table_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the schema as stored, in primary-key order, and SQLite's sequences."""
    with sqlite3.connect(path) as connection:
        found: dict[str, list[tuple[Any, ...]]] = {}
        for table in Base.metadata.sorted_tables:
            keys = [c.name for c in table.primary_key.columns]
            found[table.name] = connection.execute(
                f"SELECT * FROM {table.name} ORDER BY {', '.join(keys)}"
            ).fetchall()
        found["sqlite_sequence"] = connection.execute(
            "SELECT name, seq FROM sqlite_sequence ORDER BY name"
        ).fetchall()
    return found


@pytest.fixture
def rich(tmp_path: Path) -> Rich:
    return rich_catalogue(tmp_path / "first.sqlite")


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """An empty database (no tables) on the test server."""
    with fresh_database(pg_server, migrated=False) as database:
        yield database.url


def test_round_trip_through_postgresql_gives_back_every_table(
    rich: Rich, pg_url: str, tmp_path: Path
) -> None:
    reports: list[tuple[int, int]] = []
    there = copy_catalogue(rich.path, pg_url, progress=Progress(lambda *a: reports.append(a)))
    back = copy_catalogue(pg_url, tmp_path / "last.sqlite")

    first, last = table_rows(rich.path), table_rows(tmp_path / "last.sqlite")
    assert set(first) == {t.name for t in Base.metadata.sorted_tables} | {"sqlite_sequence"}
    for name, rows in first.items():
        assert last[name] == rows, name
    held = {name for name, rows in first.items() if rows}
    assert held >= {
        "datasets",
        "resources",
        "links",
        "dataset_versions",
        "dataset_tombstones",
        "catalogue_versions",
        "users",
        "teams",
        "groups",
        "user_rulesets",
        "group_rulesets",
        "dataset_read_users",
        "dataset_read_teams",
        "api_keys",
        "remotes",
        "sync_links",
        "server_settings",
        "sqlite_sequence",
    }
    assert all(check.agrees for check in there.tables + back.tables)
    assert [c.source for c in there.tables] == [c.copy for c in back.tables]
    assert reports[-1] == (2 * there.rows, 2 * there.rows)
    # The search index was rebuilt, not copied: the last file finds what the first does.
    last_db = Database.open(tmp_path / "last.sqlite")
    try:
        with last_db.read() as session:
            assert browse.count(session, browse.BrowseSpec(search="edited")) == 1
    finally:
        last_db.dispose()


def test_the_copy_on_postgresql_is_a_working_catalogue(rich: Rich, pg_url: str) -> None:
    copy_catalogue(rich.path, pg_url)
    database = Database(pg_url)
    try:
        with database.read() as session:
            assert browse.count(session, browse.BrowseSpec(search="edited title")) == 1
            assert api_keys.authenticate(session, f"Bearer {rich.api_key}").user_id is not None
            assert [d.dataset_id for d in trash.list_deleted(session)] == [rich.deleted_id]
            before = catalogue_version.current(session)
        with database.transaction() as session:
            record = datasets.update_dataset(
                session, rich.edited_id, {"title": "Edited on PostgreSQL"}, author=AUTHOR
            )
            created = datasets.create_dataset(session, make_record(), author=AUTHOR)
        with database.read() as session:
            stamped = session.scalar(
                select(Dataset.catalogue_version).where(Dataset.id == record["id"])
            )
            assert stamped == catalogue_version.current(session) == before + 1
            # The sequence went past the deleted dataset's pk: it is never handed out again.
            new_pk = session.scalar(select(Dataset.pk).where(Dataset.id == created["id"]))
            assert new_pk == rich.deleted_pk + 1
            assert browse.count(session, browse.BrowseSpec(search="postgresql")) == 1
    finally:
        database.dispose()


def test_sqlite_to_sqlite_keeps_every_table(rich: Rich, tmp_path: Path) -> None:
    report = copy_catalogue(rich.path, tmp_path / "copy.sqlite")
    assert table_rows(tmp_path / "copy.sqlite") == table_rows(rich.path)
    assert report.rows == sum(len(rows) for rows in table_rows(rich.path).values()) - 1


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_destination_holding_a_catalogue_is_refused_untouched(rich: Rich, tmp_path: Path) -> None:
    target = tmp_path / "taken.sqlite"
    database = Database.open(target)
    with database.transaction() as session:
        datasets.create_dataset(session, make_record(title="Already here"), author=AUTHOR)
    database.dispose()
    before = _file_digest(target), table_rows(target)

    with pytest.raises(DestinationNotEmpty, match=r"taken\.sqlite holds a catalogue already"):
        copy_catalogue(rich.path, target)
    assert (_file_digest(target), table_rows(target)) == before


def test_a_migrated_empty_catalogue_is_a_destination(rich: Rich, tmp_path: Path) -> None:
    target = tmp_path / "empty.sqlite"
    Database.open(target).dispose()
    copy_catalogue(rich.path, target)
    assert table_rows(target) == table_rows(rich.path)


def test_a_refused_postgresql_destination_is_untouched(rich: Rich, pg_database: Database) -> None:
    with pg_database.transaction() as session:
        session.add(ServerSetting(key="mine", value="1"))
    with pytest.raises(DestinationNotEmpty, match="server_settings: 1 rows"):
        copy_catalogue(rich.path, pg_database.url)
    with pg_database.read() as session:
        assert session.scalar(select(func.count(Dataset.pk))) == 0
        assert session.scalars(select(ServerSetting.key)).all() == ["mine"]


ALTER_ON_INSERT = """CREATE TRIGGER alter_copied AFTER INSERT ON datasets BEGIN
    UPDATE datasets SET site = 'altered' WHERE pk = new.pk;
END"""


def test_a_copy_that_reads_back_differently_leaves_nothing(rich: Rich, tmp_path: Path) -> None:
    target = tmp_path / "altering.sqlite"
    Database.open(target).dispose()
    empty = table_rows(target)
    with sqlite3.connect(target) as connection:
        connection.execute(ALTER_ON_INSERT)

    with pytest.raises(CopyMismatch, match="table datasets differs"):
        copy_catalogue(rich.path, target)
    assert table_rows(target) == empty


PG_ALTER_ON_INSERT = [
    """CREATE FUNCTION alter_copied() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.number := NEW.number + 1; RETURN NEW; END $$""",
    """CREATE TRIGGER alter_copied BEFORE INSERT ON dataset_versions
    FOR EACH ROW EXECUTE FUNCTION alter_copied()""",
]


def test_a_mismatch_on_postgresql_rolls_the_copy_back(rich: Rich, pg_database: Database) -> None:
    with pg_database.engine.begin() as connection:
        for statement in PG_ALTER_ON_INSERT:
            connection.exec_driver_sql(statement)
    with pytest.raises(CopyMismatch, match="table dataset_versions differs"):
        copy_catalogue(rich.path, pg_database.url)
    with pg_database.read() as session:
        for table in Base.metadata.sorted_tables:
            held = session.scalar(select(func.count()).select_from(table))
            assert held == (1 if table.name.startswith("catalogue_") else 0), table.name
        assert catalogue_version.current(session) == 0


def test_a_failed_copy_into_a_new_file_leaves_no_file(rich: Rich, tmp_path: Path) -> None:
    progress = Progress(lambda done, total: progress.cancel() if done > total // 3 else None)
    with pytest.raises(Cancelled):
        copy_catalogue(rich.path, tmp_path / "new.sqlite", progress=progress)
    assert list(tmp_path.iterdir()) == [rich.path]


def test_the_source_must_be_a_catalogue_with_a_known_schema(rich: Rich, tmp_path: Path) -> None:
    with pytest.raises(CatalogueUnreachable, match="no catalogue to copy"):
        copy_catalogue(tmp_path / "missing.sqlite", tmp_path / "out.sqlite")
    with pytest.raises(CatalogueError, match="the same catalogue"):
        copy_catalogue(rich.path, rich.path)
    with sqlite3.connect(rich.path) as connection:
        connection.execute("CREATE TABLE notes (pk INTEGER PRIMARY KEY, body TEXT)")
        connection.execute("ALTER TABLE users ADD COLUMN nickname TEXT")
    with pytest.raises(UnknownSchema, match=r"notes, users\.nickname"):
        copy_catalogue(rich.path, tmp_path / "out.sqlite")
    assert not (tmp_path / "out.sqlite").exists()


def test_canonical_rows_do_not_depend_on_how_an_engine_stores_them() -> None:
    json_columns = (1,)
    assert canonical_row([1, '{"b": 1, "a": [true]}'], json_columns) == canonical_row(
        [1, '{"a":[true],"b":1}'], json_columns
    )
    assert canonical_row([True, b"\x02x"], flag_columns=(0,)) == canonical_row(
        [1, memoryview(b"\x02x")], flag_columns=(0,)
    )
    big = [10**30, "x"]
    assert canonical_row(big) != canonical_row([10**30 + 1, "x"])
    assert canonical_row(big).endswith(b"\n") and canonical_row([1]).endswith(b"\n")
    with pytest.raises(TypeError, match="no canonical form for a Decimal"):
        canonical_row([Decimal("1.5")])
    assert canonical_row(["1"]) != canonical_row([1])
    assert canonical_row([None, "x"]) != canonical_row(["x", None])


def test_a_destination_that_is_no_catalogue_or_cannot_be_opened_is_said_so(
    rich: Rich, pg_server: str, tmp_path: Path
) -> None:
    with pytest.raises(CatalogueUnreachable, match=r"Cannot open .*/no_such_database: "):
        copy_catalogue(rich.path, f"{pg_server}/no_such_database")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    before = _file_digest(other)
    with pytest.raises(NotACatalogue, match="a SQLite database of another program"):
        copy_catalogue(rich.path, other)
    assert _file_digest(other) == before
