"""PortalHttp against a real loopback server with the fault switches."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.services.sync.adapter import (
    MalformedAnswer,
    PortalAuthError,
    PortalConflict,
    PortalNotFound,
    PortalServerError,
    PortalUnreachable,
    RateLimited,
)
from app.services.sync.http import HttpOptions, PortalHttp
from tests.fakes.faults import Fault
from tests.fakes.server import FakeServer

FAST = HttpOptions(concurrency=4, timeout=5, backoff=0.01, max_backoff=0.05)


def _app() -> Starlette:
    state: dict[str, Any] = {"posts": 0, "in_flight": 0, "peak": 0}

    async def item(request: Request) -> Response:
        state["in_flight"] += 1
        state["peak"] = max(state["peak"], state["in_flight"])
        await asyncio.sleep(0.02)
        state["in_flight"] -= 1
        name = request.path_params["name"]
        if name == "missing":
            return JSONResponse({"error": {"code": "not_found", "message": "no such"}}, 404)
        if name == "locked":
            return JSONResponse({"error": {"code": "patch_conflict", "message": "test"}}, 409)
        if request.headers.get("authorization") == "bad":
            return JSONResponse({"error": {"code": "unauthorized", "message": "bad key"}}, 401)
        return JSONResponse({"name": name})

    async def post(request: Request) -> Response:
        state["posts"] += 1
        return JSONResponse({"posts": state["posts"]})

    app = Starlette(
        routes=[
            Route("/item/{name}", item, methods=["GET"]),
            Route("/post", post, methods=["POST"]),
        ]
    )
    app.state.counts = state
    return app


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(_app()) as fake:
        yield fake


def run(server: FakeServer, work: Any, options: HttpOptions = FAST, **kw: Any) -> Any:
    async def main() -> Any:
        async with PortalHttp(server.url, remote="test", options=options, **kw) as http:
            return await work(http)

    return asyncio.run(main())


def test_get_json_and_concurrency_limit(server: FakeServer) -> None:
    async def work(http: PortalHttp) -> list[Any]:
        return list(await asyncio.gather(*(http.get_json(f"/item/n{i}") for i in range(12))))

    answers = run(server, work)
    assert [a["name"] for a in answers] == [f"n{i}" for i in range(12)]
    assert server.app.state.counts["peak"] <= FAST.concurrency  # type: ignore[attr-defined]


def test_500_then_success_is_retried(server: FakeServer) -> None:
    server.faults.add(Fault("500", times=2, path="/item/"))
    assert run(server, lambda h: h.get_json("/item/a")) == {"name": "a"}
    assert [s.status for s in server.faults.requests("GET")] == [500, 500, 200]


def test_500_forever_names_the_request_and_dataset(server: FakeServer) -> None:
    server.faults.add(Fault("500", times=None))
    with pytest.raises(PortalServerError) as caught:
        run(server, lambda h: h.get_json("/item/a", dataset="ab123"))
    assert "ab123" in caught.value.message and "GET" in caught.value.message
    assert "boom" in caught.value.message
    assert len(server.faults.requests("GET")) == FAST.retries + 1


def gaps(server: FakeServer) -> list[float]:
    """Seconds between the arrivals of successive requests, as the portal saw them. Only ever
    compared with a lower bound (what a client promised to wait), which load cannot break."""
    arrivals = [s.at for s in server.faults.requests()]
    return [later - earlier for earlier, later in itertools.pairwise(arrivals)]


def test_429_storm_respects_retry_after(server: FakeServer) -> None:
    server.faults.add(Fault("429", times=3, retry_after=1))
    assert run(server, lambda h: h.get_json("/item/a")) == {"name": "a"}
    assert [s.status for s in server.faults.requests()] == [429, 429, 429, 200]
    assert all(gap >= 1.0 for gap in gaps(server))  # no retry before its Retry-After


def test_429_with_the_opendatasoft_body_waits_for_reset_time(server: FakeServer) -> None:
    server.faults.add(Fault("429", times=1, retry_after=None, body="opendatasoft", reset_in=1.0))
    assert run(server, lambda h: h.get_json("/item/a")) == {"name": "a"}
    assert [s.status for s in server.faults.requests()] == [429, 200]
    [gap] = gaps(server)
    assert gap >= 0.9  # reset_time (now + 1 s, to the millisecond) was waited for


def test_a_daily_quota_is_an_error_not_a_day_long_sleep(server: FakeServer) -> None:
    server.faults.add(Fault("429", times=1, retry_after=None, body="opendatasoft", reset_in=9e4))
    with pytest.raises(RateLimited) as caught:
        run(server, lambda h: h.get_json("/item/a"))
    assert "Too many requests on the domain" in caught.value.message
    assert caught.value.reset_time is not None


def test_429_pauses_the_requests_queued_behind_it(server: FakeServer) -> None:
    """Four requests in flight (the concurrency) are answered 429 with Retry-After: 1; twelve
    more wait for a place. None of the sixteen may reach the portal before the earliest time a
    Retry-After allows, as the portal's own clock saw the arrivals: neither the 429s' retries
    nor the requests that were queued when the 429s came back."""

    async def work(http: PortalHttp) -> list[Any]:
        return list(await asyncio.gather(*(http.get_json(f"/item/n{i}") for i in range(16))))

    server.faults.add(Fault("429", times=FAST.concurrency, retry_after=1))
    answers = run(server, work)
    assert sorted(a["name"] for a in answers) == sorted(f"n{i}" for i in range(16))
    log = server.faults.requests()
    limited = [s for s in log if s.status == 429]
    assert len(limited) == FAST.concurrency
    allowed = min(s.at for s in limited) + 1.0  # the first 429 arrived, then 1 s
    later = [s for s in log if s.status != 429]
    assert len(later) == 16
    assert [s for s in later if s.at < allowed] == []


@pytest.mark.parametrize("kind", ["malformed", "garbled", "html"])
def test_an_answer_that_is_not_json_is_retried_like_a_5xx(server: FakeServer, kind: str) -> None:
    server.faults.add(Fault(kind, times=2, path="/item/a"))  # type: ignore[arg-type]
    assert run(server, lambda h: h.get_json("/item/a")) == {"name": "a"}
    assert len(server.faults.requests("GET", "/item/a")) == 3


@pytest.mark.parametrize("kind", ["malformed", "garbled", "html"])
def test_an_answer_never_json_is_a_clear_error(server: FakeServer, kind: str) -> None:
    server.faults.add(Fault(kind, times=None, path="/item/a"))  # type: ignore[arg-type]
    with pytest.raises(MalformedAnswer) as caught:
        run(server, lambda h: h.get_json("/item/a", dataset="ab123"))
    assert "dataset ab123" in caught.value.message
    assert "/item/a" in caught.value.message and "not valid JSON" in caught.value.message
    assert len(server.faults.requests("GET", "/item/a")) == FAST.retries + 1


def test_a_post_whose_answer_is_not_json_is_not_sent_twice(server: FakeServer) -> None:
    server.faults.add(Fault("html", times=None, method="POST"))
    with pytest.raises(MalformedAnswer):
        run(server, lambda h: h.send_json("POST", "/post", {}))
    assert len(server.faults.requests("POST")) == 1


def test_dropped_connection_is_retried_for_a_get(server: FakeServer) -> None:
    server.faults.add(Fault("drop", path="/item/"))
    assert run(server, lambda h: h.get_json("/item/a")) == {"name": "a"}
    assert [s.status for s in server.faults.requests()] == [0, 200]


def test_a_post_whose_answer_was_lost_is_not_sent_twice(server: FakeServer) -> None:
    server.faults.add(Fault("drop", method="POST"))
    with pytest.raises(PortalUnreachable):
        run(server, lambda h: h.send_json("POST", "/post", {}))
    assert server.app.state.counts["posts"] == 1  # type: ignore[attr-defined]


def test_status_errors(server: FakeServer) -> None:
    with pytest.raises(PortalNotFound, match="no such"):
        run(server, lambda h: h.get_json("/item/missing"))
    with pytest.raises(PortalConflict):
        run(server, lambda h: h.get_json("/item/locked"))
    with pytest.raises(PortalAuthError, match="bad key"):
        run(server, lambda h: h.get_json("/item/a"), headers={"Authorization": "bad"})


def test_timeout_then_unreachable(server: FakeServer) -> None:
    server.faults.add(Fault("hold", times=None))  # no answer until the server stops
    options = HttpOptions(timeout=0.2, retries=1, backoff=0.01)
    with pytest.raises(PortalUnreachable, match="no answer in time"):
        run(server, lambda h: h.get_json("/item/a"), options=options)


def test_nothing_listening_is_unreachable() -> None:
    from app.services.server.runner import bind_socket, url_for

    sock = bind_socket()
    url = url_for(sock)
    sock.close()

    async def main() -> None:
        async with PortalHttp(url, options=HttpOptions(retries=1, backoff=0.01)) as http:
            await http.get_json("/x")

    with pytest.raises(PortalUnreachable, match="cannot connect"):
        asyncio.run(main())
