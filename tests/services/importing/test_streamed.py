"""importing.streamed: a large file planned by a worker process while this one writes. What it
writes, reports and refuses is what planning here and committing gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.models import Base, Dataset, DatasetVersion
from app.models.database import Database
from app.services.exporting import ExportFormat
from app.services.importing import OnExisting, describe
from app.services.importing.model import ImportRejected
from app.services.importing.streamed import import_file
from tests.services.importing.helpers import AUTHOR, empty_catalogue, export, fill, records


def _count(database: Database, model: type[Dataset] | type[DatasetVersion]) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """More datasets than one chunk of the plan (2,000), of every kind of value."""
    database = Database.open(tmp_path_factory.mktemp("source") / "source.sqlite")
    fill(database, 2100)
    yield database
    database.dispose()


# CSV: many chunks; XLSX: every field (files and links too), of fewer datasets.
@pytest.mark.parametrize(("fmt", "count"), [(ExportFormat.CSV, 2102), (ExportFormat.XLSX, 42)])
def test_the_worker_plans_what_is_planned_here(
    source: Database, tmp_path: Path, fmt: ExportFormat, count: int
) -> None:
    if count < 2102:
        database = Database.open(tmp_path / "small.sqlite")
        fill(database, count - 2)
        path = export(database, fmt, tmp_path)
        database.dispose()
    else:
        path = export(source, fmt, tmp_path)
    written = {}
    for in_worker in (False, True):
        target = empty_catalogue(tmp_path / f"worker-{in_worker}.sqlite")
        plan, summary = import_file(target, path, author=AUTHOR, in_worker=in_worker)
        assert summary is not None
        written[in_worker] = (
            describe(plan),
            [(i.row, i.dataset_id, i.action, i.losses) for i in plan.items],
            summary,
            [edit.dataset_id for edit in summary.step.edits],
            records(target),
            _count(target, DatasetVersion),
        )
        target.dispose()
    assert written[True] == written[False]
    shown, _, summary, _, imported, versions = written[True]
    assert shown == f"{count} new, 0 changed, 0 unchanged, 0 errors"
    assert summary.created == len(imported) == versions == count


def test_a_second_import_updates_through_the_worker(source: Database, tmp_path: Path) -> None:
    path = export(source, ExportFormat.CSV, tmp_path)
    target = empty_catalogue(tmp_path / "target.sqlite")
    import_file(target, path, author=AUTHOR, in_worker=True)
    plan, summary = import_file(
        target, path, author=AUTHOR, on_existing=OnExisting.UPDATE, in_worker=True
    )
    assert summary is not None
    assert describe(plan) == "0 new, 0 changed, 2102 unchanged, 0 errors"
    assert (summary.created, summary.unchanged) == (0, 2102)
    assert _count(target, DatasetVersion) == 2102
    target.dispose()


def test_an_error_in_a_late_chunk_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    rows = [f"Dataset {n},team@example.org" for n in range(2500)]
    rows[2400] = "Dataset 2400,not an address"
    path.write_text("title,contactEmail\r\n" + "\r\n".join(rows) + "\r\n", encoding="utf-8")
    target = empty_catalogue(tmp_path / "target.sqlite")
    plan, summary = import_file(target, path, author=AUTHOR, in_worker=True)
    assert summary is None
    assert [(e.row, e.column, e.message) for e in plan.errors] == [
        (2402, "contactEmail", "is not an email address")
    ]
    assert describe(plan) == "2499 new, 0 changed, 0 unchanged, 1 error"
    assert _count(target, Dataset) == 0
    assert _count(target, DatasetVersion) == 0
    with target.read() as session:
        indexes = session.connection().exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'datasets'"
        )
        # The unique id's and every index the model declares: none left dropped.
        assert indexes.scalar() == 1 + len(Base.metadata.tables["datasets"].indexes)
    target.dispose()


def test_a_file_the_worker_cannot_read_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("title\r\nCaf\xe9\r\n".encode("latin-1"))
    target = empty_catalogue(tmp_path / "target.sqlite")
    with pytest.raises(ImportRejected, match=r"latin1\.csv is not UTF-8 text"):
        import_file(target, path, author=AUTHOR, in_worker=True)
    assert _count(target, Dataset) == 0
    target.dispose()
