"""DataPress export.json and CKAN package dicts: the shapes of seed 001, enriched titles."""

from __future__ import annotations

import orjson

from app.models.database import Database
from app.services import access, datasets, managed_lists, publication
from app.services.export_query import iter_datasets
from app.services.formats.ckan import (
    package_dict,
    package_list_response,
    package_search_response,
)
from app.services.formats.datapress_json import export_json
from app.services.package_search import search
from app.services.visibility import ANONYMOUS, OWNER
from tests.conftest import AUTHOR, make_record

BASE = "http://127.0.0.1:8080"


def _catalogue(database: Database) -> str:
    with database.transaction() as session:
        managed_lists.add_topic(session, "council-and-democracy", "Council & Democracy")
        managed_lists.add_masthead(session, "barnet", "London Borough of Barnet")
        access.create_team(session, "vrv65", "Barnet Open Data")
        record = datasets.create_dataset(
            session,
            make_record(
                topics=["council-and-democracy"],
                masthead="barnet",
                team="vrv65",
                resources={
                    "k93": {"title": "FOI", "url": "https://x.example/f.csv", "format": "csv"}
                },
                links={"el3": {"title": "TfL", "url": "https://tfl.gov.uk/", "order": 1}},
            ),
            author=AUTHOR,
        )
        publication.publish(session, record["id"], author=AUTHOR)
        datasets.create_dataset(session, make_record(title="Draft"), author=AUTHOR)
    dataset_id: str = record["id"]
    return dataset_id


def test_export_json_lists_children_and_enriches_titles(database: Database) -> None:
    dataset_id = _catalogue(database)
    exported = orjson.loads(
        b"".join(export_json(iter_datasets(database, ANONYMOUS), base_url=BASE))
    )
    [item] = exported
    assert item["id"] == dataset_id
    assert item["webpage"] == f"{BASE}/dataset/{dataset_id}"
    assert item["topics"] == [{"id": "council-and-democracy", "title": "Council & Democracy"}]
    assert item["masthead"] == {"id": "barnet", "title": "London Borough of Barnet"}
    assert item["team"] == {"id": "vrv65", "title": "Barnet Open Data"}
    assert [r["id"] for r in item["resources"]] == ["k93"]
    assert item["resources"][0]["dataset"] == dataset_id
    assert item["links"][0]["id"] == "el3" and item["links"][0]["url"] == "https://tfl.gov.uk/"
    assert item["licence"]["title"] == "OGL v3" and item["contact"]["title"] == "Open Data Team"
    assert "collaborators" not in item and "readusers" not in item


def test_an_empty_export_is_an_empty_array(database: Database) -> None:
    assert b"".join(export_json(iter(()), base_url=BASE)) == b"[]"
    assert orjson.loads(b"".join(package_list_response(iter(()), base_url=BASE)))["result"] == []


def test_ckan_package_shape(database: Database) -> None:
    dataset_id = _catalogue(database)
    [row] = list(iter_datasets(database, ANONYMOUS))
    package = package_dict(row, BASE)
    assert package["name"] == package["id"] == dataset_id
    assert package["organization"]["title"] == "Barnet Open Data"
    assert package["groups"][0]["name"] == "council-and-democracy"
    assert [t["name"] for t in package["tags"]] == ["FOI", "Freedom of Information"]
    assert [r["resource_type"] for r in package["resources"]] == ["file", "link"]
    assert package["num_resources"] == 2
    extras = {e["key"]: e["value"] for e in package["extras"]}
    assert extras == {"unit": "Assurance", "geography": '["London","Barnet"]'}


def test_package_search_response_is_ckan_shaped(database: Database) -> None:
    _catalogue(database)
    with database.read() as session:
        page = search(session, OWNER, q="freedom", rows=1)
    response = package_search_response(page, base_url=BASE)
    assert response["success"] is True
    assert response["result"]["count"] == 2
    assert len(response["result"]["results"]) == 1
