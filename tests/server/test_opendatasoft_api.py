"""Seed 003's dataset search and lookup over the real server: the v1 answer, keys in the three
places the seed puts them, the formats, the errors a client can act on."""

from __future__ import annotations

import csv
import io
from xml.etree import ElementTree

import httpx
import orjson
import pytest

from tests.server.conftest import Catalogue

SEARCH = "/api/datasets/1.0/search/"


def _ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {d["datasetid"] for d in response.json()["datasets"]}


def test_the_v1_answer_has_the_seeds_shape(client: httpx.Client, catalogue: Catalogue) -> None:
    answer = client.get(SEARCH, params={"q": "bins", "facet": "theme"}).json()
    assert answer["nhits"] == 1
    assert answer["parameters"] == {
        "q": "bins",
        "facet": ["theme"],
        "rows": 10,
        "start": 0,
        "format": "json",
        "timezone": "UTC",
    }
    (dataset,) = answer["datasets"]
    assert dataset["datasetid"] == catalogue.public[0]
    assert set(dataset) >= {"datasetid", "metas", "has_records", "fields", "attachments"}
    metas = dataset["metas"]
    assert metas["title"] == "Bins collected"
    assert metas["theme"] == ["Council & Democracy"]  # the topic's title
    assert metas["keyword"] == ["FOI", "Freedom of Information"]
    assert metas["records_count"] == 1
    assert metas["references"].endswith(f"/dataset/{catalogue.public[0]}")
    assert dataset["attachments"] == [
        {
            "id": "k93",
            "title": "Collections, 2024",
            "mimetype": "text/csv",
            "url": "https://data.example/bins.csv",
        }
    ]
    assert answer["facet_groups"] == [
        {
            "name": "theme",
            "count": 1,
            "facets": [
                {
                    "name": "Council & Democracy",
                    "path": "Council & Democracy",
                    "count": 1,
                    "state": "displayed",
                }
            ],
        }
    ]


@pytest.mark.parametrize("where", ["header Apikey", "header Bearer", "query apikey"])
def test_a_key_adds_what_its_user_may_read(
    client: httpx.Client, catalogue: Catalogue, where: str
) -> None:
    anonymous = _ids(client.get(SEARCH, params={"rows": "100"}))
    assert anonymous == set(catalogue.public)
    params = {"rows": "100"}
    headers = {}
    if where == "query apikey":
        params["apikey"] = catalogue.alice
    else:
        headers["Authorization"] = f"{where.split()[1]} {catalogue.alice}"
    seen = _ids(client.get(SEARCH, params=params, headers=headers))
    assert seen == {*catalogue.public, catalogue.private}  # alice is on its read list
    lookup = client.get(f"/api/datasets/1.0/{catalogue.private}/", params=params, headers=headers)
    assert lookup.status_code == 200
    assert lookup.json()["metas"]["visibility"] == "restricted"


def test_a_wrong_key_is_a_401_wherever_it_is(client: httpx.Client, catalogue: Catalogue) -> None:
    for params, headers in (({"apikey": "nope"}, {}), ({}, {"Authorization": "Apikey nope"})):
        response = client.get(SEARCH, params=params, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "The API key is not valid"


def test_a_hidden_dataset_is_an_unknown_one(client: httpx.Client, catalogue: Catalogue) -> None:
    hidden = client.get(f"/api/datasets/1.0/{catalogue.draft}/")
    unknown = client.get("/api/datasets/1.0/zzzzz")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["code"] == unknown.json()["code"] == "not_found"
    # The same words: the id asked for is all that differs.
    assert hidden.json()["error"].replace(catalogue.draft, "?") == unknown.json()["error"].replace(
        "zzzzz", "?"
    )


def test_a_malformed_query_says_where(client: httpx.Client, catalogue: Catalogue) -> None:
    response = client.get(SEARCH, params={"q": "title:bins AND (roads"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_query"
    assert body["position"] == {"offset": 21, "column": 22}
    assert "ends too early" in body["error"]
    unknown = client.get(SEARCH, params={"q": "colour:red"}).json()
    assert unknown["position"]["column"] == 1 and "Unknown field 'colour'" in unknown["error"]


def test_a_post_form_is_the_same_search(client: httpx.Client, catalogue: Catalogue) -> None:
    form = {"q": "roads OR bins", "sort": "-title"}
    posted = client.post(SEARCH, data=form)
    got = client.get(SEARCH, params=form)
    assert posted.json() == got.json()
    assert [d["metas"]["title"] for d in got.json()["datasets"]] == [
        "=Potholes reported",
        "Bins collected",
    ]  # "-title": ascending


def test_jsonp_csv_and_rss(client: httpx.Client, catalogue: Catalogue) -> None:
    jsonp = client.get(SEARCH, params={"q": "bins", "callback": "app.show"})
    assert jsonp.headers["content-type"].startswith("application/javascript")
    assert jsonp.text.startswith("/**/app.show(") and jsonp.text.endswith(");")
    assert orjson.loads(jsonp.text[len("/**/app.show(") : -2])["nhits"] == 1
    refused = client.get(SEARCH, params={"callback": "alert(1)//"})
    assert refused.status_code == 400

    table = client.get(SEARCH, params={"format": "csv", "sort": "-title"})
    rows = list(csv.DictReader(io.StringIO(table.text), delimiter=";"))
    assert [row["title"] for row in rows] == [
        "'=Potholes reported",
        "Bins collected",
        "Library loans",
    ]

    feed = ElementTree.fromstring(client.get(SEARCH, params={"format": "rss"}).content)
    assert {item.findtext("title") for item in feed.iter("item")} == {
        "=Potholes reported",
        "Bins collected",
        "Library loans",
    }


def test_the_path_without_its_slash_is_the_same(client: httpx.Client, catalogue: Catalogue) -> None:
    assert client.get(SEARCH).json() == client.get(SEARCH.rstrip("/")).json()
    one = f"/api/datasets/1.0/{catalogue.public[1]}"
    assert client.get(one).json() == client.get(one + "/").json()
