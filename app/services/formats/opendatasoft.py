"""Seed 003's dataset search and lookup answers: JSON (the v1 shape), JSONP, CSV and RSS.

JSON: `{"nhits", "parameters", "datasets", "facet_groups"}`, a dataset as
mappings.opendatasoft.search_entry writes it. JSONP: the JSON inside `callback(...)`, the
callback a JavaScript name only (anything else is refused: it is written into a script). CSV:
one row a dataset, `;`-separated as Opendatasoft's own CSV, lists joined by `,`, cells
neutralised against spreadsheet formulas (formats.cells). RSS 2.0: an item a dataset.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from datetime import UTC
from email.utils import format_datetime
from typing import Any
from xml.etree import ElementTree as ET

import orjson

from app.services.clock import parse_utc
from app.services.dataset_search.facets import FacetGroup, FacetValue
from app.services.dataset_search.search import SearchResult
from app.services.export_query import DatasetRow, InvalidQuery
from app.services.formats import dataset_webpage
from app.services.formats.cells import neutralise
from app.services.formats.oai_dc import NOT_XML
from app.services.mappings.opendatasoft import search_entry
from app.services.mappings.rows import row_record, row_titles

FORMATS = ("json", "jsonp", "csv", "rss")
JSON_TYPE = "application/json; charset=utf-8"
JSONP_TYPE = "application/javascript; charset=utf-8"
CSV_TYPE = "text/csv; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=utf-8"
CALLBACK = re.compile(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*")
MAX_CALLBACK = 100
CSV_COLUMNS = (
    "title",
    "description",
    "theme",
    "keyword",
    "license",
    "publisher",
    "language",
    "modified",
    "references",
    "records_count",
)


def entry(row: DatasetRow, base_url: str, language: str) -> dict[str, Any]:
    return search_entry(
        row_record(row),
        row_titles(row),
        changed_at=row.changed_at,
        webpage=dataset_webpage(base_url, row.id),
        language=language,
    )


def search_json(
    result: SearchResult, parameters: Mapping[str, Any], base_url: str, language: str
) -> dict[str, Any]:
    return {
        "nhits": result.nhits,
        "parameters": dict(parameters),
        "datasets": [entry(row, base_url, language) for row in result.rows],
        "facet_groups": [_group(group) for group in result.groups],
    }


def _group(group: FacetGroup) -> dict[str, Any]:
    return {"name": group.name, "count": group.count, "facets": [_value(v) for v in group.facets]}


def _value(value: FacetValue) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "name": value.name,
        "path": value.path,
        "count": value.count,
        "state": value.state,
    }
    if value.facets:
        shown["facets"] = [_value(child) for child in value.facets]
    return shown


def checked_callback(callback: str) -> str:
    """`callback` if it is a JavaScript name (dotted allowed); InvalidQuery otherwise."""
    if len(callback) > MAX_CALLBACK or not CALLBACK.fullmatch(callback):
        raise InvalidQuery("callback must be a JavaScript function name")
    return callback


def json_bytes(value: Any, *, pretty: bool, callback: str | None = None) -> bytes:
    option = orjson.OPT_INDENT_2 if pretty else 0
    body = orjson.dumps(value, option=option)
    if callback is None:
        return body
    # U+2028 and U+2029 are line ends in JavaScript before ES2019: escaped in a script.
    body = body.replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")
    return f"/**/{callback}(".encode() + body + b");"


def search_csv(result: SearchResult, base_url: str, language: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(("datasetid", *CSV_COLUMNS))
    for row in result.rows:
        metas = entry(row, base_url, language)["metas"]
        cells = [row.id, *(_cell(metas.get(name)) for name in CSV_COLUMNS)]
        writer.writerow([neutralise(c) if isinstance(c, str) else c for c in cells])
    return out.getvalue().encode()


def _cell(value: Any) -> str | int:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, int):
        return value
    return "" if value is None else str(value)


def _xml(value: str) -> str:
    return NOT_XML.sub("", value)  # ElementTree escapes, but writes what XML forbids as is


def search_rss(result: SearchResult, base_url: str, title: str) -> bytes:
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    ET.SubElement(channel, "title").text = _xml(title)
    ET.SubElement(channel, "link").text = base_url.rstrip("/") + "/"
    ET.SubElement(channel, "description").text = f"{result.nhits} datasets"
    for row in result.rows:
        item = ET.SubElement(channel, "item")
        page = dataset_webpage(base_url, row.id)
        ET.SubElement(item, "title").text = _xml(row.title)
        ET.SubElement(item, "link").text = _xml(page)
        ET.SubElement(item, "description").text = _xml(row.description_text)
        ET.SubElement(item, "guid", isPermaLink="true").text = page
        if row.changed_at:
            moment = parse_utc(row.changed_at).replace(tzinfo=UTC)
            ET.SubElement(item, "pubDate").text = format_datetime(moment, usegmt=True)
        for tag in row.tags:
            ET.SubElement(item, "category").text = _xml(tag)
    written: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return written
