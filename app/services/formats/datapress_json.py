"""DataPress `export.json` (seed 001): a JSON array of datasets, streamed one dataset at a time.

The shape of the dataset editing JSON (seed 002) with the export's changes, as mappings.datapress
maps it (the mapping the JSON import and the DataPress sync use too).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from app.services.export_query import DatasetRow
from app.services.formats import Chunks, dataset_webpage, json_array
from app.services.mappings.datapress import to_export
from app.services.mappings.rows import row_record, row_titles

CONTENT_TYPE = "application/json"


def dataset_dict(row: DatasetRow, base_url: str) -> dict[str, Any]:
    """The export.json object of `row` (mappings.datapress)."""
    return to_export(row_record(row), dataset_webpage(base_url, row.id), row_titles(row))


def dataset_objects(rows: Iterable[DatasetRow], *, base_url: str) -> Iterator[bytes]:
    """Each dataset's object of export.json, as JSON."""
    for row in rows:
        yield orjson.dumps(dataset_dict(row, base_url))


def export_json(rows: Iterable[DatasetRow], *, base_url: str) -> Chunks:
    """`[dataset, dataset, ...]`, one dataset object per element, flushed in ~64 KiB chunks."""
    return export_document(dataset_objects(rows, base_url=base_url))


def export_document(objects: Iterable[bytes]) -> Chunks:
    """export.json around objects from `dataset_objects`."""
    return json_array(b"[", objects, b"]")
