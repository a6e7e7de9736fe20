"""Seed 003's dataset catalog API: `GET|POST /api/datasets/1.0/search/` and
`GET /api/datasets/1.0/<dataset_id>/` (with or without the trailing slash), so that clients
written for Opendatasoft (portal widgets, TerriaJS, scripts, our own Opendatasoft remote) read
this catalogue.

The search is services.dataset_search's, answered as formats.opendatasoft writes it (json,
jsonp with `callback`, csv, rss; `pretty_print`). The key may come as `Authorization: Apikey K`
or `Bearer K`, or as `?apikey=K` (`access_token=K` too, as seed 003 passes a bearer token): a
wrong key is a 401; an anonymous caller sees what visibility shows anonymous callers, a key
adds what its user may read. A POST carries the same parameters as a form. Searches go through
the server's search gate (server.limits), so slow ones cannot take the worker pool.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from app.models.database import Database
from app.services.api_keys import authenticate
from app.services.dataset_search.request import SearchRequest, read_request
from app.services.dataset_search.search import SearchResult, lookup, search_datasets
from app.services.export_query import InvalidQuery
from app.services.formats import opendatasoft as ods
from app.services.query_language.to_sql import QueryContext
from app.services.server.api_extras import read_limited
from app.services.server.limits import Gate
from app.services.visibility import ANONYMOUS, Principal

OPENDATASOFT_PREFIX = "/api/datasets/1.0/"
SEARCH_PATHS = ("/api/datasets/1.0/search/", "/api/datasets/1.0/search")
LOOKUP_PATHS = ("/api/datasets/1.0/{dataset_id}/", "/api/datasets/1.0/{dataset_id}")
MAX_FORM_BYTES = 64 * 1024
KEY_PARAMS = ("apikey", "access_token")


class ServiceLike(Protocol):
    database: Database

    def base_url(self, request: Request) -> str: ...

    @property
    def search_gate(self) -> Gate: ...

    @property
    def catalogue_title(self) -> str: ...


class OpendatasoftApi:
    def __init__(self, service: ServiceLike) -> None:
        self.service = service

    async def search(self, request: Request) -> Response:
        params = await _params(request)
        output = _Output.of(params, formats=ods.FORMATS)
        principal = await self._principal(request, params)
        wanted = read_request(params)
        context = QueryContext()

        def run() -> SearchResult:
            with self.service.database.read() as session:
                return search_datasets(session, principal, wanted, context)

        result = await self.service.search_gate.run(request, run)
        base = self.service.base_url(request)
        language = context.language
        if output.format == "csv":
            return Response(ods.search_csv(result, base, language), media_type=ods.CSV_TYPE)
        if output.format == "rss":
            body = ods.search_rss(result, base, self.service.catalogue_title)
            return Response(body, media_type=ods.RSS_TYPE)
        echo = _echo(wanted, output.format)
        return output.json(ods.search_json(result, echo, base, language))

    async def lookup(self, request: Request) -> Response:
        params = await _params(request)
        output = _Output.of(params, formats=("json", "jsonp"))
        principal = await self._principal(request, params)
        dataset_id = request.path_params["dataset_id"]

        def read() -> dict[str, Any]:
            with self.service.database.read() as session:
                row = lookup(session, principal, dataset_id)
            return ods.entry(row, self.service.base_url(request), QueryContext().language)

        return output.json(await run_in_threadpool(read))

    async def _principal(self, request: Request, params: list[tuple[str, str]]) -> Principal:
        keys = [value for name, value in params if name in KEY_PARAMS]
        header = request.headers.get("authorization", "").strip()
        presented = header or (keys[0] if keys else "")
        if not presented:
            return ANONYMOUS

        def check() -> Principal:
            with self.service.database.read() as session:
                return authenticate(session, presented)

        return await run_in_threadpool(check)


class _Output:
    """How an answer is written: format, pretty_print and the JSONP callback."""

    def __init__(self, format_: str, pretty: bool, callback: str | None) -> None:
        self.format = format_
        self.pretty = pretty
        self.callback = callback

    @classmethod
    def of(cls, params: list[tuple[str, str]], *, formats: tuple[str, ...]) -> _Output:
        given = dict(params)
        format_ = given.get("format", "json").lower()
        if format_ not in formats:
            raise InvalidQuery(f"format must be one of {', '.join(formats)}")
        pretty = given.get("pretty_print", "false").lower()
        if pretty not in ("true", "false"):
            raise InvalidQuery("pretty_print is true or false")
        callback = given.get("callback")
        if format_ == "jsonp" and callback is None:
            raise InvalidQuery("format=jsonp needs a callback")
        checked = ods.checked_callback(callback) if callback is not None else None
        return cls(format_, pretty == "true", checked)

    def json(self, value: Any) -> Response:
        body = ods.json_bytes(value, pretty=self.pretty, callback=self.callback)
        media_type = ods.JSONP_TYPE if self.callback else ods.JSON_TYPE
        return Response(body, media_type=media_type)


async def _params(request: Request) -> list[tuple[str, str]]:
    """The query's parameters, then (for a POST) the form's."""
    params = list(request.query_params.multi_items())
    if request.method == "POST":
        body = await read_limited(request, MAX_FORM_BYTES)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if body.strip() and media_type != "application/x-www-form-urlencoded":
            raise InvalidQuery("Send the parameters as application/x-www-form-urlencoded")
        params.extend(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if any(not name for name, _value in params):
        raise InvalidQuery("A parameter has no name (a stray = or &?)")
    return params


def _echo(wanted: SearchRequest, format_: str) -> dict[str, Any]:
    """The v1 `parameters`: the search as it was understood."""
    echo: dict[str, Any] = {
        "rows": wanted.rows,
        "start": wanted.start,
        "format": format_,
        "timezone": "UTC",
    }
    if wanted.q:
        echo["q"] = wanted.q
    if wanted.facets:
        echo["facet"] = list(wanted.facets)
    if wanted.sort:
        echo["sort"] = list(wanted.sort)
    for kind, chosen in (("refine", wanted.refine), ("exclude", wanted.exclude)):
        grouped: dict[str, list[str]] = {}
        for facet, value in chosen:
            grouped.setdefault(facet, []).append(value)
        if grouped:
            echo[kind] = {f: v[0] if len(v) == 1 else v for f, v in grouped.items()}
    if wanted.disjunctive:
        echo["disjunctive"] = {facet: True for facet in sorted(wanted.disjunctive)}
    return echo
