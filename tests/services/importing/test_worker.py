"""A large import has a worker process make its new datasets' rows ahead of the write
(services.worker_ahead): what the worker gives is what this process gives, and the rows land
with the datasets they belong to."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.models import Dataset, DatasetVersion
from app.models.database import Database
from app.services import datasets, search, synthetic
from app.services.importing import OnExisting, commit_import, plan
from app.services.new_datasets import row_parts, rows_made_ahead, stored_record
from app.services.records import dataset_to_record
from tests.services.importing.helpers import AUTHOR, tricky_record


def _stored() -> list[dict[str, Any]]:
    """Stored records of every kind: whole, with children, nearly empty, non-ASCII."""
    return [
        stored_record(tricky_record()),
        stored_record(tricky_record(id="trk02", links={}, tags=[], custom={})),
        stored_record({"id": "abc12", "title": "Zürich — “quoted” \u2028", "createdAt": "x"}),
    ]


def test_a_worker_makes_the_rows_this_process_makes() -> None:
    chunks = [_stored(), _stored()[1:], []]
    here = list(rows_made_ahead(chunks, in_worker=False))
    there = list(rows_made_ahead(chunks, in_worker=True))
    assert there == here
    assert [len(parts) for parts in here] == [3, 2, 0]
    assert here[0] == row_parts(chunks[0])


def test_a_large_import_through_the_worker_writes_each_dataset_with_its_rows(
    database: Database, tmp_path: Path
) -> None:
    count = plan._AHEAD_FROM + 1
    synthetic.generate(database, 0)
    with database.transaction() as session:  # one id of the file is the catalogue's
        datasets.create_dataset(session, {"id": "00003", "title": "Old"}, author=AUTHOR)
    path = tmp_path / "many.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "tags", "team"])
        for i in range(count):
            writer.writerow([f"{i:05d}", f"Dataset number {i}", f"tag{i % 7}; common", "t1trn"])
    planned = plan.plan_import(database, path, on_existing=OnExisting.UPDATE)
    assert planned.ok and (planned.new, planned.changed) == (count - 1, 1)
    summary = commit_import(database, planned, author=AUTHOR)
    assert (summary.created, summary.updated) == (count - 1, 1)
    with database.read() as session:
        pairs = {row.id: row.title for row in session.execute(select(Dataset.id, Dataset.title))}
        assert pairs == {f"{i:05d}": f"Dataset number {i}" for i in range(count)}
        versions = session.scalar(select(func.count()).select_from(DatasetVersion))
        assert versions == count + 1
        for dataset_id in ("00000", f"{count // 2:05d}", f"{count - 1:05d}"):
            dataset = datasets.get_dataset(session, dataset_id)
            record = dataset_to_record(dataset)
            version = session.scalars(
                select(DatasetVersion).where(DatasetVersion.dataset_pk == dataset.pk)
            ).one()
            assert version.snapshot == record and version.action == "import"
            assert record["tags"] == [f"tag{int(dataset_id) % 7}", "common"]
        # The search index holds every new dataset, by its own pk.
        assert search.count(session, search.query_terms("number")) == count
        wanted = search.matches(session, search.query_terms(f"number {count - 1}"))
        assert list(session.scalars(select(Dataset.id).where(wanted))) == [f"{count - 1:05d}"]
