"""Link checks against a real HTTP server on loopback: status, type, size, ETag, HEAD refused,
timeouts and dead hosts, concurrency, and the findings written with history.

Nothing here waits for time to pass: a slow server is one that holds its answers until the test
lets them go (`Hold`), so the tests hold on a loaded machine."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.models.database import Database
from app.services import datasets, history
from app.services.link_check import check_links, is_broken
from app.services.progress import Cancelled, Progress
from app.services.server.runner import ServerThread
from tests.conftest import AUTHOR, make_record

# Only a bound for a server or client that hangs: a passing test never waits this long.
HANG = 30.0


async def until(condition: Callable[[], bool]) -> None:
    """Poll `condition` on the event loop; AssertionError after HANG seconds."""
    deadline = time.monotonic() + HANG
    while not condition():
        assert time.monotonic() < deadline, "waited in vain"
        await asyncio.sleep(0.005)


class Peak:
    """How many requests the server handled at once, at most."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *_: object) -> None:
        with self.lock:
            self.now -= 1


PEAK = Peak()
# The concurrency test's requests are answered once this many are in hand together.
LIMIT = 4


class Hold:
    """Answers to /held held until `release()`: a server as slow as the test needs."""

    def __init__(self) -> None:
        self.arrived = 0
        self.released = threading.Event()

    async def __call__(self) -> None:
        self.arrived += 1
        await until(self.released.is_set)

    def release(self) -> None:
        self.released.set()


HOLDS: dict[str, Hold] = {}


async def ok(request: Request) -> Response:
    headers = {"ETag": '"v1"', "Content-Type": "text/csv; charset=utf-8"}
    return Response(b"a,b\n1,2\n", headers=headers)


async def no_head(request: Request) -> Response:
    if request.method == "HEAD":
        return Response(status_code=405)
    return Response(b"<html></html>", media_type="text/html")


async def missing(request: Request) -> Response:
    return Response(b"gone", status_code=404)


async def slow(request: Request) -> Response:
    """Answered once LIMIT requests are in hand at once (or after HANG, failing the test)."""
    with PEAK:
        await until(lambda: PEAK.most >= LIMIT)
    return Response(b"late")


async def held(request: Request) -> Response:
    await HOLDS[request.query_params["hold"]]()
    return Response(b"late")


APP = Starlette(
    routes=[
        Route("/ok.csv", ok, methods=["GET", "HEAD"]),
        Route("/no-head", no_head, methods=["GET", "HEAD"]),
        Route("/missing", missing, methods=["GET", "HEAD"]),
        Route("/slow", slow, methods=["GET", "HEAD"]),
        Route("/held", held, methods=["GET", "HEAD"]),
    ]
)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with ServerThread(APP) as server:
        yield server.url


@pytest.fixture
def hold(site: str, request: pytest.FixtureRequest) -> Iterator[tuple[Hold, str]]:
    """A Hold and the URL whose answers it holds; released when the test ends."""
    name = request.node.name
    HOLDS[name] = Hold()
    yield HOLDS[name], f"{site}/held?hold={name}"
    HOLDS.pop(name).release()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _links(*urls: str) -> dict[str, Any]:
    return {
        f"l{i:02d}": {"url": url, "order": i, "title": f"Link {i}"} for i, url in enumerate(urls)
    }


def _dataset(database: Database, *urls: str) -> str:
    with database.transaction() as session:
        record = datasets.create_dataset(session, make_record(links=_links(*urls)), author=AUTHOR)
    dataset_id: str = record["id"]
    return dataset_id


def test_each_link_gets_its_qa(database: Database, site: str) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}/x"
    dataset_id = _dataset(database, f"{site}/ok.csv", f"{site}/no-head", f"{site}/missing", dead)
    with database.read() as session:
        before = datasets.get_record(session, dataset_id)
    results = asyncio.run(check_links(database))
    by_lid = {r.lid: r for r in results}
    assert [by_lid[f"l0{i}"].http_status for i in range(4)] == [200, 200, 404, None]
    assert by_lid["l00"].error is None
    assert by_lid["l03"].error

    with database.read() as session:
        after = datasets.get_record(session, dataset_id)
        (latest, *_) = history.list_versions(session, dataset_id)
    qa = {lid: link["qa"] for lid, link in after["links"].items()}
    assert qa["l00"]["httpStatus"] == 200
    assert qa["l00"]["mimetype"] == "text/csv; charset=utf-8"
    assert qa["l00"]["size"] == 8
    assert qa["l00"]["hash"] == '"v1"'
    assert qa["l00"]["timestamp"].endswith("Z")
    assert qa["l01"]["httpStatus"] == 200 and qa["l01"]["mimetype"].startswith("text/html")
    assert qa["l02"]["httpStatus"] == 404
    assert qa["l03"]["httpStatus"] is None and qa["l03"]["timestamp"]
    assert [is_broken(qa[f"l0{i}"]) for i in range(4)] == [False, False, True, True]
    # Written with history, and the dataset's own time left alone.
    assert (latest.action, latest.changes) == ("link-check", ["links"])
    assert after["updatedAt"] == before["updatedAt"]


