"""Seed 000 on a real server: the CSV dump and the JSON-LD feed walked by its `after` cursor."""

from __future__ import annotations

import base64
import csv
import io
import re

import httpx
import pytest

from app.models.database import Database
from app.services import datasets
from app.services.cursor import TOKEN_PATTERN
from app.services.formats.cells import restore_cell
from app.services.formats.csv_format import split_list
from tests.dcat_helpers import dcat_ap_report, parse_jsonld
from tests.server.conftest import Catalogue, ServeFactory
from tests.server.harvest import harvest, next_link


def test_the_csv_dump_holds_the_published_records_as_stored(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    response = client.get("/api/v1/dataset.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert response.headers["content-disposition"] == 'attachment; filename="dataset.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert [row["id"] for row in rows] == list(catalogue.public)
    with database.read() as session:
        for row in rows:
            stored = datasets.get_record(session, row["id"])
            assert restore_cell(row["title"]) == stored["title"]
            assert restore_cell(row["description"]) == stored["description"]
            assert split_list(row["tags"]) == stored["tags"]
            assert row["webpage"] == f"{str(client.base_url).rstrip('/')}/dataset/{row['id']}"
    assert rows[1]["title"] == "'=Potholes reported"


def test_a_harvest_by_cursor_sees_each_published_record_once(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    pages = harvest(client, "/api/v1/dataset.jsonld?limit=1")
    assert pages == [[catalogue.public[0]], [catalogue.public[1]], [catalogue.public[2]]]


def test_default_pages_and_the_last_page_says_there_is_no_next(
    serve: ServeFactory, catalogue: Catalogue
) -> None:
    server = serve(page_size=2)
    with httpx.Client(base_url=server.url) as client:
        first = client.get("/api/v1/dataset.jsonld")
        assert first.links["first"]["url"] == f"{server.url}/api/v1/dataset.jsonld"
        second_url = next_link(first)
        assert second_url is not None and "after=" in second_url and "limit" not in second_url
        last = client.get(second_url)
        assert next_link(last) is None
        assert '"next":"' not in last.text  # (the context defines the term)
        assert [*harvest(client)] == [list(catalogue.public[:2]), [catalogue.public[2]]]


def test_every_served_page_conforms_to_dcat_ap(client: httpx.Client, catalogue: Catalogue) -> None:
    url: str | None = "/api/v1/dataset.jsonld?limit=2"
    while url:
        response = client.get(url)
        conforms, report = dcat_ap_report(parse_jsonld(response.content))
        assert conforms, report
        url = next_link(response)


def _tampered(token: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[8] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@pytest.mark.parametrize("kind", ["garbage", "empty", "truncated"])
def test_a_malformed_cursor_is_a_400_json_error(
    client: httpx.Client, catalogue: Catalogue, kind: str
) -> None:
    next_url = next_link(client.get("/api/v1/dataset.jsonld?limit=1"))
    assert next_url is not None
    token = httpx.URL(next_url).params["after"]
    bad = {
        "garbage": "not-a-cursor!",
        "empty": "",
        "truncated": token[:-3],
    }[kind]
    response = client.get("/api/v1/dataset.jsonld", params={"after": bad})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "invalid_cursor"
    assert response.json()["error"]["message"]


def test_a_cursor_of_the_right_form_not_issued_here_is_a_404(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    """The OpenAPI document can state a cursor's form, not whether it was issued: a
    well-formed one that was not names no page (issue 16: schemathesis saw valid requests
    refused with a 400)."""
    next_url = next_link(client.get("/api/v1/dataset.jsonld?limit=1"))
    assert next_url is not None
    token = httpx.URL(next_url).params["after"]
    for forged in (_tampered(token), "A" * len(token)):
        assert re.fullmatch(TOKEN_PATTERN, forged)
        response = client.get("/api/v1/dataset.jsonld", params={"after": forged})
        assert response.status_code == 404, forged
        assert response.json()["error"]["code"] == "unknown_cursor"


@pytest.mark.parametrize("limit", ["0", "1001", "ten"])
def test_a_bad_page_size_is_a_400(client: httpx.Client, limit: str) -> None:
    response = client.get("/api/v1/dataset.jsonld", params={"limit": limit})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_query"


def test_head_gives_the_headers_without_the_body(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    for path in ("/api/v1/dataset.csv", "/api/v1/dataset.jsonld", "/api/datasets/export.json"):
        response = client.head(path)
        assert response.status_code == 200, path
        assert response.content == b""
        assert response.headers["content-type"]


def test_gzip_when_accepted_and_cors_for_get(client: httpx.Client, database: Database) -> None:
    with database.transaction() as session:
        for i in range(30):
            from app.services import publication
            from tests.conftest import AUTHOR, make_record

            record = datasets.create_dataset(session, make_record(title=f"D{i}"), author=AUTHOR)
            publication.publish(session, record["id"], author=AUTHOR)
    response = client.get(
        "/api/datasets/export.json",
        headers={"Accept-Encoding": "gzip", "Origin": "https://elsewhere.example"},
    )
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["access-control-allow-origin"] == "*"
    assert len(response.json()) == 30
    plain = client.get("/api/datasets/export.json", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers


def test_the_context_is_served(client: httpx.Client) -> None:
    response = client.get("/api/v1/context.jsonld")
    assert response.status_code == 200
    served = response.json()["@context"]
    assert served["dcat"] == "http://www.w3.org/ns/dcat#"
    # The site's prefixes too: a page's dataset nodes mean the same read with this context.
    assert served["ds"] == f"{client.base_url}".rstrip("/") + "/dataset/"


def test_unknown_paths_and_methods_are_json_errors(client: httpx.Client) -> None:
    missing = client.get("/api/v2/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = client.post("/api/v1/dataset.csv")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
