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
from collections.abc import Iterable, Iterator, Sequence

import orjson

from app.services.export_query import DatasetRow, DatasetSummary, Named
from app.services.formats import Chunks, concatenated, dataset_webpage
from app.services.formats.cells import FORMULA_STARTS, neutralise
from app.services.record.columns import DATASET_COLUMNS, RESOURCE_COLUMNS

LIST_SEPARATOR = "; "
CONTENT_TYPE = "text/csv; charset=utf-8; header=present"

Cell = str | int | None
# A text starting with one of these may need `neutralise` (which decides).
_RISKY_STARTS = FORMULA_STARTS | {"'"}


def join_list(items: Iterable[str]) -> str:
    listed = tuple(items)
    joined = LIST_SEPARATOR.join(listed)
    if "\\" not in joined and joined.count(";") == len(listed) - 1:
        return joined  # no item has a backslash or a semicolon to escape (most lists)
    return LIST_SEPARATOR.join(item.replace("\\", "\\\\").replace(";", "\\;") for item in listed)


def split_list(cell: str) -> list[str]:
    """The items of a list cell written by `join_list`."""
    if not cell:
        return []
    if "\\" not in cell:
        return cell.split(LIST_SEPARATOR)  # nothing escaped (most lists)
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


def _header(columns: Sequence[str]) -> bytes:
    return ",".join(columns).encode() + b"\r\n"


DATASETS_HEADER = _header(DATASET_COLUMNS)
RESOURCES_HEADER = _header(RESOURCE_COLUMNS)


def datasets_csv(rows: Iterable[DatasetRow], *, base_url: str) -> Chunks:
    """The datasets table: one row per dataset, `DATASET_COLUMNS`."""
    return datasets_document(dataset_lines(rows, base_url=base_url))


def datasets_document(lines: Iterable[bytes]) -> Chunks:
    """The datasets table around lines from `dataset_lines`."""
    return concatenated(DATASETS_HEADER, lines)


def dataset_lines(rows: Iterable[DatasetRow | DatasetSummary], *, base_url: str) -> Iterator[bytes]:
    """Each dataset's line of the datasets table (CRLF included).

    The same cells as `dataset_cells` through `_cell`, written without a call per cell: only a
    text starting with a risky character goes through `neutralise`, and a cell is quoted where
    the csv module's writer (QUOTE_MINIMAL, CRLF) quotes it, without its character-by-character
    loop (tests compare the two)."""
    risky = _RISKY_STARTS
    base = base_url.rstrip("/")
    dumps = orjson.dumps
    sort_keys = orjson.OPT_SORT_KEYS
    lists: dict[tuple[str, ...], str] = {}
    topic_lists: dict[tuple[Named, ...], tuple[str, str]] = {}  # topics -> (ids, titles)
    for row in rows:
        masthead, team, tags, topics = row.masthead, row.team, row.tags, row.topics
        topic_cells = topic_lists.get(topics) if topics else ("", "")
        if topic_cells is None:
            if len(topic_lists) > 4096:
                topic_lists.clear()
            topic_cells = topic_lists[topics] = (
                join_list(t.id for t in topics),
                join_list(t.title for t in topics),
            )
        texts = [
            row.id,
            dataset_webpage(base, row.id),
            row.title,
            row.description,
            row.description_text,
            masthead.id if masthead else None,
            masthead.title if masthead else None,
            _joined(lists, tags) if tags else None,
            *topic_cells,
            row.next_review_date,
            row.licence_url,
            row.licence_title,
            row.contact_email,
            row.contact_title,
            dumps(row.custom, option=sort_keys).decode() if row.custom else None,
            row.sharing,
            team.id if team else None,
            team.title if team else None,
            str(row.resource_count),
            str(row.link_count),
            row.created_at,
            row.updated_at,
        ]
        # One pass over the cells: neutralised where risky, quoted where the csv module would.
        line = ",".join(
            [
                ""
                if not v
                else '"' + w.replace('"', '""') + '"'
                if '"' in (w := neutralise(v) if v[0] in risky else v)
                or "," in w
                or "\n" in w
                or "\r" in w
                else w
                for v in texts
            ]
        )
        yield (line + "\r\n").encode("utf-8")


def _joined(cache: dict[tuple[str, ...], str], items: tuple[str, ...]) -> str:
    """`join_list(items)`, remembered: the same tag and topic lists recur across datasets."""
    cell = cache.get(items)
    if cell is None:
        if len(cache) > 4096:
            cache.clear()
        cell = cache[items] = join_list(items)
    return cell


def resources_csv(rows: Iterable[DatasetRow], *, base_url: str) -> Chunks:
    """The file uploads table: one row per resource, `RESOURCE_COLUMNS`."""
    return resources_document(resource_lines(rows, base_url=base_url))


def resources_document(lines: Iterable[bytes]) -> Chunks:
    """The file uploads table around lines from `resource_lines`."""
    return concatenated(RESOURCES_HEADER, lines)


def resource_lines(rows: Iterable[DatasetRow], *, base_url: str) -> Iterator[bytes]:
    """Each dataset's lines of the file uploads table (b"" for a dataset without files)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL, strict=True)
    for row in rows:
        for cells in resource_cells(row, base_url):
            writer.writerow(_cell(value) for value in cells)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()


def _cell(value: Cell) -> str | int:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    return value
