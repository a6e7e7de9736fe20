"""History is stored packed (models.history.Packed) and reads back as it was written; migration
0008 packs the history of a catalogue written before it, and its downgrade unpacks it."""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from app.models.database import MIGRATIONS_DIR, Database, create_catalogue_engine
from app.models.history import DICTIONARY_1, FORMAT_1, FORMAT_2, pack, unpack
from app.services import datasets, history
from tests.conftest import AUTHOR, make_record


def test_pack_round_trips_and_is_smaller_than_the_json() -> None:
    record = make_record()
    packed = pack(record)
    assert unpack(packed) == record
    assert packed[0] == FORMAT_2
    assert len(packed) < len(orjson.dumps(record)) / 2
    assert unpack(pack([])) == []


def test_history_packed_in_the_first_format_still_reads() -> None:
    """Catalogues written before format 2 hold raw deflate against the same dictionary."""
    record = make_record()
    compressor = zlib.compressobj(
        6, zlib.DEFLATED, -zlib.MAX_WBITS, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY_1
    )
    old = bytes((FORMAT_1,)) + compressor.compress(orjson.dumps(record)) + compressor.flush()
    assert unpack(old) == record


def test_each_thread_packs_with_its_own_compressor() -> None:
    records = [make_record(title=f"Dataset {n}") for n in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        packed = list(pool.map(pack, records * 50))
    assert [unpack(value) for value in packed] == records * 50


def test_history_is_stored_packed_and_reads_back(database: Database) -> None:
    with database.transaction() as session:
        created = datasets.create_dataset(session, make_record(), author=AUTHOR)
        datasets.update_dataset(session, created["id"], {"title": "Renamed"}, author=AUTHOR)
    with database.read() as session:
        stored = session.execute(
            sa.text("SELECT changes, snapshot FROM dataset_versions ORDER BY pk")
        ).all()
        versions = history.list_versions(session, created["id"])
        _, first = history.version_snapshot(session, versions[-1].pk)
    assert all(isinstance(value, bytes) for row in stored for value in row)
    assert [unpack(changes) for changes, _ in stored] == [sorted(created), ["title"]]
    assert [v.changes for v in versions] == [["title"], sorted(created)]
    assert first == created


def test_restore_reads_a_packed_snapshot(database: Database) -> None:
    with database.transaction() as session:
        created = datasets.create_dataset(session, make_record(), author=AUTHOR)
        datasets.update_dataset(session, created["id"], {"title": "Renamed"}, author=AUTHOR)
        first = history.list_versions(session, created["id"])[-1]
        datasets.delete_dataset(session, created["id"], author=AUTHOR)
    with database.transaction() as session:
        restored = datasets.restore_version(session, first.pk, author=AUTHOR)
    assert restored["title"] == created["title"]
    with database.read() as session:
        actions = [v.action for v in history.list_versions(session, created["id"])]
    assert actions == ["restore", "delete", "update", "create"]


def _alembic(path: Path, action: str, revision: str) -> None:
    engine = create_catalogue_engine(f"sqlite:///{path}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, action)(config, revision)
    finally:
        engine.dispose()


def _versions(path: Path) -> list[tuple[Any, ...]]:
    engine = create_catalogue_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    sa.text("SELECT pk, changes, snapshot FROM dataset_versions ORDER BY pk")
                ).all()
            )
    finally:
        engine.dispose()


def test_migration_packs_old_history_and_downgrade_unpacks_it(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _alembic(path, "upgrade", "0006_history_by_dataset_id")
    record = {**make_record(), "id": "abcde"}
    engine = create_catalogue_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO dataset_versions"
                " (dataset_pk, dataset_id, number, at, author, action, changes, snapshot)"
                " VALUES (1, :id, 1, '2026-01-01T00:00:00.000Z', 'a', 'create', :c, :s),"
                " (1, :id, 2, '2026-01-02T00:00:00.000Z', 'a', 'delete', '[]', NULL)"
            ),
            {
                "id": record["id"],
                "c": orjson.dumps(sorted(record)).decode(),
                "s": orjson.dumps(record).decode(),
            },
        )
    engine.dispose()

    _alembic(path, "upgrade", "0008_packed_history")
    rows = _versions(path)
    assert [(unpack(c), None if s is None else unpack(s)) for _, c, s in rows] == [
        (sorted(record), record),
        ([], None),
    ]
    database = Database.open(path)  # the rest of the chain, and the ORM reads it
    try:
        with database.read() as session:
            versions = history.list_versions(session, record["id"])
            _, snapshot = history.version_snapshot(session, versions[-1].pk)
        assert snapshot == record
    finally:
        database.dispose()

    _alembic(path, "downgrade", "0006_history_by_dataset_id")
    rows = _versions(path)
    assert [(orjson.loads(c), None if s is None else orjson.loads(s)) for _, c, s in rows] == [
        (sorted(record), record),
        ([], None),
    ]
