"""CSV and XLSX imports: our own exports, and other spreadsheets through a column mapping.

A table's columns map to our field names (`MAPPABLE_FIELDS`, or `custom.NAME` for a custom
field). Our exports' columns map to themselves; their derived columns (webpage, counts, titles
of managed entries, descriptionText) are ignored. The cells are read back as the exports write
them (formats.csv_format documents the dialect): `restore_cell` undoes formula neutralising,
`split_list` splits list cells, `custom` is one JSON object; in a workbook, dates and
timestamps are typed cells (formats.xlsx.timestamp_text gives the text back).

A workbook's `datasets` sheet (or its first sheet) holds the datasets; sheets named
`resources` and `links`, when present, hold their children, by the dataset id in their
`dataset` column. A CSV holds either datasets, or resources (our resources export, recognised
by its columns): then each dataset's resources are replaced by the rows given for it.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from app.services.datasets import new_child_id
from app.services.formats.cells import restore_cell
from app.services.formats.csv_format import split_list
from app.services.formats.xlsx import timestamp_text
from app.services.importing.limits import MAX_DATASETS
from app.services.importing.model import ImportFormat, ImportRejected, RowError, SourceItem
from app.services.importing.spreadsheet import open_workbook
from app.services.progress import Progress
from app.services.record.columns import (
    COMPANION_COLUMNS,
    DATASET_PATHS,
    LINK_PATHS,
    RESOURCE_PATHS,
    columns_of,
)
from app.services.record.fields import FIELDS, LINK, RESOURCE, Field, Kind

CUSTOM_PREFIX = "custom."
CSV_FIELD_LIMIT = 16 * 1024 * 1024

# Our field names a column can map to, with the record path each one fills.
_FIELD_PATHS = DATASET_PATHS
MAPPABLE_FIELDS: list[str] = list(_FIELD_PATHS)
# Columns of our exports that are derived from other fields: never read back.
DERIVED_COLUMNS = COMPANION_COLUMNS
_LISTS = columns_of(Kind.TEXT_LIST)
_DATES = columns_of(Kind.DATE)
_TIMESTAMPS = columns_of(Kind.TIMESTAMP)
_INTEGERS = columns_of(Kind.INTEGER, Kind.BYTES)
# Text a person leaves empty that must stay a string, not become null.
_TEXTS = frozenset(c for c, path in DATASET_PATHS.items() if FIELDS[path[0]].default == "")

# Other spreadsheets' column names (lower case, letters and digits only) for our fields.
_SYNONYMS: dict[str, str] = {
    "identifier": "id",
    "datasetid": "id",
    "name": "title",
    "datasettitle": "title",
    "notes": "description",
    "summary": "description",
    "abstract": "description",
    "body": "description",
    "keywords": "tags",
    "keyword": "tags",
    "tag": "tags",
    "themes": "topics",
    "theme": "topics",
    "topic": "topics",
    "categories": "topics",
    "category": "topics",
    "reviewdate": "nextReviewDate",
    "licence": "licenceTitle",
    "license": "licenceTitle",
    "licensetitle": "licenceTitle",
    "licenseurl": "licenceUrl",
    "email": "contactEmail",
    "maintaineremail": "contactEmail",
    "contact": "contactTitle",
    "contactname": "contactTitle",
    "maintainer": "contactTitle",
    "visibility": "sharing",
    "status": "state",
    "embargo": "embargoUntil",
    "embargodate": "embargoUntil",
    "teamid": "team",
    "created": "createdAt",
    "metadatacreated": "createdAt",
    "issued": "createdAt",
    "modified": "updatedAt",
    "metadatamodified": "updatedAt",
    "lastmodified": "updatedAt",
}
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


@dataclass
class TableColumns:
    """A table's header, and the field each column would map to ("" = ignored)."""

    columns: list[str]
    suggested: dict[str, str]


def _normal(name: str) -> str:
    return _NOT_ALNUM.sub("", name.lower())


def _label(path: tuple[str, ...]) -> str:
    field = FIELDS[path[0]]
    return (field.part(path[1]) if len(path) > 1 else field).label


# Our fields' labels, as the form shows them ("Iframe", "Next review"), are names for them too.
_LABELS = {_normal(_label(path)): column for column, path in DATASET_PATHS.items()}


