"""The pages people and search engines read: `/`, `/dataset/{id}`, the sitemap and robots.txt.

- `GET /`: the home page (services.web_pages): a search box (`q`, services.search as
  package_search reads it), the published datasets `PageSettings.home_page_size` a page
  (`page`, from 1), and the endpoints a harvester uses.
- `GET /dataset/{id}`: the page of a published dataset, the `webpage` of every export, with its
  schema.org Dataset as JSON-LD. Any other id (unknown, draft, private, embargoed) is the one
  404 page, byte for byte.
- `GET /sitemap.xml`, `GET /sitemap-{n}.xml`: services.sitemap; above
  `PageSettings.sitemap_urls` URLs, /sitemap.xml is an index of the parts. They carry the
  dumps' validators (ETag, Last-Modified: the catalogue's state) and answer 304.
- `GET /robots.txt`: everything allowed, and where the sitemap is.

All of them show the anonymous visible set, whoever asks: an `Authorization` header is not
read (the pages are the same for everybody). Every URL written starts with the configured
base URL. Errors are HTML pages here (400 for a parameter out of its bounds, 404), not the
API's JSON errors. The database is read in worker threads only, a session each; the home page's
search passes the search gate as package_search does (server.limits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.models.database import Database
from app.services import sitemap, web_pages
from app.services.dump_cache import DumpCache
from app.services.export_query import DatasetRow, InvalidQuery
from app.services.formats.jsonld import CatalogueInfo
from app.services.package_search import SearchPage
from app.services.search import MAX_QUERY_LENGTH, QueryTooLong
from app.services.server.dumps import not_modified, not_modified_response, validators
from app.services.server.limits import QueryLimits
from app.services.server.params import MAX_POSITION, Param, int_param, parse_int
from app.services.web_pages import Site

HTML = web_pages.CONTENT_TYPE
MAX_HOME_PAGE_SIZE = 1000
# The home page's parameters (params.Param: parsed and documented by one rule).
HOME_QUERY = Param("q", "string", max_length=MAX_QUERY_LENGTH)
HOME_PAGE = Param("page", "integer", 1, 1_000_000)  # with at most 1,000 a page: within bounds
SITEMAP_PART = Param("part", "integer", 1, MAX_POSITION)


@dataclass(frozen=True, slots=True)
class PageSettings:
    """How many datasets the home page lists at a time, and how many URLs a sitemap file
    holds before /sitemap.xml becomes an index (the protocol's 50,000)."""

    home_page_size: int = web_pages.HOME_PAGE_SIZE
    sitemap_urls: int = sitemap.SITEMAP_URLS

    def __post_init__(self) -> None:
        if not 1 <= self.home_page_size <= MAX_HOME_PAGE_SIZE:
            raise ValueError(f"home_page_size must be between 1 and {MAX_HOME_PAGE_SIZE}")
        if not 1 <= self.sitemap_urls <= sitemap.SITEMAP_URLS:
            raise ValueError(f"sitemap_urls must be between 1 and {sitemap.SITEMAP_URLS}")


class ServiceLike(Protocol):
    """What these handlers need of the server's shared state (app._Service)."""

    database: Database
    dumps: DumpCache
    limits: QueryLimits

    def base_url(self, request: Request) -> str: ...


class PageHandlers:
    def __init__(
        self, service: ServiceLike, catalogue: CatalogueInfo, settings: PageSettings
    ) -> None:
        self.service = service
        self.catalogue = catalogue
        self.settings = settings

    def _site(self, request: Request) -> Site:
        return Site.of(self.service.base_url(request), self.catalogue)

    async def home(self, request: Request) -> Response:
        site = self._site(request)
        size = self.settings.home_page_size
        try:
            q = HOME_QUERY.text(request) or ""
            page = int_param(request, HOME_PAGE.name, 1, HOME_PAGE.low, HOME_PAGE.high)

            def read() -> SearchPage:
                with self.service.database.read() as session:
                    return web_pages.home_listing(session, q, page, size)

            # Through the search gate, as package_search: slow searches cannot take the pool.
            listing = await self.service.limits.search.run(request, read)
        except (InvalidQuery, QueryTooLong) as error:
            return _html(web_pages.bad_request_page(site, error.message), 400)
        return _html(web_pages.home_page(site, listing, q=q, page=page, page_size=size))

    async def dataset(self, request: Request) -> Response:
        site = self._site(request)
        dataset_id = request.path_params["dataset_id"]

        def read() -> DatasetRow | None:
            with self.service.database.read() as session:
                return web_pages.published_row(session, dataset_id)

        row = await run_in_threadpool(read)
        if row is None:
            return _not_found(site)
        return _html(web_pages.dataset_page(site, row))

    async def sitemap_xml(self, request: Request) -> Response:
        base = self.service.base_url(request)
        headers = self._validators(request, "sitemap", base)
        if headers is not None and not_modified(request, headers):
            return not_modified_response(headers)
        limit = self.settings.sitemap_urls
        published = await run_in_threadpool(self._count)
        if sitemap.needs_index(published, limit):
            parts = sitemap.part_count(published, limit)
            return Response(
                sitemap.sitemap_index(base, parts),
                media_type=sitemap.CONTENT_TYPE,
                headers=headers or {},
            )
        return await self._part(base, 1, headers)

    async def sitemap_part(self, request: Request) -> Response:
        base = self.service.base_url(request)
        try:
            part = parse_int("part", request.path_params["part"], 1, SITEMAP_PART.high)
        except InvalidQuery:
            return _not_found(self._site(request))
        headers = self._validators(request, f"sitemap-{part}", base)
        if headers is not None and not_modified(request, headers):
            return not_modified_response(headers)
        published = await run_in_threadpool(self._count)
        if part > sitemap.part_count(published, self.settings.sitemap_urls):
            return _not_found(self._site(request))
        return await self._part(base, part, headers)

    async def robots(self, request: Request) -> Response:
        return Response(
            sitemap.robots_txt(self.service.base_url(request)),
            media_type=sitemap.ROBOTS_CONTENT_TYPE,
            headers={"Cache-Control": "public, max-age=86400"},
        )

    # -- helpers ----------------------------------------------------------------------------

    async def _part(self, base: str, part: int, headers: dict[str, str] | None) -> Response:
        limit = self.settings.sitemap_urls

        def start() -> int:
            with self.service.database.read() as session:
                return sitemap.part_start(session, part, limit)

        after_pk = await run_in_threadpool(start)
        # Streamed from the threadpool, one read session per batch (export_query).
        chunks = sitemap.urlset(self.service.database, base, part, after_pk, limit)
        return StreamingResponse(chunks, media_type=sitemap.CONTENT_TYPE, headers=headers)

    def _count(self) -> int:
        with self.service.database.read() as session:
            return sitemap.published_count(session)

    def _validators(self, request: Request, name: str, base: str) -> dict[str, str] | None:
        """The dumps' ETag and Last-Modified for this file at this base URL (None where the
        catalogue's state is not watched)."""
        state = self.service.dumps.state()
        if state is None:
            return None
        return validators(state, f"{name}:{base}:{self.settings.sitemap_urls}")


def _html(text: str, status_code: int = 200) -> Response:
    # The body also for HEAD: its Content-Length is the GET's (uvicorn sends no body).
    return Response(text, status_code=status_code, media_type=HTML)


def _not_found(site: Site) -> Response:
    return _html(web_pages.not_found_page(site), 404)


# -- the OpenAPI document (scripts/update_openapi.py writes these paths) --------------------------

_TAG = "Web pages"
PAGES_TAG = {"name": _TAG, "description": "HTML pages for people and search engines"}


def _html_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _not_found_response(description: str) -> dict[str, Any]:
    """The page's 404 is HTML; a path that reaches no route at all (an id holding `/`) is the
    API's JSON error."""
    content = _html_response("")["content"]
    content["application/json"] = {"schema": {"$ref": "#/components/schemas/Error"}}
    return {"description": f"{description} (HTML; JSON for a path of no route)", "content": content}


def _xml_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {
            "ETag": {"$ref": "#/components/headers/ETag"},
            "Last-Modified": {"$ref": "#/components/headers/Last-Modified"},
        },
        "content": {sitemap.CONTENT_TYPE: {"schema": {"type": "string"}}},
    }


