"""The catalogue's HTTP service: an ASGI (Starlette) app over the same catalogue the desktop edits.

Endpoints (seed documents 000, 001, 002):

- `GET /api/v1/dataset.csv`, `GET /api/v1/dataset.jsonld?after=&limit=` — Heratio bulk open data,
  published records only; the JSON-LD feed (server.feed) pages by the opaque cursor of
  services.cursor, reading the next page ahead while a harvester reads one.
- `GET /api/datasets/export.json`, `export.datasets.csv`, `export.resources.csv`,
  `export.xlsx` — DataPress; the dumps (server.dumps) carry ETag/Last-Modified and answer 304.
- `GET /api/action/current_package_list_with_resources`, `/api/action/package_search` — CKAN.
- `GET /api/dataset/{id}` — one dataset's full JSON: 200, 403 or 404; `PATCH` edits it with an
  RFC 6902 JSON Patch (server.api_extras, services.json_patch).
- `POST /api/action/...` — the CKAN actions as CKAN clients (ckanapi) call them, by POST.
- `GET /api/openapi.json` — the OpenAPI 3.1 document of all of these (resources/openapi.json).
- `GET /dataset/{id}` redirects there (the `webpage` of the exports); `GET /api/v1/context.jsonld`
  is the JSON-LD context every page also embeds.

Every dataset reaches a response through services.export_query, so through
`visibility.visible_clause` and nothing else. An `Authorization` header carrying an API key
(services.api_keys.authenticate) widens what is visible; a wrong key is a 401. Every 4xx/5xx
has a JSON body `{"error": {"code": ..., "message": ...}}` (the CKAN actions also say
`"success": false`, as CKAN clients expect).

Threads: handlers run on the server's event loop and never touch the database there; each
database access opens its own session inside a worker thread (run_in_threadpool, or the
threadpool iteration of a streaming response, one session per batch). Handlers never touch
widgets; `on_request` is called on the server thread, so a GUI must forward it with a queued
signal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.models.database import Database
from app.services import dump_cache, export_query
from app.services.api_keys import authenticate
from app.services.clock import now_iso
from app.services.cursor import CursorCodec, InvalidCursor, codec_for
from app.services.errors import (
    CatalogueError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StaleEdit,
    Unauthorized,
    ValidationFailed,
)
from app.services.formats import Chunks, ckan, jsonld
from app.services.json_patch import PatchConflict, PatchUnprocessable
from app.services.server.api_extras import ExtraHandlers
from app.services.server.dumps import (
    DumpHandlers,
    empty_body,
    not_modified,
    not_modified_response,
    validators,
)
from app.services.server.encoding import GZipMiddleware, accepts_gzip
from app.services.server.feed import FEED_PATH, Feed, PageRequest
from app.services.server.limits import (
    QUERY_TIME_LIMIT,
    SEARCH_TIME_LIMIT,
    LimitsMiddleware,
    QueryLimits,
    QueryTimedOut,
    ServerBusy,
    TooManyRequests,
    WorkAbandoned,
)
from app.services.visibility import ANONYMOUS, Principal

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_SEARCH_ROWS = 1000

_STATUS: tuple[tuple[type[CatalogueError], int], ...] = (
    (PatchUnprocessable, 422),  # before ValidationFailed, its base
    (PatchConflict, 409),
    (InvalidCursor, 400),
    (ValidationFailed, 400),
    (Unauthorized, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (StaleEdit, 409),
    (InvalidTransition, 409),
    (TooManyRequests, 429),  # before ServerBusy, its base
    (ServerBusy, 503),
    (QueryTimedOut, 503),
    (WorkAbandoned, 503),
)
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}
# CKAN error types, so that ckanapi raises the matching exception.
_CKAN_TYPES = {
    400: "Validation Error",
    401: "Authorization Error",
    403: "Authorization Error",
    404: "Not Found Error",
    409: "Validation Error",
}


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


@dataclass(frozen=True, slots=True)
class ServerSettings:
    public_url: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    catalogue: jsonld.CatalogueInfo = field(default_factory=jsonld.CatalogueInfo)
    query_time_limit: float = QUERY_TIME_LIMIT  # seconds per database statement
    search_time_limit: float = SEARCH_TIME_LIMIT  # seconds per package_search


class _Service:
    """The state the handlers share: the catalogue, settings and the cursor codec."""

    def __init__(self, database: Database, settings: ServerSettings) -> None:
        self.database = database
        self.settings = settings
        self._codec: CursorCodec | None = None
        self.dumps = dump_cache.DumpCache(database)
        self.feed = Feed(
            database, self.dumps, page_size=settings.page_size, catalogue=settings.catalogue
        )
        # Every statement of a request is time-limited and dropped when its client leaves.
        self.limits = QueryLimits(settings.query_time_limit, settings.search_time_limit)
        QueryLimits.install(database.engine)

    async def codec(self) -> CursorCodec:
        if self._codec is None:
            # Two first requests racing both read the same stored secret: harmless.
            self._codec = await run_in_threadpool(codec_for, self.database)
        return self._codec

    def base_url(self, request: Request) -> str:
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return str(request.base_url).rstrip("/")

    async def principal(self, request: Request) -> Principal:
        header = request.headers.get("authorization")
        if header is None or not header.strip():
            return ANONYMOUS
        return await run_in_threadpool(self._authenticate, header)

    def close(self) -> None:
        self.feed.close()
        self.dumps.close()

    def _authenticate(self, header: str) -> Principal:
        with self.database.read() as session:
            return authenticate(session, header)


def create_app(
    database: Database,
    *,
    public_url: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    catalogue: jsonld.CatalogueInfo | None = None,
    on_request: RequestLogHook | None = None,
    query_time_limit: float = QUERY_TIME_LIMIT,
    search_time_limit: float = SEARCH_TIME_LIMIT,
) -> Starlette:
    """The ASGI app serving `database`. `public_url` fixes the base of absolute URLs in the
    output (default: the URL the request came in on); `on_request` is the live-log hook;
    `query_time_limit` bounds each database statement, `search_time_limit` each package_search
    (server.limits)."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    service = _Service(
        database,
        ServerSettings(
            public_url,
            page_size,
            catalogue or jsonld.CatalogueInfo(),
            query_time_limit,
            search_time_limit,
        ),
    )
    h = _Handlers(service)
    x = ExtraHandlers(service)
    d = DumpHandlers(service)
    routes = [
        Route("/api/v1/dataset.csv", d.dataset_csv, methods=["GET"]),
        Route(FEED_PATH, h.dataset_jsonld, methods=["GET"]),
        Route("/api/v1/context.jsonld", h.context, methods=["GET"]),
        Route("/api/datasets/export.json", d.export_json, methods=["GET"]),
        Route("/api/datasets/export.datasets.csv", d.export_datasets_csv, methods=["GET"]),
        Route("/api/datasets/export.resources.csv", d.export_resources_csv, methods=["GET"]),
        Route("/api/datasets/export.xlsx", d.export_xlsx, methods=["GET"]),
        Route(
            "/api/action/current_package_list_with_resources",
            h.current_package_list_with_resources,
            methods=["GET"],
        ),
        Route("/api/action/package_search", h.package_search, methods=["GET"]),
        Route("/api/dataset/{dataset_id}", h.dataset, methods=["GET"]),
        Route("/dataset/{dataset_id}", h.dataset_webpage, methods=["GET"]),
        Route("/api/dataset/{dataset_id}", x.patch_dataset, methods=["PATCH"]),
        Route("/api/openapi.json", x.openapi, methods=["GET"]),
        Route(
            "/api/action/current_package_list_with_resources",
            x.ckan_post(h.current_package_list_with_resources),
            methods=["POST"],
        ),
        Route("/api/action/package_search", x.ckan_post(h.package_search), methods=["POST"]),
    ]
    middleware = [
        Middleware(RequestLogMiddleware, hook=on_request),
        Middleware(LimitsMiddleware, limits=service.limits),
        Middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["GET", "HEAD"],
            allow_headers=["Authorization"],
            expose_headers=["Link", "Content-Disposition", "ETag"],
        ),
        # Level 6, zlib's own default: level 9 (Starlette's) takes twice the time for 0.4 %.
        Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6),
    ]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        service.limits.stop()  # nothing still running may hold the shutdown
        service.close()  # the server stopped: its threads and temporary files go now

    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            CatalogueError: _catalogue_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        lifespan=lifespan,
    )
    app.state.limits = service.limits  # for the runner: stop() as soon as shutdown begins
    return app


