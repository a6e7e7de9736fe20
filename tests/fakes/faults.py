"""Fault switches for the fake portals: an ASGI middleware that makes a real server misbehave.

How to use it (tests/fakes/server.py wires it in; every fake portal exposes its `faults`)::

    faults = Faults()
    app = FaultMiddleware(portal_app, faults)
    faults.delay = 0.02                                   # every answer 20 ms late
    faults.add(Fault("500", times=1, path="/api/dataset/"))   # next matching request: 500
    faults.add(Fault("429", times=5, retry_after=1))           # a storm of five 429s
    faults.add(Fault("429", body="opendatasoft", retry_after=None, reset_in=1.0))
    faults.add(Fault("malformed", path="/api/dataset/ab123"))  # 200 with JSON cut short
    faults.add(Fault("garbled", path="/api/dataset/ab123"))    # 200, full length, not JSON
    faults.add(Fault("html", path="/api/3/action/"))           # 200 with a proxy's HTML page
    faults.add(Fault("drop", method="PATCH", skip=2))          # third PATCH: applied, then cut
    faults.add(Fault("drop", method="POST", handle=False))     # cut before it is processed
    faults.add(Fault("slow", delay=5.0, times=1))              # one answer 5 s late
    held = faults.add(Fault("hold", path="/api/dataset/"))     # held until released
    ...
    held.holding                                               # answers held right now
    faults.release()                                           # let held answers go
    faults.requests(method="GET", path="/api/dataset/")        # what the portal was asked
    faults.clear()                                             # rules off (held ones let go)

A rule matches a request by `method` (None: any), `path` (a prefix of the URL path; None:
any) and `query` (a substring of the raw query string, e.g. `id=...` for one CKAN
`package_show`; None: any). It lets `skip` matching requests through, then strikes `times` of
them (None: every one until cleared). Kinds:

- "500": a JSON 500 (`{"error": {"code": "internal_error", ...}}`) without touching the app;
- "429": Too Many Requests without touching the app; `retry_after` seconds in a
  `Retry-After` header (None: no header); `body="opendatasoft"` answers the seed-003 error
  body (`errorcode`, `reset_time` = now + `reset_in` seconds, `limit_time_unit`,
  `call_limit`, `error`), `body="json"` the DataPress-style `{"error": {...}}`;
- "malformed": the app answers, then its body is cut in half (still 200, still JSON
  content-type, a Content-Length that fits the cut body) — truncated JSON;
- "garbled": the app answers, then the first `:` of its body becomes `=` (still 200, JSON
  content-type, same length) — malformed JSON;
- "html": a 200 `text/html` page without touching the app, as a captive portal, a proxy or a
  portal's maintenance page answers;
- "drop": the connection is closed mid-answer: with `handle=True` (default) the app has
  processed the request first (the worst case: the portal changed, the client does not know),
  with `handle=False` it never sees the request;
- "slow": the answer comes `delay` seconds late (`Faults.delay` slows every answer);
- "hold": the answer waits until `Faults.release()` (or `clear()`, or the server's stop): a
  portal that is slow for as long as the test needs, whatever the machine's load. A test waits
  for `Fault.holding` to know a request is being held, rather than for some time to pass.
  `delay`, if given, is a bound: held no longer than that (for a test that must fail, not hang).

Every request is logged in `Faults.log` (method, path, query, status; status 0 for a dropped
connection; `at`, its arrival in `time.monotonic()` seconds), in arrival order. Rules and the
log are safe to touch from the test thread while the server thread serves.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FaultKind = Literal["500", "429", "malformed", "garbled", "html", "drop", "slow", "hold"]

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Service unavailable</title></head>"
    b"<body><h1>We'll be back soon</h1><p>The portal is under maintenance.</p></body></html>\n"
)


class DroppedConnection(Exception):
    """Raised inside the server to make uvicorn close the connection mid-answer."""


class _QuietDrops(logging.Filter):
    """uvicorn logs an app exception as an error; a drop we asked for is not one."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


_quiet = _QuietDrops()
logging.getLogger("uvicorn.error").addFilter(_quiet)


@dataclass
class Fault:
    kind: FaultKind
    method: str | None = None
    path: str | None = None
    query: str | None = None
    skip: int = 0
    times: int | None = 1
    retry_after: float | None = 1
    body: Literal["opendatasoft", "json"] = "json"
    reset_in: float = 1.0
    handle: bool = True
    delay: float = 0.0
    seen: int = field(default=0, init=False)  # matching requests so far
    struck: int = field(default=0, init=False)
    holding: int = field(default=0, init=False)  # "hold": answers held right now

    def matches(self, method: str, path: str, query: str = "") -> bool:
        if self.method is not None and method != self.method.upper():
            return False
        if self.query is not None and self.query not in query:
            return False
        return self.path is None or path.startswith(self.path)

    @property
    def spent(self) -> bool:
        return self.times is not None and self.struck >= self.times


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    status: int
    at: float  # time.monotonic() when the request arrived
    body: bytes = b""  # what the client sent (a POST's JSON), as far as the app read it


