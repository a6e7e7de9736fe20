"""Readers that are not ours read every exported file back to the catalogue's values: the csv
module, the json module, rdflib (the workbook's readers are in test_formats_xlsx)."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pytest
import rdflib
from rdflib import Namespace, URIRef

from app.models.database import Database
from app.services.exporting import ExportFormat
from app.services.formats.cells import restore_cell
from app.services.formats.csv_format import split_list
from app.services.records import Record
from tests.services.importing.helpers import export, fill, records

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
BASE = "http://127.0.0.1:8080"


@pytest.fixture
def stored(database: Database) -> dict[str, Record]:
    fill(database, 8)
    return records(database)


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_csv_module_reads_the_datasets_csv(
    database: Database, stored: dict[str, Record], tmp_path: Path
) -> None:
    rows = {row["id"]: row for row in _csv(export(database, ExportFormat.CSV, tmp_path))}
    assert rows.keys() == stored.keys()
    for dataset_id, row in rows.items():
        record = stored[dataset_id]
        assert restore_cell(row["title"]) == record["title"]
        assert restore_cell(row["description"]) == record["description"]
        assert split_list(restore_cell(row["tags"])) == record["tags"]
        assert split_list(row["topics"]) == record["topics"]
        assert json.loads(restore_cell(row["custom"]) or "{}") == record["custom"]
        assert row["createdAt"] == record["createdAt"]
        assert int(row["resourceCount"]) == len(record["resources"])
        assert row["webpage"] == f"{BASE}/dataset/{dataset_id}"


def test_the_csv_module_reads_the_resources_csv(
    database: Database, stored: dict[str, Record], tmp_path: Path
) -> None:
    rows = _csv(export(database, ExportFormat.RESOURCES_CSV, tmp_path))
    read = {(row["dataset"], row["id"]): row for row in rows}
    expected = {(d, rid): r for d, rec in stored.items() for rid, r in rec["resources"].items()}
    assert read.keys() == expected.keys()
    for key, row in read.items():
        resource = expected[key]
        assert restore_cell(row["title"]) == resource["title"]
        assert row["url"] == resource["url"]
        assert (int(row["size"]) if row["size"] else None) == resource["size"]
        assert int(row["order"]) == resource["order"]
        assert (row["timeFrameFrom"] or None) == resource["timeFrame"].get("gte")


def test_the_json_module_reads_export_json(
    database: Database, stored: dict[str, Record], tmp_path: Path
) -> None:
    objects = json.loads(export(database, ExportFormat.JSON, tmp_path).read_text("utf-8"))
    assert {o["id"] for o in objects} == stored.keys()
    for item in objects:
        record = stored[item["id"]]
        assert (item["title"], item["description"], item["tags"]) == (
            record["title"],
            record["description"],
            record["tags"],
        )
        assert [r["id"] for r in item["resources"]] == list(record["resources"])
        assert [link["url"] for link in item["links"]] == [
            link["url"] for link in record["links"].values()
        ]


@pytest.mark.parametrize("fmt", [ExportFormat.JSONLD, ExportFormat.TURTLE])
def test_rdflib_reads_the_dcat_exports(
    database: Database, stored: dict[str, Record], tmp_path: Path, fmt: ExportFormat
) -> None:
    path = export(database, fmt, tmp_path)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
        graph = rdflib.Graph().parse(
            path, format="json-ld" if fmt is ExportFormat.JSONLD else "turtle"
        )
    found = {str(s) for s in graph.subjects(rdflib.RDF.type, DCAT.Dataset)}
    assert found == {f"{BASE}/dataset/{i}" for i in stored}
    catalogue = next(graph.subjects(rdflib.RDF.type, DCAT.Catalog))
    assert {str(o) for o in graph.objects(catalogue, DCAT.dataset)} == found
    for dataset_id, record in stored.items():
        node = URIRef(f"{BASE}/dataset/{dataset_id}")
        assert str(graph.value(node, DCT.title)) == record["title"]
        assert {str(k) for k in graph.objects(node, DCAT.keyword)} == set(record["tags"])
        distributions = set(graph.objects(node, DCAT.distribution))
        assert len(distributions) == len(record["resources"]) + len(record["links"])
