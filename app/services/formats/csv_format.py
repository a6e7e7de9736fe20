"""CSV exports: DataPress `export.datasets.csv` and `export.resources.csv` (seed 001), and the
Heratio bulk dump `/api/v1/dataset.csv` (seed 000, the datasets table of published records).

The dialect, documented once here:

- RFC 4180: comma separated, fields quoted with `"` when needed (a quote doubled inside), CRLF
  line ends, one header row, UTF-8 without a byte-order mark.
- Lists (tags, topic ids, topic titles, a custom field's values) are one cell, items joined by
  `LIST_SEPARATOR` ("; "). Inside an item a backslash is written `\\\\` and a semicolon `\\;`,
  so `split_list` gives the items back exactly.
- The `custom` column holds the custom fields as one JSON object (names vary per dataset, so
  they cannot be columns of a streamed table).
- A text cell that a spreadsheet would run as a formula is neutralised with a leading
  apostrophe, reversibly (formats.cells: `neutralise`, `restore_cell`, shared with XLSX).
  Numbers are written as numbers, never neutralised.
- Empty cells are empty strings; None and "" are not told apart.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

import orjson

from app.services.export_query import DatasetRow
from app.services.formats import FLUSH_BYTES, Chunks, dataset_webpage
from app.services.formats.cells import neutralise

LIST_SEPARATOR = "; "
CONTENT_TYPE = "text/csv; charset=utf-8; header=present"

DATASET_COLUMNS: tuple[str, ...] = (
    "id",
    "webpage",
    "title",
    "description",
    "descriptionText",
    "masthead",
    "mastheadTitle",
    "tags",
    "topics",
    "topicTitles",
    "nextReviewDate",
    "licenceUrl",
    "licenceTitle",
    "contactEmail",
    "contactTitle",
    "custom",
    "sharing",
    "team",
    "teamTitle",
    "resourceCount",
    "linkCount",
    "createdAt",
    "updatedAt",
)

RESOURCE_COLUMNS: tuple[str, ...] = (
    "dataset",
    "id",
    "order",
    "title",
    "url",
    "filename",
    "description",
    "timeFrameFrom",
    "timeFrameTo",
    "format",
    "size",
    "hash",
    "timestamp",
    "webpage",
)

Cell = str | int | None


def join_list(items: Iterable[str]) -> str:
    return LIST_SEPARATOR.join(item.replace("\\", "\\\\").replace(";", "\\;") for item in items)


def split_list(cell: str) -> list[str]:
    """The items of a list cell written by `join_list`."""
    if not cell:
        return []
    items: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(cell):
        char = cell[i]
        if char == "\\" and i + 1 < len(cell):
            current.append(cell[i + 1])
            i += 2
            continue
        if cell.startswith(LIST_SEPARATOR, i):
            items.append("".join(current))
            current = []
            i += len(LIST_SEPARATOR)
            continue
        current.append(char)
        i += 1
    items.append("".join(current))
    return items


def dataset_cells(row: DatasetRow, base_url: str) -> list[Cell]:
    return [
        row.id,
        dataset_webpage(base_url, row.id),
        row.title,
        row.description,
        row.description_text,
        row.masthead.id if row.masthead else None,
        row.masthead.title if row.masthead else None,
        join_list(row.tags),
        join_list(t.id for t in row.topics),
        join_list(t.title for t in row.topics),
        row.next_review_date,
        row.licence_url,
        row.licence_title,
        row.contact_email,
        row.contact_title,
        orjson.dumps(row.custom, option=orjson.OPT_SORT_KEYS).decode() if row.custom else None,
        row.sharing,
        row.team.id if row.team else None,
        row.team.title if row.team else None,
        len(row.resources),
        len(row.links),
        row.created_at,
        row.updated_at,
    ]


def resource_cells(row: DatasetRow, base_url: str) -> Iterable[list[Cell]]:
    webpage = dataset_webpage(base_url, row.id)
    for r in row.resources:
        yield [
            row.id,
            r.rid,
            r.position,
            r.title,
            r.url,
            r.filename,
            r.description,
            r.time_from,
            r.time_to,
            r.format,
            r.size,
            r.hash,
            r.timestamp,
            webpage,
        ]


def datasets_csv(rows: Iterable[DatasetRow], *, base_url: str) -> Chunks:
    """The datasets table: one row per dataset, `DATASET_COLUMNS`."""
    return _stream(DATASET_COLUMNS, ([dataset_cells(row, base_url)] for row in rows))


def resources_csv(rows: Iterable[DatasetRow], *, base_url: str) -> Chunks:
    """The file uploads table: one row per resource, `RESOURCE_COLUMNS`."""
    return _stream(RESOURCE_COLUMNS, (resource_cells(row, base_url) for row in rows))


def _stream(header: Sequence[str], groups: Iterable[Iterable[list[Cell]]]) -> Chunks:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL, strict=True)
    writer.writerow(header)
    for group in groups:
        for cells in group:
            writer.writerow(_cell(value) for value in cells)
        if buffer.tell() >= FLUSH_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _cell(value: Cell) -> str | int:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    return value
