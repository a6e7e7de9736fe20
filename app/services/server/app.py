"""The catalogue's HTTP service: an ASGI (Starlette) app over the same catalogue the desktop edits.

Endpoints (seed documents 000, 001, 002):

- `GET /api/v1/dataset.csv`, `GET /api/v1/dataset.jsonld?after=&limit=` — Heratio bulk open data:
  what an anonymous caller sees, whoever asks; the JSON-LD feed (server.feed) pages by the
  opaque cursor of services.cursor.
- `GET /api/datasets/export.json`, `export.datasets.csv`, `export.resources.csv`,
  `export.xlsx` — DataPress; the dumps (server.dumps) carry ETag/Last-Modified and answer 304.
- `GET /api/action/current_package_list_with_resources`, `/api/action/package_search` — CKAN.
- `GET /api/dataset/{id}` — one dataset's full JSON (without the access lists and embargo for a
  caller who may not manage it, export_query.record_as_seen): 200, 403 or 404; `PATCH` edits
  it with an RFC 6902 JSON Patch (server.api_extras, services.json_patch).
- `POST /api/action/...` — the CKAN actions as CKAN clients (ckanapi) call them, by POST.
- `GET /api/openapi.json` — the OpenAPI 3.1 document of all of these (resources/openapi.json).
- `GET /api/v1/context.jsonld` is the JSON-LD context every page also embeds.
- `GET /`, `GET /dataset/{id}` (the `webpage` of the exports), `/sitemap.xml`, `/robots.txt` —
  the HTML pages people and search engines read (server.pages).

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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
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
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Scope

from app.models.database import Database
from app.services import datasets, dump_cache, export_query, package_search
from app.services.api_keys import authenticate
from app.services.catalogue_version import VersionAhead
from app.services.cursor import CursorCodec, InvalidCursor, UnknownCursor, codec_for
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
from app.services.oai.provider import PAGE_SIZE as OAI_PAGE_SIZE
from app.services.oai.provider import RepositoryInfo
from app.services.public_url import stored_public_url
from app.services.query_language.solr import SolrQueryError
from app.services.query_language.syntax import QuerySyntaxError
from app.services.server.api_extras import ExtraHandlers
from app.services.server.dumps import (
    DumpHandlers,
    not_modified,
    not_modified_response,
    validators,
)
from app.services.server.encoding import GZipMiddleware, accepts_gzip
from app.services.server.feed import FEED_PATH, Feed, PageRequest
from app.services.server.incremental import (
    VERSION_HEADER,
    VersionHeaderMiddleware,
    VersionReader,
    deleted_since_answer,
    since_of,
)
from app.services.server.limits import (
    QUERY_TIME_LIMIT,
    SEARCH_TIME_LIMIT,
    Gate,
    LimitsMiddleware,
    QueryLimits,
    QueryTimedOut,
    ServerBusy,
    TooManyRequests,
    WorkAbandoned,
)
from app.services.server.manifest import MANIFEST_PATH, manifest
from app.services.server.oai_route import OAI_PATH, OaiRoute
from app.services.server.opendatasoft_api import (
    LOOKUP_PATHS,
    OPENDATASOFT_PREFIX,
    SEARCH_PATHS,
    OpendatasoftApi,
)
from app.services.server.pages import PageHandlers, PageSettings
from app.services.server.params import (
    ACTION_PARAMS,
    FQ,
    ID,
    MAX_PAGE_SIZE,
    MAX_SEARCH_ROWS,
    NAME_OR_ID,
    SINCE,
    Q,
    int_param,
    optional_int_param,
    sort_param,
)
from app.services.server.quotas import HEADERS as QUOTA_HEADERS
from app.services.server.quotas import QuotaMiddleware, QuotaSettings
from app.services.server.request_log import (
    RequestLogHook,
    RequestLogMiddleware,
    request_target,
)
from app.services.server.runner import base_url_setting
from app.services.visibility import ANONYMOUS, Principal

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 100

_STATUS: tuple[tuple[type[CatalogueError], int], ...] = (
    (PatchUnprocessable, 422),  # before ValidationFailed, its base
    (PatchConflict, 409),
    (VersionAhead, 409),
    (SolrQueryError, 409),  # CKAN's Search Error: what CKAN answers a query Solr cannot read
    (UnknownCursor, 404),  # before InvalidCursor, its base
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
    409: "conflict",
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
class ServerSettings:
    base_url: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    catalogue: jsonld.CatalogueInfo = field(default_factory=jsonld.CatalogueInfo)
    query_time_limit: float = QUERY_TIME_LIMIT  # seconds per database statement
    search_time_limit: float = SEARCH_TIME_LIMIT  # seconds per package_search


class _Service:
    """The state the handlers share: the catalogue, settings and the cursor codec."""

    def __init__(
        self,
        database: Database,
        settings: ServerSettings,
        shared_dumps: dump_cache.SharedDumps | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self._codec: CursorCodec | None = None
        self.dumps = dump_cache.DumpCache(database, shared=shared_dumps)
        self.feed = Feed(
            database, self.dumps, page_size=settings.page_size, catalogue=settings.catalogue
        )
        self.versions = VersionReader(database, self.dumps)
        self.public_url: str | None = None  # services.public_url, read as the server starts
        # Every statement of a request is time-limited and dropped when its client leaves.
        self.limits = QueryLimits(settings.query_time_limit, settings.search_time_limit)
        QueryLimits.install(database.engine)

    async def codec(self) -> CursorCodec:
        if self._codec is None:
            # Two first requests racing both read the same stored secret: harmless.
            self._codec = await run_in_threadpool(codec_for, self.database)
        return self._codec

    def base_url(self, request: Request) -> str:
        """The base of every URL the server writes: the setting, else the address the server
        listens on. Never the request's `Host` (nor a forwarded host): a caller could write
        any name into the output, and a dump rendered for each name would crowd out the
        cache."""
        if self.settings.base_url:
            return self.settings.base_url
        return self.public_url or local_base_url(request.scope)

    async def principal(self, request: Request) -> Principal:
        header = request.headers.get("authorization")
        if header is None or not header.strip():
            return ANONYMOUS
        return await run_in_threadpool(self._authenticate, header)

    def stored_public_url(self) -> str | None:
        with self.database.read() as session:
            return stored_public_url(session)

    @property
    def search_gate(self) -> Gate:
        return self.limits.search

    @property
    def catalogue_title(self) -> str:
        return self.settings.catalogue.title

    def close(self) -> None:
        self.feed.close()
        self.dumps.close()

    def _authenticate(self, header: str) -> Principal:
        with self.database.read() as session:
            return authenticate(session, header)


def create_app(
    database: Database,
    *,
    base_url: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    catalogue: jsonld.CatalogueInfo | None = None,
    on_request: RequestLogHook | None = None,
    query_time_limit: float = QUERY_TIME_LIMIT,
    search_time_limit: float = SEARCH_TIME_LIMIT,
    pages: PageSettings | None = None,
    oai_page_size: int = OAI_PAGE_SIZE,
    oai_admin_email: str | None = None,
    quotas: QuotaSettings | None = None,
    shared_dumps: dump_cache.SharedDumps | None = None,
) -> Starlette:
    """The ASGI app serving `database`. `base_url` is the public base of every URL in the
    output (runner.base_url_setting checks it; default: the address the server listens on);
    `on_request` is the live-log hook;
    `query_time_limit` bounds each database statement, `search_time_limit` each package_search
    (server.limits); `pages` the web pages' sizes (server.pages); `oai_page_size` is the
    records of an OAI-PMH page, `oai_admin_email` the adminEmail its Identify gives;
    `quotas` the calls each caller may make (server.quotas; None: no quotas);
    `shared_dumps` the folder the workers of `serve --workers` keep their dumps in."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    service = _Service(
        database,
        ServerSettings(
            base_url_setting(base_url) if base_url else None,
            page_size,
            catalogue or jsonld.CatalogueInfo(),
            query_time_limit,
            search_time_limit,
        ),
        shared_dumps,
    )
    h = _Handlers(service)
    x = ExtraHandlers(service)
    d = DumpHandlers(service)
    p = PageHandlers(service, service.settings.catalogue, pages or PageSettings())
    ods = OpendatasoftApi(service)
    oai = OaiRoute(
        database,
        service.base_url,
        RepositoryInfo(service.settings.catalogue, oai_admin_email),
        oai_page_size,
    )
    routes = [
        _route("/api/v1/dataset.csv", GET=d.dataset_csv),
        _route(FEED_PATH, GET=h.dataset_jsonld),
        _route("/api/v1/context.jsonld", GET=h.context),
        _route("/api/v1/deleted.json", GET=h.deleted),
        _route(MANIFEST_PATH, GET=h.manifest),
        _route("/api/datasets/export.json", GET=d.export_json),
        _route("/api/datasets/export.datasets.csv", GET=d.export_datasets_csv),
        _route("/api/datasets/export.resources.csv", GET=d.export_resources_csv),
        _route("/api/datasets/export.xlsx", GET=d.export_xlsx),
        _route(
            "/api/action/current_package_list_with_resources",
            GET=h.current_package_list_with_resources,
            POST=x.ckan_post(
                h.current_package_list_with_resources,
                ACTION_PARAMS["current_package_list_with_resources"],
            ),
        ),
        _route(
            "/api/action/package_search",
            GET=h.package_search,
            POST=x.ckan_post(h.package_search, ACTION_PARAMS["package_search"]),
        ),
        _route(
            "/api/action/package_show",
            GET=h.package_show,
            POST=x.ckan_post(h.package_show, ACTION_PARAMS["package_show"]),
        ),
        _route("/api/dataset/{dataset_id}", GET=h.dataset, PATCH=x.patch_dataset),
        # Seed 003: the search paths before the lookup's, which would take "search" for an id.
        *(_route(path, GET=ods.search, POST=ods.search) for path in SEARCH_PATHS),
        *(_route(path, GET=ods.lookup) for path in LOOKUP_PATHS),
        _route("/dataset/{dataset_id}", GET=p.dataset),
        _route("/", GET=p.home),
        _route("/sitemap.xml", GET=p.sitemap_xml),
        _route("/sitemap-{part}.xml", GET=p.sitemap_part),
        _route("/robots.txt", GET=p.robots),
        _route("/api/openapi.json", GET=x.openapi),
        _route(OAI_PATH, GET=oai.handle, POST=oai.handle),
    ]
    middleware = [
        Middleware(RequestLogMiddleware, hook=on_request),
        # CORS before the quotas: a page in a browser can read the 429, and preflights are
        # not counted; the quotas before the rest: a refused call reads nothing.
        Middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["GET", "HEAD"],
            allow_headers=["Authorization"],
            expose_headers=["Link", "Content-Disposition", "ETag", VERSION_HEADER, *QUOTA_HEADERS],
        ),
        Middleware(QuotaMiddleware, settings=quotas),
        Middleware(LimitsMiddleware, limits=service.limits),
        Middleware(VersionHeaderMiddleware, versions=service.versions),
        # Level 6, zlib's own default: level 9 (Starlette's) takes twice the time for 0.4 %.
        Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6),
    ]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if service.settings.base_url is None:  # the catalogue's public URL, if it has one
            service.public_url = await run_in_threadpool(service.stored_public_url)
        await run_in_threadpool(service.feed.warmer.start)
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


