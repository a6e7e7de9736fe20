"""export.xlsx, and the dumps' validators: ETag, Last-Modified, 304, and the per-state cache."""

from __future__ import annotations

import gzip
import io
import threading
from datetime import date, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import openpyxl
import pytest
from starlette.routing import Route

from app.models.database import Database
from app.services import datasets, export_query, publication, scratch
from app.services.dump_cache import DumpCache
from app.services.formats import csv_format, xlsx
from app.services.formats.cells import restore_cell
from app.services.record import columns
from app.services.server import ServerThread, create_app
from app.services.visibility import OWNER
from tests.conftest import AUTHOR, make_record
from tests.server.conftest import Catalogue
from tests.services.test_formats_xlsx import assert_dimensions_declared

DUMPS = (
    "/api/v1/dataset.csv",
    "/api/datasets/export.json",
    "/api/datasets/export.datasets.csv",
    "/api/datasets/export.resources.csv",
    "/api/datasets/export.xlsx",
)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": key}


def _sheet_rows(workbook: Any, name: str) -> list[dict[str, Any]]:
    rows = list(workbook[name].iter_rows(values_only=True))
    header = rows[0]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


# -- the XLSX serializer ---------------------------------------------------------------------


@pytest.fixture
def typed_dataset(database: Database) -> str:
    with database.transaction() as s:
        record = datasets.create_dataset(
            s,
            make_record(
                title='=HYPERLINK("http://evil")',
                description="+1 and \x07 a bell",
                tags=["FOI", "a;b"],
                nextReviewDate="2025-01-15",
                resources={
                    "k93": {
                        "title": "@SUM(A1)",
                        "url": "https://data.example/x.csv",
                        "size": 1337303,
                        "timestamp": "2025-01-21T16:10:02",
                        "timeFrame": {"gte": "2020-01", "lte": "2024-11"},
                    }
                },
                links={
                    "el3": {
                        "title": "TfL",
                        "url": "https://tfl.gov.uk/",
                        "qa": {
                            "httpStatus": 200,
                            "mimetype": "text/html",
                            "timestamp": "2025-01-28T11:17:08.531Z",
                        },
                    }
                },
                createdAt="2019-02-05T16:34:18.000Z",
            ),
            author=AUTHOR,
        )
        dataset_id: str = record["id"]
        return dataset_id


def test_xlsx_reads_back_with_types_and_neutralised_formulas(
    database: Database, typed_dataset: str
) -> None:
    rows = list(export_query.iter_datasets(database, OWNER))
    sink = io.BytesIO()
    assert xlsx.write_xlsx(rows, sink, base_url="https://cat.example") == 1
    book = openpyxl.load_workbook(io.BytesIO(sink.getvalue()), read_only=True)
    try:
        assert book.sheetnames == ["datasets", "resources", "links"]
        (d,) = _sheet_rows(book, "datasets")
        assert list(d) == list(columns.DATASET_COLUMNS)
        assert d["id"] == typed_dataset
        assert d["title"] == '\'=HYPERLINK("http://evil")'
        assert restore_cell(d["title"]) == '=HYPERLINK("http://evil")'
        assert d["description"] == "'+1 and \ufffd a bell"
        assert csv_format.split_list(d["tags"]) == ["FOI", "a;b"]
        assert d["nextReviewDate"] == datetime(2025, 1, 15)
        assert d["createdAt"] == datetime(2019, 2, 5, 16, 34, 18)
        assert isinstance(d["updatedAt"], datetime)
        assert d["resourceCount"] == 1 and d["linkCount"] == 1
        (r,) = _sheet_rows(book, "resources")
        assert list(r) == list(columns.RESOURCE_COLUMNS)
        assert r["title"] == "'@SUM(A1)"
        assert r["size"] == 1337303 and isinstance(r["size"], int)
        assert r["order"] == 0
        assert r["timestamp"] == datetime(2025, 1, 21, 16, 10, 2)
        assert (r["timeFrameFrom"], r["timeFrameTo"]) == ("2020-01", "2024-11")
        assert r["webpage"] == f"https://cat.example/dataset/{typed_dataset}"
        (link,) = _sheet_rows(book, "links")
        assert list(link) == list(columns.LINK_COLUMNS)
        assert link["httpStatus"] == 200 and link["mimetype"] == "text/html"
        stamp = link["qaTimestamp"]
        assert isinstance(stamp, datetime)
        assert abs((stamp - datetime(2025, 1, 28, 11, 17, 8, 531000)).total_seconds()) < 0.001
        assert link["size"] is None
    finally:
        book.close()
    # No cell is stored as a formula, and the header is styled, frozen and filtered.
    full = openpyxl.load_workbook(io.BytesIO(sink.getvalue()))
    for sheet in full.worksheets:
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}2"
        assert all(cell.font.bold for cell in sheet[1])
        assert sheet.column_dimensions["A"].width > 0
        for row in sheet.iter_rows():
            assert all(cell.data_type != "f" for cell in row)


