"""DataPress `export.json` (seed 001): a JSON array of datasets, streamed one dataset at a time.

The shape of the dataset editing JSON (seed 002) with the export's additions: `resources` and
`links` are lists in page order, each with a backlink to its dataset; `topics`, `masthead` and
`team` are `{"id", "title"}` objects with titles from the managed lists; `webpage` is the
dataset's public URL. Access lists (collaborators, read users and teams) are not exported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from app.services.export_query import DatasetRow, LinkRow, Named, ResourceRow
from app.services.formats import Chunks, dataset_webpage, json_array

CONTENT_TYPE = "application/json"


def _named(value: Named | None) -> dict[str, str] | None:
    return {"id": value.id, "title": value.title} if value is not None else None


def resource_dict(r: ResourceRow, dataset_id: str, webpage: str) -> dict[str, Any]:
    return {
        "id": r.rid,
        "title": r.title,
        "url": r.url,
        "filename": r.filename,
        "description": r.description,
        "timeFrameFrom": r.time_from,
        "timeFrameTo": r.time_to,
        "format": r.format,
        "size": r.size,
        "hash": r.hash,
        "timestamp": r.timestamp,
        "dataset": dataset_id,
        "webpage": webpage,
    }


def link_dict(link: LinkRow, dataset_id: str, webpage: str) -> dict[str, Any]:
    return {
        "id": link.lid,
        "title": link.title,
        "url": link.url,
        "description": link.description,
        "httpStatus": link.qa_http_status,
        "size": link.qa_size,
        "mimetype": link.qa_mimetype,
        "hash": link.qa_hash,
        "qaTimestamp": link.qa_timestamp,
        "dataset": dataset_id,
        "webpage": webpage,
    }


def dataset_dict(row: DatasetRow, base_url: str) -> dict[str, Any]:
    webpage = dataset_webpage(base_url, row.id)
    return {
        "webpage": webpage,
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "masthead": _named(row.masthead),
        "tags": list(row.tags),
        "topics": [_named(t) for t in row.topics],
        "nextReviewDate": row.next_review_date,
        "licence": {"url": row.licence_url, "title": row.licence_title},
        "contact": {"email": row.contact_email, "title": row.contact_title},
        "custom": dict(row.custom),
        "resources": [resource_dict(r, row.id, webpage) for r in row.resources],
        "links": [link_dict(link, row.id, webpage) for link in row.links],
        "sharing": row.sharing,
        "team": _named(row.team),
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }


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