def _query(param: Param, description: str) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": param.query_schema(),
    }


def _operations(
    operation_id: str, summary: str, responses: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """A GET and its HEAD (Starlette answers HEAD for every GET route), without a key."""
    head_responses = {
        status: {k: v for k, v in response.items() if k != "content"}
        for status, response in responses.items()
    }
    common = {"tags": [_TAG], "security": [{}]}
    return {
        **extra,
        "get": {"operationId": operation_id, "summary": summary, **common,
                "responses": responses},
        "head": {"operationId": operation_id + "Head", "summary": f"Headers of: {summary}",
                 **common, "responses": head_responses},
    }  # fmt: skip


def openapi_paths() -> dict[str, Any]:
    """The pages' entries of the document's `paths`."""
    not_modified_ = {"$ref": "#/components/responses/NotModified"}
    return {
        "/": _operations(
            "homePage",
            "The home page: search, the published datasets a page at a time, how to harvest",
            {
                "200": _html_response("The page (HTML)"),
                "400": _html_response("A parameter out of its bounds (HTML)"),
            },
            parameters=[
                _query(HOME_QUERY, "Words to search for, each the start of a word"),
                _query(HOME_PAGE, "The page of the list, from 1"),
            ],
        ),
        "/dataset/{dataset_id}": _operations(
            "datasetWebpage",
            "A published dataset's page (its webpage in the exports), with schema.org JSON-LD",
            {
                "200": _html_response("The page (HTML)"),
                "404": _not_found_response("No published dataset has this id"),
            },
            parameters=[{"$ref": "#/components/parameters/datasetId"}],
        ),
        "/sitemap.xml": _operations(
            "sitemap",
            "The sitemap of the home page and every dataset page; an index of "
            "/sitemap-{part}.xml above 50,000 of them",
            {"200": _xml_response("A urlset or a sitemapindex"), "304": not_modified_},
        ),
        "/sitemap-{part}.xml": _operations(
            "sitemapPart",
            "One part of the sitemap, named by its index",
            {
                "200": _xml_response("A urlset"),
                "304": not_modified_,
                "404": _not_found_response("No such part"),
            },
            parameters=[
                {
                    "name": "part",
                    "in": "path",
                    "required": True,
                    "description": "The part's number, from 1",
                    "schema": SITEMAP_PART.query_schema(),
                }
            ],
        ),
        "/robots.txt": _operations(
            "robots",
            "Crawlers may read everything; names the sitemap",
            {
                "200": {
                    "description": "robots.txt",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        ),
    }
