"""The synthetic catalogue: rows as the ORM writes them, deterministic, appendable."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from app.models import Dataset, DatasetVersion, Link, Resource
from app.models.database import Database
from app.models.history import unpack
from app.services import datasets, new_datasets, search, synthetic
from app.services.records import dataset_to_record
from app.services.text import html_to_text, slugify
from app.services.validation import validate_record
from tests.engines import Catalogues


def _rows(database: Database, sql: str) -> list[tuple[Any, ...]]:
    with database.read() as session:
        return [tuple(row) for row in session.execute(text(sql))]


def test_generates_datasets_with_resources_links_and_versions(database: Database) -> None:
    synthetic.generate(database, 400, seed=1)
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Dataset)) == 400
        resources = session.scalar(select(func.count()).select_from(Resource)) or 0
        links = session.scalar(select(func.count()).select_from(Link)) or 0
        versions = session.execute(
            select(DatasetVersion.action, DatasetVersion.number, func.count()).group_by(
                DatasetVersion.action, DatasetVersion.number
            )
        ).all()
        ids = list(session.scalars(select(Dataset.id)))
    assert 2.5 <= resources / 400 <= 3.5
    assert 0.7 <= links / 400 <= 1.3
    assert [tuple(v) for v in versions] == [("create", 1, 400)]
    assert len(set(ids)) == 400


def test_each_dataset_is_a_valid_record_whose_snapshot_matches_the_orm(
    database: Database,
) -> None:
    synthetic.generate(database, 150, seed=2)
    with database.read() as session:
        for dataset_id in session.scalars(select(Dataset.id)):
            dataset = datasets.get_dataset(session, dataset_id)
            record = dataset_to_record(dataset)
            validate_record(record)
            assert dataset.slug == slugify(dataset.title)
            assert dataset.description_text == html_to_text(dataset.description)
            version = session.scalars(
                select(DatasetVersion).where(DatasetVersion.dataset_pk == dataset.pk)
            ).one()
            assert version.snapshot == record
            assert version.changes == sorted(record)


def test_rows_are_byte_for_byte_what_create_dataset_writes(
    database: Database, engine: str, catalogues: Catalogues, tmp_path: Path
) -> None:
    synthetic.generate(database, 60, seed=3)
    with catalogues.fresh(engine, tmp_path / "orm") as orm:  # the same engine's ORM writes
        synthetic.generate(orm, 0)  # the same teams, users and lists, no datasets
        with database.read() as session:
            records = [
                datasets.get_record(session, dataset_id)
                for dataset_id in session.scalars(select(Dataset.id).order_by(Dataset.pk))
            ]
        with orm.transaction() as session:
            for record in records:
                datasets.create_dataset(session, record, author=synthetic.AUTHOR)
        queries = [
            # Every column but the catalogue version and its time: one transaction there, a
            # version per chunk here.
            f"SELECT {', '.join(new_datasets.DATASET_COLUMNS)} FROM datasets ORDER BY pk",
            "SELECT dataset_pk, rid, position, title, description, url, filename, time_from,"
            " time_to, format, hash, size, timestamp, origin FROM resources"
            " ORDER BY dataset_pk, position",
            "SELECT dataset_pk, lid, position, title, url, description, qa_timestamp, qa_hash,"
            " qa_size, qa_mimetype, qa_http_status FROM links ORDER BY dataset_pk, position",
            "SELECT dataset_pk, dataset_id, number, author, action, changes, snapshot"
            " FROM dataset_versions ORDER BY pk",
            "SELECT * FROM dataset_collaborators ORDER BY 1, 2",
            "SELECT * FROM dataset_read_teams ORDER BY 1, 2",
        ]
        for sql in queries:
            assert _rows(database, sql) == _rows(orm, sql), sql


def test_text_is_realistic(database: Database) -> None:
    synthetic.generate(database, 500, seed=4)
    with database.read() as session:
        rows = session.execute(
            select(
                Dataset.title,
                Dataset.description,
                Dataset.state,
                Dataset.sharing,
                Dataset.embargo_until,
            )
        ).all()
    titles = [r.title for r in rows]
    descriptions = [r.description for r in rows]
    assert any(not t.isascii() for t in titles)
    assert any('"' in t for t in titles) and any("," in t for t in titles)
    assert all("<p>" in d for d in descriptions)
    assert any("\n" in d for d in descriptions) and any("&amp;" in d for d in descriptions)
    assert {r.state for r in rows} == {"draft", "published"}
    assert {r.sharing for r in rows} == {"public", "private"}
    assert any(r.embargo_until for r in rows)


def test_same_seed_same_catalogue_and_other_seed_another(tmp_path: Path) -> None:
    def titles(name: str, seed: int) -> list[tuple[Any, ...]]:
        db = Database.open(tmp_path / name)
        try:
            synthetic.generate(db, 120, seed=seed)
            return _rows(db, "SELECT pk, id, title, updated_at, tags FROM datasets ORDER BY pk")
        finally:
            db.dispose()

    first = titles("a.sqlite", 7)
    assert titles("b.sqlite", 7) == first
    assert titles("c.sqlite", 8) != first


def test_appending_keeps_ids_unique_and_indexes_new_rows(database: Database) -> None:
    with database.transaction() as session:
        datasets.create_dataset(
            session,
            {"title": "Hand made", "description": "", "state": "draft", "sharing": "public"},
            author="tester",
        )
    synthetic.generate(database, 200, seed=5)
    synthetic.generate(database, 200, seed=5)
    ids = [r[0] for r in _rows(database, "SELECT id FROM datasets")]
    assert len(ids) == len(set(ids)) == 401
    pks = [r[0] for r in _rows(database, "SELECT pk FROM datasets ORDER BY pk")]
    assert pks == list(range(1, 402))
    last_title = _rows(database, "SELECT title FROM datasets WHERE pk = 401")[0][0]
    word = last_title.split()[0]
    with database.read() as session:  # the search index holds the new rows on either engine
        matched = session.scalars(
            select(Dataset.pk).where(search.matches(session, search.query_terms(word)))
        ).all()
    assert 401 in matched


def test_an_id_already_taken_is_replaced_everywhere() -> None:
    prepared = synthetic.prepared_chunk(0, 1, 3)
    first_id = prepared.batch[0].record["id"]
    second_id = prepared.batch[1].record["id"]
    synthetic.make_ids_unique(prepared, {first_id}, random.Random(0))
    new_id = prepared.batch[0].record["id"]
    assert new_id != first_id and len(new_id) == 5
    assert prepared.batch[1].record["id"] == second_id
    # The rows follow: the dataset's row and its version's row and snapshot.
    assert new_id in prepared.rows.datasets[0] and first_id not in prepared.rows.datasets[0]
    assert prepared.rows.versions[0][1] == new_id
    assert unpack(prepared.rows.versions[0][7])["id"] == new_id