def suggest(columns: Sequence[str]) -> dict[str, str]:
    """Our field for each column: its own name, a known synonym, or "" (ignore)."""
    ours = {_normal(name): name for name in MAPPABLE_FIELDS}
    suggested: dict[str, str] = {}
    used: set[str] = set()
    for column in columns:
        key = _normal(column)
        target = ours.get(key) or _SYNONYMS.get(key) or _LABELS.get(key, "")
        if column in DERIVED_COLUMNS or target in used:
            target = ""
        if target:
            used.add(target)
        suggested[column] = target
    return suggested


def table_columns(path: Path) -> TableColumns:
    """The datasets table's columns of a CSV or XLSX file, for the column-mapping step."""
    from app.services.importing.detect import detect_format

    import_format = detect_format(path)
    if import_format is ImportFormat.CSV:
        with _csv_rows(path) as rows:
            header = next(rows, None)
    elif import_format is ImportFormat.XLSX:
        with open_workbook(path) as book:
            header = book.header(book.datasets_sheet())
    else:
        raise ImportRejected(f"{path.name} is not a table (CSV or XLSX): it needs no mapping")
    columns = [str(c) for c in header or []]
    return TableColumns(columns=columns, suggested=suggest(columns))


def check_mapping(columns: Sequence[str], mapping: Mapping[str, str]) -> dict[str, str]:
    """The mapping restricted to `columns`, checked: known targets, each used once."""
    checked: dict[str, str] = {}
    targets: dict[str, str] = {}
    for column, target in mapping.items():
        if not target or column not in columns:
            continue
        if target not in _FIELD_PATHS and not (
            target.startswith(CUSTOM_PREFIX) and target[len(CUSTOM_PREFIX) :].strip()
        ):
            raise ImportRejected(f"Column {column!r} maps to {target!r}, which is not a field")
        if target in targets:
            raise ImportRejected(
                f"Columns {targets[target]!r} and {column!r} both map to {target!r}"
            )
        targets[target] = column
        checked[column] = target
    return checked


# -- reading ---------------------------------------------------------------------------------

Cell = str | int | float | bool | date | datetime | None
# A cell with the number format a workbook gave it (None for CSV).
Located = tuple[Cell, str | None]


class _Row:
    """One table row read into a record part, collecting errors against its columns."""

    def __init__(self, row: int, sheet: str | None) -> None:
        self.row = row
        self.sheet = sheet
        self.errors: list[RowError] = []

    def column(self, name: str) -> str:
        return f"{self.sheet}!{name}" if self.sheet else name

    def fail(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.row, self.column(column), message))

    def text(self, column: str, cell: Located) -> str | None:
        value, _ = cell
        if type(value) is str:  # every cell of a CSV, most of a workbook's
            if not value:
                return None
            # restore_cell, without a call for the cells that do not start with "'" (nearly all)
            return restore_cell(value) if value[0] == "'" else value
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(int(value)) if float(value).is_integer() else repr(value)
        if isinstance(value, datetime | date):
            return value.isoformat()
        return restore_cell(value)

    def integer(self, column: str, cell: Located) -> int | None:
        value, _ = cell
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            self.fail(column, "must be a whole number")
            return None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,18}\s*", value):
            return int(value)
        self.fail(column, f"must be a whole number, not {str(value)[:40]!r}")
        return None

    def day(self, column: str, cell: Located) -> str | None:
        value, _ = cell
        if isinstance(value, datetime):
            if value.time() != datetime.min.time():
                self.fail(column, "must be a date without a time")
                return None
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        return self.text(column, cell)

    def moment(self, column: str, cell: Located) -> str | None:
        value, number_format = cell
        if isinstance(value, datetime):
            return timestamp_text(value, number_format)
        if isinstance(value, date):
            return timestamp_text(datetime(value.year, value.month, value.day), number_format)
        return self.text(column, cell)

    def items(self, column: str, cell: Located) -> list[str]:
        text = self.text(column, cell)
        return split_list(text) if text else []

    def custom(self, column: str, cell: Located) -> dict[str, Any]:
        text = self.text(column, cell)
        if not text:
            return {}
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            self.fail(column, 'must be a JSON object, e.g. {"unit": "Assurance"}')
            return {}
        if not isinstance(value, dict):
            self.fail(column, 'must be a JSON object, e.g. {"unit": "Assurance"}')
            return {}
        return value

    def text_or_empty(self, column: str, cell: Located) -> str:
        return self.text(column, cell) or ""

    def value(self, field: str, column: str, cell: Located) -> Any:
        return _reader(field)(self, column, cell)


