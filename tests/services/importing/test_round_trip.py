"""Export, then import: into an empty catalogue the same catalogue comes back (every field the
format carries), and a workbook edited by hand brings back exactly its edits."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from app.models.database import Database
from app.services.exporting import ExportFormat
from app.services.formats.csv_format import join_list
from app.services.importing import ImportFormat, OnExisting, commit_import, plan_import
from tests.services.importing.helpers import (
    AUTHOR,
    CARRIED,
    empty_catalogue,
    export,
    fill,
    project,
    records,
)

FULL_FORMATS = [ExportFormat.XLSX, ExportFormat.CSV, ExportFormat.JSON]
RDF_FORMATS = [ExportFormat.JSONLD, ExportFormat.TURTLE]


@pytest.fixture
def filled(database: Database) -> Database:
    fill(database)
    return database


def _import_all(database: Database, path: Path, **options: Any) -> None:
    plan = plan_import(database, path, **options)
    assert plan.errors == []
    commit_import(database, plan, author=AUTHOR)


@pytest.mark.parametrize("fmt", FULL_FORMATS)
def test_export_then_import_into_an_empty_catalogue_gives_the_same_catalogue(
    filled: Database, tmp_path: Path, fmt: ExportFormat
) -> None:
    path = export(filled, fmt, tmp_path)
    target = empty_catalogue(tmp_path / "target.sqlite")
    try:
        plan = plan_import(target, path)
        assert (plan.new, plan.changed, plan.unchanged, plan.errors) == (42, 0, 0, [])
        summary = commit_import(target, plan, author=AUTHOR)
        assert summary.created == 42
        fields = CARRIED[fmt]
        before = {i: project(r, fields) for i, r in records(filled).items()}
        after = {i: project(r, fields) for i, r in records(target).items()}
    finally:
        target.dispose()
    assert after.keys() == before.keys()
    for dataset_id, record in before.items():
        assert after[dataset_id] == record, dataset_id


def test_the_workbook_carries_every_field_but_access_lists_and_storage_paths() -> None:
    # The claim the round trip above checks, spelled out: a format that says it carries
    # everything is tested on everything.
    assert CARRIED[ExportFormat.XLSX] >= {"state", "embargoUntil", "sharing", "custom"}
    assert CARRIED[ExportFormat.XLSX] >= {"resources", "links", "descriptionIframe", "site"}


def _dcat_view(record: dict[str, Any]) -> dict[str, Any]:
    """What DCAT says of a dataset: no order of tags or topics, files' and links' essentials."""
    view = project(record, CARRIED[ExportFormat.JSONLD])
    view["tags"] = sorted(view["tags"])
    view["topics"] = sorted(view["topics"])
    if record["descriptionText"] in ("", record["title"]):
        # The feed writes the title for a missing description, which comes back as one.
        del view["descriptionText"]
    files = ("url", "title", "description", "size", "hash", "format", "timestamp")
    view["resources"] = {rid: {k: r[k] for k in files} for rid, r in record["resources"].items()}
    view["links"] = {
        lid: {k: link[k] for k in ("url", "title", "description")}
        for lid, link in record["links"].items()
    }
    return view


@pytest.mark.parametrize("fmt", RDF_FORMATS)
def test_dcat_round_trip_keeps_what_dcat_says(
    filled: Database, tmp_path: Path, fmt: ExportFormat
) -> None:
    path = export(filled, fmt, tmp_path)
    target = empty_catalogue(tmp_path / "target.sqlite")
    try:
        _import_all(target, path)
        before = {i: _dcat_view(r) for i, r in records(filled).items()}
        after = {i: _dcat_view(r) for i, r in records(target).items()}
    finally:
        target.dispose()
    assert after == before


@pytest.mark.parametrize("fmt", [*FULL_FORMATS, *RDF_FORMATS])
def test_importing_an_export_into_its_own_catalogue_changes_nothing(
    filled: Database, tmp_path: Path, fmt: ExportFormat
) -> None:
    path = export(filled, fmt, tmp_path)
    before = records(filled)
    plan = plan_import(filled, path, on_existing=OnExisting.UPDATE)
    assert (plan.new, plan.changed, plan.unchanged, plan.errors) == (0, 0, 42, [])
    commit_import(filled, plan, author=AUTHOR)
    assert records(filled) == before


# -- an edited workbook ------------------------------------------------------------------------


def _rows_by_id(sheet: Any, key: str = "id") -> dict[str, int]:
    header = [cell.value for cell in sheet[1]]
    column = header.index(key)
    return {row[column].value: row[0].row for row in sheet.iter_rows(min_row=2)}


def _column(sheet: Any, name: str) -> int:
    return [cell.value for cell in sheet[1]].index(name) + 1


def test_cells_changed_in_the_workbook_arrive_and_nothing_else_moves(
    filled: Database, tmp_path: Path
) -> None:
    path = export(filled, ExportFormat.XLSX, tmp_path)
    before = records(filled)
    book = openpyxl.load_workbook(path)
    sheet = book["datasets"]
    rows = _rows_by_id(sheet)
    others = sorted(set(rows) - {"trk01", "min01"})
    edited_title, edited_tags = others[0], others[1]
    sheet.cell(rows[edited_title], _column(sheet, "title")).value = "A new title"
    sheet.cell(rows[edited_tags], _column(sheet, "tags")).value = join_list(["x;y", "z"])
    sheet.cell(rows["trk01"], _column(sheet, "nextReviewDate")).value = date(2027, 3, 1)
    sheet.cell(rows["trk01"], _column(sheet, "state")).value = "draft"
    sheet.cell(rows["min01"], _column(sheet, "custom")).value = '{"added": ["p", "q"]}'
    resources = book["resources"]
    k93 = next(
        row[0].row
        for row in resources.iter_rows(min_row=2)
        if row[0].value == "trk01" and row[1].value == "k93"
    )
    resources.cell(k93, _column(resources, "size")).value = 42
    b07 = next(
        row[0].row
        for row in resources.iter_rows(min_row=2)
        if row[0].value == "trk01" and row[1].value == "b07"
    )
    resources.delete_rows(b07)
    links = book["links"]
    el3 = next(row[0].row for row in links.iter_rows(min_row=2) if row[0].value == "trk01")
    links.cell(el3, _column(links, "qaTimestamp")).value = datetime(2025, 2, 1, 10, 0, 0)
    book.save(path)

    plan = plan_import(filled, path, on_existing=OnExisting.UPDATE)
    assert plan.format is ImportFormat.XLSX
    assert (plan.new, plan.changed, plan.unchanged, plan.errors) == (0, 4, 38, [])
    changes = {item.dataset_id: item.changes for item in plan.items if item.action == "update"}
    assert changes == {
        edited_title: ["title"],
        edited_tags: ["tags"],
        "trk01": ["links", "nextReviewDate", "resources", "state"],
        "min01": ["custom"],
    }
    commit_import(filled, plan, author=AUTHOR)
    after = records(filled)

    expected = {i: dict(r) for i, r in before.items()}
    expected[edited_title]["title"] = "A new title"
    expected[edited_tags]["tags"] = ["x;y", "z"]
    trk = expected["trk01"]
    trk["nextReviewDate"] = "2027-03-01"
    trk["state"] = "draft"
    trk["resources"] = {"k93": {**trk["resources"]["k93"], "size": 42}}
    qa = {**trk["links"]["el3"]["qa"], "timestamp": "2025-02-01T10:00:00.000Z"}
    trk["links"] = {"el3": {**trk["links"]["el3"], "qa": qa}}
    expected["min01"]["custom"] = {"added": ["p", "q"]}
    for dataset_id in changes:
        # An edit is an edit: its time is now, and its plain text follows its HTML.
        expected[dataset_id]["updatedAt"] = after[dataset_id]["updatedAt"]
        assert after[dataset_id]["updatedAt"] > before[dataset_id]["updatedAt"]
    assert after == expected
