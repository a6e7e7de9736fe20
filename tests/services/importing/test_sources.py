"""Each source format: detection, column mapping, CKAN and seed-002 JSON, and the files an
importer must refuse (remote contexts, entity expansion, zip bombs)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.models.database import Database
from app.services import datasets, export_query, package_search
from app.services.exporting import ExportFormat
from app.services.formats import ckan, write_to
from app.services.importing import (
    MAPPABLE_FIELDS,
    ImportFormat,
    ImportRejected,
    OnExisting,
    commit_import,
    detect_format,
    plan_import,
    table_columns,
)
from app.services.record.canonical import canonical_resource
from app.services.visibility import OWNER
from tests.services.importing.helpers import (
    AUTHOR,
    empty_catalogue,
    export,
    fill,
    records,
    tricky_record,
)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.csv", b"id,title\r\n", ImportFormat.CSV),
        ("a.txt", b"id,title\r\n", ImportFormat.CSV),
        ("a.json", b'[{"id": "ab123"}]', ImportFormat.DATAPRESS_JSON),
        ("a.json", b'{"id": "ab123", "title": "x"}', ImportFormat.DATASET_JSON),
        ("a.json", b'{"help": "h", "success": true, "result": []}', ImportFormat.CKAN_JSON),
        ("a.json", b'{"@context": {}, "@graph": []}', ImportFormat.JSONLD),
        ("a", b'\xef\xbb\xbf  {"@context": {}}', ImportFormat.JSONLD),
        ("a.jsonld", b"{}", ImportFormat.JSONLD),
        ("a.ttl", b"", ImportFormat.TURTLE),
        ("a", b"@prefix dcat: <http://www.w3.org/ns/dcat#> .", ImportFormat.TURTLE),
        ("a.rdf", b"<rdf:RDF/>", ImportFormat.RDFXML),
        (
            "a.xml",
            b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>',
            ImportFormat.RDFXML,
        ),
    ],
)
def test_formats_are_detected_by_name_and_content(
    tmp_path: Path, name: str, content: bytes, expected: ImportFormat
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert detect_format(path) is expected


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.pdf", b"%PDF-1.4", "its extension and content match none of them"),
        ("a.zip", b"PK\x03\x04rest", "a zip archive but not an .xlsx workbook"),
        ("a.xml", b"<?xml version='1.0'?><html/>", "it is XML but not RDF/XML"),
    ],
)
def test_an_unknown_format_is_refused_with_the_known_ones(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportRejected) as refused:
        detect_format(path)
    assert message in refused.value.message
    assert "Known formats: CSV, XLSX" in refused.value.message


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ImportRejected, match="Cannot read"):
        detect_format(tmp_path / "nowhere.csv")


# -- tables: column mapping ----------------------------------------------------------------------


def test_other_column_names_are_suggested_and_can_be_mapped(
    database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "theirs.csv"
    path.write_text(
        "Name,Notes,Keywords,Licence,Maintainer email,Webpage,Department\r\n"
        "Bus stops,<p>All stops</p>,transport; buses,OGL,a@example.org,http://x,Transport\r\n",
        encoding="utf-8",
    )
    columns = table_columns(path)
    assert columns.columns == [
        "Name",
        "Notes",
        "Keywords",
        "Licence",
        "Maintainer email",
        "Webpage",
        "Department",
    ]
    assert columns.suggested == {
        "Name": "title",
        "Notes": "description",
        "Keywords": "tags",
        "Licence": "licenceTitle",
        "Maintainer email": "contactEmail",
        "Webpage": "",
        "Department": "",
    }
    assert set(columns.suggested.values()) - {""} <= set(MAPPABLE_FIELDS)
    mapping = {**columns.suggested, "Department": "custom.department"}
    plan = plan_import(database, path, mapping=mapping)
    assert plan.errors == []
    commit_import(database, plan, author=AUTHOR)
    (record,) = records(database).values()
    assert record["title"] == "Bus stops"
    assert record["tags"] == ["transport", "buses"]
    assert record["licence"] == {"url": None, "title": "OGL"}
    assert record["contact"]["email"] == "a@example.org"
    assert record["custom"] == {"department": "Transport"}


def test_a_mapping_must_name_fields_once(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "theirs.csv"
    path.write_text("A,B\r\nx,y\r\n", encoding="utf-8")
    with pytest.raises(ImportRejected, match="'A' and 'B' both map to 'title'"):
        plan_import(database, path, mapping={"A": "title", "B": "title"})
    with pytest.raises(ImportRejected, match="which is not a field"):
        plan_import(database, path, mapping={"A": "colour"})
    with pytest.raises(ImportRejected, match="No column maps to a field"):
        plan_import(database, path, mapping={"A": "", "B": ""})


def test_a_resources_csv_replaces_the_files_of_the_datasets_it_names(
    database: Database, tmp_path: Path
) -> None:
    fill(database, 3)
    path = export(database, ExportFormat.RESOURCES_CSV, tmp_path)
    text = path.read_text(encoding="utf-8").replace("@SUM(A1)", "Renamed file")
    path.write_text(text, encoding="utf-8")
    plan = plan_import(database, path, on_existing=OnExisting.UPDATE)
    assert plan.errors == []
    assert [(i.dataset_id, i.changes) for i in plan.items if i.action == "update"] == [
        ("trk01", ["resources"])
    ]


# -- JSON ------------------------------------------------------------------------------------


def test_one_datasets_json_is_the_full_record(database: Database, tmp_path: Path) -> None:
    fill(database, 0)
    source = records(database)["trk01"]
    path = tmp_path / "dataset.json"
    path.write_bytes(orjson.dumps(source))
    target = empty_catalogue(tmp_path / "target.sqlite")
    try:
        plan = plan_import(target, path)
        assert plan.format is ImportFormat.DATASET_JSON
        commit_import(target, plan, author=AUTHOR)
        assert records(target)["trk01"] == source
    finally:
        target.dispose()


@pytest.mark.parametrize("action", ["list", "search"])
def test_ckan_responses_import(database: Database, tmp_path: Path, action: str) -> None:
    fill(database, 5)
    rows = list(export_query.iter_datasets(database, OWNER))
    base = "https://cat.example"
    path = tmp_path / "ckan.json"
    if action == "list":
        with path.open("wb") as sink:
            write_to(sink, ckan.package_list_response(rows, base_url=base))
    else:
        page = package_search.SearchPage(count=len(rows), sort="name asc", rows=rows)
        path.write_bytes(orjson.dumps(ckan.package_search_response(page, base_url=base)))
    target = empty_catalogue(tmp_path / "target.sqlite")
    try:
        plan = plan_import(target, path)
        assert plan.format is ImportFormat.CKAN_JSON and plan.errors == []
        commit_import(target, plan, author=AUTHOR)
        source, imported = records(database), records(target)
    finally:
        target.dispose()
    assert imported.keys() == source.keys()
    carried = ("title", "description", "tags", "topics", "licence", "contact", "custom")
    for dataset_id, record in source.items():
        got = imported[dataset_id]
        assert {k: got[k] for k in carried} == {k: record[k] for k in carried}
        assert (got["sharing"], got["team"], got["createdAt"]) == (
            record["sharing"],
            record["team"],
            record["createdAt"],
        )
        files = {
            rid: (r["title"], r["url"], r["size"], r["hash"]) for rid, r in got["resources"].items()
        }
        assert files == {
            rid: (r["title"], r["url"], r["size"], r["hash"])
            for rid, r in record["resources"].items()
        }
        assert {lid: link["url"] for lid, link in got["links"].items()} == {
            lid: link["url"] for lid, link in record["links"].items()
        }


def test_another_portals_ckan_package_becomes_a_new_dataset(
    database: Database, tmp_path: Path
) -> None:
    package: dict[str, Any] = {
        "name": "street-trees",
        "id": "2f9f6a2e-1c5a-4b8e-9a55-0d7a0c6f3a11",
        "title": "Street trees",
        "notes": "Every tree.",
        "tags": [{"name": "trees"}],
        "resources": [
            {
                "id": "0d7a0c6f-3a11-4b8e-9a55-2f9f6a2e1c5a",
                "package_id": "2f9f6a2e-1c5a-4b8e-9a55-0d7a0c6f3a11",
                "name": "Trees CSV",
                "url": "https://portal.example/trees.csv",
                "format": "CSV",
                "hash": "",
                "size": None,
            }
        ],
    }
    path = tmp_path / "search.json"
    path.write_bytes(orjson.dumps({"success": True, "result": {"count": 1, "results": [package]}}))
    plan = plan_import(database, path)
    assert plan.errors == []
    (item,) = plan.items
    assert item.action == "create" and item.dataset_id != "street-trees"
    # The plan holds the record as it will be stored: every field of a file, empty ones too.
    assert item.record["resources"] == {
        "0d7a0c6f-3a11-4b8e-9a55-2f9f6a2e1c5a": canonical_resource(
            {
                "url": "https://portal.example/trees.csv",
                "order": 0,
                "title": "Trees CSV",
                "description": "",
                "format": "csv",
                "hash": None,
                "size": None,
                "timestamp": None,
            }
        )
    }


def test_wrong_types_in_json_are_errors_on_their_fields(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    objects = [
        {"id": "abcd1", "title": ["not", "text"], "licence": "OGL"},
        {"id": "abcd2", "title": "Fine", "resources": [{"id": "r01", "title": "F", "size": "big"}]},
        {"id": "abcd3", "title": "Huge", "resources": {"r02": {"title": "F", "size": 2**70}}},
        "not an object",
    ]
    path.write_text(json.dumps(objects), encoding="utf-8")
    plan = plan_import(database, path)
    assert {(e.row, e.column, e.message) for e in plan.errors} == {
        (1, "title", "must be text"),
        (1, "licence", "must be an object"),
        (2, "resources.r01.size", "must be a whole number"),
        (3, "resources.r02.size", "must be a whole number"),
        (4, "", "must be a dataset object"),
    }
    assert plan.items == []


# -- what must be refused ---------------------------------------------------------------------


def test_a_remote_json_ld_context_is_refused_never_fetched(
    database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "remote.jsonld"
    # A closed port on loopback: a fetch would fail with a connection error, not our message.
    document = {"@context": "http://127.0.0.1:9/context.jsonld", "@graph": []}
    path.write_bytes(orjson.dumps(document))
    with pytest.raises(ImportRejected, match="refers to the remote JSON-LD context"):
        plan_import(database, path)
    nested = {"@context": [{"@import": "http://127.0.0.1:9/c.jsonld"}], "@id": "x"}
    path.write_bytes(orjson.dumps(nested))
    with pytest.raises(ImportRejected, match="imports a remote JSON-LD context"):
        plan_import(database, path)
    scoped = {"@context": {"dcat": {"@id": "http://x/", "@context": "http://127.0.0.1:9/s"}}}
    path.write_bytes(orjson.dumps(scoped))
    with pytest.raises(ImportRejected, match="remote JSON-LD context"):
        plan_import(database, path)


def test_our_own_context_by_reference_is_read_from_resources(
    database: Database, tmp_path: Path
) -> None:
    fill(database, 0)
    path = export(database, ExportFormat.JSONLD, tmp_path)
    document = orjson.loads(path.read_bytes())
    document["@context"] = "https://elsewhere.example/api/v1/context.jsonld"
    path.write_bytes(orjson.dumps(document))
    target = empty_catalogue(tmp_path / "t.sqlite")
    try:
        plan = plan_import(target, path)
        assert plan.errors == [] and plan.new == 2
    finally:
        target.dispose()


_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:dct="http://purl.org/dc/terms/">
  <rdf:Description rdf:about="http://x/dataset/abcde"><dct:title>&lol3;</dct:title>
  </rdf:Description>
</rdf:RDF>"""
_EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:dct="http://purl.org/dc/terms/">
  <rdf:Description rdf:about="http://x/dataset/abcde"><dct:title>&secret;</dct:title>
  </rdf:Description>
