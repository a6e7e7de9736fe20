"""The in-memory cache of rendered JSON-LD feed pages (services.dump_cache.PageCache)."""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from app.models.database import Database
from app.services import datasets, scratch
from app.services.cursor import codec_for
from app.services.dump_cache import CachedPage, CatalogueState, PageCache
from app.services.server import RequestLogEntry, ServerThread, create_app
from app.services.server.feed import FEED_PATH, PageRequest
from app.services.visibility import ANONYMOUS
from tests.conftest import AUTHOR
from tests.server.conftest import Catalogue


@pytest.fixture
def served(database: Database) -> Iterator[tuple[httpx.Client, PageCache]]:
    with _serving(database) as (http, service):
        yield http, service.dumps.pages


@contextmanager
def _serving(
    database: Database, log: list[RequestLogEntry] | None = None
) -> Iterator[tuple[httpx.Client, Any]]:
    """A real server over `database`, a client, and the handlers' shared service. Requests are
    logged to `log` once their response, and its background work, are finished."""
    app = create_app(database, on_request=None if log is None else log.append)
    route = next(r for r in app.routes if isinstance(r, Route) and r.path == FEED_PATH)
    endpoint: Any = route.endpoint
    server = ServerThread(app)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=20) as http:
            yield http, endpoint.__self__.service
    finally:
        server.stop()


