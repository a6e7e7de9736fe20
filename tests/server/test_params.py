"""Whole-number parameters (issue 16, finding 3 and 8): ASCII digits within bounds, a 400 with a
JSON error otherwise, by GET and by the CKAN actions' POST alike; never a 500."""

from __future__ import annotations

import re

import httpx

from app.services.server.params import MAX_POSITION, SORT_PATTERN
from tests.server.conftest import Catalogue

HUGE = str(2**63)
ENDPOINTS = (
    ("/api/action/package_search", "start"),
    ("/api/action/package_search", "rows"),
    ("/api/action/current_package_list_with_resources", "offset"),
    ("/api/action/current_package_list_with_resources", "limit"),
    ("/api/v1/dataset.jsonld", "limit"),
)
BAD = (
    "",
    str(MAX_POSITION + 1),
    HUGE,
    "99999999999999999999999999",
    "٣",
    "３",
    "+3",
    " 3",
    "3 ",
    "1_0",
    "-1",
    "3.0",
    "0x3",
)


def _assert_json_400(response: httpx.Response, name: str) -> None:
    assert response.status_code == 400, (response.request.url, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert name in body["error"]["message"]


def test_a_bad_whole_number_is_a_400(client: httpx.Client, catalogue: Catalogue) -> None:
    for path, name in ENDPOINTS:
        for value in BAD:
            _assert_json_400(client.get(path, params={name: value}), name)


def test_a_bad_whole_number_in_a_post_body_is_a_400(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    for path, name in ENDPOINTS:
        if not path.startswith("/api/action/"):
            continue
        for value in (2**63, 2**64 - 1, -1, 1.5, True, "٣", [1]):
            response = client.post(path, json={name: value})
            assert response.status_code == 400, (path, name, value, response.text)
            assert response.json()["success"] is False


def test_ascii_digits_within_bounds_are_served(client: httpx.Client, catalogue: Catalogue) -> None:
    search = client.get("/api/action/package_search", params={"start": "01", "rows": "2"})
    assert search.status_code == 200
    assert len(search.json()["result"]["results"]) == 2
    listing = client.post(
        "/api/action/current_package_list_with_resources", json={"offset": MAX_POSITION, "limit": 3}
    )
    assert listing.status_code == 200
    assert listing.json()["result"] == []
    assert client.get("/api/v1/dataset.jsonld", params={"limit": "3"}).status_code == 200


SORTS_SERVED = ("", "name", "title_string asc", " score desc , metadata_modified DESC ", "id Asc")
SORTS_REFUSED = ("nope asc", "name sideways", "name,,id", "name\tasc", "name\u2003asc", "name\n")


def test_sort_is_read_by_the_pattern_the_document_states(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    ecma = re.compile(SORT_PATTERN.removesuffix("$") + r"\Z")  # ECMA 262's `$`: the very end
    for sort in SORTS_SERVED:
        assert ecma.search(sort), sort
        response = client.get("/api/action/package_search", params={"sort": sort})
        assert response.status_code == 200, (sort, response.text)
    for sort in SORTS_REFUSED:
        assert not ecma.search(sort), sort
        _assert_json_400(client.get("/api/action/package_search", params={"sort": sort}), "sort")
