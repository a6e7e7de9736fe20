"""Issue 16, bounded work per request: a time limit on every statement the server runs, work
dropped when the client leaves, and a search gate that keeps the worker pool for the others.
Real servers on loopback over a catalogue whose searches are slow for real (tests/server/heavy);
waits are on conditions, with generous bounds as hang guards only."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import text

from app.models.database import Database
from app.services import package_search
from app.services.server import ServerThread, create_app
from app.services.server.limits import (
    PER_CALLER,
    SEARCH_SLOTS,
    QueryLimits,
    QueryTimedOut,
    WorkAbandoned,
    limits_of,
)
from app.services.visibility import ANONYMOUS
from tests.server.harvest import page_ids
from tests.server.heavy import SLOW_QUERY, build_heavy_catalogue

HANG_GUARD = 120.0  # seconds: only for a server that never answers
SEARCH = "/api/action/package_search?" + urlencode({"q": SLOW_QUERY})


@pytest.fixture(scope="module")
def heavy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_heavy_catalogue(tmp_path_factory.mktemp("heavy") / "heavy.sqlite")


@pytest.fixture
def heavy(heavy_file: Path) -> Iterator[Database]:
    database = Database.open(heavy_file)
    yield database
    database.dispose()


@pytest.fixture
def start(heavy: Database) -> Iterator[Callable[..., ServerThread]]:
    servers: list[ServerThread] = []

    def started(**options: object) -> ServerThread:
        server = ServerThread(create_app(heavy, **options))  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield started
    for server in servers:
        server.stop()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.005)


def limits(server: ServerThread) -> QueryLimits:
    found = limits_of(server.app)
    assert found is not None
    return found


@pytest.mark.parametrize(
    "options",
    [
        {"query_time_limit": 0.05},  # each statement
        {"query_time_limit": HANG_GUARD, "search_time_limit": 0.05},  # the search as a whole
    ],
    ids=["statement", "search"],
)
def test_a_search_past_the_time_limit_is_a_503_naming_it(
    start: Callable[..., ServerThread], heavy: Database, options: dict[str, float]
) -> None:
    server = start(**options)
    with httpx.Client(base_url=server.url, timeout=HANG_GUARD) as client:
        response = client.get(SEARCH)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.headers["retry-after"]
        error = response.json()["error"]
        assert error["code"] == "query_time_limit"
        assert "0.05 s" in error["message"]
        assert limits(server).timed_out == 1
        # A quick request of the same server is not touched by the limit.
        assert client.get("/api/dataset/h0001").status_code == 200
    # Nor is anything outside a request, on the same connections: the desktop's reads.
    with heavy.read() as session:
        assert package_search.search(session, ANONYMOUS, q=SLOW_QUERY).count == 0


def test_a_too_long_search_is_refused_at_once_with_the_limit_named(
    start: Callable[..., ServerThread],
) -> None:
    server = start()
    words = " ".join(f"w{n}" for n in range(500))
    with httpx.Client(base_url=server.url, timeout=HANG_GUARD) as client:
        for q in (words, " ".join(f"w{n}" for n in range(33))):
            response = client.get("/api/action/package_search", params={"q": q})
            assert response.status_code == 400, response.text
            body = response.json()
            assert body["success"] is False
            assert body["error"]["code"] == "query_too_long"
        posted = client.post("/api/action/package_search", json={"q": words})
        assert posted.status_code == 400
        assert posted.json()["error"]["code"] == "query_too_long"


def test_a_search_whose_client_leaves_is_abandoned(start: Callable[..., ServerThread]) -> None:
    # Only the disconnect can end it early.
    server = start(query_time_limit=HANG_GUARD, search_time_limit=HANG_GUARD)
    gate = limits(server).search
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    assert host is not None and port is not None
    with socket.create_connection((host, port)) as sock:
        sock.sendall(f"GET {SEARCH} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        wait_until(lambda: gate.running == 1, "the search runs")
    wait_until(lambda: gate.running == 0, "the search is dropped")
    assert limits(server).abandoned == 1
    assert limits(server).timed_out == 0


def test_twenty_slow_searches_leave_the_feed_answering(start: Callable[..., ServerThread]) -> None:
    server = start(query_time_limit=HANG_GUARD, search_time_limit=HANG_GUARD)
    gate = limits(server).search
    statuses: list[int] = []
    codes: list[str] = []
    lock = threading.Lock()

    def search(client: httpx.Client) -> None:
        response = client.get(SEARCH)
        with lock:
            statuses.append(response.status_code)
            if response.status_code != 200:
                assert response.headers["content-type"] == "application/json"
                codes.append(response.json()["error"]["code"])

    limits_ = httpx.Limits(max_connections=40)
    with (
        httpx.Client(base_url=server.url, timeout=HANG_GUARD, limits=limits_) as client,
        ThreadPoolExecutor(20) as pool,
    ):
        futures = [pool.submit(search, client) for _ in range(20)]
        wait_until(lambda: gate.running == SEARCH_SLOTS, "the search slots are full")
        feed = client.get("/api/v1/dataset.jsonld", params={"limit": 10})
        in_flight = gate.running
        assert feed.status_code == 200
        assert len(page_ids(feed.content)) == 10
        for future in futures:
            future.result()
    assert in_flight >= 1 or gate.peak == SEARCH_SLOTS
    assert gate.peak == SEARCH_SLOTS  # never more at once
    assert len(statuses) == 20 and set(statuses) <= {200, 429, 503}
    # One caller holds at most PER_CALLER places (running or waiting); the rest are told so.
    assert statuses.count(429) >= 20 - PER_CALLER
    assert set(codes) <= {"too_many_requests", "busy"}


# -- the limits themselves, without a server ---------------------------------------------------

COUNT_FOREVER = text(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n"
)


def test_a_statement_in_a_request_scope_stops_at_its_deadline(database: Database) -> None:
    limits = QueryLimits(0.05)
    QueryLimits.install(database.engine)
    with limits.applied(), database.read() as session, pytest.raises(QueryTimedOut):
        session.execute(COUNT_FOREVER)
    assert limits.timed_out == 1


def _wait_until_running(database: Database, started: threading.Event) -> bool:
    """Whether the worker's statement began: SQLite says so through a function the statement
    calls; on PostgreSQL another connection sees it active (a hang guard bounds both)."""
    if database.is_sqlite:
        return started.wait(HANG_GUARD)
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        with database.read() as session:
            if session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(3600)%'"
                )
            ):
                return True
    return False


def test_stopping_interrupts_a_running_statement(database: Database) -> None:
    limits = QueryLimits(HANG_GUARD)
    QueryLimits.install(database.engine)
    started = threading.Event()
    outcome: list[BaseException] = []

    def run() -> None:
        with limits.applied(), database.read() as session:
            if database.is_sqlite:
                raw = session.connection().connection.dbapi_connection
                assert raw is not None
                raw.create_function("started", 1, lambda _: started.set())
                statement = "SELECT started(1), (" + str(COUNT_FOREVER) + ")"
            else:
                statement = "SELECT pg_sleep(3600)"
            try:
                session.execute(text(statement))
            except BaseException as error:
                outcome.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    assert _wait_until_running(database, started)
    limits.stop()
    worker.join(HANG_GUARD)
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], WorkAbandoned)
    # And nothing new starts in a stopped server.
    with limits.applied(), database.read() as session, pytest.raises(WorkAbandoned):
        session.execute(text("SELECT 1"))


def test_postgresql_statements_get_statement_timeout(pg_database: Database) -> None:
    limits = QueryLimits(0.2)
    QueryLimits.install(pg_database.engine)
    with limits.applied(), pg_database.read() as session, pytest.raises(QueryTimedOut):
        session.execute(text("SELECT pg_sleep(60)"))
    with pg_database.read() as session:  # outside a request: no limit left behind
        assert session.scalar(text("SHOW statement_timeout")) == "0"
