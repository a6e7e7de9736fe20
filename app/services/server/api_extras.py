"""Handlers beside the dumps: PATCH of one dataset, the OpenAPI document, CKAN actions by POST.

- `PATCH /api/dataset/{id}` (seed 002): an RFC 6902 JSON Patch, applied by
  services.json_patch in one write transaction as the key's user; 401 without a key. The body is
  `application/json-patch+json` (or `application/json`); anything else is a 415.
- `GET /api/openapi.json`: `resources/openapi.json`, with `servers` set to where it is served.
- `POST /api/action/<name>`: CKAN clients (ckanapi's RemoteCKAN by default) call actions by
  POST with the parameters as a JSON object; `ckan_post` turns that into the GET the action's
  handler already serves (body parameters over query ones), so both ways share one handler.

Like the rest of the server: the database is touched in worker threads only, each access with a
session of its own.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.models.database import Database
from app.resources import OPENAPI_DOCUMENT, resource
from app.services import json_patch
from app.services.datasets import get_dataset
from app.services.errors import Unauthorized
from app.services.export_query import record_as_seen
from app.services.records import Record
from app.services.server.params import Param
from app.services.visibility import Principal, permissions_for

OPENAPI_PATH = resource(OPENAPI_DOCUMENT)
MAX_PATCH_BYTES = 1024 * 1024
MAX_ACTION_BYTES = 64 * 1024
PATCH_TYPES = (json_patch.CONTENT_TYPE, "application/json")

Handler = Callable[[Request], Awaitable[Response]]


class ServiceLike(Protocol):
    """What these handlers need of the server's shared state (app._Service)."""

    database: Database

    def base_url(self, request: Request) -> str: ...

    async def principal(self, request: Request) -> Principal: ...


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every endpoint, as shipped in the package (read once)."""
    document: dict[str, Any] = orjson.loads(OPENAPI_PATH.read_bytes())
    return document


class ExtraHandlers:
    def __init__(self, service: ServiceLike) -> None:
        self.service = service

    async def patch_dataset(self, request: Request) -> Response:
        principal = await self.service.principal(request)
        if principal.is_anonymous:
            raise Unauthorized("Editing a dataset needs an API key (Authorization header)")
        _require_type(request, PATCH_TYPES)
        patch = json_patch.parse_patch(await _json_body(request, MAX_PATCH_BYTES))
        dataset_id = request.path_params["dataset_id"]

        def apply() -> Record:
            with self.service.database.transaction() as session:
                record = json_patch.patch_dataset(
                    session, principal, dataset_id, patch, author=principal.name
                )
                # The new JSON as GET shows it to this caller (an editor who may not manage
                # the dataset does not see its access lists).
                granted = permissions_for(session, principal, get_dataset(session, dataset_id))
                return record_as_seen(record, granted)

        record = await run_in_threadpool(apply)
        return Response(orjson.dumps(record), media_type="application/json")

    async def openapi(self, request: Request) -> Response:
        document = copy.copy(openapi_document())
        document["servers"] = [{"url": self.service.base_url(request)}]
        # The body also for HEAD: its Content-Length is the GET's; uvicorn sends no body.
        return Response(
            orjson.dumps(document),
            media_type="application/json",
            headers={"Cache-Control": "no-cache"},
        )

    def ckan_post(self, handler: Handler, known: tuple[Param, ...]) -> Handler:
        """A POST handler for a CKAN action served by the GET `handler`; the body's `known`
        parameters must have their types (params.Param.from_body), others are passed on."""

        async def post(request: Request) -> Response:
            params = dict(parse_qsl(request.url.query, keep_blank_values=True))
            params.update(_action_params(await _action_body(request), known))
            scope = dict(request.scope)
            scope["method"] = "GET"
            scope["query_string"] = urlencode(params).encode("latin-1")
            return await handler(Request(scope, request.receive))

        return post


def _require_type(request: Request, allowed: tuple[str, ...]) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in allowed:
        raise HTTPException(415, f"Send the body as {' or '.join(allowed)}")


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"The body may be at most {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"The body may be at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request, limit: int) -> Any:
    body = await read_limited(request, limit)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise json_patch.InvalidPatch(f"The body is not JSON: {error}") from None


async def _action_body(request: Request) -> dict[str, Any]:
    body = await read_limited(request, MAX_ACTION_BYTES)
    if not body.strip():
        return {}
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        params = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HTTPException(400, "The action's parameters must be a JSON object") from None
    if not isinstance(params, dict):
        raise HTTPException(400, "The action's parameters must be a JSON object")
    return params


def _action_params(params: dict[str, Any], known: tuple[Param, ...]) -> dict[str, str]:
    """JSON parameter values as the query strings the GET handlers parse."""
    flat: dict[str, str] = {}
    by_name = {p.name: p for p in known}
    for key, value in params.items():
        param = by_name.get(key)
        if param is not None:
            text = param.from_body(value)
            if text is not None:
                flat[key] = text
            continue
        if value is None:
            continue
        if isinstance(value, bool):
            flat[key] = "true" if value else "false"
        elif isinstance(value, str):
            flat[key] = value
        elif isinstance(value, int | float):
            flat[key] = str(value)
        else:
            flat[key] = orjson.dumps(value).decode()
    return flat