Handler = Callable[[Request], Awaitable[Response]]


def _route(path: str, **handlers: Handler) -> Route:
    """One route for `path` with a handler per method (GET also answers HEAD), so that
    Starlette's 405 names every method of the path in `Allow`, not those of one route."""
    if len(handlers) == 1:
        ((method, handler),) = handlers.items()
        return Route(path, handler, methods=[method])
    by_method = dict(handlers)
    if "GET" in by_method:
        by_method["HEAD"] = by_method["GET"]

    async def endpoint(request: Request) -> Response:
        return await by_method[request.method](request)

    return Route(path, endpoint, methods=list(by_method))


class _Handlers:
    def __init__(self, service: _Service) -> None:
        self.service = service

    # -- seed 000: Heratio bulk open data -----------------------------------------------------

    async def dataset_jsonld(self, request: Request) -> Response:
        # The open data of seed 000, whoever asks: a key is checked (a wrong one is a 401)
        # but widens nothing.
        await self.service.principal(request)
        codec = await self.service.codec()
        limit = int_param(request, "limit", self.service.settings.page_size, 1, MAX_PAGE_SIZE)
        token = request.query_params.get("after")
        after_pk = codec.decode(token) if token is not None else 0
        since, echo = await since_of(request, self.service.database)
        wanted = PageRequest(
            ANONYMOUS,
            self.service.base_url(request),
            token,
            after_pk,
            limit,
            accepts_gzip(request.headers.get("accept-encoding", "")),
            since,
            echo,
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
            content,  # also for HEAD: its Content-Length is the GET's (uvicorn sends no body)
            media_type=jsonld.CONTENT_TYPE,
            headers={"Link": page.link_header, **encoding, **page_headers},
        )

    async def deleted(self, request: Request) -> Response:
        """The ids that left the published set after `since` (0: ever) and are not back."""
        await self.service.principal(request)  # a wrong key is a 401 here too; it widens nothing
        since = int_param(request, SINCE.name, 0)
        body = await run_in_threadpool(deleted_since_answer, self.service.database, since)
        return _json(body, request)

    async def manifest(self, request: Request) -> Response:
        return await manifest(self.service, request)

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
        offset = int_param(request, "offset", 0)
        limit = optional_int_param(request, "limit")
        rows = self._rows(principal)

        def chunks() -> Chunks:
            selected = islice(rows(), offset, None if limit is None else offset + limit)
            return ckan.package_list_response(selected, base_url=base)

        return _download(request, chunks, ckan.CONTENT_TYPE, None)

    async def package_search(self, request: Request) -> Response:
        principal = await self.service.principal(request)
        base = self.service.base_url(request)
        q = Q.text(request) or ""
        fq = FQ.text(request) or ""
        sort = sort_param(request)
        start = int_param(request, "start", 0)
        rows = int_param(request, "rows", 10, 0, MAX_SEARCH_ROWS)

        def search() -> package_search.SearchPage:
            with self.service.database.read() as session:
                return package_search.search(
                    session, principal, q=q, fq=fq, sort=sort, start=start, rows=rows
                )

        # Through the search gate: slow searches cannot take the worker pool (server.limits).
        page = await self.service.limits.search.run(request, search)
        return _json(ckan.package_search_response(page, base_url=base), request)

    async def package_show(self, request: Request) -> Response:
        """CKAN's `package_show` (ckan/logic/action/get.py): `id` (or `name_or_id`; a
        dataset's name is its id here), 409 with CKAN's Validation Error without one, else
        what GET /api/dataset/{id} would answer: 404 Not Found Error, 403 Authorization
        Error, or the package."""
        principal = await self.service.principal(request)
        base = self.service.base_url(request)
        name_or_id = ID.text(request) or NAME_OR_ID.text(request)
        if not name_or_id:
            return error_response(
                request, 409, "missing_value", "Missing value: id", name_or_id="Missing value"
            )

        def read() -> export_query.DatasetRow:
            with self.service.database.read() as session:
                # 404 or 403 exactly as the dataset's own JSON (visibility.permissions_for)
                export_query.readable_record(session, principal, name_or_id)
                pk = datasets.get_dataset(session, name_or_id).pk
                (row,) = export_query.rows_by_pk(session, principal, [pk])
                return row

        row = await run_in_threadpool(read)
        return _json(
            {
                "help": ckan.help_url(base, "package_show"),
                "success": True,
                "result": ckan.package_dict(row, base),
            },
            request,
        )

    # -- seed 002: one dataset ---------------------------------------------------------------

    async def dataset(self, request: Request) -> Response:
        principal = await self.service.principal(request)
        dataset_id = request.path_params["dataset_id"]

        def read() -> dict[str, Any]:
            with self.service.database.read() as session:
                return export_query.readable_record(session, principal, dataset_id)

        return _json(await run_in_threadpool(read), request)

    # -- helpers ------------------------------------------------------------------------------

    def _rows(
        self, principal: Principal, *, published_only: bool = False
    ) -> Callable[[], Iterator[export_query.DatasetRow]]:
        database = self.service.database
        return lambda: export_query.iter_datasets(
            database, principal, published_only=published_only
        )


