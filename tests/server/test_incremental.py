"""Incremental harvests (server.incremental): `since` and `modified_since` on the feed and the
CSV, deleted.json, CKAN's fq on metadata_modified, and Last-Modified-Version on every answer;
and mirrors kept by them that end equal to the published catalogue."""

from __future__ import annotations

import httpx
import pytest

from app.models.database import Database
from app.services import datasets, publication
from app.services.server import ServerThread
from tests.conftest import AUTHOR
from tests.server.conftest import Catalogue
from tests.server.harvest import csv_column, harvest
from tests.server.mirror import Churn, CkanMirror, FeedMirror, published


def _version(response: httpx.Response) -> int:
    return int(response.headers["Last-Modified-Version"])


def test_every_answer_says_the_catalogue_version(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    paths = [
        "/api/v1/dataset.jsonld",
        "/api/v1/dataset.csv",
        "/api/v1/deleted.json",
        "/api/datasets/export.json",
        "/api/action/package_search",
        f"/api/dataset/{catalogue.public[0]}",
        "/api/dataset/nope0",  # a 404 too
        "/api/v1/dataset.jsonld?since=x",  # and a 400
    ]
    versions = {_version(client.get(path)) for path in paths}
    assert len(versions) == 1
    with database.transaction() as session:
        datasets.update_dataset(session, catalogue.draft, {"title": "Draft 2"}, author=AUTHOR)
    assert _version(client.get("/api/v1/deleted.json")) == versions.pop() + 1


def test_since_gives_what_changed_and_deleted_what_left(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    start = _version(client.get("/api/v1/dataset.jsonld"))
    edited, withdrawn, kept = catalogue.public
    with database.transaction() as session:
        datasets.update_dataset(session, edited, {"title": "Bins emptied"}, author=AUTHOR)
        publication.unpublish(session, withdrawn, author=AUTHOR)
        datasets.update_dataset(session, catalogue.draft, {"title": "Still a draft"}, author=AUTHOR)
        datasets.delete_dataset(session, catalogue.private, author=AUTHOR)  # never public
    pages = harvest(client, f"/api/v1/dataset.jsonld?since={start}")
    assert pages == [[edited]]
    assert csv_column(client.get(f"/api/v1/dataset.csv?since={start}"), "id") == [edited]
    gone = client.get(f"/api/v1/deleted.json?since={start}").json()
    assert gone == {"version": start + 1, "datasets": [withdrawn]}
    assert client.get(f"/api/v1/deleted.json?since={start + 1}").json()["datasets"] == []
    assert harvest(client, f"/api/v1/dataset.jsonld?since={start + 1}") == [[]]
    everything = sorted(i for page in harvest(client) for i in page)
    assert sorted(
        i for page in harvest(client, "/api/v1/dataset.jsonld?since=0") for i in page
    ) == (everything)
    assert kept in everything


def test_the_pages_of_an_incremental_feed_carry_since_on(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    response = client.get("/api/v1/dataset.jsonld?since=0&limit=1")
    assert "since=0" in response.links["next"]["url"]
    assert "since=0" in response.links["first"]["url"]
    pages = harvest(client, "/api/v1/dataset.jsonld?since=0&limit=1")
    assert sorted(i for page in pages for i in page) == sorted(catalogue.public)


def test_modified_since_is_since_by_time(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    everything = harvest(client, "/api/v1/dataset.jsonld?modified_since=2000-01-01T00:00:00Z")
    assert sorted(i for page in everything for i in page) == sorted(catalogue.public)
    assert harvest(client, "/api/v1/dataset.jsonld?modified_since=2999-01-01") == [[]]
    # Both: what changed after the version and at or after the time.
    assert harvest(client, "/api/v1/dataset.jsonld?since=0&modified_since=2999-01-01") == [[]]
    both = harvest(client, "/api/v1/dataset.jsonld?since=0&modified_since=2000-01-01")
    assert sorted(i for page in both for i in page) == sorted(catalogue.public)
    with database.transaction() as session:
        datasets.update_dataset(session, catalogue.public[1], {"title": "Holes"}, author=AUTHOR)
    package = client.get("/api/action/package_show", params={"id": catalogue.public[1]}).json()[
        "result"
    ]
    changed = harvest(
        client, f"/api/v1/dataset.jsonld?modified_since={package['metadata_modified']}"
    )
    assert changed == [[catalogue.public[1]]]


@pytest.mark.parametrize(
    "query",
    [
        "since=-1",
        "since=1.5",
        "modified_since=yesterday",
        "modified_since=2020-13-01",
        "since=1&modified_since=2020-1-01",
    ],
)
def test_a_bad_since_is_a_400_with_a_json_error(
    client: httpx.Client, catalogue: Catalogue, query: str
) -> None:
    for path in ("/api/v1/dataset.jsonld", "/api/v1/dataset.csv"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query)
        assert response.json()["error"]["message"]
    if query.startswith("since=") and "&" not in query:
        assert client.get(f"/api/v1/deleted.json?{query}").status_code == 400


def test_a_since_ahead_of_the_catalogue_is_a_409(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    ahead = _version(client.get("/api/v1/deleted.json")) + 1
    for path in ("/api/v1/dataset.jsonld", "/api/v1/dataset.csv", "/api/v1/deleted.json"):
        response = client.get(f"{path}?since={ahead}")
        assert response.status_code == 409, path
        assert "harvest it again from the start" in response.json()["error"]["message"]


def test_ckan_fq_on_metadata_modified_as_ckan_clients_send_it(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    def search(**params: str) -> list[str]:
        response = client.get("/api/action/package_search", params=params)
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["result"]["results"]]

    everything = search(fq="metadata_modified:[2000-01-01T00:00:00Z TO *]")
    assert sorted(everything) == sorted(catalogue.public)
    with database.transaction() as session:
        datasets.update_dataset(session, catalogue.public[2], {"title": "Loans"}, author=AUTHOR)
    newest = client.get("/api/action/package_show", params={"id": catalogue.public[2]}).json()[
        "result"
    ]["metadata_modified"]
    assert search(sort="metadata_modified desc")[0] == catalogue.public[2]
    assert search(fq=f"metadata_modified:[{newest} TO *]") == [catalogue.public[2]]
    escaped = newest.replace(":", "\\:")
    assert search(fq=f"metadata_modified:{{{escaped} TO *]") == []  # after it: nothing
    assert search(fq=f"metadata_modified:[{escaped} TO NOW]") == [catalogue.public[2]]
    posted = client.post(
        "/api/action/package_search", json={"fq": f"metadata_modified:[{newest} TO *]"}
    )
    assert [p["id"] for p in posted.json()["result"]["results"]] == [catalogue.public[2]]
    # Any other filter is a filter too (query_language.solr); one that cannot be read is
    # CKAN's Search Error, never an answer taken for filtered.
    assert search(fq=f"tags:nowhere AND metadata_modified:[{newest} TO *]") == []
    refused = client.get("/api/action/package_search", params={"fq": "res_format:CSV"})
    assert refused.status_code == 409
    assert refused.json()["success"] is False
    assert refused.json()["error"]["__type"] == "Search Error"


@pytest.mark.parametrize("seed", [1, 2])
def test_mirrors_end_equal_to_the_published_catalogue(
    database: Database, server: ServerThread, seed: int
) -> None:
    churn = Churn(database, seed)
    churn.seed_catalogue(40)
    with httpx.Client(base_url=server.url, timeout=20) as client:
        feed, ckan = FeedMirror(client), CkanMirror(client)
        feed.full(churn.during(6))
        ckan.full(churn.during(6))
        for _ in range(3):
            for _ in range(8):
                churn.step()
            feed.round(churn.during(4))
            ckan.round(churn.during(4))
        # Changes made during the last walks are picked up by one more quiet round.
        feed.round()
        ckan.round()
        truth = published(database)
        assert len(truth) > 10
        assert feed.records == truth
        assert ckan.records == truth