class _Handlers:
    def __init__(self, service: _Service) -> None:
        self.service = service

    # -- seed 000: Heratio bulk open data -----------------------------------------------------

    async def dataset_jsonld(self, request: Request) -> Response:
        principal = await self.service.principal(request)
        codec = await self.service.codec()
        limit = _int_param(request, "limit", self.service.settings.page_size, 1, MAX_PAGE_SIZE)
        token = request.query_params.get("after")
        after_pk = codec.decode(token) if token is not None else 0
        wanted = PageRequest(
            principal,
            self.service.base_url(request),
            token,
            after_pk,
            limit,
            accepts_gzip(request.headers.get("accept-encoding", "")),
        )
        state = self.service.dumps.state()
        page_headers: dict[str, str] = {}
        if state is not None:
            page_headers = validators(state, wanted.key)
            if not_modified(request, page_headers):
                return not_modified_response(page_headers)
        page = await self.service.feed.page(wanted, codec, state)
        content, encoding = page.content(wanted.gzip)
        return Response(
            b"" if request.method == "HEAD" else content,
            media_type=jsonld.CONTENT_TYPE,
            headers={"Link": page.link_header, **encoding, **page_headers},
        )

    async def context(self, request: Request) -> Response:
        return Response(
            # With this site's prefixes, which the pages' dataset nodes are written with.
            orjson.dumps({"@context": jsonld.context_for(self.service.base_url(request))}),
            media_type=jsonld.CONTENT_TYPE,
            headers={"Cache-Control": "public, max-age=86400"},
        )

    # -- seed 001: DataPress export API ------------------------------------------------------

    # The DataPress dumps (export.json, CSV, XLSX) are served by server.dumps.DumpHandlers.

    # -- seed 001: legacy CKAN actions --------------------------------------------------------

    async def current_package_list_with_resources(self, request: Request) -> Response:
        principal = await self.service.principal(request)
        base = self.service.base_url(request)
        offset = _int_param(request, "offset", 0, 0, None)
        limit_text = request.query_params.get("limit")
        limit = _int_param(request, "limit", 0, 0, None) if limit_text is not None else None
        rows = self._rows(principal)

        def chunks() -> Chunks:
            selected = islice(rows(), offset, None if limit is None else offset + limit)
            return ckan.package_list_response(selected, base_url=base)

        return _download(request, chunks, ckan.CONTENT_TYPE, None)

    async def package_search(self, request: Request) -> Response:
        principal = await self.service.principal(request)
        base = self.service.base_url(request)
        q = request.query_params.get("q", "")
        sort = request.query_params.get("sort") or export_query.DEFAULT_SORT
        start = _int_param(request, "start", 0, 0, None)
        rows = _int_param(request, "rows", 10, 0, MAX_SEARCH_ROWS)

        def search() -> export_query.SearchPage:
            with self.service.database.read() as session:
                return export_query.search(
                    session, principal, q=q, sort=sort, start=start, rows=rows
                )

        # Through the search gate: slow searches cannot take the worker pool (server.limits).
        page = await self.service.limits.search.run(request, search)
        return _json(ckan.package_search_response(page, base_url=base), request)

    # -- seed 002: one dataset ---------------------------------------------------------------

    async def dataset(self, request: Request) -> Response:
        principal = await self.service.principal(request)
        dataset_id = request.path_params["dataset_id"]

        def read() -> dict[str, Any]:
            with self.service.database.read() as session:
                return export_query.readable_record(session, principal, dataset_id)

        return _json(await run_in_threadpool(read), request)

    async def dataset_webpage(self, request: Request) -> Response:
        dataset_id = request.path_params["dataset_id"]
        return RedirectResponse(f"/api/dataset/{dataset_id}", status_code=303)

    # -- helpers ------------------------------------------------------------------------------

    def _rows(
        self, principal: Principal, *, published_only: bool = False
    ) -> Callable[[], Iterator[export_query.DatasetRow]]:
        database = self.service.database
        return lambda: export_query.iter_datasets(
            database, principal, published_only=published_only
        )


