"""resources/openapi.json: a valid OpenAPI 3.1 document that every real response conforms to.

Each response of a real uvicorn server on loopback is checked against the operation it answers:
its status is documented, its required headers are present, its content type is one documented
for that status, and a JSON body validates (JSON Schema 2020-12, the dialect of OpenAPI 3.1)
against the documented schema. The walk must cover every documented operation and status, and
the document must describe exactly the routes the app serves.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from starlette.routing import Route

from app.models.database import Database
from app.services.record.fields import DATASET
from app.services.record.openapi import record_schemas
from app.services.server import create_app, opendatasoft_openapi
from app.services.server.api_extras import OPENAPI_PATH, openapi_document
from app.services.server.pages import PAGES_TAG, openapi_paths
from app.services.server.params import openapi_body_schemas, openapi_parameters
from app.services.server.quotas import with_quota_answer
from tests.server.conftest import Catalogue

DOC: dict[str, Any] = orjson.loads(OPENAPI_PATH.read_bytes())
JSON_TYPES = ("application/json", "application/ld+json", "application/json-patch+json")
XLSX_PATH = "/api/datasets/export.xlsx"
DUMPS = (
    "/api/v1/dataset.csv",
    "/api/datasets/export.json",
    "/api/datasets/export.datasets.csv",
    "/api/datasets/export.resources.csv",
    XLSX_PATH,
)


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s (components) to the object they name."""
    while "$ref" in node:
        target: Any = DOC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def schema_errors(schema: dict[str, Any], value: Any) -> list[str]:
    # The components beside the schema, so that its "#/components/..." references resolve.
    root = {**schema, "components": DOC["components"]}
    validator = Draft202012Validator(root)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)
    ]


