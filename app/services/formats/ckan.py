"""CKAN package dicts, for the legacy actions of seed 001 (`current_package_list_with_resources`,
`package_search`), in the shape CKAN's action API returns so that CKAN clients (ckanapi) read it.

The mapping is mappings.ckan's, the same as the CKAN import and sync use: a dataset is a
package named by its id, its files and links are resources whose ids are `<dataset id>-<child
id>` because CKAN resource ids are unique site-wide.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from app.services.clock import today_iso
from app.services.export_query import DatasetRow
from app.services.formats import Chunks, dataset_webpage, json_array
from app.services.mappings.ckan import Shown, show_package
from app.services.mappings.rows import row_record, row_titles
from app.services.package_search import SearchPage

CONTENT_TYPE = "application/json"


def help_url(base_url: str, action: str) -> str:
    return f"{base_url.rstrip('/')}/api/3/action/help_show?name={action}"


def package_dict(row: DatasetRow, base_url: str, today: str | None = None) -> dict[str, Any]:
    """The package of `row` as CKAN's `package_show` gives it (mappings.ckan). `today`: for
    the embargo, once per response rather than once per package."""
    shown = Shown(dataset_webpage(base_url, row.id), row_titles(row), row.changed_at)
    return show_package(row_record(row), shown, today=today)


def package_list_response(rows: Iterable[DatasetRow], *, base_url: str) -> Chunks:
    """`current_package_list_with_resources`: {"help", "success": true, "result": [packages]}."""
    head = orjson.dumps(help_url(base_url, "current_package_list_with_resources"))
    today = today_iso()
    yield from json_array(
        b'{"help":' + head + b',"success":true,"result":[',
        (orjson.dumps(package_dict(row, base_url, today)) for row in rows),
        b"]}",
    )


def package_search_response(page: SearchPage, *, base_url: str) -> dict[str, Any]:
    """`package_search`: {"help", "success": true, "result": {"count", "sort", "results", ...}}."""
    today = today_iso()
    return {
        "help": help_url(base_url, "package_search"),
        "success": True,
        "result": {
            "count": page.count,
            "sort": page.sort,
            "facets": {},
            "search_facets": {},
            "results": [package_dict(row, base_url, today) for row in page.rows],
        },
    }
