"""Our tables' columns (the CSV exports, the XLSX sheets, the CSV/XLSX import), from the field
table: a field is one column, an object one column per part (`licenceUrl`), and a field's
read-only companions follow it (`teamTitle` after `team`). Resources and links have tables of
their own, keyed by the dataset's id."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from app.services.record.fields import DATASET, LINK, RESOURCE, Field, Kind

Path = tuple[str, ...]


def _column(owner: Field | None, part: Field) -> str:
    if part.column:
        return part.column
    if owner is None:
        return part.name
    return owner.name + part.name[0].upper() + part.name[1:]


def _paths(fields: Iterable[Field], tables: frozenset[str]) -> Iterator[tuple[str, Path]]:
    """(column, record path) of each field written to a table, in table order."""
    for field in fields:
        if field.table not in tables:
            continue
        if field.kind is Kind.OBJECT:
            for part in field.parts:
                if part.table in tables:
                    yield _column(field, part), (field.name, part.name)
        else:
            yield _column(None, field), (field.name,)


def _with_companions(fields: Iterable[Field], tables: frozenset[str]) -> tuple[str, ...]:
    columns: list[str] = []
    for field in fields:
        columns.extend(column for column, _ in _paths([field], tables))
        columns.extend(field.companions)
    return tuple(columns)


_ALL = frozenset({"all"})
_DESKTOP_ONLY = frozenset({"desktop"})
_EVERY = frozenset({"all", "desktop"})

# The datasets table every export writes, and what the desktop's workbook adds at its end.
DATASET_COLUMNS: tuple[str, ...] = _with_companions(DATASET, _ALL)
DESKTOP_COLUMNS: tuple[str, ...] = tuple(column for column, _ in _paths(DATASET, _DESKTOP_ONLY))
# A dataset column -> the record path it fills, for the import.
DATASET_PATHS: dict[str, Path] = dict(_paths(DATASET, _EVERY))
# Columns derived from other fields (counts, titles of managed entries): never read back.
COMPANION_COLUMNS = frozenset(c for f in DATASET for c in f.companions)

# The children's tables: the dataset's id, the child's id, its fields, the dataset's webpage.
RESOURCE_PATHS: dict[str, Path] = dict(_paths(RESOURCE.parts, _ALL))
LINK_PATHS: dict[str, Path] = dict(_paths(LINK.parts, _ALL))
RESOURCE_COLUMNS: tuple[str, ...] = ("dataset", "id", *RESOURCE_PATHS, "webpage")
LINK_COLUMNS: tuple[str, ...] = ("dataset", "id", *LINK_PATHS, "webpage")


def columns_of(*kinds: Kind) -> frozenset[str]:
    """Every table column (datasets, resources, links) whose field is of one of `kinds`."""
    found: set[str] = set()
    for fields in (DATASET, RESOURCE.parts, LINK.parts):
        for column, path in _paths(fields, _EVERY):
            field = _field_at(fields, path)
            if field.kind in kinds:
                found.add(column)
    return frozenset(found)


def _field_at(fields: Iterable[Field], path: Path) -> Field:
    field = next(f for f in fields if f.name == path[0])
    return field.part(path[1]) if len(path) > 1 else field
