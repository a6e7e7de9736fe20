"""JSON imports: DataPress `export.json` (seed 001), one dataset's JSON (seed 002), and CKAN's
`package_search` / `current_package_list_with_resources` responses.

Each dataset becomes a record with only the keys its object has (an update leaves the others
alone), mapped by the format's mapping module (mappings.datapress, mappings.ckan: the server and
sync use the same), which also says what the format does not carry. Values are taken as they
come: importing.shape and validation judge them, so a wrong type is an error on that field, not
a crash (a CKAN package whose lists are not lists of objects is an error on its row). Row
numbers are positions in the list (1-based).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from app.services.datasets import new_child_id
from app.services.importing.limits import MAX_DATASETS, check_file_size
from app.services.importing.model import ImportFormat, ImportRejected, RowError, SourceItem
from app.services.mappings import Carriage, ckan, datapress

MAX_JSON_BYTES = 256 * 1024 * 1024


def read_json(path: Path, import_format: ImportFormat) -> list[SourceItem]:
    check_file_size(path, MAX_JSON_BYTES)
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise ImportRejected(f"{path.name} is not valid JSON: {error}") from error
    except OSError as error:
        raise ImportRejected(f"Cannot read {path}: {error.strerror or error}") from error
    if import_format is ImportFormat.DATASET_JSON:
        if not isinstance(document, dict):
            raise ImportRejected(f"{path.name}: one dataset's JSON must be an object")
        return [_checked(_dataset_item(1, document))]
    if import_format is ImportFormat.CKAN_JSON:
        return _items(_ckan_packages(path, document), _ckan_item)
    if not isinstance(document, list):
        raise ImportRejected(f"{path.name}: a DataPress export must be a list of datasets")
    return _items(document, _datapress_item)


def _items(objects: list[Any], read: Callable[[int, Any], SourceItem]) -> list[SourceItem]:
    if len(objects) > MAX_DATASETS:
        raise ImportRejected(f"More than {MAX_DATASETS:,} datasets in one import")
    return [_checked(read(row, value)) for row, value in enumerate(objects, 1)]


def _checked(item: SourceItem) -> SourceItem:
    if not item.errors and not str(item.record.get("id") or "") and "title" not in item.record:
        item.errors.append(RowError(item.row, "", "has neither an id nor a title"))
    return item


def _datapress_item(row: int, value: Any) -> SourceItem:
    """An export.json element (mappings.datapress); its fields beyond the export's count too."""
    return _datapress(row, value, datapress.EXPORT)


def _dataset_item(row: int, value: Any) -> SourceItem:
    """One dataset's seed-002 JSON (mappings.datapress)."""
    return _datapress(row, value, datapress.DATASET_JSON)


def _datapress(row: int, value: Any, carriage: Carriage) -> SourceItem:
    if not isinstance(value, dict):
        return SourceItem(row, {}, [RowError(row, "", "must be a dataset object")])
    record = datapress.from_datapress(value, new_child_id)
    return SourceItem(row, record, carriage=carriage)


# -- CKAN ------------------------------------------------------------------------------------


def _ckan_packages(path: Path, document: Any) -> list[Any]:
    result = document.get("result") if isinstance(document, dict) else None
    if isinstance(result, dict):
        result = result.get("results", result.get("result"))
    if not isinstance(result, list):
        raise ImportRejected(
            f"{path.name}: a CKAN response has its packages in result (a list) or result.results"
        )
    return result


def _ckan_item(row: int, package: Any) -> SourceItem:
    """A CKAN package as our record (mappings.ckan, the mapping the server and sync use)."""
    if not isinstance(package, dict):
        return SourceItem(row, {}, [RowError(row, "", "must be a dataset object")])
    try:
        record, losses = ckan.from_ckan(package)
    except ckan.Malformed as error:
        return SourceItem(row, {}, [RowError(row, "", str(error))])
    # Our packages are named by the dataset id; another portal's slug or UUID is no id of ours,
    # so that package is imported as a new dataset.
    dataset_id = ckan.dataset_id(package)
    if dataset_id is not None:
        record["id"] = dataset_id
    return SourceItem(row, record, losses=losses, carriage=ckan.CARRIAGE)
