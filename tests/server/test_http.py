"""HTTP details (issue 16 item 5, finding 8): HEAD answers carry the GET's headers, a 405's
`Allow` lists every method of the path, and every endpoint reads Accept-Encoding one way, by
RFC 9110 (12.5.3): case-insensitive codings, `*`, and a q of 0 refusing."""

from __future__ import annotations

import httpx
import pytest

from app.services.server.encoding import accepts_gzip
from tests.server.conftest import Catalogue

# Headers that describe the representation, which HEAD must send as GET does.
REPRESENTATION = (
    "content-length",
    "content-type",
    "content-encoding",
    "content-disposition",
    "etag",
    "last-modified",
    "link",
    "vary",
    "cache-control",
)


def _paths(catalogue: Catalogue) -> list[str]:
    return [
        "/api/v1/dataset.jsonld?limit=2",
        "/api/v1/dataset.csv",
        "/api/v1/context.jsonld",
        "/api/datasets/export.json",
        "/api/datasets/export.datasets.csv",
        "/api/datasets/export.resources.csv",
        "/api/datasets/export.xlsx",
        "/api/action/current_package_list_with_resources",
        "/api/action/package_search?rows=3",
        f"/api/action/package_show?id={catalogue.public[0]}",
        f"/api/dataset/{catalogue.public[0]}",
        "/api/openapi.json",
    ]


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
@pytest.mark.parametrize("who", ["anonymous", "key"])
def test_head_carries_the_gets_headers(
    client: httpx.Client, catalogue: Catalogue, encoding: str, who: str
) -> None:
    headers = {"Accept-Encoding": encoding}
    if who == "key":
        headers["Authorization"] = catalogue.alice
    for path in _paths(catalogue):
        get = client.get(path, headers=headers)
        head = client.head(path, headers=headers)
        assert get.status_code == head.status_code == 200, path
        assert head.content == b"", path
        for name in REPRESENTATION:
            assert head.headers.get(name) == get.headers.get(name), (path, name)
        if path.startswith(("/api/action/package_s", "/api/dataset/", "/api/openapi")):
            assert int(head.headers["content-length"]) > 0, path


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/dataset/abcde", {"GET", "HEAD", "PATCH"}),
        ("/api/action/package_search", {"GET", "HEAD", "POST"}),
        ("/api/action/current_package_list_with_resources", {"GET", "HEAD", "POST"}),
        ("/api/action/package_show", {"GET", "HEAD", "POST"}),
        ("/api/v1/dataset.jsonld", {"GET", "HEAD"}),
        ("/api/datasets/export.json", {"GET", "HEAD"}),
    ],
)
def test_a_405_allows_every_method_of_the_path(
    client: httpx.Client, path: str, methods: set[str]
) -> None:
    for method in ("PUT", "DELETE", "OPTIONS", *({"PATCH", "POST"} - methods)):
        response = client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert {m.strip() for m in response.headers["allow"].split(",")} == methods
        assert response.json()["error"]["code"] == "method_not_allowed"


ACCEPT_ENCODING = [
    ("gzip", True),
    ("GZIP", True),
    ("x-gzip", True),
    ("*", True),
    ("deflate, *;q=0.1", True),
    ("gzip;q=0.001", True),
    ("gzip ; q=1.0", True),
    ("gzip;level=1;q=0", False),
    ("gzip;q=0", False),
    ("gzip; Q=0", False),
    ("gzip;q=0.000", False),
    ("*;q=0.5, gzip;q=0", False),
    ("gzip;q=0, *", False),
    ("*;q=0", False),
    ("identity", False),
    ("br, deflate", False),
    ("", False),
    ("gzip;q=2", False),  # not a qvalue: the element is ignored
    ("gzip;q=abc", False),
]


@pytest.mark.parametrize(("header", "gzip"), ACCEPT_ENCODING)
def test_accepts_gzip_reads_rfc_9110(header: str, gzip: bool) -> None:
    assert accepts_gzip(header) is gzip


def test_every_endpoint_reads_accept_encoding_alike(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    compressible = [
        p for p in _paths(catalogue) if not p.endswith(("export.xlsx", "context.jsonld"))
    ]
    for header, gzip in ACCEPT_ENCODING:
        for path in compressible:
            response = client.get(path, headers={"Accept-Encoding": header})
            assert response.status_code == 200, (path, header)
            assert (response.headers.get("content-encoding") == "gzip") is gzip, (path, header)