# -- export.xlsx over HTTP -------------------------------------------------------------------


def test_export_xlsx_endpoint(client: httpx.Client, catalogue: Catalogue) -> None:
    response = client.get("/api/datasets/export.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == xlsx.CONTENT_TYPE
    assert response.headers["content-disposition"] == 'attachment; filename="export.xlsx"'
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    ids = {row["id"] for row in _sheet_rows(book, "datasets")}
    resource_owners = {row["dataset"] for row in _sheet_rows(book, "resources")}
    link_owners = {row["dataset"] for row in _sheet_rows(book, "links")}
    book.close()
    assert ids == set(catalogue.public)
    sizes = assert_dimensions_declared(response.content)
    assert sizes["datasets"] == (1 + len(ids), len(columns.DATASET_COLUMNS))
    assert resource_owners == link_owners == {catalogue.public[0]}

    keyed = client.get("/api/datasets/export.xlsx", headers=_auth(catalogue.alice))
    book = openpyxl.load_workbook(io.BytesIO(keyed.content), read_only=True)
    assert {row["id"] for row in _sheet_rows(book, "datasets")} == {
        *catalogue.public,
        catalogue.private,
    }
    book.close()
    assert client.get("/api/datasets/export.xlsx", headers=_auth("nope")).status_code == 401
    head = client.head("/api/datasets/export.xlsx")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == xlsx.CONTENT_TYPE


# -- ETag, Last-Modified, 304 ----------------------------------------------------------------


@pytest.mark.parametrize("path", DUMPS)
def test_repeated_request_is_the_same_and_revalidates(
    client: httpx.Client, catalogue: Catalogue, path: str
) -> None:
    first = client.get(path)
    second = client.get(path)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and second.headers["etag"] == etag
    modified = first.headers["last-modified"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
    old = formatdate(0, usegmt=True)
    assert client.get(path, headers={"If-Modified-Since": old}).status_code == 200
    # If-None-Match wins over If-Modified-Since.
    both = {"If-None-Match": 'W/"other"', "If-Modified-Since": modified}
    assert client.get(path, headers=both).status_code == 200
    head = client.head(path, headers={"If-None-Match": etag})
    assert head.status_code == 304
    assert client.head(path).headers["etag"] == etag


def test_an_edit_changes_the_etag_and_the_content(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    path = "/api/datasets/export.json"
    before = client.get(path)
    etag = before.headers["etag"]
    with database.transaction() as s:
        datasets.update_dataset(
            s, catalogue.public[2], {"title": "Library loans, renamed"}, author=AUTHOR
        )
    after = client.get(path, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag
    titles = {d["id"]: d["title"] for d in after.json()}
    assert titles[catalogue.public[2]] == "Library loans, renamed"
    # Publishing a draft shows it in the next dump as well.
    with database.transaction() as s:
        publication.publish(s, catalogue.draft, author=AUTHOR)
    third = client.get(path, headers={"If-None-Match": after.headers["etag"]})
    assert third.status_code == 200
    assert catalogue.draft in {d["id"] for d in third.json()}
    # The JSON-LD pages follow the same state.
    page = client.get("/api/v1/dataset.jsonld")
    assert (
        client.get(
            "/api/v1/dataset.jsonld", headers={"If-None-Match": page.headers["etag"]}
        ).status_code
        == 304
    )
    with database.transaction() as s:
        publication.unpublish(s, catalogue.draft, author=AUTHOR)
    assert (
        client.get(
            "/api/v1/dataset.jsonld", headers={"If-None-Match": page.headers["etag"]}
        ).status_code
        == 200
    )


@pytest.mark.parametrize("path", DUMPS[1:3])
def test_keyed_and_anonymous_callers_never_share_a_body(
    client: httpx.Client, catalogue: Catalogue, path: str
) -> None:
    def ids(response: httpx.Response) -> set[str]:
        assert response.status_code == 200
        if path.endswith(".json"):
            return {d["id"] for d in response.json()}
        return set(csv_format_ids(response))

    anonymous = client.get(path)
    keyed = client.get(path, headers=_auth(catalogue.alice))
    anonymous_again = client.get(path)
    keyed_again = client.get(path, headers=_auth(catalogue.alice))
    assert ids(anonymous) == ids(anonymous_again) == set(catalogue.public)
    assert ids(keyed) == ids(keyed_again) == {*catalogue.public, catalogue.private}
    assert anonymous.headers["etag"] != keyed.headers["etag"]
    assert keyed.headers["etag"] == keyed_again.headers["etag"]
    # One caller's validator never revalidates the other's copy.
    cross = client.get(path, headers={"If-None-Match": keyed.headers["etag"]})
    assert cross.status_code == 200 and ids(cross) == set(catalogue.public)
    cross = client.get(
        path, headers={**_auth(catalogue.alice), "If-None-Match": anonymous.headers["etag"]}
    )
    assert cross.status_code == 200 and catalogue.private in ids(cross)
    bob = client.get(path, headers={**_auth(catalogue.bob), "If-None-Match": keyed.headers["etag"]})
    assert bob.status_code == 200 and catalogue.private not in ids(bob)


def csv_format_ids(response: httpx.Response) -> list[str]:
    import csv

    return [row["id"] for row in csv.DictReader(io.StringIO(response.text, newline=""))]


# -- the cache itself ------------------------------------------------------------------------


def test_concurrent_first_requests_render_once(database: Database, tmp_path: Path) -> None:
    cache = DumpCache(database, directory=tmp_path)
    state = cache.state()
    assert state is not None
    started = threading.Event()

    def render(sink: BinaryIO) -> None:
        started.wait(5)
        sink.write(b"rendered")

    results: list[bytes] = []

    def request() -> None:
        with cache.open("key", state, render) as handle:
            results.append(handle.read())

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    started.set()
    for thread in threads:
        thread.join(60)  # a bound for a thread that hangs, not a speed
    assert results == [b"rendered"] * 6
    assert cache.renders == 1
    with database.transaction() as s:
        datasets.create_dataset(s, make_record(), author=AUTHOR)
    new_state = cache.state()
    assert new_state is not None and new_state.tag != state.tag
    assert new_state.last_modified > state.last_modified or new_state.last_modified >= int(
        datetime.combine(date.today(), datetime.min.time()).timestamp()
    )
    with cache.open("key", new_state, render) as handle:
        assert handle.read() == b"rendered"
    assert cache.renders == 2
    kept = [p for p in tmp_path.glob("catalogue-dumps-*/*") if p.name != scratch.LOCK_NAME]
    assert len(kept) == 1  # the stale file is gone
    cache.close()
    assert not list(tmp_path.glob("catalogue-dumps-*"))


# -- gzip ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", DUMPS[:4])
def test_a_gzipped_dump_is_made_once_per_change_and_matches_the_plain_one(
    database: Database, catalogue: Catalogue, path: str
) -> None:
    app = create_app(database)
    route = next(r for r in app.routes if isinstance(r, Route) and r.path == path)
    endpoint: Any = route.endpoint
    cache: DumpCache = endpoint.__self__.service.dumps
    with ServerThread(app) as server, httpx.Client(base_url=server.url) as http:
        plain = http.get(path, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        renders_before = cache.renders
        for _ in range(2):
            with http.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as response:
                raw = b"".join(response.iter_raw())
            assert response.headers["content-encoding"] == "gzip"
            assert int(response.headers["content-length"]) == len(raw)
            assert gzip.decompress(raw) == plain.content
            assert response.headers["etag"] == plain.headers["etag"]
            assert "accept-encoding" in response.headers["vary"].lower()
            # Gzipped from the kept rendering the first time, then read from its file.
            assert cache.renders == renders_before + 1
        refused = http.get(path, headers={"Accept-Encoding": "gzip;q=0"})
        assert "content-encoding" not in refused.headers
        assert refused.content == plain.content
