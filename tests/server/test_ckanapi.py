"""The real `ckanapi` client (PyPI) reads the CKAN actions from a real server on loopback.

RemoteCKAN calls actions by POST with the parameters as a JSON body (as CKAN clients do); with
`get_only=True` it sends a GET with a query string instead. Both are served, over a SQLite and
over a PostgreSQL catalogue.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ckanapi import (  # type: ignore[import-untyped]  # no type information
    NotAuthorized,
    NotFound,
    RemoteCKAN,
    SearchError,
    ValidationError,
)

from app.services.server import ServerThread
from tests.server.conftest import Catalogue


@pytest.fixture(params=[False, True], ids=["post", "get"])
def ckan(request: pytest.FixtureRequest, server: ServerThread) -> Iterator[RemoteCKAN]:
    with RemoteCKAN(server.url, get_only=request.param) as remote:
        yield remote


def ids(packages: list[dict[str, Any]]) -> list[str]:
    return [package["id"] for package in packages]


def test_package_search_with_q_rows_start_and_sort(ckan: RemoteCKAN, catalogue: Catalogue) -> None:
    everything = ckan.action.package_search()
    assert everything["count"] == 3
    assert set(ids(everything["results"])) == set(catalogue.public)

    page = ckan.action.package_search(q="*:*", sort="title_string asc", rows=2, start=1)
    assert page["count"] == 3
    assert [p["title"] for p in page["results"]] == ["Bins collected", "Library loans"]

    found = ckan.action.package_search(q="potholes")
    assert ids(found["results"]) == [catalogue.public[1]]
    assert found["results"][0]["name"] == catalogue.public[1]
    assert ckan.action.package_search(q="budget")["count"] == 0  # a draft: not visible

    newest_first = ckan.action.package_search(sort="metadata_created desc", rows=1)
    assert ids(newest_first["results"]) == [catalogue.public[2]]


def test_package_search_finds_by_tag_id_and_word_prefix(
    ckan: RemoteCKAN, catalogue: Catalogue
) -> None:
    potholes = [catalogue.public[1]]
    assert ids(ckan.action.package_search(q="roads")["results"]) == potholes  # a tag
    assert ids(ckan.action.package_search(q="ROAD")["results"]) == potholes  # its prefix
    assert ids(ckan.action.package_search(q=catalogue.public[1])["results"]) == potholes  # id
    assert ckan.action.package_search(q="roads library")["count"] == 0  # every word


# q and fq in Solr's syntax (query_language.solr) -> the public datasets they find, by index
# (0: Bins collected, topic council, a csv; 1: =Potholes reported, tag roads; 2: Library loans).
SOLR_CASES: list[tuple[dict[str, str], list[int]]] = [
    ({"q": "bins OR library"}, [0, 2]),
    ({"q": "title:(bins OR potholes) -tags:roads"}, [0]),
    ({"q": 'title:"library loans"'}, [2]),
    ({"q": "groups:council"}, [0]),
    ({"q": "num_resources:[1 TO *]"}, [0]),
    ({"q": "*:*", "fq": "tags:roads"}, [1]),
    ({"q": "freedom", "fq": "+num_resources:0 +dataset_type:dataset"}, [2]),  # a tag
    ({"fq": "metadata_modified:[2000-01-01T00\\:00\\:00Z TO NOW] AND NOT title:bins"}, [1, 2]),
    ({"fq": "metadata_created:[NOW-1DAY TO *] AND title:library"}, [2]),
]


@pytest.mark.parametrize(("params", "found"), SOLR_CASES)
def test_package_search_reads_q_and_fq_as_solr_syntax(
    ckan: RemoteCKAN, catalogue: Catalogue, params: dict[str, str], found: list[int]
) -> None:
    result = ckan.action.package_search(rows=10, **params)
    assert sorted(ids(result["results"])) == sorted(catalogue.public[n] for n in found)
    assert result["count"] == len(found)


def test_a_query_solr_cannot_read_is_ckans_search_error(
    ckan: RemoteCKAN, catalogue: Catalogue
) -> None:
    for params in ({"q": "title:(bins"}, {"fq": "res_format:CSV"}, {"q": "tags:[a TO b]"}):
        with pytest.raises(SearchError) as raised:
            ckan.action.package_search(**params)
        # ckanapi keeps what follows CKAN's "Search error: ": our message, where included.
        assert "(at column" in str(raised.value), raised.value


def test_current_package_list_with_resources(ckan: RemoteCKAN, catalogue: Catalogue) -> None:
    packages = ckan.action.current_package_list_with_resources()
    assert ids(packages) == list(catalogue.public)
    bins = packages[0]
    assert [r["url"] for r in bins["resources"]] == [
        "https://data.example/bins.csv",
        "https://council.example/",
    ]
    assert bins["resources"][0]["format"] == "CSV"
    assert [g["title"] for g in bins["groups"]] == ["Council & Democracy"]
    page = ckan.action.current_package_list_with_resources(limit=1, offset=1)
    assert ids(page) == [catalogue.public[1]]


def test_an_api_key_adds_its_grants(server: ServerThread, catalogue: Catalogue) -> None:
    with RemoteCKAN(server.url, apikey=catalogue.alice) as alice:
        assert catalogue.private in ids(alice.action.current_package_list_with_resources())
        found = alice.action.package_search(q="sickness")
        assert ids(found["results"]) == [catalogue.private]
        assert found["results"][0]["private"] is True


def test_errors_become_ckanapi_exceptions(server: ServerThread, catalogue: Catalogue) -> None:
    with RemoteCKAN(server.url, apikey="cdk_not-a-key") as wrong, pytest.raises(NotAuthorized):
        wrong.action.package_search()
    with RemoteCKAN(server.url) as anonymous:
        with pytest.raises(ValidationError):
            anonymous.action.package_search(sort="nonsense desc")
        with pytest.raises(ValidationError):
            anonymous.action.package_search(rows=-1)


def test_package_show_by_id_or_name(ckan: RemoteCKAN, catalogue: Catalogue) -> None:
    """Issue 16: package_show, which every CKAN client calls; the same visibility as
    GET /api/dataset/{id}, CKAN's errors (ckan/logic/action/get.py and its API view: 404 Not
    Found Error, 403 Authorization Error, 409 Validation Error without an id)."""
    listed = ckan.action.current_package_list_with_resources()[0]
    shown = ckan.action.package_show(id=catalogue.public[0])
    assert shown == listed
    assert ckan.action.package_show(name_or_id=catalogue.public[0])["id"] == catalogue.public[0]
    with pytest.raises(NotFound):
        ckan.action.package_show(id="zzzzz")
    with pytest.raises(NotAuthorized):
        ckan.action.package_show(id=catalogue.draft)
    with pytest.raises(ValidationError) as missing:
        ckan.action.package_show()
    assert missing.value.error_dict["name_or_id"] == "Missing value"


def test_package_show_with_a_key(server: ServerThread, catalogue: Catalogue) -> None:
    with RemoteCKAN(server.url, apikey=catalogue.alice) as alice:
        assert alice.action.package_show(id=catalogue.private)["private"] is True
    with RemoteCKAN(server.url, apikey=catalogue.carol) as carol, pytest.raises(NotAuthorized):
        carol.action.package_show(id=catalogue.private)