# How a cell of a column is read: the column's name (for errors) and the cell.
Reader = Callable[[_Row, str, Located], Any]


@functools.cache
def _reader(field: str) -> Reader:
    """The reader of `field`'s column (one of our column names), chosen once per column rather
    than for every cell."""
    if field in _LISTS:
        return _Row.items
    if field in _DATES:
        return _Row.day
    if field in _TIMESTAMPS:
        return _Row.moment
    if field in _INTEGERS:
        return _Row.integer
    if field == "custom":
        return _Row.custom
    return _Row.text_or_empty if field in _TEXTS else _Row.text


def _dataset_columns(mapping: Mapping[str, str], sheet: str | None) -> dict[str, str]:
    """Record path -> column label of a datasets table mapped by `mapping` (and the child
    sheets' columns): one dict for all the file's items, for their error messages."""
    columns = dict(_CHILD_COLUMNS)
    for column, target in mapping.items():
        path = target if target.startswith(CUSTOM_PREFIX) else ".".join(_FIELD_PATHS[target])
        columns[path.strip()] = f"{sheet}!{column}" if sheet else column
    return columns


# A mapped column of a datasets table: its name, the record key (for a custom field, its
# name) and object part it fills, how its cells are read, and whether it is a custom field.
_Mapped = tuple[str, str, str | None, Reader, bool]
_NO_CELL: Located = (None, None)


def _mapped(mapping: Mapping[str, str]) -> list[_Mapped]:
    """The mapped columns in the mapping's order, each with its reader."""
    mapped: list[_Mapped] = []
    for column, target in mapping.items():
        if target.startswith(CUSTOM_PREFIX):
            mapped.append((column, target[len(CUSTOM_PREFIX) :].strip(), None, _Row.items, True))
            continue
        path = _FIELD_PATHS[target]
        part = path[1] if len(path) > 1 else None
        mapped.append((column, path[0], part, _reader(target), False))
    return mapped


def _dataset_item(
    row: _Row,
    cells: Mapping[str, Located],
    mapped: Sequence[_Mapped],
    columns: Mapping[str, str],
) -> SourceItem:
    """A dataset record from a datasets-table row: only the mapped fields are set."""
    record: dict[str, Any] = {}
    custom_columns: dict[str, Any] = {}
    get = cells.get
    for column, key, part, read, custom in mapped:
        value = read(row, column, get(column, _NO_CELL))
        if custom:
            if value:
                custom_columns[key] = value[0] if len(value) == 1 else value
        elif part is None:
            record[key] = value
        else:
            record.setdefault(key, {})[part] = value
    if custom_columns:
        record["custom"] = {**(record.get("custom") or {}), **custom_columns}
    if record.get("id") is not None:
        record["id"] = str(record["id"]).strip()
    return SourceItem(row=row.row, record=record, errors=row.errors, columns=columns)


# A child's record path (without its id) -> its column in the child sheet.
_CHILD_COLUMNS: dict[str, str] = {
    "resources.id": "id",
    "links.id": "id",
    **{f"resources.{'.'.join(path)}": column for column, path in RESOURCE_PATHS.items()},
    **{f"links.{'.'.join(path)}": column for column, path in LINK_PATHS.items()},
}


def _child(
    row: _Row, cells: Mapping[str, Located], paths: Mapping[str, tuple[str, ...]], kind: Field
) -> dict[str, Any]:
    """A resource or link (`kind`: RESOURCE or LINK) from its sheet's row: the columns present
    only. An empty cell is "" for a text that is never null, else None (a time frame's bound:
    None clears it, as importing.plan merges); a link check is whole or absent."""
    child: dict[str, Any] = {}
    for column, path in paths.items():
        if column not in cells:
            continue
        value = row.value(column, column, cells[column])
        if len(path) > 1:
            child.setdefault(path[0], {})[path[1]] = value
        else:
            child[path[0]] = "" if value is None and kind.part(path[0]).default == "" else value
    for part in kind.parts:
        if part.kind is Kind.OBJECT and part.name in child and all(p.nullable for p in part.parts):
            given = child[part.name]
            child[part.name] = {p.name: given.get(p.name) for p in part.parts}
    return child


