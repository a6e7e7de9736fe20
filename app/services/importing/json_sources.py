"""JSON imports: DataPress `export.json` (seed 001), one dataset's JSON (seed 002), and CKAN's
`package_search` / `current_package_list_with_resources` responses.

Each dataset becomes a record with only the keys its object has (an update leaves the others
alone). Values are taken as they come: importing.shape and validation judge them, so a wrong
type is an error on that field, not a crash. Row numbers are positions in the list (1-based).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from app.services.datasets import new_child_id
from app.services.importing.limits import MAX_DATASETS, check_file_size
from app.services.importing.model import ImportFormat, ImportRejected, RowError, SourceItem
from app.services.records import Record
from app.services.validation import DATASET_ID

MAX_JSON_BYTES = 256 * 1024 * 1024

# Seed-002 keys read as they are.
_PLAIN_KEYS = (
    "id",
    "title",
    "description",
    "descriptionIframe",
    "tags",
    "nextReviewDate",
    "licence",
    "contact",
    "custom",
    "sharing",
    "collaborators",
    "readusers",
    "readteams",
    "createdAt",
    "updatedAt",
    "site",
    "state",
    "embargoUntil",
)


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
        return [_item(1, document, _datapress_record)]
    if import_format is ImportFormat.CKAN_JSON:
        return _items(_ckan_packages(path, document), _ckan_record)
    if not isinstance(document, list):
        raise ImportRejected(f"{path.name}: a DataPress export must be a list of datasets")
    return _items(document, _datapress_record)


def _items(objects: list[Any], convert: Callable[[dict[str, Any]], Record]) -> list[SourceItem]:
    if len(objects) > MAX_DATASETS:
        raise ImportRejected(f"More than {MAX_DATASETS:,} datasets in one import")
    return [_item(row, value, convert) for row, value in enumerate(objects, 1)]


def _item(row: int, value: Any, convert: Callable[[dict[str, Any]], Record]) -> SourceItem:
    if not isinstance(value, dict):
        return SourceItem(row, {}, [RowError(row, "", "must be a dataset object")])
    item = SourceItem(row, convert(value))
    if not str(item.record.get("id") or "") and "title" not in item.record:
        item.errors.append(RowError(row, "", "has neither an id nor a title"))
    return item


def _id_of(value: Any) -> Any:
    """A managed-list reference: an id, or an `{"id", "title"}` object as the export has."""
    if isinstance(value, dict):
        return value.get("id")
    return value


def _datapress_record(data: dict[str, Any]) -> Record:
    """A seed-002 object, or an export.json element (lists, `{"id", "title"}` references)."""
    record: Record = {key: data[key] for key in _PLAIN_KEYS if key in data}
    for key in ("masthead", "team"):
        if key in data:
            record[key] = _id_of(data[key])
    if "topics" in data:
        topics = data["topics"]
        record["topics"] = [_id_of(t) for t in topics] if isinstance(topics, list) else topics
    if "resources" in data:
        record["resources"] = _children(data["resources"], _export_resource)
    if "links" in data:
        record["links"] = _children(data["links"], _export_link)
    return record


def _children(value: Any, convert: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """Seed 002 keys children by id; export.json lists them, each with its `id`."""
    if not isinstance(value, list):
        return value
    children: dict[str, Any] = {}
    for child in value:
        if not isinstance(child, dict):
            return value  # the shape check reports it
        child_id = child.get("id")
        if not isinstance(child_id, str) or not child_id:
            child_id = new_child_id(set(children))
        children[child_id] = convert(child)
    return children


def _export_resource(data: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        key: data[key]
        for key in (
            "url",
            "order",
            "title",
            "description",
            "filename",
            "format",
            "hash",
            "size",
            "timestamp",
            "origin",
        )
        if key in data
    }
    # Both bounds, None for a missing one: the file's time frame replaces the stored one.
    frame = data.get("timeFrame")
    if isinstance(frame, dict):
        resource["timeFrame"] = {"gte": frame.get("gte"), "lte": frame.get("lte")}
    elif "timeFrame" in data:
        resource["timeFrame"] = frame
    if "timeFrameFrom" in data or "timeFrameTo" in data:
        resource["timeFrame"] = {"gte": data.get("timeFrameFrom"), "lte": data.get("timeFrameTo")}
    return resource


def _export_link(data: dict[str, Any]) -> dict[str, Any]:
    link: dict[str, Any] = {
        key: data[key] for key in ("url", "order", "title", "description", "qa") if key in data
    }
    qa_keys = ("httpStatus", "size", "mimetype", "hash", "qaTimestamp")
    if "qa" not in data and any(key in data for key in qa_keys):
        link["qa"] = {
            "timestamp": data.get("qaTimestamp"),
            "hash": data.get("hash"),
            "size": data.get("size"),
            "mimetype": data.get("mimetype"),
            "httpStatus": data.get("httpStatus"),
        }
    return link


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


def _ckan_record(package: dict[str, Any]) -> Record:
    """A CKAN package as our record (formats.ckan's mapping, read backwards)."""
    record: Record = {}
    # Our packages are named by the dataset id; another portal's slug or UUID is no id of ours,
    # so that package is imported as a new dataset.
    name = package.get("name") or package.get("id")
    if isinstance(name, str) and DATASET_ID.match(name):
        record["id"] = name
    if "title" in package:
        record["title"] = package["title"]
    if "notes" in package:
        record["description"] = package["notes"] or ""
    if "tags" in package:
        record["tags"] = _names(package["tags"])
    if "groups" in package:
        record["topics"] = _names(package["groups"])
    if "license_url" in package or "license_title" in package:
        record["licence"] = {
            "url": package.get("license_url") or None,
            "title": package.get("license_title") or None,
        }
    if "maintainer" in package or "maintainer_email" in package:
        record["contact"] = {
            "email": package.get("maintainer_email") or None,
            "title": package.get("maintainer") or None,
        }
    if "private" in package:
        record["sharing"] = "private" if package["private"] is True else "public"
    if package.get("owner_org") or package.get("organization"):
        record["team"] = package.get("owner_org") or _id_of(package.get("organization"))
    for ours, theirs in (("createdAt", "metadata_created"), ("updatedAt", "metadata_modified")):
        if isinstance(package.get(theirs), str):
            record[ours] = _ckan_time(package[theirs])
    if "extras" in package:
        record["custom"] = _extras(package["extras"])
    if "resources" in package:
        record["resources"], record["links"] = _ckan_resources(package["resources"])
    return record


def _names(values: Any) -> Any:
    """CKAN's tags and groups are objects: their names (anything else is left to be judged)."""
    if not isinstance(values, list):
        return values
    return [v.get("name") if isinstance(v, dict) else v for v in values]


def _ckan_time(value: str) -> str:
    """CKAN's timestamps have no zone (UTC) and microseconds: as ours, milliseconds and Z."""
    if len(value) >= 19 and value[10] == "T" and not value.endswith("Z") and "+" not in value:
        seconds, _, fraction = value.partition(".")
        return f"{seconds}.{(fraction + '000')[:3]}Z"
    return value


def _extras(extras: Any) -> Any:
    if not isinstance(extras, list):
        return extras
    custom: dict[str, Any] = {}
    for extra in extras:
        if not isinstance(extra, dict):
            return extras
        value = extra.get("value")
        if isinstance(value, str) and value.startswith("["):
            try:
                decoded = orjson.loads(value)
            except orjson.JSONDecodeError:
                decoded = value
            if isinstance(decoded, list) and all(isinstance(v, str) for v in decoded):
                value = decoded
        custom[str(extra.get("key"))] = value
    return custom


def _ckan_resources(resources: Any) -> tuple[Any, Any]:
    if not isinstance(resources, list):
        return resources, {}
    files: dict[str, Any] = {}
    links: dict[str, Any] = {}
    for resource in resources:
        if not isinstance(resource, dict):
            return resources, {}
        is_link = resource.get("resource_type") == "link"
        taken = links if is_link else files
        raw_id = str(resource.get("id") or "")
        package_id = str(resource.get("package_id") or "")
        # Ours are "<dataset id>-<child id>"; another portal's are UUIDs, kept when they fit.
        child_id = (
            raw_id[len(package_id) + 1 :]
            if package_id and raw_id.startswith(package_id + "-")
            else raw_id
        )
        if not child_id or len(child_id) > 36 or child_id in taken:
            child_id = new_child_id(set(taken))
        digest = resource.get("hash")
        if isinstance(digest, str):
            digest = digest.removeprefix("md5:") or None
        if is_link:
            links[child_id] = {
                "url": resource.get("url") or "",
                "order": len(links),
                "title": resource.get("name") or "",
                "description": resource.get("description") or "",
                # CKAN has no HTTP status: an update keeps the one the catalogue has.
                "qa": {
                    "timestamp": resource.get("last_modified"),
                    "hash": digest or None,
                    "size": resource.get("size"),
                    "mimetype": resource.get("mimetype"),
                },
            }
        else:
            fmt = resource.get("format")
            files[child_id] = {
                "url": resource.get("url") or "",
                "order": len(files),
                "title": resource.get("name") or "",
                "description": resource.get("description") or "",
                "format": fmt.lower() if isinstance(fmt, str) and fmt else None,
                "hash": digest,
                "size": resource.get("size"),
                "timestamp": resource.get("last_modified") or resource.get("created"),
            }
    return files, links
