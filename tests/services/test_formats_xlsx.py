"""The XLSX writer: readers that are not ours (python-calamine, openpyxl) read our workbooks
back to the catalogue's values; the sheets are styled; long sheets continue; timestamps keep
their text."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from app.models.database import Database
from app.services import export_query
from app.services.exporting import ExportFormat
from app.services.formats import csv_format, xlsx
from app.services.formats.cells import restore_cell
from app.services.importing import OnExisting, commit_import, plan_import
from app.services.record import columns
from app.services.visibility import OWNER
from tests.services.importing.helpers import AUTHOR, export, fill, records


@pytest.fixture
def workbook(database: Database, tmp_path: Path) -> Path:
    fill(database, 5)
    return export(database, ExportFormat.XLSX, tmp_path)


def _calamine_rows(path: Path, sheet: str) -> list[dict[str, Any]]:
    book = CalamineWorkbook.from_path(str(path))
    header, *rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    return [dict(zip(map(str, header), row, strict=True)) for row in rows]


def assert_dimensions_declared(workbook: Path | bytes) -> dict[str, tuple[int, int]]:
    """Each sheet declares, before its views and rows, the range it uses: openpyxl's read-only
    mode (which sizes a sheet from `<dimension>` alone) gives the rows and columns python-calamine
    reads. The (rows, columns) of each sheet."""
    source = io.BytesIO(workbook) if isinstance(workbook, bytes) else workbook
    with zipfile.ZipFile(source) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                root = ElementTree.fromstring(archive.read(name))
                first, second = (child.tag.rpartition("}")[2] for child in root[:2])
                assert (first, second) == ("dimension", "sheetViews"), name
    calamine = (
        CalamineWorkbook.from_filelike(io.BytesIO(workbook))
        if isinstance(workbook, bytes)
        else CalamineWorkbook.from_path(str(workbook))
    )
    book = openpyxl.load_workbook(
        io.BytesIO(workbook) if isinstance(workbook, bytes) else workbook, read_only=True
    )
    sizes = {}
    try:
        for sheet in book.worksheets:
            rows = calamine.get_sheet_by_name(sheet.title).to_python(skip_empty_area=False)
            sizes[sheet.title] = (len(rows), len(rows[0]))
            assert (sheet.max_row, sheet.max_column) == sizes[sheet.title], sheet.title
    finally:
        book.close()
    return sizes


def test_every_sheet_declares_its_dimension(database: Database, workbook: Path) -> None:
    stored = records(database)
    resources = sum(len(r["resources"]) for r in stored.values())
    links = sum(len(r["links"]) for r in stored.values())
    assert assert_dimensions_declared(workbook) == {
        "datasets": (1 + len(stored), len(columns.DATASET_COLUMNS + columns.DESKTOP_COLUMNS)),
        "resources": (1 + resources, len(columns.RESOURCE_COLUMNS)),
        "links": (1 + links, len(columns.LINK_COLUMNS)),
    }
    with zipfile.ZipFile(workbook) as archive:
        head = archive.read("xl/worksheets/links-1.xml")[:400].decode()
    assert f'<dimension ref="A1:L{1 + links}"/><sheetViews>' in head


def test_an_empty_catalogue_declares_the_header_only(database: Database, tmp_path: Path) -> None:
    path = export(database, ExportFormat.XLSX, tmp_path)
    assert assert_dimensions_declared(path) == {
        "datasets": (1, len(columns.DATASET_COLUMNS + columns.DESKTOP_COLUMNS)),
        "resources": (1, len(columns.RESOURCE_COLUMNS)),
        "links": (1, len(columns.LINK_COLUMNS)),
    }


def test_calamine_reads_the_catalogues_values(database: Database, workbook: Path) -> None:
    stored = records(database)
    rows = {row["id"]: row for row in _calamine_rows(workbook, "datasets")}
    assert rows.keys() == stored.keys()
    for dataset_id, row in rows.items():
        record = stored[dataset_id]
        assert restore_cell(row["title"]) == record["title"]
        assert csv_format.split_list(restore_cell(row["tags"])) == record["tags"]
        assert row["state"] == record["state"] and row["sharing"] == record["sharing"]
        created = datetime.fromisoformat(record["createdAt"].removesuffix("Z"))
        assert abs((row["createdAt"] - created).total_seconds()) < 0.001
        review = record["nextReviewDate"]
        assert row["nextReviewDate"] == (date.fromisoformat(review) if review else "")
        assert row["resourceCount"] == len(record["resources"])
    files = _calamine_rows(workbook, "resources")
    by_key = {(f["dataset"], f["id"]): f for f in files}
    for dataset_id, record in stored.items():
        for rid, resource in record["resources"].items():
            cell = by_key[(dataset_id, rid)]
            assert cell["size"] == (resource["size"] if resource["size"] is not None else "")
            assert restore_cell(cell["title"]) == resource["title"]
    trk = by_key[("trk01", "k93")]
    assert trk["timestamp"] == datetime(2025, 1, 21, 16, 10, 2)
    assert trk["title"] == "'@SUM(A1)"  # neutralised: no spreadsheet runs it


def test_openpyxl_sees_styled_frozen_filtered_sheets_and_no_formula(workbook: Path) -> None:
    book = openpyxl.load_workbook(workbook)
    assert book.sheetnames == ["datasets", "resources", "links"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
        last = sheet.cell(1, sheet.max_column).column_letter
        assert sheet.auto_filter.ref == f"A1:{last}{sheet.max_row}"
        header = sheet[1]
        assert all(cell.font.bold and cell.fill.fgColor.rgb == "FFDDE5F0" for cell in header)
        for row in sheet.iter_rows():
            assert all(cell.data_type != "f" for cell in row)
    datasets = book["datasets"]
    widths = {
        cell.value: datasets.column_dimensions[cell.column_letter].width for cell in datasets[1]
    }
    assert widths["description"] == 60 and widths["id"] == 10 and widths["state"] == 11
    assert datasets["A2"].number_format == "General"
    column = [c.value for c in datasets[1]].index("createdAt") + 1
    assert datasets.cell(2, column).number_format == 'yyyy-mm-dd"T"hh:mm:ss.000"Z"'
    assert datasets.cell(2, column).is_date


def test_the_archive_is_a_valid_zip(workbook: Path) -> None:
    with zipfile.ZipFile(workbook) as archive:
        assert archive.testzip() is None
        assert archive.namelist()[0] == "[Content_Types].xml"


def _with_timestamp(database: Database, text: str) -> None:
    from app.services import datasets

    fill(database, 0)
    with database.transaction() as session:
        record = datasets.get_record(session, "trk01")
        record["resources"]["k93"]["timestamp"] = text
        datasets.update_dataset(session, "trk01", record, author=AUTHOR)


@pytest.mark.parametrize(
    "text",
    [
        "2019-02-05T16:34:18.000Z",
        "2019-02-05T16:34:18.999Z",
        "2025-01-21T16:10:02",
        "2025-01-21T16:10:02Z",
        "2025-01-21T16:10:02.500",
    ],
)
def test_a_timestamp_cell_is_a_date_that_gives_its_text_back(
    database: Database, tmp_path: Path, text: str
) -> None:
    _with_timestamp(database, text)
    path = export(database, ExportFormat.XLSX, tmp_path)
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        sheet = book["resources"]
        header = [c.value for c in next(sheet.iter_rows(max_row=1))]
        (cell,) = [
            row[header.index("timestamp")]
            for row in sheet.iter_rows(min_row=2)
            if row[header.index("id")].value == "k93"
        ]
        assert isinstance(cell.value, datetime)
        assert xlsx.timestamp_text(cell.value, cell.number_format) == text
    finally:
        book.close()


@pytest.mark.parametrize(
    "text",
    [
        "2019-02-05T16:34:18+01:00",
        "2019-02-05T16:34:18.123456Z",
        "1850-01-01T00:00:00Z",
        "2025-13-45T99:99:99Z",
        "soon",
    ],
)
def test_other_timestamps_stay_text(database: Database, tmp_path: Path, text: str) -> None:
    _with_timestamp(database, text)
    path = export(database, ExportFormat.XLSX, tmp_path)
    rows = _calamine_rows(path, "resources")
    assert [r["timestamp"] for r in rows if r["id"] == "k93"] == [text]


def test_sheets_past_the_row_limit_continue_and_import_back(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(database, 6)
    monkeypatch.setattr(xlsx, "MAX_ROWS", 4)  # a header and three rows a sheet
    path = export(database, ExportFormat.XLSX, tmp_path)
    book = openpyxl.load_workbook(path, read_only=True)
    names = book.sheetnames
    book.close()
    assert names[:3] == ["datasets", "datasets (2)", "datasets (3)"]
    assert "resources (2)" in names and "links (2)" in names
    sizes = assert_dimensions_declared(path)
    assert [sizes[name][0] for name in names[:3]] == [4, 4, 3]  # 8 datasets: 3, 3 and 2
    before = records(database)
    plan = plan_import(database, path, on_existing=OnExisting.UPDATE)
    assert (plan.unchanged, plan.errors) == (8, [])
    commit_import(database, plan, author=AUTHOR)
    assert records(database) == before


def test_the_server_workbook_has_the_seed_columns_only(database: Database) -> None:
    fill(database, 1)
    sink = io.BytesIO()
    rows = export_query.iter_datasets(database, OWNER)
    assert xlsx.write_xlsx(rows, sink, base_url="https://cat.example") == 3
    book = openpyxl.load_workbook(io.BytesIO(sink.getvalue()), read_only=True)
    header = next(book["datasets"].iter_rows(max_row=1, values_only=True))
    book.close()
    assert header == columns.DATASET_COLUMNS
