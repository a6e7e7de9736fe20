"""export_query: the rows every export serializes, read by span, by list or in keyset batches,
the same on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Dataset
from app.models.database import Database
from app.services import export_query, synthetic
from app.services.formats import csv_format
from app.services.records import dataset_to_record
from app.services.visibility import OWNER

BASE = "http://127.0.0.1:8080"


@pytest.fixture
def catalogue(database: Database) -> Database:
    """A synthetic catalogue: datasets with resources, links, topics, mastheads and teams."""
    synthetic.generate(database, 40, seed=3)
    return database


def _pks(database: Database) -> list[int]:
    with database.read() as session:
        return list(session.scalars(select(Dataset.pk).order_by(Dataset.pk)))


def test_rows_carry_what_the_record_says(catalogue: Database) -> None:
    with catalogue.read() as session:
        rows = export_query.rows_by_pk(session, OWNER, _pks(catalogue))
        assert len(rows) == 40
        assert any(row.resources for row in rows) and any(row.links for row in rows)
        assert any(row.topics for row in rows) and any(row.team for row in rows)
        for row in rows:
            record = dataset_to_record(session.get_one(Dataset, row.pk))
            assert row.id == record["id"] and row.title == record["title"]
            assert list(row.tags) == record["tags"]
            assert [t.id for t in row.topics] == record["topics"]
            assert dict(row.custom) == record["custom"]
            assert [r.rid for r in row.resources] == list(record["resources"])
            assert [r.title for r in row.resources] == [
                r["title"] for r in record["resources"].values()
            ]
            assert [link.lid for link in row.links] == list(record["links"])
            assert row.resource_count == len(record["resources"])


def test_a_span_a_span_with_holes_and_a_list_read_the_same_rows(catalogue: Database) -> None:
    pks = _pks(catalogue)
    with catalogue.read() as session:
        every = {row.pk: row for row in export_query.rows_by_pk(session, OWNER, pks)}
        holes = [pk for pk in pks if pk % 13]  # dense: read by span, the holes left out
        scattered = pks[::5]  # sparse: read by an IN list
        for wanted in (holes, scattered, [pks[3]], list(reversed(pks[:9]))):
            rows = export_query.rows_by_pk(session, OWNER, wanted)
            assert [row.pk for row in rows] == sorted(wanted)
            assert rows == [every[pk] for pk in sorted(wanted)]
        assert export_query.rows_by_pk(session, OWNER, []) == []


def test_keyset_batches_read_the_rows_read_by_pk(catalogue: Database) -> None:
    with catalogue.read() as session:
        by_pk = export_query.rows_by_pk(session, OWNER, _pks(catalogue))
    assert list(export_query.iter_datasets(catalogue, OWNER, batch_size=7)) == by_pk


def test_summaries_count_the_children_the_rows_read(catalogue: Database) -> None:
    # A summary is a row with counts in place of the children: the same fields before them.
    assert export_query.DatasetSummary._fields[:-2] == export_query.DatasetRow._fields[:-2]
    pks = _pks(catalogue)
    with catalogue.read() as session:
        for wanted in (pks, pks[::5]):
            rows = export_query.rows_by_pk(session, OWNER, wanted)
            summaries = export_query.summaries_by_pk(session, OWNER, wanted)
            assert [s[:-2] for s in summaries] == [row[:-2] for row in rows]
            assert [(s.resource_count, s.link_count) for s in summaries] == [
                (len(row.resources), len(row.links)) for row in rows
            ]
            # The datasets table is the same from either.
            assert list(csv_format.dataset_lines(summaries, base_url=BASE)) == list(
                csv_format.dataset_lines(rows, base_url=BASE)
            )
