"""CKAN package dicts, for the legacy actions of seed 001 (`current_package_list_with_resources`,
`package_search`), in the shape CKAN's action API returns so that CKAN clients (ckanapi) read it.

Mapping: a dataset is a package named by its id; description -> notes; topics -> groups; team ->
organization; contact -> maintainer; custom fields -> extras (a list value as a JSON array);
files and then external links -> resources (`resource_type` "file" or "link"), whose ids are
`<dataset id>-<resource id>` because CKAN resource ids are unique site-wide.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from app.services.export_query import DatasetRow, SearchPage
from app.services.formats import Chunks, dataset_webpage, json_array

CONTENT_TYPE = "application/json"


def help_url(base_url: str, action: str) -> str:
    return f"{base_url.rstrip('/')}/api/3/action/help_show?name={action}"


def package_dict(row: DatasetRow, base_url: str) -> dict[str, Any]:
    webpage = dataset_webpage(base_url, row.id)
    resources: list[dict[str, Any]] = []
    for r in row.resources:
        resources.append(
            {
                "id": f"{row.id}-{r.rid}",
                "package_id": row.id,
                "name": r.title,
                "description": r.description,
                "url": r.url,
                "format": (r.format or "").upper(),
                "mimetype": None,
                "size": r.size,
                "hash": f"md5:{r.hash}" if r.hash else "",
                "created": r.timestamp,
                "last_modified": r.timestamp,
                "position": len(resources),
                "resource_type": "file",
                "url_type": None,
                "state": "active",
            }
        )
    for link in row.links:
        resources.append(
            {
                "id": f"{row.id}-{link.lid}",
                "package_id": row.id,
                "name": link.title,
                "description": link.description,
                "url": link.url,
                "format": "",
                "mimetype": link.qa_mimetype,
                "size": link.qa_size,
                "hash": link.qa_hash or "",
                "created": None,
                "last_modified": link.qa_timestamp,
                "position": len(resources),
                "resource_type": "link",
                "url_type": None,
                "state": "active",
            }
        )
    organization = (
        {
            "id": row.team.id,
            "name": row.team.id,
            "title": row.team.title,
            "type": "organization",
            "is_organization": True,
            "state": "active",
        }
        if row.team
        else None
    )
    return {
        "id": row.id,
        "name": row.id,
        "title": row.title,
        "type": "dataset",
        "state": "active",
        "private": row.sharing == "private",
        "url": webpage,
        "notes": row.description,
        "license_id": row.licence_url or "",
        "license_title": row.licence_title,
        "license_url": row.licence_url,
        "maintainer": row.contact_title,
        "maintainer_email": row.contact_email,
        "author": None,
        "author_email": None,
        "metadata_created": row.created_at,
        "metadata_modified": row.updated_at,
        "owner_org": row.team.id if row.team else None,
        "organization": organization,
        "groups": [
            {"id": t.id, "name": t.id, "title": t.title, "display_name": t.title}
            for t in row.topics
        ],
        "tags": [
            {"name": tag, "display_name": tag, "state": "active", "vocabulary_id": None}
            for tag in row.tags
        ],
        "num_tags": len(row.tags),
        "extras": [
            {"key": key, "value": value if isinstance(value, str) else orjson.dumps(value).decode()}
            for key, value in sorted(row.custom.items())
        ],
        "resources": resources,
        "num_resources": len(resources),
    }


def package_list_response(rows: Iterable[DatasetRow], *, base_url: str) -> Chunks:
    """`current_package_list_with_resources`: {"help", "success": true, "result": [packages]}."""
    head = orjson.dumps(help_url(base_url, "current_package_list_with_resources"))
    yield from json_array(
        b'{"help":' + head + b',"success":true,"result":[',
        (orjson.dumps(package_dict(row, base_url)) for row in rows),
        b"]}",
    )


def package_search_response(page: SearchPage, *, base_url: str) -> dict[str, Any]:
    """`package_search`: {"help", "success": true, "result": {"count", "sort", "results", ...}}."""
    return {
        "help": help_url(base_url, "package_search"),
        "success": True,
        "result": {
            "count": page.count,
            "sort": page.sort,
            "facets": {},
            "search_facets": {},
            "results": [package_dict(row, base_url) for row in page.rows],
        },
    }