def _download(
    request: Request,
    chunks: Callable[[], Chunks],
    media_type: str,
    filename: str | None,
) -> Response:
    """A streamed export; the generator runs in the threadpool, one DB session per batch."""
    headers = {"Cache-Control": "no-cache"}
    if filename is not None:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if request.method == "HEAD":
        # The headers of the download without producing it (and without a false length).
        return StreamingResponse(empty_body(), media_type=media_type, headers=headers)
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)


def _json(value: Any, request: Request, status_code: int = 200) -> Response:
    body = b"" if request.method == "HEAD" else orjson.dumps(value)
    return Response(body, status_code=status_code, media_type="application/json")


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise export_query.InvalidQuery(f"{name} must be a whole number") from None
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise export_query.InvalidQuery(f"{name} must be {bounds}")
    return value


# -- errors -----------------------------------------------------------------------------------


def error_response(
    request: Request, status: int, code: str, message: str, **extra: Any
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message, **extra}
    body: dict[str, Any] = {"error": error}
    if request.url.path.startswith("/api/action/"):
        error["__type"] = _CKAN_TYPES.get(status, "Internal Error")
        body = {"help": None, "success": False, "error": error}
    headers = {"WWW-Authenticate": 'Apikey realm="catalogue"'} if status == 401 else None
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


async def _catalogue_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CatalogueError)
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationFailed):
        extra["fields"] = exc.errors
    response = error_response(request, status, exc.code, exc.message, **extra)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    response = error_response(request, exc.status_code, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("error serving %s", request.url.path, exc_info=exc)
    return error_response(request, 500, "internal_error", "The server failed; see its log")


# -- the live request log -----------------------------------------------------------------------


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
        status = 500
        sent = 0

        async def send_and_count(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_and_count)
        finally:
            client = scope.get("client")
            query = scope.get("query_string", b"").decode("latin-1")
            entry = RequestLogEntry(
                at=now_iso(),
                client=f"{client[0]}:{client[1]}" if client else "",
                method=scope["method"],
                path=scope["path"] + (f"?{query}" if query else ""),
                status=status,
                duration_ms=(time.perf_counter() - started) * 1000,
                bytes_sent=sent,
            )
            try:
                self.hook(entry)
            except Exception:  # a broken log view must never break serving
                log.exception("request log hook failed")
