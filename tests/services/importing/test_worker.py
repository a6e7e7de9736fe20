"""A large import shapes its records and makes its new datasets' rows in a worker process
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
from app.services.importing.shaping import shaped_chunk
from app.services.new_datasets import row_parts
from app.services.records import dataset_to_record
from app.services.worker_ahead import worked_ahead
from tests.services.importing.helpers import AUTHOR, tricky_record

NOW = "2026-01-02T03:04:05.678Z"


def _records() -> list[dict[str, Any]]:
    """Records as files give them: whole, partial, without an id, and of every wrong type."""
    return [
        tricky_record(),
        tricky_record(id="trk02", resources={"k93": {"url": "https://e.org/a", "title": "A"}}),
        {"id": "abc12", "title": "  Spaced  ", "tags": ["x"], "descriptionText": "text"},
        {"title": "No id"},
        {"id": "bad id", "title": ["a", "list"], "contact": {"email": "not mail"}},
        {"id": "zz", "tags": "not a list", "custom": {"k": 3}, "resources": []},
        {"id": "\ud800", "title": "surrogate id"},
    ]


def test_a_worker_shapes_and_makes_rows_as_this_process_does() -> None:
    # The catalogue holds abc12 in the first job; the last makes no creates (no time).
    jobs = [(_records(), NOW, {"abc12"}), (_records()[2:], NOW, set()), (_records(), None, set())]
    here = [result for _, result in worked_ahead(shaped_chunk, jobs, in_worker=False)]
    there = [result for _, result in worked_ahead(shaped_chunk, jobs, in_worker=True)]
    assert there == here
    created = [[shape[2] for shape in chunk if shape[2] is not None] for chunk in here]
    assert [len(chunk) for chunk in created] == [4, 3, 0]
    # A record without a create comes back shaped; one with a create, as its create only.
    assert all((shape[0] is None) == (shape[2] is not None) for chunk in here for shape in chunk)
    row_jobs = [(chunk,) for chunk in created if chunk]
    made_here = [result for _, result in worked_ahead(row_parts, row_jobs, in_worker=False)]
    made_there = [result for _, result in worked_ahead(row_parts, row_jobs, in_worker=True)]
    assert made_there == made_here


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