def test_a_link_that_never_answers_times_out(database: Database, hold: tuple[Hold, str]) -> None:
    dataset_id = _dataset(database, hold[1])
    [result] = asyncio.run(check_links(database, timeout=0.2))
    assert result.http_status is None and result.error
    with database.read() as session:
        qa = datasets.get_record(session, dataset_id)["links"]["l00"]["qa"]
    assert qa["httpStatus"] is None and qa["timestamp"] and is_broken(qa)


def test_checks_run_concurrently_up_to_the_limit(database: Database, site: str) -> None:
    # Each request is answered only once LIMIT of them are in hand together: one after the
    # other, or fewer at once, the first would wait in vain.
    _dataset(database, *(f"{site}/slow?n={n}" for n in range(2 * LIMIT)))
    PEAK.most = 0
    results = asyncio.run(check_links(database, concurrency=LIMIT, timeout=2 * HANG))
    assert [r.http_status for r in results] == [200] * 2 * LIMIT
    assert PEAK.most == LIMIT  # and never more


def test_only_the_given_datasets_are_checked(database: Database, site: str) -> None:
    first = _dataset(database, f"{site}/ok.csv")
    second = _dataset(database, f"{site}/missing")
    results = asyncio.run(check_links(database, dataset_ids=[second]))
    assert [(r.dataset_id, r.http_status) for r in results] == [(second, 404)]
    with database.read() as session:
        assert datasets.get_record(session, first)["links"]["l00"]["qa"]["timestamp"] is None


def test_a_dataset_edited_during_the_check_is_left_alone(
    database: Database, hold: tuple[Hold, str]
) -> None:
    waiting, url = hold
    dataset_id = _dataset(database, url)

    async def run() -> None:
        task = asyncio.create_task(check_links(database, timeout=2 * HANG))
        await until(lambda: waiting.arrived > 0)  # the check is under way

        def edit() -> None:
            with database.transaction() as session:
                datasets.update_dataset(session, dataset_id, {"title": "Edited"}, author="x")

        await asyncio.to_thread(edit)
        waiting.release()
        [result] = await task
        assert result.http_status == 200  # checked, and then not written

    asyncio.run(run())
    with database.read() as session:
        record = datasets.get_record(session, dataset_id)
    assert record["title"] == "Edited"
    assert record["links"]["l00"]["qa"]["timestamp"] is None


def test_a_cancelled_check_writes_nothing(
    database: Database, site: str, hold: tuple[Hold, str]
) -> None:
    waiting, url = hold
    dataset_id = _dataset(database, f"{site}/ok.csv", url)

    def cancel_after_one(done: int, total: int) -> None:
        if done >= 1:  # the good link, while the other one is held
            progress.cancel()
            waiting.release()  # its answer comes after the cancel

    progress = Progress(cancel_after_one)
    with pytest.raises(Cancelled):
        asyncio.run(check_links(database, progress=progress, timeout=2 * HANG))
    with database.read() as session:
        record = datasets.get_record(session, dataset_id)
    assert all(link["qa"]["timestamp"] is None for link in record["links"].values())


@pytest.mark.parametrize(
    ("qa", "broken"),
    [
        ({"httpStatus": 200, "timestamp": "t"}, False),
        ({"httpStatus": 301, "timestamp": "t"}, False),
        ({"httpStatus": 404, "timestamp": "t"}, True),
        ({"httpStatus": 0, "timestamp": "t"}, True),
        ({"httpStatus": None, "timestamp": "t"}, True),
        ({"httpStatus": None, "timestamp": None}, False),
        ({}, False),
    ],
)
def test_is_broken(qa: dict[str, Any], broken: bool) -> None:
    assert is_broken(qa) is broken
