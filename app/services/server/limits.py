"""Bounded work per request: a time limit on every database statement the server runs, work
abandoned when its client goes or the server stops, and a gate on the searches.

**Time limit.** Every request runs in a `_Scope` (a context variable set by `LimitsMiddleware`,
which the worker threads inherit: Starlette's threadpool copies the context). Each statement
executed inside a scope gets a deadline: on SQLite a progress handler on the connection, called
every PROGRESS_STEPS virtual-machine steps, interrupts it once the deadline passes; on
PostgreSQL `SET LOCAL statement_timeout` does the same in the server. The statement then fails
and the request answers 503 with a JSON error (QueryTimedOut), naming the limit. Statements
outside a scope (the desktop's, the tests') are never limited: the handler is only installed
for a scope's statement and taken off the connection by the next statement outside one.
SQLite calls the handler between virtual-machine steps only. An FTS5 match is worked out inside
one step of the search, and is only seen through the few steps of each read of the index's
blocks: hence a small PROGRESS_STEPS (at 10,000 a search on tests/server/heavy ran to its end
past a 0.05 s limit), and the limit on a search's words (services.search).

**Abandoned work.** A request without a body (GET, HEAD) has its `receive` channel watched: when
the client disconnects, the scope is marked gone, the running SQLite statement is interrupted
by the same handler, a running PostgreSQL statement is cancelled, and any further statement of
the request fails at once. `stop()` (the server is shutting down) does the same for every
scope, so a shutdown never waits on a query.

**The search gate.** CKAN `package_search` is the one endpoint whose cost a caller chooses
(the words), so a search has SEARCH_TIME_LIMIT for all its statements together, and `Gate`
lets SEARCH_SLOTS of them run at once, SEARCH_QUEUE more wait for a slot
on the event loop (not in a thread) for at most the time limit, and one client address hold at
most PER_CALLER of those places: past that a 503 (or 429 for the one caller) with Retry-After.
However slow the searches, they hold at most SEARCH_SLOTS of the worker pool's threads, and the
feed, the dumps and the dataset pages keep the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import Engine, event
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services.errors import CatalogueError

QUERY_TIME_LIMIT = 3.0  # seconds a statement may run
SEARCH_TIME_LIMIT = 1.0  # seconds a whole package_search may run, all its statements together
PROGRESS_STEPS = 1000  # SQLite VM steps between checks: well under a millisecond
SEARCH_SLOTS = 4
SEARCH_QUEUE = 16
PER_CALLER = 8

T = TypeVar("T")


class QueryTimedOut(CatalogueError):
    """A statement ran past the server's time limit (503)."""

    code = "query_time_limit"
    retry_after = 5


class WorkAbandoned(CatalogueError):
    """The client went away or the server is stopping: the work was dropped (503)."""

    code = "abandoned"
    retry_after = 5


class ServerBusy(CatalogueError):
    """Every slot and every place in the queue of an endpoint is taken (503)."""

    code = "busy"
    retry_after = 2


class TooManyRequests(ServerBusy):
    """One caller holds all the places it may hold at an endpoint (429)."""

    code = "too_many_requests"


@dataclass(eq=False)
class _Scope:
    """One request's limits, shared by the threads that serve it."""

    limits: QueryLimits
    gone: threading.Event = field(default_factory=threading.Event)
    # A deadline for the whole request, and the limit it stands for (Gate sets them).
    cap: float | None = None
    cap_seconds: float | None = None
    interrupted: str | None = None  # why the last interrupted statement was: "time" or "gone"
    # PostgreSQL connections running one of its statements (to cancel on disconnect).
    running: set[Any] = field(default_factory=set)

    def abandon(self) -> None:
        self.gone.set()
        for connection in list(self.running):
            _cancel(connection)


_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "catalogue_request_scope", default=None
)
_INSTALLED: weakref.WeakSet[Engine] = weakref.WeakSet()
_INSTALL_LOCK = threading.Lock()