def local_base_url(scope: Scope) -> str:
    """`http://address:port` of the socket the request arrived on (ASGI's `server`): the
    listening address itself, unless the server listens on all of them."""
    server = scope.get("server")
    if not server or server[1] is None:
        return "http://localhost"
    host, port = server[0], server[1]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


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
    # Produced for HEAD too (the ASGI server sends no body), so that its headers are the GET's,
    # Content-Encoding included.
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)


def _json(value: Any, request: Request, status_code: int = 200) -> Response:
    # The body also for HEAD, so that its headers (Content-Length) are the GET's: the ASGI
    # server sends none for HEAD (RFC 9110 9.3.2).
    return Response(orjson.dumps(value), status_code=status_code, media_type="application/json")


# -- errors -----------------------------------------------------------------------------------


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    ckan_type: str | None = None,
    **extra: Any,
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message, **extra}
    body: dict[str, Any] = {"error": error}
    if request.url.path.startswith(OPENDATASOFT_PREFIX):
        # Seed 003's clients read `error` as the message.
        body = {"error": message, "code": code, **extra}
    elif request.url.path.startswith("/api/action/"):
        error["__type"] = ckan_type or _CKAN_TYPES.get(status, "Internal Error")
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
    if isinstance(exc, QuerySyntaxError):
        extra["position"] = {"offset": exc.offset, "column": exc.column}
    message, ckan_type = exc.message, None
    if isinstance(exc, SolrQueryError):
        # As CKAN's action API words it; ckanapi raises SearchError with what follows ": ".
        message, ckan_type = f"Search error: {exc.message}", "Search Error"
    response = error_response(request, status, exc.code, message, ckan_type=ckan_type, **extra)
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
    log.error("error serving %s", request_target(request.scope), exc_info=exc)
    return error_response(request, 500, "internal_error", "The server failed; see its log")
