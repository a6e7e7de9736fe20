"""The live request log: one RequestLogEntry per served request, for the GUI's log view and the
`serve` command's stderr, and the escaping every log of a request target goes through.

The ASGI `path` is percent-decoded, so `%0a` in a request is a line break there: logged as it
is, a caller could forge lines of the log. Logs show the target as the client sent it
(`raw_path`), as one line of printable ASCII (`log_safe`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services.clock import now_iso

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RequestLogEntry:
    """One served request, for the GUI's live log."""

    at: str
    client: str
    method: str
    path: str
    status: int
    duration_ms: float
    bytes_sent: int


RequestLogHook = Callable[[RequestLogEntry], None]


# What a logged request target keeps as it is: printable ASCII but the space, the backslash
# and the percent sign (which start the escapes). Everything else is percent-encoded, so a
# `%0a` that the ASGI server decoded into the path cannot start a forged line in a log.
_LOGGED_AS_IS = frozenset(range(0x21, 0x7F)) - {ord("%"), ord("\\")}


def log_safe(raw: bytes) -> str:
    """`raw` (a request target as sent, so already percent-encoded) as one line of printable
    ASCII: a `%XX` escape stays as it is, every other byte outside `_LOGGED_AS_IS` (a lone `%`
    too) becomes `%XX`."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        b = raw[i]
        if b == ord("%") and _is_escape(raw[i + 1 : i + 3]):
            out.append(raw[i : i + 3].decode("ascii"))
            i += 3
            continue
        out.append(chr(b) if b in _LOGGED_AS_IS else f"%{b:02X}")
        i += 1
    return "".join(out)


def request_target(scope: Scope) -> str:
    """The path and query of a request as a log shows them: as the client sent them (ASGI's
    `raw_path`, not the decoded `path`, where `%0a` is a line break), through `log_safe`."""
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    query: bytes = scope.get("query_string", b"")
    return log_safe(raw_path) + (f"?{log_safe(query)}" if query else "")


def _is_escape(pair: bytes) -> bool:
    return len(pair) == 2 and all(chr(c) in "0123456789abcdefABCDEF" for c in pair)


class RequestLogMiddleware:
    """Calls `hook` with a RequestLogEntry once each HTTP response is finished."""

    def __init__(self, app: ASGIApp, hook: RequestLogHook | None = None) -> None:
        self.app = app
        self.hook = hook

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.hook is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        head = scope["method"] == "HEAD"
        status = 500
        sent = 0

        async def send_and_count(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not head:
                # (a HEAD is answered as a GET whose body the ASGI server does not send)
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_and_count)
        finally:
            client = scope.get("client")
            entry = RequestLogEntry(
                at=now_iso(),
                client=log_safe(f"{client[0]}:{client[1]}".encode()) if client else "",
                method=log_safe(scope["method"].encode("latin-1", "replace")),
                path=request_target(scope),
                status=status,
                duration_ms=(time.perf_counter() - started) * 1000,
                bytes_sent=sent,
            )
            try:
                self.hook(entry)
            except Exception:  # a broken log view must never break serving
                log.exception("request log hook failed")


def print_entry(entry: RequestLogEntry) -> None:
    """`main.py serve`'s log line for `entry`, on stderr (every worker's, with --workers)."""
    print(
        f"{entry.at} {entry.client} {entry.method} {entry.path} {entry.status} "
        f"{entry.bytes_sent}B {entry.duration_ms:.1f}ms",
        file=sys.stderr,
        flush=True,
    )