class QueryLimits:
    """The limits of one server (an app); `install` hooks them into an engine."""

    def __init__(
        self, seconds: float = QUERY_TIME_LIMIT, search_seconds: float = SEARCH_TIME_LIMIT
    ) -> None:
        if not (seconds > 0 and search_seconds > 0):
            raise ValueError("the query time limits must be positive")
        self.seconds = seconds
        self.stopping = threading.Event()
        self._scopes: weakref.WeakSet[_Scope] = weakref.WeakSet()
        self.timed_out = 0  # statements interrupted at the limit (for tests and the benchmark)
        self.abandoned = 0  # statements dropped because their client left or the server stops
        self.search = Gate(
            "package_search", SEARCH_SLOTS, SEARCH_QUEUE, PER_CALLER, seconds, search_seconds
        )

    def scope(self) -> _Scope:
        scope = _Scope(self)
        self._scopes.add(scope)
        if self.stopping.is_set():
            scope.gone.set()
        return scope

    @contextlib.contextmanager
    def applied(self) -> Iterator[_Scope]:
        """Run what follows (in this context, and the threads it starts through anyio or
        Starlette) as one request under these limits."""
        scope = self.scope()
        token = _SCOPE.set(scope)
        try:
            yield scope
        finally:
            _SCOPE.reset(token)

    def stop(self) -> None:
        """The server is stopping: interrupt every running statement, refuse new ones."""
        self.stopping.set()
        for scope in list(self._scopes):
            scope.abandon()

    @staticmethod
    def install(engine: Engine) -> None:
        """Hook the limits into `engine` (once per engine, whatever the number of servers)."""
        with _INSTALL_LOCK:
            if engine in _INSTALLED:
                return
            _INSTALLED.add(engine)
        event.listen(engine, "before_cursor_execute", _before_execute)
        event.listen(engine, "after_cursor_execute", _after_execute)
        event.listen(engine, "handle_error", _on_error)
        event.listen(engine, "checkin", _on_checkin)
        if engine.dialect.name == "postgresql":
            event.listen(engine, "begin", _on_begin)


def limits_of(app: Any) -> QueryLimits | None:
    """The QueryLimits of an app made by server.app.create_app (None for another app)."""
    limits = getattr(getattr(app, "state", None), "limits", None)
    return limits if isinstance(limits, QueryLimits) else None


# -- the engine hooks -----------------------------------------------------------------------


def _before_execute(conn: Any, _cursor: Any, *_args: Any) -> None:
    scope = _SCOPE.get()
    raw = conn.connection.dbapi_connection
    info = conn.connection.info
    if scope is None:
        if info.pop("catalogue_limited", False) and conn.dialect.name == "sqlite":
            raw.set_progress_handler(None, 0)
        return
    if scope.gone.is_set():
        scope.limits.abandoned += 1
        raise WorkAbandoned("The request was abandoned (its client left, or the server stops)")
    scope.interrupted = None
    if conn.dialect.name == "sqlite":
        deadline = time.monotonic() + scope.limits.seconds
        if scope.cap is not None:
            deadline = min(deadline, scope.cap)
        raw.set_progress_handler(_progress(scope, deadline), PROGRESS_STEPS)
        info["catalogue_limited"] = True
    elif conn.dialect.name == "postgresql":
        scope.running.add(raw)


def _on_checkin(dbapi_connection: Any, record: Any) -> None:
    """A connection back in the pool carries no request's deadline to its next user."""
    if record.info.pop("catalogue_limited", False):
        dbapi_connection.set_progress_handler(None, 0)


def _after_execute(conn: Any, *_args: Any) -> None:
    scope = _SCOPE.get()
    if scope is not None:
        scope.running.discard(conn.connection.dbapi_connection)


def _progress(scope: _Scope, deadline: float) -> Callable[[], int]:
    def check() -> int:
        if scope.gone.is_set():
            scope.interrupted = "gone"
            return 1
        if time.monotonic() > deadline:
            scope.interrupted = "time"
            return 1
        return 0

    return check


def _on_begin(conn: Any) -> None:
    scope = _SCOPE.get()
    if scope is not None:
        seconds = scope.limits.seconds
        if scope.cap is not None:
            seconds = min(seconds, scope.cap - time.monotonic())
        milliseconds = max(1, math.ceil(seconds * 1000))
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")


def _on_error(context: Any) -> None:
    scope = _SCOPE.get()
    if scope is None:
        return
    if context.connection is not None and context.connection.connection is not None:
        scope.running.discard(context.connection.connection.dbapi_connection)
    original = context.original_exception
    name = type(original).__name__
    if scope.gone.is_set() and (scope.interrupted == "gone" or name == "QueryCanceled"):
        scope.limits.abandoned += 1
        raise WorkAbandoned("The request was abandoned (its client left, or the server stops)")
    if scope.interrupted == "time" or name == "QueryCanceled":
        scope.limits.timed_out += 1
        limit = min(scope.limits.seconds, scope.cap_seconds or math.inf)
        raise QueryTimedOut(
            f"The query ran past the server's limit of {limit:g} s; "
            "ask for less (fewer or longer words, a smaller page)"
        )