class Conformance:
    """Checks responses against the document and remembers which operations and statuses ran."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.seen: set[tuple[str, str, str]] = set()

    def call(
        self,
        method: str,
        template: str,
        url: str | None = None,
        *,
        status: int,
        **kwargs: Any,
    ) -> httpx.Response:
        response = self.client.request(method, url or template, **kwargs)
        assert response.status_code == status, (method, url or template, response.text)
        self.check(response, template)
        return response

    def check(self, response: httpx.Response, template: str) -> None:
        method = response.request.method.lower()
        where = f"{method.upper()} {template} -> {response.status_code}"
        operation = DOC["paths"][template][method]
        status = str(response.status_code)
        assert status in operation["responses"], f"{where}: status not documented"
        spec = resolve(operation["responses"][status])
        for name, header in spec.get("headers", {}).items():
            if resolve(header).get("required"):
                assert name in response.headers, f"{where}: no {name} header"
        self.seen.add((template, method, status))
        content = spec.get("content")
        if method == "head" or response.status_code in (303, 304):
            assert not response.content, f"{where}: a body where none belongs"
            return
        assert content, f"{where}: a body, but the document describes none"
        media_type = response.headers["content-type"].split(";")[0].strip()
        assert media_type in content, f"{where}: {media_type} not documented"
        schema = content[media_type].get("schema")
        if schema is not None and media_type in JSON_TYPES:
            errors = schema_errors(schema, response.json())
            assert not errors, f"{where}: " + "; ".join(errors[:5])

    def check_request_body(self, template: str, method: str, media_type: str, body: Any) -> None:
        schema = DOC["paths"][template][method]["requestBody"]["content"][media_type]["schema"]
        assert not schema_errors(schema, body)


@pytest.fixture
def conformance(client: httpx.Client) -> Iterator[Conformance]:
    yield Conformance(client)


def test_the_document_is_valid_openapi_3_1() -> None:
    validate_spec(copy.deepcopy(DOC))
    assert DOC["openapi"].startswith("3.1")


def test_the_document_describes_exactly_the_routes_served(database: Database) -> None:
    served: set[tuple[str, str]] = set()
    for route in create_app(database).routes:
        assert isinstance(route, Route)
        served |= {(route.path, m.lower()) for m in route.methods or ()}
    documented = {
        (path, method)
        for path, item in DOC["paths"].items()
        for method in item
        if method in ("get", "head", "post", "patch", "put", "delete")
    }
    assert served - documented == set(), "served but not documented"
    missing = documented - served
    if (XLSX_PATH, "get") not in served:  # the workbook route is being added alongside
        missing -= {(XLSX_PATH, "get"), (XLSX_PATH, "head")}
    assert missing == set(), "documented but not served"


def test_the_document_is_served_with_this_server_as_its_server(
    conformance: Conformance, client: httpx.Client
) -> None:
    served = conformance.call("GET", "/api/openapi.json", status=200).json()
    assert served["servers"] == [{"url": str(client.base_url).rstrip("/")}]
    assert {k: v for k, v in served.items() if k != "servers"} == {
        k: v for k, v in openapi_document().items() if k != "servers"
    }


def test_every_endpoint_answers_as_documented(
    conformance: Conformance, client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    c = conformance
    wrong = {"Authorization": "cdk_not-a-key"}
    xlsx_served = any(
        isinstance(r, Route) and r.path == XLSX_PATH for r in create_app(database).routes
    )
    etags = False
    for path in DUMPS:
        if path == XLSX_PATH and not xlsx_served:
            continue
        ok = c.call("GET", path, status=200)
        c.call("HEAD", path, status=200)
        c.call("GET", path, status=401, headers=wrong)
        c.call("GET", path, status=200, headers={"Authorization": catalogue.alice})
        if "etag" in ok.headers:
            etags = True
            c.call("GET", path, status=304, headers={"If-None-Match": ok.headers["etag"]})

    feed = "/api/v1/dataset.jsonld"
    first = c.call("GET", feed, f"{feed}?limit=1", status=200)
    if "etag" in first.headers:
        c.call(
            "GET",
            feed,
            f"{feed}?limit=1",
            status=304,
            headers={"If-None-Match": first.headers["etag"]},
        )
    c.call("GET", feed, first.links["next"]["url"], status=200)
    c.call("HEAD", feed, status=200)
    c.call("GET", feed, f"{feed}?after=garbage", status=400)
    c.call("GET", feed, f"{feed}?after={'A' * 34}", status=404)
    c.call("GET", feed, f"{feed}?limit=0", status=400)
    c.call("GET", feed, status=401, headers=wrong)
    c.call("GET", feed, f"{feed}?since=0&limit=1", status=200)
    c.call("GET", feed, f"{feed}?modified_since=2020-01-01T00:00:00Z", status=200)
    c.call("GET", feed, f"{feed}?since=99999", status=409)
    csv_path = "/api/v1/dataset.csv"
    c.call("GET", csv_path, f"{csv_path}?since=0", status=200)
    c.call("GET", csv_path, f"{csv_path}?modified_since=never", status=400)
    c.call("GET", csv_path, f"{csv_path}?since=99999", status=409)
    deleted = "/api/v1/deleted.json"
    c.call("GET", deleted, f"{deleted}?since=0", status=200)
    c.call("HEAD", deleted, status=200)
    c.call("GET", deleted, f"{deleted}?since=x", status=400)
    c.call("GET", deleted, f"{deleted}?since=99999", status=409)
    c.call("GET", deleted, status=401, headers=wrong)
    c.call("GET", "/api/v1/manifest.json", status=200)
    c.call("HEAD", "/api/v1/manifest.json", status=200)
    c.call("GET", "/api/v1/manifest.json", status=401, headers=wrong)
    c.call("GET", "/api/v1/context.jsonld", status=200)
    c.call("HEAD", "/api/v1/context.jsonld", status=200)

    for action, good, bad in (
        ("current_package_list_with_resources", {"limit": 2, "offset": 1}, {"limit": "x"}),
        ("package_search", {"q": "bins", "rows": 2, "sort": "name asc"}, {"sort": "nope asc"}),
    ):
        path = f"/api/action/{action}"
        c.call("GET", path, status=200, params=good)
        c.call("HEAD", path, status=200)
        c.call("GET", path, status=400, params=bad)
        c.call("GET", path, status=401, headers=wrong)
        c.check_request_body(path, "post", "application/json", good)
        c.call("POST", path, status=200, json=good)
        c.call("POST", path, status=200, data={k: str(v) for k, v in good.items()})
        c.call("POST", path, status=200, json={}, headers={"Authorization": catalogue.bob})
        c.call("POST", path, status=400, json=bad)
        c.call("POST", path, status=400, content=b"[1]", headers={"Content-Type": "text/json"})
        c.call("POST", path, status=401, json=good, headers=wrong)

    # A query Solr's syntax cannot read: CKAN's Search Error.
    searching = "/api/action/package_search"
    c.call("GET", searching, status=409, params={"q": "title:(bins"})
    c.call("POST", searching, status=409, json={"fq": "res_format:CSV"})

    show = "/api/action/package_show"
    public, team_draft = catalogue.public[0], catalogue.team_draft

    def ask(method: str, status: int, values: dict[str, str], **headers: str) -> None:
        if method == "POST":
            c.call("POST", show, status=status, json=values, headers=headers)
        else:
            c.call("GET", show, status=status, params=values, headers=headers)

    for method in ("GET", "POST"):
        ask(method, 200, {"id": public})
        ask(method, 200, {"name_or_id": public})
        ask(method, 400, {"id": "a" * 201})
        ask(method, 401, {"id": public}, Authorization="cdk_not-a-key")
        ask(method, 403, {"id": catalogue.draft})
        ask(method, 404, {"id": "zzzzz"})
        ask(method, 409, {})
    c.call("POST", show, status=400, json={"id": 5})
    c.call("HEAD", show, status=200, params={"id": public})
    c.check_request_body(show, "post", "application/json", {"id": public})

    one = "/api/dataset/{dataset_id}"
    bob = {"Authorization": catalogue.bob}
    c.call("GET", one, f"/api/dataset/{public}", status=200)
    c.call("HEAD", one, f"/api/dataset/{public}", status=200)
    c.call("GET", one, f"/api/dataset/{team_draft}", status=200, headers=bob)
    c.call("GET", one, f"/api/dataset/{public}", status=401, headers=wrong)
    c.call("GET", one, f"/api/dataset/{catalogue.draft}", status=403)
    c.call("GET", one, "/api/dataset/zzzzz", status=404)
    # Seed 003's dataset search and lookup (server.opendatasoft_api).
    urlencoded = {"Content-Type": "application/x-www-form-urlencoded"}
    for search in ("/api/datasets/1.0/search/", "/api/datasets/1.0/search"):
        found = {"q": "bins OR title:air", "facet": "theme", "rows": "2"}
        c.call("GET", search, status=200, params=found)
        c.call("GET", search, status=200, params={"format": "csv"})
        c.call("GET", search, status=200, params={"format": "rss", "refine.modified": "2020"})
        c.call("GET", search, status=200, params={"callback": "show", "pretty_print": "true"})
        c.call("HEAD", search, status=200)
        c.call("GET", search, status=400, params={"q": "title:(air"})
        c.call("GET", search, status=401, headers=wrong)
        c.call("POST", search, status=200, data=found)
        c.call("POST", search, status=400, data={"sort": "nope"})
        c.call("POST", search, status=401, data={}, headers=wrong)
        c.call("POST", search, status=413, content=b"q=" + b"x" * 70_000, headers=urlencoded)
    for template, url in (
        ("/api/datasets/1.0/{dataset_id}/", f"/api/datasets/1.0/{public}/"),
        ("/api/datasets/1.0/{dataset_id}", f"/api/datasets/1.0/{public}"),
    ):
        c.call("GET", template, url, status=200)
        c.call("GET", template, url + "?format=jsonp&callback=show", status=200)
        c.call("HEAD", template, url, status=200)
        c.call("GET", template, url + "?format=csv", status=400)
        c.call("GET", template, url, status=401, headers=wrong)
        c.call("GET", template, url.replace(public, catalogue.draft), status=404)
    # The web pages (server.pages): HTML, the sitemap, robots.txt.
    page = "/dataset/{dataset_id}"
    c.call("GET", page, f"/dataset/{public}", status=200)
    c.call("HEAD", page, f"/dataset/{public}", status=200)
    c.call("GET", page, f"/dataset/{catalogue.draft}", status=404)
    c.call("GET", page, "/dataset/a%2Fb", status=404)  # no route: the API's JSON 404
    c.call("GET", "/", "/?q=bins&page=1", status=200)
    c.call("HEAD", "/", status=200)
    c.call("GET", "/", "/?page=0", status=400)
    part = "/sitemap-{part}.xml"
    for template, url in (("/sitemap.xml", "/sitemap.xml"), (part, "/sitemap-1.xml")):
        mapped = c.call("GET", template, url, status=200)
        c.call("HEAD", template, url, status=200)
        if "etag" in mapped.headers:
            c.call(
                "GET", template, url, status=304, headers={"If-None-Match": mapped.headers["etag"]}
            )
    c.call("GET", part, "/sitemap-9.xml", status=404)
    c.call("GET", "/robots.txt", status=200)
    c.call("HEAD", "/robots.txt", status=200)
    c.call("GET", "/api/openapi.json", status=200)
    c.call("HEAD", "/api/openapi.json", status=200)
    c.call("GET", "/oai", status=200, params={"verb": "ListRecords", "metadataPrefix": "oai_dc"})
    c.call("GET", "/oai", status=200, params={"verb": "Nothing"})  # a protocol error: still 200
    c.call("HEAD", "/oai", status=200, params={"verb": "Identify"})
    c.call("POST", "/oai", status=200, data={"verb": "ListSets"})
    c.call("POST", "/oai", status=415, json={"verb": "ListSets"})
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    c.call("POST", "/oai", status=400, content=b"verb=\xff", headers=form)
    c.call("POST", "/oai", status=413, content=b"verb=" + b"x" * 70_000, headers=form)

    def patch(dataset_id: str, ops: Any, status: int, **headers: str) -> None:
        content = ops if isinstance(ops, bytes) else orjson.dumps(ops)
        if not isinstance(ops, bytes):
            c.check_request_body(one, "patch", "application/json-patch+json", ops)
        headers.setdefault("Content-Type", "application/json-patch+json")
        c.call(
            "PATCH",
            one,
            f"/api/dataset/{dataset_id}",
            status=status,
            content=content,
            headers=headers,
        )

    title = [{"op": "replace", "path": "/title", "value": "Patched"}]
    patch(team_draft, title, 200, Authorization=catalogue.bob)
    patch(team_draft, b'{"op": "nope"}', 400, Authorization=catalogue.bob)
    patch(team_draft, title, 401)
    patch(public, title, 403, Authorization=catalogue.carol)
    patch("zzzzz", title, 404, Authorization=catalogue.bob)
    patch(
        team_draft,
        [{"op": "test", "path": "/title", "value": "Other"}],
        409,
        Authorization=catalogue.bob,
    )
    patch(team_draft, b"[" + b" " * (2 * 1024 * 1024) + b"]", 413, Authorization=catalogue.bob)
    patch(team_draft, title, 415, Authorization=catalogue.bob, **{"Content-Type": "text/plain"})
    patch(
        team_draft,
        [{"op": "replace", "path": "/id", "value": "abcde"}],
        422,
        Authorization=catalogue.bob,
    )
    patch(
        team_draft,
        [{"op": "replace", "path": "/title", "value": ""}],
        422,
        Authorization=catalogue.bob,
    )

    expected = {
        (path, method, status)
        for path, item in DOC["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "patch")
        for status in operation["responses"]
        if (etags or status != "304")
        and (xlsx_served or path != XLSX_PATH)
        # The manifest's 503 needs commits landing during each of its three reads.
        and (path, status) != ("/api/v1/manifest.json", "503")
        # The quotas are off in this server: tests/server/test_quotas.py checks the 429.
        and status != "429"
    }
    assert expected - c.seen == set(), "documented but never exercised"
    operations = {
        (path, method)
        for path, item in DOC["paths"].items()
        for method in item
        if method in ("get", "head", "post", "patch") and (xlsx_served or path != XLSX_PATH)
    }
    assert operations - {(p, m) for p, m, _ in c.seen} == set()


def test_the_parameter_schemas_are_the_servers() -> None:
    # scripts/update_openapi.py writes them from server/params.py, which the handlers read by.
    shipped = DOC["components"]
    assert shipped["parameters"] == openapi_parameters(shipped["parameters"]), (
        "run scripts/update_openapi.py"
    )
    for name, schema in openapi_body_schemas().items():
        assert shipped["schemas"][name] == schema, f"{name}: run scripts/update_openapi.py"


def test_the_pages_paths_are_generated_from_server_pages() -> None:
    # scripts/update_openapi.py writes them from server/pages.py, which serves them.
    for path, item in openapi_paths().items():
        assert DOC["paths"][path] == with_quota_answer(item), (
            f"{path}: run scripts/update_openapi.py"
        )
    assert PAGES_TAG in DOC["tags"]


def test_the_opendatasoft_paths_are_generated_from_the_server() -> None:
    # scripts/update_openapi.py writes them from server/opendatasoft_openapi.py.
    for path, item in opendatasoft_openapi.openapi_paths().items():
        assert DOC["paths"][path] == with_quota_answer(item), (
            f"{path}: run scripts/update_openapi.py"
        )
    for name, parameter in opendatasoft_openapi.openapi_parameters().items():
        assert DOC["components"]["parameters"][name] == parameter
    assert opendatasoft_openapi.TAG in DOC["tags"]


def test_the_record_schemas_are_generated_from_the_field_table() -> None:
    # scripts/update_openapi.py writes them; a field added to the table must reach the document.
    shipped = DOC["components"]["schemas"]
    for name, schema in record_schemas().items():
        assert shipped[name] == schema, f"{name}: run scripts/update_openapi.py"
    properties = shipped["Dataset"]["properties"]
    assert list(properties) == [field.name for field in DATASET]
