"""Client-side helpers of the server tests: walk the JSON-LD feed, read ids from each endpoint."""

from __future__ import annotations

import csv
import io

import httpx
from rdflib import URIRef
from rdflib.namespace import DCAT, DCTERMS

from tests.dcat_helpers import parse_jsonld

HYDRA_NEXT = URIRef("http://www.w3.org/ns/hydra/core#next")


def page_ids(body: bytes) -> list[str]:
    graph = parse_jsonld(body)
    found = [
        str(graph.value(dataset, DCTERMS.identifier))
        for dataset in graph.subjects(predicate=None, object=DCAT.Dataset)
    ]
    # Keep the order of the page: datasets appear in pk order in the JSON text.
    text = body.decode()
    return sorted(found, key=lambda i: text.index(f'"identifier":"{i}"'))


def next_link(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    return link["url"] if link else None


def harvest(client: httpx.Client, start: str = "/api/v1/dataset.jsonld") -> list[list[str]]:
    """Every page's dataset ids, following the Link header (checked against hydra:next)."""
    pages: list[list[str]] = []
    url: str | None = start
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/ld+json")
        graph = parse_jsonld(response.content)
        hydra_next = [str(o) for o in graph.objects(None, HYDRA_NEXT)]
        url = next_link(response)
        assert hydra_next == ([url] if url else [])
        pages.append(page_ids(response.content))
        assert len(pages) < 10_000
    return pages


def csv_column(response: httpx.Response, column: str) -> list[str]:
    assert response.status_code == 200, response.text
    return [row[column] for row in csv.DictReader(io.StringIO(response.text, newline=""))]


def endpoint_ids(
    client: httpx.Client, headers: dict[str, str] | None = None
) -> dict[str, set[str]]:
    """The dataset ids each endpoint returns to a caller."""
    h = headers or {}

    def get(path: str) -> httpx.Response:
        return client.get(path, headers=h)

    out: dict[str, set[str]] = {}
    out["dataset.csv"] = set(csv_column(get("/api/v1/dataset.csv"), "id"))
    ids: list[str] = []
    url: str | None = "/api/v1/dataset.jsonld?limit=2"
    while url:
        response = get(url)
        assert response.status_code == 200, response.text
        ids += page_ids(response.content)
        url = next_link(response)
    assert len(ids) == len(set(ids))
    out["dataset.jsonld"] = set(ids)
    out["export.json"] = {d["id"] for d in get("/api/datasets/export.json").json()}
    out["export.datasets.csv"] = set(csv_column(get("/api/datasets/export.datasets.csv"), "id"))
    out["export.resources.csv"] = set(
        csv_column(get("/api/datasets/export.resources.csv"), "dataset")
    )
    listing = get("/api/action/current_package_list_with_resources").json()
    out["current_package_list"] = {p["id"] for p in listing["result"]}
    search = get("/api/action/package_search?rows=1000").json()["result"]
    assert search["count"] == len(search["results"])
    out["package_search"] = {p["id"] for p in search["results"]}
    return out