def _resource(row: _Row, cells: Mapping[str, Located]) -> dict[str, Any]:
    return _child(row, cells, RESOURCE_PATHS, RESOURCE)


def _link(row: _Row, cells: Mapping[str, Located]) -> dict[str, Any]:
    return _child(row, cells, LINK_PATHS, LINK)


class _Children:
    """A child sheet (resources or links) grouped by dataset id, with the rows' errors."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.by_dataset: dict[str, dict[str, Any]] = {}
        # Per dataset: where each child was read (`resources.k93` -> (row, sheet)), and the
        # errors of its rows.
        self.locations: dict[str, dict[str, tuple[int, str]]] = {}
        self.errors: dict[str, list[RowError]] = {}

    def add(
        self,
        row: _Row,
        cells: Mapping[str, Located],
        make: Callable[[_Row, Mapping[str, Located]], dict[str, Any]],
    ) -> None:
        dataset_id = row.text("dataset", cells.get("dataset", (None, None))) or ""
        children = self.by_dataset.setdefault(dataset_id, {})
        child_id = row.text("id", cells.get("id", (None, None))) or new_child_id(set(children))
        if child_id in children:
            row.fail("id", f"{child_id} appears twice for dataset {dataset_id}")
        children[child_id] = make(row, cells)
        where = self.locations.setdefault(dataset_id, {})
        where[f"{self.key}.{child_id}"] = (row.row, row.sheet or "")
        self.errors.setdefault(dataset_id, []).extend(row.errors)

    def attach(self, item: SourceItem, dataset_id: str) -> None:
        """Give the dataset its children (none if the sheet has no row for it)."""
        item.record[self.key] = self.by_dataset.pop(dataset_id, {})
        item.locations.update(self.locations.pop(dataset_id, {}))
        item.errors.extend(self.errors.pop(dataset_id, []))

    def leftovers(self) -> list[RowError]:
        """A row for each child whose dataset is not in the datasets sheet."""
        errors: list[RowError] = []
        for dataset_id, where in self.locations.items():
            message = (
                f"no dataset {dataset_id} in the datasets sheet"
                if dataset_id
                else "the dataset column is empty"
            )
            for row, sheet in where.values():
                errors.append(RowError(row, f"{sheet}!dataset" if sheet else "dataset", message))
        return errors


def read_table(
    path: Path,
    import_format: ImportFormat,
    *,
    mapping: Mapping[str, str] | None,
    progress: Progress,
) -> tuple[list[SourceItem], list[RowError]]:
    """The datasets of a table, and the errors that belong to no dataset (orphan rows)."""
    if import_format is ImportFormat.CSV:
        return _read_csv(path, mapping, progress)
    return _read_xlsx(path, mapping, progress)


def _datasets(
    rows: Iterable[tuple[int, dict[str, Located]]],
    header: Sequence[str],
    mapping: Mapping[str, str] | None,
    sheet: str | None,
    progress: Progress,
) -> Iterator[tuple[SourceItem, str]]:
    chosen = check_mapping(header, mapping if mapping is not None else suggest(header))
    if not chosen:
        raise ImportRejected(
            "No column maps to a field: map at least the title (and the id to update)"
        )
    columns = _dataset_columns(chosen, sheet)
    mapped = _mapped(chosen)
    for count, (number, cells) in enumerate(rows, 1):
        if count > MAX_DATASETS:
            raise ImportRejected(f"More than {MAX_DATASETS:,} datasets in one import")
        item = _dataset_item(_Row(number, sheet), cells, mapped, columns)
        if count % 1000 == 0:
            progress.report(0, 0)
        yield item, str(item.record.get("id") or "")


# -- CSV -------------------------------------------------------------------------------------


@contextmanager
def _csv_rows(path: Path) -> Iterator[Iterator[list[str]]]:
    """The rows of a CSV file as lists of strings: UTF-8 (a BOM is allowed), comma, tab or
    semicolon separated (the header decides)."""
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    try:
        with open(path, encoding="utf-8-sig", newline="", errors="strict") as file:
            first = file.readline(1024 * 1024)
            file.seek(0)
            delimiter = ","
            if "," not in first:
                delimiter = "\t" if "\t" in first else ";" if ";" in first else ","
            reader = csv.reader(file, delimiter=delimiter, strict=True)
            try:
                yield reader
            except csv.Error as error:
                raise ImportRejected(
                    f"{path.name}, line {reader.line_num}: not valid CSV ({error})"
                ) from error
    except UnicodeDecodeError as error:
        raise ImportRejected(f"{path.name} is not UTF-8 text: {error.reason}") from error
    except OSError as error:
        raise ImportRejected(f"Cannot read {path}: {error.strerror or error}") from error


def _numbered(
    rows: Iterator[list[str]], header: Sequence[str]
) -> Iterator[tuple[int, dict[str, Located]]]:
    """Data rows as {column: (cell, None)} with their spreadsheet row number; blank rows and
    the cells beyond the header skipped."""
    for number, cells in enumerate(rows, 2):
        if not any(cells):
            continue
        yield (
            number,
            {column: (cell, None) for column, cell in zip(header, cells, strict=False) if column},
        )


def _is_resources_table(header: Sequence[str]) -> bool:
    return {"dataset", "id", "title", "url", "filename", "timeFrameFrom"} <= set(header)


def _read_csv(
    path: Path, mapping: Mapping[str, str] | None, progress: Progress
) -> tuple[list[SourceItem], list[RowError]]:
    with _csv_rows(path) as rows:
        header = [column.strip() for column in next(rows, [])]
        if not any(header):
            raise ImportRejected(f"{path.name} is empty: a header row is needed")
        if mapping is None and _is_resources_table(header):
            return _resources_only(_numbered(rows, header)), []
        items = [
            item for item, _ in _datasets(_numbered(rows, header), header, mapping, None, progress)
        ]
        return items, []


def _resources_only(rows: Iterable[tuple[int, dict[str, Located]]]) -> list[SourceItem]:
    """Our resources CSV: each dataset named in it gets exactly the resources listed."""
    children = _Children("resources")
    first_row: dict[str, int] = {}
    for number, cells in rows:
        row = _Row(number, None)
        children.add(row, cells, _resource)
        dataset_id = row.text("dataset", cells.get("dataset", (None, None))) or ""
        first_row.setdefault(dataset_id, number)
    columns = {**_CHILD_COLUMNS, "id": "dataset"}
    items: list[SourceItem] = []
    for dataset_id, number in first_row.items():
        item = SourceItem(row=number, record={"id": dataset_id}, columns=columns)
        children.attach(item, dataset_id)
        if not dataset_id:
            item.errors.append(RowError(number, "dataset", "the dataset column is empty"))
        items.append(item)
    return items


# -- XLSX ------------------------------------------------------------------------------------


def _read_xlsx(
    path: Path, mapping: Mapping[str, str] | None, progress: Progress
) -> tuple[list[SourceItem], list[RowError]]:
    with open_workbook(path) as book:
        datasets_sheet = book.datasets_sheet()
        header = book.header(datasets_sheet)
        if not any(header):
            raise ImportRejected(f"{path.name}: the {datasets_sheet!r} sheet has no header row")
        sheet = datasets_sheet if book.has("resources") or book.has("links") else None
        children: list[tuple[_Children, Callable[..., dict[str, Any]]]] = []
        for name, make in (("resources", _resource), ("links", _link)):
            if book.has(name) and name != datasets_sheet:
                group = _Children(name)
                for part in book.continued(name):
                    child_header = book.header(part)
                    for number, cells in book.rows(part, child_header):
                        group.add(_Row(number, part), cells, make)
                children.append((group, make))
        parts = book.continued(datasets_sheet)
        rows = (row for part in parts for row in book.rows(part, book.header(part)))
        items: list[SourceItem] = []
        for item, dataset_id in _datasets(rows, header, mapping, sheet, progress):
            for group, _ in children:
                if dataset_id:
                    group.attach(item, dataset_id)
            items.append(item)
        orphans = [error for group, _ in children for error in group.leftovers()]
        return items, orphans