def _until(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition`; the bound is only for a server that never gets there."""
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.005)


def _until_kept(pages: PageCache) -> None:
    """A page is kept once compressed on the cache's own thread: wait for that."""
    _until(lambda: pages.size > 0, "no page was kept")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200
    return {d["identifier"] for d in response.json()["dataset"]}


def test_a_cached_page_is_byte_identical(
    served: tuple[httpx.Client, PageCache], catalogue: Catalogue
) -> None:
    client, pages = served
    first = client.get(FEED_PATH, params={"limit": 2})
    # A page is kept when it is rendered a second time: one walk does not fill the cache.
    assert client.get(FEED_PATH, params={"limit": 2}).content == first.content
    _until_kept(pages)
    hits = pages.hits
    second = client.get(FEED_PATH, params={"limit": 2})
    assert pages.hits == hits + 1
    assert second.content == first.content
    assert second.headers["link"] == first.headers["link"]
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["content-type"] == first.headers["content-type"]
    # The next page (another key) is rendered, then cached in turn.
    following = first.links["next"]["url"]
    deep = client.get(following)
    assert client.get(following).content == deep.content
    assert _ids(deep).isdisjoint(_ids(first))
    head = client.head(FEED_PATH, params={"limit": 2})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["link"] == first.headers["link"]


def test_an_edit_through_the_services_invalidates_a_cached_page(
    served: tuple[httpx.Client, PageCache], catalogue: Catalogue, database: Database
) -> None:
    client, pages = served
    before = client.get(FEED_PATH)
    assert client.get(FEED_PATH).content == before.content
    _until_kept(pages)
    hits = pages.hits
    assert client.get(FEED_PATH).content == before.content
    assert pages.hits == hits + 1
    with database.transaction() as s:
        datasets.update_dataset(
            s, catalogue.public[2], {"title": "Library loans, renamed"}, author=AUTHOR
        )
    after = client.get(FEED_PATH)
    assert after.content != before.content
    assert after.headers["etag"] != before.headers["etag"]
    titles = {d["identifier"]: d["title"] for d in after.json()["dataset"]}
    assert titles[catalogue.public[2]] == "Library loans, renamed"
    assert client.get(FEED_PATH).content == after.content


def test_keyed_callers_get_the_anonymous_feed(
    served: tuple[httpx.Client, PageCache], catalogue: Catalogue
) -> None:
    """Seed 000's open data is the same whoever asks (issue 16): alice's read list does not
    add the private dataset to it, and every caller shares the anonymous pages."""
    client, _ = served
    for _ in range(3):  # the third round is served from the cache
        anonymous = client.get(FEED_PATH)
        alice = client.get(FEED_PATH, headers=_auth(catalogue.alice))
        bob = client.get(FEED_PATH, headers=_auth(catalogue.bob))
        assert _ids(anonymous) == _ids(alice) == _ids(bob) == set(catalogue.public)
        assert anonymous.headers["etag"] == alice.headers["etag"] == bob.headers["etag"]
        assert anonymous.content == alice.content


def test_the_cache_is_bounded_by_bytes_and_drops_other_states() -> None:
    pages = PageCache(max_bytes=4000)
    state = CatalogueState("e.1.2026-01-01", 0)
    for n in range(10):
        pages.put(f"k{n}", CachedPage.of(state.tag, os.urandom(500), ()), state)
    assert pages.size <= 4000
    assert pages.get("k0", state) is None  # the least recently used went first
    assert pages.get("k9", state) is not None
    # Rendered under a state that has moved since: not kept.
    moved = CatalogueState("e.2.2026-01-01", 0)
    pages.put("late", CachedPage.of(state.tag, b"y", ()), moved)
    assert pages.get("late", state) is None
    # A page of a new state drops those of the old one, and an old entry is never served.
    pages.put("k9", CachedPage.of(moved.tag, b"z", ()), moved)
    assert pages.get("k8", state) is None
    assert pages.get("k9", state) is None
    kept = pages.get("k9", moved)
    assert kept is not None and kept.body == b"z"
    # Too large for the cache: not kept.
    pages.put("big", CachedPage.of(moved.tag, os.urandom(3000), ()), moved)
    assert pages.get("big", moved) is None


def test_a_walk_reads_the_selection_once_per_state_and_never_serves_it_stale(
    catalogue: Catalogue, database: Database
) -> None:
    """Pages are slices of one selection per catalogue state; a commit between two pages makes
    the next request read it again, so the edit is there."""
    with _serving(database) as (client, service):
        feed = service.feed
        first = client.get(FEED_PATH, params={"limit": 1})
        assert _ids(first) == {catalogue.public[0]}
        second = client.get(first.links["next"]["url"])
        assert _ids(second) == {catalogue.public[1]}
        assert feed.selections_read == 1
        plain = {"Accept-Encoding": "identity"}
        for headers in (plain, plain, {}):  # kept as it is, and gzipped
            before = client.get(second.links["next"]["url"], headers=headers)
            assert [d["title"] for d in before.json()["dataset"]] != ["Renamed meanwhile"]
        with database.transaction() as s:
            datasets.update_dataset(
                s, catalogue.public[2], {"title": "Renamed meanwhile"}, author=AUTHOR
            )
        third = client.get(second.links["next"]["url"], headers=plain)
        assert [d["title"] for d in third.json()["dataset"]] == ["Renamed meanwhile"]
        third = client.get(second.links["next"]["url"])
        assert [d["title"] for d in third.json()["dataset"]] == ["Renamed meanwhile"]
        assert feed.selections_read == 2
        assert "next" not in third.links
        # Keyed callers share the anonymous selection.
        assert _ids(client.get(FEED_PATH, headers=_auth(catalogue.alice))) == set(catalogue.public)
        assert feed.selections_read == 2


@pytest.mark.parametrize(
    ("header", "gzipped"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, GZIP;q=0.5", True),
        ("*", True),
        ("identity", False),
        ("gzip;q=0", False),
        ("deflate, gzip;q=0.000", False),
        ("", False),
    ],
)
def test_a_page_is_gzipped_exactly_when_the_client_accepts_it(
    served: tuple[httpx.Client, PageCache], catalogue: Catalogue, header: str, gzipped: bool
) -> None:
    client, _ = served
    plain = client.get(FEED_PATH, headers={"Accept-Encoding": "identity"})
    # Three times: rendered, rendered and kept, then from the cache.
    for _ in range(3):
        with client.stream("GET", FEED_PATH, headers={"Accept-Encoding": header}) as response:
            raw = b"".join(response.iter_raw())
        assert response.headers.get("content-encoding") == ("gzip" if gzipped else None)
        assert "accept-encoding" in response.headers["vary"].lower()
        assert (gzip.decompress(raw) if gzipped else raw) == plain.content
        assert response.headers["etag"] == plain.headers["etag"]


def test_a_walk_that_accepts_gzip_sees_every_dataset_once(
    catalogue: Catalogue, database: Database
) -> None:
    with _serving(database) as (client, service):
        url: str | None = f"{FEED_PATH}?limit=1"
        seen: list[str] = []
        while url is not None:
            response = client.get(url, headers={"Accept-Encoding": "gzip"})
            assert response.headers["content-encoding"] == "gzip"
            seen.extend(sorted(_ids(response)))  # httpx inflates it
            url = response.links.get("next", {}).get("url")
        assert seen == list(catalogue.public)
        assert service.feed.selections_read == 1


def test_an_edit_leaves_the_other_gzipped_pages_kept(
    catalogue: Catalogue, database: Database
) -> None:
    """Gzipped pages are kept by what they show: after an edit, only the edited dataset's page
    is compressed again."""

    def walk(client: httpx.Client) -> list[bytes]:
        url: str | None = f"{FEED_PATH}?limit=1"
        bodies: list[bytes] = []
        while url is not None:
            response = client.get(url, headers={"Accept-Encoding": "gzip"})
            assert response.headers["content-encoding"] == "gzip"
            bodies.append(response.content)
            url = response.links.get("next", {}).get("url")
        return bodies

    with _serving(database) as (client, service):
        pages = service.dumps.pages
        first = walk(client)
        hits = pages.hits
        assert walk(client) == first
        assert pages.hits == hits + len(first)
        with database.transaction() as s:
            datasets.update_dataset(s, catalogue.public[1], {"title": "Edited"}, author=AUTHOR)
        hits = pages.hits
        after = walk(client)
        assert pages.hits == hits + len(first) - 1
        assert [a == b for a, b in zip(after, first, strict=True)] == [True, False, True]
        assert b'"title":"Edited"' in after[1]


def test_a_page_sliced_from_the_selection_is_the_page_queried_alone(
    catalogue: Catalogue, database: Database
) -> None:
    """The two ways to a page (a slice of the kept selection; a query of its own, for a
    catalogue whose state cannot be watched) give the same bytes and links."""
    with _serving(database) as (client, service):
        feed = service.feed
        codec = codec_for(database)
        base = str(client.base_url).rstrip("/")
        url: str | None = f"{FEED_PATH}?limit=2"
        token: str | None = None
        while url is not None:
            response = client.get(url, headers={"Accept-Encoding": "identity"})
            request = PageRequest(ANONYMOUS, base, token, codec.decode(token) if token else 0, 2)
            alone = feed._render(request, codec)
            assert alone.body == response.content
            assert alone.link_header == response.headers["link"]
            token = alone.next_token
            url = response.links.get("next", {}).get("url")


def test_stopping_the_server_removes_its_rendered_dumps(
    catalogue: Catalogue, database: Database
) -> None:
    with _serving(database) as (client, service):
        assert client.get("/api/v1/dataset.csv").status_code == 200
        folder = service.dumps._directory
        # The rendered dump is kept while the server runs (beside the folder's lock).
        assert any(p.name != scratch.LOCK_NAME for p in folder.iterdir())
    assert not folder.exists()