</rdf:RDF>"""


@pytest.mark.parametrize("content", [_LAUGHS, _EXTERNAL], ids=["laughs", "external"])
def test_xml_entities_are_refused(database: Database, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "catalogue.rdf"
    path.write_bytes(content)
    with pytest.raises(ImportRejected, match="refused"):
        plan_import(database, path)


def test_rdf_xml_of_our_turtle_export_imports(database: Database, tmp_path: Path) -> None:
    import rdflib

    fill(database, 2)
    turtle = export(database, ExportFormat.TURTLE, tmp_path)
    path = tmp_path / "catalogue.rdf"
    path.write_text(rdflib.Graph().parse(turtle).serialize(format="xml"), encoding="utf-8")
    plan = plan_import(database, path, on_existing=OnExisting.UPDATE)
    assert plan.format is ImportFormat.RDFXML
    assert (plan.unchanged, plan.errors) == (4, [])


def _zip(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_a_zip_bomb_is_refused_before_it_is_opened(database: Database, tmp_path: Path) -> None:
    bomb = _zip(tmp_path / "bomb.xlsx", {"xl/worksheets/sheet1.xml": b"\0" * (64 * 2**20)})
    with pytest.raises(ImportRejected, match="like a zip bomb"):
        plan_import(database, bomb)


def test_a_zip_that_lies_about_its_sizes_is_refused(database: Database, tmp_path: Path) -> None:
    path = _zip(tmp_path / "liar.xlsx", {"a.xml": b"x" * 1000})
    data = bytearray(path.read_bytes())
    # Claim 4 GiB - 1 uncompressed in the central directory (offset 24 of its entry).
    central = data.rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = (2**32 - 1).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(ImportRejected, match="expands to more than"):
        plan_import(database, path)


def test_a_broken_workbook_is_a_clear_error(database: Database, tmp_path: Path) -> None:
    path = _zip(tmp_path / "broken.xlsx", {"[Content_Types].xml": b"<nope"})
    with pytest.raises(ImportRejected, match="not a readable XLSX workbook"):
        plan_import(database, path)


def test_a_seed_002_json_with_access_lists_names_this_catalogues_users(
    database: Database, tmp_path: Path
) -> None:
    fill(database, 0)
    record = tricky_record(id="acc01", collaborators=[1, 999], readteams=["t0gla"])
    path = tmp_path / "one.json"
    path.write_bytes(orjson.dumps(record))
    plan = plan_import(database, path)
    assert [(e.column, e.message) for e in plan.errors] == [
        ("collaborators", "unknown user id(s): 999")
    ]
    record["collaborators"] = [1]
    path.write_bytes(orjson.dumps(record))
    plan = plan_import(database, path)
    commit_import(database, plan, author=AUTHOR)
    with database.read() as session:
        stored = datasets.get_record(session, "acc01")
    assert (stored["collaborators"], stored["readteams"]) == ([1], ["t0gla"])


def test_bytes_that_are_not_utf8_are_a_clear_error(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,title\r\n,Caf\xe9\r\n".encode("latin-1"))
    with pytest.raises(ImportRejected, match="is not UTF-8 text"):
        plan_import(database, path)


def test_entities_inside_a_workbook_are_refused(database: Database, tmp_path: Path) -> None:
    fill(database, 0)
    path = export(database, ExportFormat.XLSX, tmp_path)
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    sheet = "xl/worksheets/datasets-1.xml"
    declaration = b'<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    head, _, rest = parts[sheet].partition(b"\n")
    parts[sheet] = head + b"\n" + declaration + rest.replace(b"<t>Bare</t>", b"<t>&b;</t>", 1)
    _zip(path, parts)
    with pytest.raises(ImportRejected, match="not a readable XLSX workbook") as refused:
        plan_import(database, path)
    # defusedxml said no, not some other parser trouble.
    causes = []
    error: BaseException | None = refused.value
    while error is not None:
        causes.append(type(error).__name__)
        error = error.__cause__ or error.__context__
    assert "EntitiesForbidden" in causes