def _cancel(connection: Any) -> None:
    """Cancel what a PostgreSQL connection runs, from another thread."""
    cancel = getattr(connection, "cancel_safe", None) or getattr(connection, "cancel", None)
    if cancel is None:
        return
    with contextlib.suppress(Exception):  # it may have ended meanwhile: nothing to cancel
        cancel()


# -- the middleware -------------------------------------------------------------------------


class LimitsMiddleware:
    """Runs each HTTP request in a scope of `limits`, watching for its client to leave."""

    def __init__(self, app: ASGIApp, limits: QueryLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watcher: asyncio.Task[None] | None = None
        with self.limits.applied() as request_scope:
            try:
                if _has_no_body(scope):
                    channel = _WatchedReceive(receive, request_scope)
                    watcher = asyncio.create_task(channel.watch())
                    receive = channel.receive
                await self.app(scope, receive, send)
            finally:
                if watcher is not None:
                    watcher.cancel()


def _has_no_body(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or [])
    length = headers.get(b"content-length", b"0").strip()
    return b"transfer-encoding" not in headers and length in (b"", b"0")


class _WatchedReceive:
    """The receive channel of a request without a body, read ahead for its disconnect: the one
    (empty) request message is kept for the app, and the disconnect abandons the scope."""

    def __init__(self, receive: Receive, scope: _Scope) -> None:
        self._receive = receive
        self._scope = scope
        self._kept: list[Message] = []

    async def watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._scope.abandon()
                return
            self._kept.append(message)

    async def receive(self) -> Message:
        if self._kept:
            return self._kept.pop(0)
        if self._scope.gone.is_set():
            return {"type": "http.disconnect"}
        return await self._receive()


# -- the gate -------------------------------------------------------------------------------


class Gate:
    """At most `slots` calls of an endpoint at once in worker threads, `queue` more waiting
    (each for at most `wait` seconds), and at most `per_caller` of those places per client;
    each call has `budget` seconds for all its statements together."""

    def __init__(
        self, name: str, slots: int, queue: int, per_caller: int, wait: float, budget: float
    ) -> None:
        self.name = name
        self.budget = budget
        self.slots = slots
        self.queue = queue
        self.per_caller = per_caller
        self.wait = wait
        self._limiter: anyio.CapacityLimiter | None = None  # made on the server's loop
        self._callers: Counter[str] = Counter()
        self.running = 0
        self.waiting = 0
        self.peak = 0  # the most that ever ran at once (for tests and the benchmark)
        self.refused = 0

    def _budgeted(self, work: Callable[[], T]) -> T:
        scope = _SCOPE.get()
        if scope is not None:
            scope.cap = time.monotonic() + self.budget
            scope.cap_seconds = self.budget
        return work()

    async def run(self, request: Request, work: Callable[[], T]) -> T:
        """`work()` in a worker thread once a slot is free; ServerBusy if none comes."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.slots)
        caller = request.client.host if request.client else ""
        if self._callers[caller] >= self.per_caller:
            self.refused += 1
            raise TooManyRequests(
                f"At most {self.per_caller} {self.name} requests of one caller at a time"
            )
        if self.running >= self.slots and self.waiting >= self.queue:
            self.refused += 1
            raise ServerBusy(f"The server is busy with {self.name} requests; try again shortly")
        self._callers[caller] += 1
        self.waiting += 1
        waiting = True
        try:
            try:
                with anyio.fail_after(self.wait):
                    await self._limiter.acquire()
            except TimeoutError:
                self.refused += 1
                raise ServerBusy(
                    f"The server is busy with {self.name} requests; try again shortly"
                ) from None
            self.waiting -= 1
            waiting = False
            try:
                self.running += 1
                self.peak = max(self.peak, self.running)
                # anyio runs it in a copy of this context: the request's scope goes along.
                return await anyio.to_thread.run_sync(self._budgeted, work)
            finally:
                self.running -= 1
                self._limiter.release()
        finally:
            if waiting:
                self.waiting -= 1
            self._callers[caller] -= 1
            if not self._callers[caller]:
                del self._callers[caller]
