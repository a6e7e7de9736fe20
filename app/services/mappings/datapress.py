"""DataPress JSON <-> our canonical record: the one DataPress mapping.

Our record is DataPress's dataset JSON (seed 002), so one dataset's JSON carries every field
(`DATASET_JSON`). The export (seed 001 `export.json`, `EXPORT`) is that shape with the export's
changes: `resources` and `links` are lists in page order, each with a backlink to its dataset;
`topics`, `masthead` and `team` are `{"id", "title"}` objects with titles from the managed
lists; `webpage` is the dataset's public URL; access lists and publication state are not in it.
Sync with a DataPress portal (`SYNC`) carries every field but the people: user and team ids
mean different people on each side.

Used by the server (formats.datapress_json), the JSON import (importing.json_sources) and the
DataPress sync adapter (sync.datapress).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from app.services.mappings import NO_TITLES, Carriage, Titles, record_fields
from app.services.records import Record

DATASET_JSON = Carriage.all_but("the DataPress dataset JSON")
_ACCESS = "access lists are not exported"
# Who else may read or edit a dataset, and until when nobody else may: export.json leaves them
# out, and so does a dataset's JSON for a reader who may not manage the dataset (`for_reader`).
ACCESS_KEYS = ("collaborators", "readusers", "readteams", "embargoUntil")
EXPORT = Carriage.of(
    "DataPress export.json",
    (
        "title",
        "description",
        "masthead",
        "tags",
        "topics",
        "nextReviewDate",
        "licence",
        "contact",
        "custom",
        "resources",
        "links",
        "sharing",
        "team",
    ),
    collaborators=_ACCESS,
    readusers=_ACCESS,
    readteams=_ACCESS,
)
_PEOPLE = "user and team ids mean different people on each side"
SYNC = Carriage.all_but(
    "DataPress", team=_PEOPLE, collaborators=_PEOPLE, readusers=_PEOPLE, readteams=_PEOPLE
)

# Managed-list references: an id in the record, `{"id", "title"}` in the export.
_REFERENCES = ("masthead", "team", "topics")
_CHILDREN = ("resources", "links")
# The keys a dataset JSON holds as they are: every field but those above, and the catalogue's.
PLAIN_KEYS: tuple[str, ...] = (
    "id",
    *(k for k in record_fields() if k not in _REFERENCES + _CHILDREN),
    "createdAt",
    "updatedAt",
    "site",
)
_RESOURCE_KEYS = (
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
_QA_KEYS = ("httpStatus", "size", "mimetype", "hash", "qaTimestamp")


def for_reader(record: Mapping[str, Any]) -> Record:
    """The dataset JSON (seed 002) without `ACCESS_KEYS`, as export.json has it: what a caller
    who may read the dataset but not manage it sees (services.export_query.record_as_seen)."""
    return {k: v for k, v in record.items() if k not in ACCESS_KEYS}


# -- ours -> export.json -------------------------------------------------------------------------


def _named(value: str | None, titles: Mapping[str, str]) -> dict[str, str] | None:
    return {"id": value, "title": titles.get(value, value)} if value else None


def to_export(record: Mapping[str, Any], webpage: str, titles: Titles = NO_TITLES) -> Record:
    """One dataset's object of export.json; files and links in the record's order (a stored
    record has them by `order`, as records.dataset_to_record and rows.row_record give them)."""
    dataset = record["id"]
    licence = record.get("licence") or {}
    contact = record.get("contact") or {}
    resources = []
    for rid, r in (record.get("resources") or {}).items():
        frame = r.get("timeFrame") or {}
        resources.append(
            {
                "id": rid,
                "title": r.get("title"),
                "url": r.get("url"),
                "filename": r.get("filename"),
                "description": r.get("description"),
                "timeFrameFrom": frame.get("gte"),
                "timeFrameTo": frame.get("lte"),
                "format": r.get("format"),
                "size": r.get("size"),
                "hash": r.get("hash"),
                "timestamp": r.get("timestamp"),
                "dataset": dataset,
                "webpage": webpage,
            }
        )
    links = []
    for lid, link in (record.get("links") or {}).items():
        qa = link.get("qa") or {}
        links.append(
            {
                "id": lid,
                "title": link.get("title"),
                "url": link.get("url"),
                "description": link.get("description"),
                "httpStatus": qa.get("httpStatus"),
                "size": qa.get("size"),
                "mimetype": qa.get("mimetype"),
                "hash": qa.get("hash"),
                "qaTimestamp": qa.get("timestamp"),
                "dataset": dataset,
                "webpage": webpage,
            }
        )
    return {
        "webpage": webpage,
        "id": dataset,
        "title": record.get("title"),
        "description": record.get("description"),
        "masthead": _named(record.get("masthead"), titles.mastheads),
        "tags": list(record.get("tags") or ()),
        "topics": [_named(t, titles.topics) for t in record.get("topics") or ()],
        "nextReviewDate": record.get("nextReviewDate"),
        "licence": {"url": licence.get("url"), "title": licence.get("title")},
        "contact": {"email": contact.get("email"), "title": contact.get("title")},
        "custom": dict(record.get("custom") or {}),
        "resources": resources,
        "links": links,
        "sharing": record.get("sharing"),
        "team": _named(record.get("team"), titles.teams),
        "createdAt": record.get("createdAt"),
        "updatedAt": record.get("updatedAt"),
    }


# -- DataPress JSON -> ours ----------------------------------------------------------------------


def _id_of(value: Any) -> Any:
    """A managed-list reference: an id, or an `{"id", "title"}` object as the export has."""
    if isinstance(value, dict):
        return value.get("id")
    return value


def from_datapress(data: Mapping[str, Any], new_id: Callable[[set[str]], str]) -> Record:
    """Our record of a seed-002 object or an export.json element, with only the keys it has.
    Values are taken as they come (importing.shape judges them). `new_id` names an export's
    child that has no id."""
    record: Record = {key: data[key] for key in PLAIN_KEYS if key in data}
    for key in ("masthead", "team"):
        if key in data:
            record[key] = _id_of(data[key])
    if "topics" in data:
        topics = data["topics"]
        record["topics"] = [_id_of(t) for t in topics] if isinstance(topics, list) else topics
    if "resources" in data:
        record["resources"] = _children(data["resources"], _export_resource, new_id)
    if "links" in data:
        record["links"] = _children(data["links"], _export_link, new_id)
    return record


def _children(
    value: Any,
    convert: Callable[[dict[str, Any]], dict[str, Any]],
    new_id: Callable[[set[str]], str],
) -> Any:
    """Seed 002 keys children by id; export.json lists them, each with its `id`."""
    if not isinstance(value, list):
        return value
    children: dict[str, Any] = {}
    for child in value:
        if not isinstance(child, dict):
            return value  # the shape check reports it
        child_id = child.get("id")
        if not isinstance(child_id, str) or not child_id:
            child_id = new_id(set(children))
        children[child_id] = convert(child)
    return children


def _export_resource(data: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {key: data[key] for key in _RESOURCE_KEYS if key in data}
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
    if "qa" not in data and any(key in data for key in _QA_KEYS):
        link["qa"] = {
            "timestamp": data.get("qaTimestamp"),
            "hash": data.get("hash"),
            "size": data.get("size"),
            "mimetype": data.get("mimetype"),
            "httpStatus": data.get("httpStatus"),
        }
    return link
