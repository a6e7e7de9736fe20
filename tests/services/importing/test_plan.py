"""The preview (counts, errors with row and column, skip/update/copy) and the all-or-nothing
commit."""

from __future__ import annotations

import csv
import gc
from pathlib import Path

import pytest

from app.models.database import Database
from app.services import datasets, history, synthetic
from app.services.errors import StaleEdit, ValidationFailed
from app.services.exporting import ExportFormat
from app.services.importing import (
    ImportRejected,
    OnExisting,
    RowError,
    commit_import,
    describe,
    plan_import,
)
from app.services.progress import Cancelled, Progress
from tests.services.importing.helpers import AUTHOR, export, fill, records


def _csv(path: Path, header: list[str], *rows: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def two(database: Database) -> Database:
    """Two datasets, aaaa1 and aaaa2; teams from the synthetic reference data."""
    synthetic.generate(database, 0)
    with database.transaction() as session:
        for dataset_id in ("aaaa1", "aaaa2"):
            datasets.create_dataset(
                session,
                {"id": dataset_id, "title": f"Title {dataset_id}", "tags": ["t"]},
                author=AUTHOR,
            )
    return database


def test_preview_counts_new_changed_and_unchanged_and_writes_nothing(
    two: Database, tmp_path: Path
) -> None:
    before = records(two)
    path = _csv(
        tmp_path / "in.csv",
        ["id", "title", "tags"],
        ["aaaa1", "Title aaaa1", "t"],  # unchanged
        ["aaaa2", "Changed", "t"],  # changed
        ["", "Brand new", ""],  # new, id chosen by the catalogue
        ["bbbb1", "Also new", "x; y"],  # new, with its own id
    )
    plan = plan_import(two, path, on_existing=OnExisting.UPDATE)
    assert (plan.new, plan.changed, plan.unchanged, plan.ok) == (2, 1, 1, True)
    assert describe(plan) == "2 new, 1 changed, 1 unchanged, 0 errors"
    assert [item.action for item in plan.items] == ["unchanged", "update", "create", "create"]
    assert plan.items[1].changes == ["title"]
    assert records(two) == before  # planning wrote nothing

    summary = commit_import(two, plan, author=AUTHOR)
    assert (summary.created, summary.updated, summary.unchanged) == (2, 1, 1)
    after = records(two)
    assert after["aaaa2"]["title"] == "Changed"
    assert after["bbbb1"]["tags"] == ["x", "y"]
    assert len(after) == 4
    with two.read() as session:
        (latest, *_) = history.list_versions(session, "aaaa2")
    assert (latest.action, latest.author) == ("import", AUTHOR)


def test_existing_ids_are_skipped_updated_or_copied(two: Database, tmp_path: Path) -> None:
    path = _csv(tmp_path / "in.csv", ["id", "title"], ["aaaa1", "From the file"])
    skip = plan_import(two, path)
    assert [item.action for item in skip.items] == ["skip"]
    assert commit_import(two, skip, author=AUTHOR).skipped == 1
    assert records(two)["aaaa1"]["title"] == "Title aaaa1"

    copy = plan_import(two, path, on_existing=OnExisting.COPY)
    (item,) = copy.items
    assert item.action == "copy" and item.dataset_id != "aaaa1"
    commit_import(two, copy, author=AUTHOR)
    after = records(two)
    assert after["aaaa1"]["title"] == "Title aaaa1"
    assert after[item.dataset_id]["title"] == "From the file"

    update = plan_import(two, path, on_existing=OnExisting.UPDATE)
    commit_import(two, update, author=AUTHOR)
    # Columns the file does not have are left as they were.
    assert records(two)["aaaa1"]["tags"] == ["t"]
    assert records(two)["aaaa1"]["title"] == "From the file"


def test_every_row_error_is_reported_with_its_row_and_column(two: Database, tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "in.csv",
        ["id", "title", "contactEmail", "nextReviewDate", "team", "custom"],
        ["", "Fine", "a@example.org", "2025-01-01", "", ""],
        ["", "", "not an email", "2025-13-01", "nope9", '["x"]'],
        ["BAD", "Bad id", "", "", "", ""],
        ["aaaa1", "dup", "", "", "", ""],
        ["aaaa1", "dup again", "", "", "", ""],
    )
    plan = plan_import(two, path, on_existing=OnExisting.UPDATE)
    assert not plan.ok
    assert set(plan.errors) == {
        RowError(3, "title", "a title is required"),
        RowError(3, "contactEmail", "is not an email address"),
        RowError(3, "nextReviewDate", "must be a date, YYYY-MM-DD"),
        RowError(3, "team", "no team with id 'nope9' in this catalogue"),
        RowError(3, "custom", 'must be a JSON object, e.g. {"unit": "Assurance"}'),
        RowError(4, "id", "must be 5 lower-case letters or digits"),
        RowError(6, "id", "id aaaa1 is also in row 5"),
    }
    before = records(two)
    with pytest.raises(ValidationFailed) as failure:
        commit_import(two, plan, author=AUTHOR)
    assert "row 3, title: a title is required" in failure.value.message
    assert records(two) == before


def test_errors_in_a_workbook_name_the_sheet_of_the_cell(
    database: Database, tmp_path: Path
) -> None:
    fill(database, 2)
    path = export(database, ExportFormat.XLSX, tmp_path)
    import openpyxl

    book = openpyxl.load_workbook(path)
    resources = book["resources"]
    resources.cell(2, 11).value = "big"  # size
    resources.cell(3, 5).value = "javascript:alert(1)"  # url
    book.save(path)
    plan = plan_import(database, path, on_existing=OnExisting.UPDATE)
    assert set(plan.errors) == {
        RowError(2, "resources!size", "must be a whole number, not 'big'"),
        RowError(3, "resources!url", "must be an http, https, ftp, ftps or sftp URL"),
    }


def test_a_commit_is_all_or_nothing(two: Database, tmp_path: Path) -> None:
    path = _csv(tmp_path / "in.csv", ["title"], *([f"New {n}"] for n in range(450)))
    plan = plan_import(two, path)
    before = records(two)

    def cancel_late(done: int, total: int) -> None:
        if done >= 400:
            progress.cancel()

    progress = Progress(cancel_late)
    with pytest.raises(Cancelled):
        commit_import(two, plan, author=AUTHOR, progress=progress)
    assert records(two) == before  # 400 datasets were written, and rolled back


def test_a_dataset_changed_since_planning_stops_the_commit(two: Database, tmp_path: Path) -> None:
    path = _csv(tmp_path / "in.csv", ["id", "title"], ["", "New one"], ["aaaa1", "From the file"])
    plan = plan_import(two, path, on_existing=OnExisting.UPDATE)
    with two.transaction() as session:
        datasets.update_dataset(session, "aaaa1", {"title": "Edited meanwhile"}, author="other")
    before = records(two)
    with pytest.raises(StaleEdit):
        commit_import(two, plan, author=AUTHOR)
    assert records(two) == before


def test_an_id_taken_since_planning_stops_the_commit(two: Database, tmp_path: Path) -> None:
    path = _csv(tmp_path / "in.csv", ["id", "title"], ["cccc1", "New one"])
    plan = plan_import(two, path)
    with two.transaction() as session:
        datasets.create_dataset(session, {"id": "cccc1", "title": "Got there first"}, author="x")
    with pytest.raises(StaleEdit):
        commit_import(two, plan, author=AUTHOR)
    assert records(two)["cccc1"]["title"] == "Got there first"


def test_planning_reports_progress_and_can_be_cancelled(two: Database, tmp_path: Path) -> None:
    path = _csv(tmp_path / "in.csv", ["title"], *([f"New {n}"] for n in range(450)))
    seen: list[tuple[int, int]] = []
    plan_import(two, path, progress=Progress(lambda done, total: seen.append((done, total))))
    assert seen[-1] == (450, 450)
    progress = Progress()
    progress.cancel()
    with pytest.raises(Cancelled):
        plan_import(two, path, progress=progress)


def test_a_large_import_keeps_a_history_entry_for_every_dataset(
    two: Database, tmp_path: Path
) -> None:
    """The commit works in chunks; none of a chunk's history entries or versions is dropped."""
    rows = [[f"n{i:04d}", f"New {i}", ""] for i in range(450)]
    changed = [["aaaa1", "Renamed", "t"]]
    path = _csv(tmp_path / "many.csv", ["id", "title", "tags"], *rows, *changed, ["", "Idless", ""])
    plan = plan_import(two, path, on_existing=OnExisting.UPDATE)
    assert plan.ok and plan.new == 451 and plan.changed == 1
    summary = commit_import(two, plan, author=AUTHOR)
    assert (summary.created, summary.updated) == (451, 1)
    with two.read() as session:
        for dataset_id in ("n0000", "n0199", "n0200", "n0449"):
            entries = history.list_versions(session, dataset_id)
            assert [(v.number, v.action) for v in entries] == [(1, "import")]
        renamed = history.list_versions(session, "aaaa1")
        assert [(v.number, v.action) for v in renamed] == [(2, "import"), (1, "create")]
        assert datasets.get_dataset(session, "aaaa1").version == 2
        assert datasets.get_record(session, "n0449")["title"] == "New 449"


def test_planning_pauses_the_cycle_collector_and_puts_it_back(
    database: Database, tmp_path: Path
) -> None:
    """plan_import turns Python's cycle collector off while it plans (a large file's records
    would be walked by every full collection), and on again after, also when the file is
    refused."""
    seen: list[bool] = []
    watching = Progress(lambda done, total: seen.append(gc.isenabled()))
    good = _csv(tmp_path / "good.csv", ["title"], ["Street trees"])
    plan = plan_import(database, good, progress=watching)
    assert plan.ok and seen and not any(seen)
    assert gc.isenabled()
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ImportRejected):
        plan_import(database, empty)
    assert gc.isenabled()
