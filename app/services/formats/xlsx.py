"""DataPress `export.xlsx` (seed 001): one workbook, sheets `datasets`, `resources`, `links`.

Shared by the server and the desktop export (DESIGN.md mechanism 2). The workbook is written with
openpyxl's write-only mode in one pass over the rows: each sheet streams into its own temporary
file and the zip is assembled on save, so memory stays flat however large the catalogue is. A
zip needs a seekable sink, so `write_xlsx` writes to a file object (a real or temporary file);
the server renders into a file and streams that (services.dump_cache).

The cells:

- `datasets` and `resources` have the columns of the CSV exports (csv_format.DATASET_COLUMNS,
  RESOURCE_COLUMNS); `links` has the fields of seed 001's export.json links, `LINK_COLUMNS`.
- Typed: timestamps (`createdAt`, `updatedAt`, a resource's `timestamp`, a link's
  `qaTimestamp`) are datetimes in UTC without a zone (Excel has none); `nextReviewDate` is a
  date; counts, orders, sizes and HTTP statuses are numbers. A timestamp that does not parse is
  kept as text. Time frames (`timeFrameFrom`/`To`) stay ISO month text, as in the seed.
- Lists are one cell joined as csv_format documents ("; ", `split_list` reverses it); `custom`
  is one JSON object, as in the CSV.
- Text that a spreadsheet would run as a formula is neutralised by formats.cells (the same rule
  as the CSV, reversible with `restore_cell`). Characters XML 1.0 cannot carry (control
  characters other than TAB, LF, CR) are replaced by U+FFFD; text longer than Excel's cell limit
  (32,767 characters) is cut there.
- Each sheet has a bold header row, frozen, an autofilter over the used range and fixed column
  widths chosen per column (a one-pass writer cannot measure the data first).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from app.services.export_query import DatasetRow, LinkRow
from app.services.formats import dataset_webpage
from app.services.formats.cells import neutralise
from app.services.formats.csv_format import (
    DATASET_COLUMNS,
    RESOURCE_COLUMNS,
    Cell,
    dataset_cells,
    resource_cells,
)

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_CELL_TEXT = 32767

LINK_COLUMNS: tuple[str, ...] = (
    "dataset",
    "id",
    "order",
    "title",
    "url",
    "description",
    "httpStatus",
    "size",
    "mimetype",
    "hash",
    "qaTimestamp",
    "webpage",
)

_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_TIMESTAMPS = frozenset({"createdAt", "updatedAt", "timestamp", "qaTimestamp"})
_DATES = frozenset({"nextReviewDate"})
_WIDTHS: dict[str, float] = {
    "id": 10,
    "dataset": 10,
    "order": 8,
    "webpage": 40,
    "title": 40,
    "description": 60,
    "descriptionText": 60,
    "url": 50,
    "licenceUrl": 40,
    "custom": 40,
    "tags": 30,
    "topics": 24,
    "topicTitles": 30,
    "createdAt": 20,
    "updatedAt": 20,
    "timestamp": 20,
    "qaTimestamp": 20,
    "nextReviewDate": 14,
    "hash": 34,
    "size": 12,
    "httpStatus": 11,
    "resourceCount": 14,
    "linkCount": 10,
    "sharing": 10,
}
_DEFAULT_WIDTH = 18.0
_HEADER_FONT = Font(bold=True)
_HEADER_ALIGNMENT = Alignment(vertical="center")

XlsxValue = str | int | float | date | datetime | None


def link_cells(row: DatasetRow, base_url: str) -> Iterable[list[Cell]]:
    """The `links` sheet's rows of one dataset, `LINK_COLUMNS`."""
    webpage = dataset_webpage(base_url, row.id)
    link: LinkRow
    for link in row.links:
        yield [
            row.id,
            link.lid,
            link.position,
            link.title,
            link.url,
            link.description,
            link.qa_http_status,
            link.qa_size,
            link.qa_mimetype,
            link.qa_hash,
            link.qa_timestamp,
            webpage,
        ]


def parse_timestamp(text: str) -> datetime | None:
    """An ISO 8601 timestamp as a naive UTC datetime (None if it is not one)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _text(value: str) -> str:
    value = _ILLEGAL.sub("\ufffd", value)
    if len(value) > MAX_CELL_TEXT:
        value = value[:MAX_CELL_TEXT]
    return neutralise(value)


def _converter(column: str) -> Callable[[Cell], XlsxValue]:
    if column in _TIMESTAMPS:
        parse: Callable[[str], XlsxValue] = parse_timestamp
    elif column in _DATES:
        parse = parse_date
    else:

        def plain(value: Cell) -> XlsxValue:
            return _text(value) if isinstance(value, str) else value

        return plain

    def typed(value: Cell) -> XlsxValue:
        if isinstance(value, str):
            parsed = parse(value)
            return parsed if parsed is not None else _text(value)
        return value

    return typed


class _Sheet:
    """One write-only sheet: header styled and frozen, widths set, autofilter on close."""

    def __init__(self, workbook: Workbook, title: str, columns: Sequence[str]) -> None:
        self.columns = columns
        self.sheet: WriteOnlyWorksheet = workbook.create_sheet(title)
        self.convert = [_converter(column) for column in columns]
        self.rows = 1
        # Widths and the frozen pane are written before the first row, so set them now.
        for index, column in enumerate(columns, 1):
            width = _WIDTHS.get(column, _DEFAULT_WIDTH)
            self.sheet.column_dimensions[get_column_letter(index)].width = width
        self.sheet.freeze_panes = "A2"
        header: list[Any] = []
        for column in columns:
            cell = WriteOnlyCell(self.sheet, value=column)
            cell.font = _HEADER_FONT
            cell.alignment = _HEADER_ALIGNMENT
            header.append(cell)
        self.sheet.append(header)

    def append(self, cells: Sequence[Cell]) -> None:
        self.sheet.append(
            [convert(value) for convert, value in zip(self.convert, cells, strict=True)]
        )
        self.rows += 1

    def finish(self) -> None:
        # The autofilter is written after the rows (openpyxl's write_tail), so it can be set last.
        last = get_column_letter(len(self.columns))
        self.sheet.auto_filter.ref = f"A1:{last}{self.rows}"


def write_xlsx(
    rows: Iterable[DatasetRow],
    sink: BinaryIO | str,
    *,
    base_url: str,
    on_row: Callable[[int], None] | None = None,
) -> int:
    """Write the workbook of `rows` into `sink` (a seekable binary file object or a path);
    the number of datasets written. `on_row(n)` is called after each dataset (progress,
    cancellation by raising)."""
    workbook = Workbook(write_only=True)
    datasets = _Sheet(workbook, "datasets", DATASET_COLUMNS)
    resources = _Sheet(workbook, "resources", RESOURCE_COLUMNS)
    links = _Sheet(workbook, "links", LINK_COLUMNS)
    count = 0
    for row in rows:
        datasets.append(dataset_cells(row, base_url))
        for cells in resource_cells(row, base_url):
            resources.append(cells)
        for cells in link_cells(row, base_url):
            links.append(cells)
        count += 1
        if on_row is not None:
            on_row(count)
    for sheet in (datasets, resources, links):
        sheet.finish()
    workbook.save(sink)
    return count