class Faults:
    """The switches of one fake server; see the module docstring."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.rules: list[Fault] = []
        self.log: list[Seen] = []
        self._lock = threading.Lock()
        self._released = threading.Event()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.rules.append(fault)
        if fault.kind == "hold":
            self._released.clear()
        return fault

    def clear(self) -> None:
        """Remove every rule (the log stays) and the global delay; held answers go."""
        with self._lock:
            self.rules.clear()
            self.delay = 0.0
        self.release()

    def release(self) -> None:
        """Let every held answer go, and any later one until a "hold" rule is added again."""
        self._released.set()

    async def held(self, fault: Fault) -> None:
        """Until released (or `fault.delay` seconds, if given): polled, so that no thread is
        tied up and the loop can stop."""
        bound = time.monotonic() + fault.delay if fault.delay > 0 else None
        fault.holding += 1
        try:
            while not self._released.is_set():
                if bound is not None and time.monotonic() > bound:
                    return
                await asyncio.sleep(0.005)
        finally:
            fault.holding -= 1

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        """Logged requests with that method and a path starting with `path`."""
        with self._lock:
            log = list(self.log)
        return [
            s
            for s in log
            if (method is None or s.method == method.upper())
            and (path is None or s.path.startswith(path))
        ]

    def pick(self, method: str, path: str, query: str = "") -> Fault | None:
        """The rule that strikes this request, if any (counts it)."""
        with self._lock:
            chosen = None
            for rule in self.rules:
                if rule.spent or not rule.matches(method, path, query):
                    continue
                rule.seen += 1
                if chosen is None and rule.seen > rule.skip:
                    rule.struck += 1
                    chosen = rule
            return chosen

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.log.append(seen)


def opendatasoft_429_body(reset_in: float) -> dict[str, Any]:
    """The seed-003 error body for an exceeded domain quota, resetting in `reset_in` s."""
    reset = datetime.now(UTC) + timedelta(seconds=reset_in)
    return {
        "errorcode": 10002,
        "reset_time": reset.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "limit_time_unit": "day",
        "call_limit": 10000,
        "error": "Too many requests on the domain. Please contact the domain administrator.",
    }


class FaultMiddleware:
    """Puts `faults` in front of `app` (HTTP only)."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        arrived = time.monotonic()
        status = 0
        sent = bytearray()

        async def logged_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                sent.extend(message.get("body", b""))
            return message

        async def logged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._serve(scope, logged_receive, logged_send, method, path, query)
        except DroppedConnection:
            status = 0
            raise
        finally:
            self.faults.record(Seen(method, path, query, status, arrived, bytes(sent)))

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        method: str,
        path: str,
        query: str,
    ) -> None:
        if self.faults.delay > 0:
            await asyncio.sleep(self.faults.delay)
        fault = self.faults.pick(method, path, query)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            await self.app(scope, receive, send)
        elif fault.kind == "hold":
            await self.faults.held(fault)
            await self.app(scope, receive, send)
        elif fault.kind == "500":
            await _json(send, 500, {"error": {"code": "internal_error", "message": "boom"}})
        elif fault.kind == "429":
            headers: list[tuple[bytes, bytes]] = []
            if fault.retry_after is not None:
                headers.append((b"retry-after", str(round(fault.retry_after)).encode()))
            if fault.body == "opendatasoft":
                body: dict[str, Any] = opendatasoft_429_body(fault.reset_in)
            else:
                body = {"error": {"code": "rate_limited", "message": "Too many requests"}}
            await _json(send, 429, body, headers)
        elif fault.kind == "html":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/html; charset=utf-8"),
                        (b"content-length", str(len(HTML_PAGE)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": HTML_PAGE})
        elif fault.kind in ("malformed", "garbled"):
            start, chunks = await _capture(self.app, scope, receive)
            whole = b"".join(chunks)
            if fault.kind == "garbled":
                broken = whole.replace(b":", b"=", 1) if b":" in whole else b"{" + whole
            else:
                broken = whole[: max(1, len(whole) // 2)]
            headers = [
                (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
            ]
            headers.append((b"content-length", str(len(broken)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": broken})
        elif fault.kind == "drop":
            if fault.handle:
                start, chunks = await _capture(self.app, scope, receive)
                whole = b"".join(chunks)
                headers = [
                    (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
                ]
                headers.append((b"content-length", str(len(whole) + 1).encode()))
                await send({**start, "headers": headers})
                await send(
                    {
                        "type": "http.response.body",
                        "body": whole[: len(whole) // 2],
                        "more_body": True,
                    }
                )
            else:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-length", b"100")],
                    }
                )
            raise DroppedConnection(f"fault: connection dropped on {method} {path}")


async def _json(
    send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    content = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


async def _capture(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[Message, list[bytes]]:
    """Run `app` to completion and keep its answer instead of sending it."""
    start: Message = {}
    chunks: list[bytes] = []

    async def keep(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, keep)
    return start, chunks
