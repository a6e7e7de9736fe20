"""The bulk dumps: CSV (seed 000 and 001), DataPress export.json and export.xlsx (seed 001).

The text dumps join each visible dataset's fragment (services.renders: rendered by the format's
serializer once per dataset version and kept outside the catalogue) in the format's document;
XLSX is written by its serializer over the rows of services.export_query. Both select through
the one visibility function. HTTP validators come from services.dump_cache: the ETag is the
catalogue state (which moves on every commit and every midnight) hashed with the endpoint, the
base URL and who asks; Last-Modified is when the state last moved. `If-None-Match` (or, without
it, `If-Modified-Since`) answers 304 without touching the rows.

Anonymous dumps are rendered once per catalogue state into a file and served from it; keyed
callers get their dump rendered per request (streamed for the text formats, through a temporary
file for XLSX, whose zip needs a seekable sink), never from the anonymous file, and never into it.
A HEAD is answered as a GET (a dump served from its file reads it), whose body the ASGI server
does not send: so its headers are the GET's, Content-Length and Content-Encoding included.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from typing import BinaryIO, Protocol

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.models.database import Database
from app.services import dump_cache, export_query, renders
from app.services.dump_cache import CatalogueState, DumpCache, Render
from app.services.formats import Chunks, csv_format, datapress_json, write_to, xlsx
from app.services.renders import Fragment
from app.services.server.encoding import accepts_gzip
from app.services.server.incremental import changed_fragments, since_of
from app.services.visibility import ANONYMOUS, Principal

READ_CHUNK = 256 * 1024


class ServiceLike(Protocol):
    """What these handlers need of the server's shared state (app._Service)."""

    database: Database
    dumps: DumpCache

    def base_url(self, request: Request) -> str: ...

    async def principal(self, request: Request) -> Principal: ...


def principal_key(principal: Principal) -> str:
    """Who is asking, as far as a dump's content goes: the rest (teams, groups, rulesets) is
    catalogue state and already in the ETag."""
    if principal.is_owner:
        return "owner"
    if principal.user_id is None:
        return "anonymous"
    return f"user:{principal.user_id}"


def validators(state: CatalogueState, key: str) -> dict[str, str]:
    return {
        "ETag": dump_cache.etag(state, key),
        "Last-Modified": formatdate(state.last_modified, usegmt=True),
    }


def not_modified(request: Request, headers: dict[str, str]) -> bool:
    """Whether the client's copy is current (RFC 9110 13.2.2: If-None-Match wins)."""
    if request.method not in ("GET", "HEAD") or "ETag" not in headers:
        return False
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        ours = _opaque(headers["ETag"])
        return any(
            tag.strip() == "*" or _opaque(tag.strip()) == ours for tag in if_none_match.split(",")
        )
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is not None:
        try:
            since = parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        modified = parsedate_to_datetime(headers["Last-Modified"]).timestamp()
        return modified <= since
    return False


def _opaque(tag: str) -> str:
    """The opaque part of an entity tag (weak comparison)."""
    return tag[2:] if tag.startswith("W/") else tag


def not_modified_response(headers: dict[str, str]) -> Response:
    kept = {k: v for k, v in headers.items() if k in ("ETag", "Last-Modified", "Cache-Control")}
    return Response(status_code=304, headers=kept)


@dataclass(frozen=True, slots=True)
class Dump:
    """One bulk dump: where it is served, and how it is rendered."""

    path: str
    filename: str
    media_type: str
    fragment: Fragment | None = None  # a text dump's fragment (services.renders); None: XLSX
    document: Callable[[Iterable[bytes]], Chunks] | None = None
    published_only: bool = False  # seed 000: what an anonymous caller sees, whoever asks


DATASET_CSV = Dump(
    "/api/v1/dataset.csv",
    "dataset.csv",
    csv_format.CONTENT_TYPE,
    Fragment.DATASETS_CSV,
    csv_format.datasets_document,
    published_only=True,
)
EXPORT_JSON = Dump(
    "/api/datasets/export.json",
    "export.json",
    datapress_json.CONTENT_TYPE,
    Fragment.EXPORT_JSON,
    datapress_json.export_document,
)
EXPORT_DATASETS_CSV = Dump(
    "/api/datasets/export.datasets.csv",
    "export.datasets.csv",
    csv_format.CONTENT_TYPE,
    Fragment.DATASETS_CSV,
    csv_format.datasets_document,
)
EXPORT_RESOURCES_CSV = Dump(
    "/api/datasets/export.resources.csv",
    "export.resources.csv",
    csv_format.CONTENT_TYPE,
    Fragment.RESOURCES_CSV,
    csv_format.resources_document,
)
EXPORT_XLSX = Dump("/api/datasets/export.xlsx", "export.xlsx", xlsx.CONTENT_TYPE)
DUMPS = (DATASET_CSV, EXPORT_JSON, EXPORT_DATASETS_CSV, EXPORT_RESOURCES_CSV, EXPORT_XLSX)


def cache_key(dump: Dump, base: str, principal: Principal) -> str:
    """What a rendering is kept under: the dump, the base URL and who it was rendered for."""
    return f"{dump.path}\n{base}\n{principal_key(principal)}"


def renderer(database: Database, dump: Dump, principal: Principal, base: str) -> Render:
    """Writes `dump` as `principal` sees it, with URLs under `base`, into a binary sink."""
    stream = streamer(database, dump, principal)
    if stream is not None:
        return lambda sink: write_to(sink, stream(base))

    def write(sink: BinaryIO) -> None:
        xlsx.write_xlsx(export_query.iter_datasets(database, principal), sink, base_url=base)

    return write


def streamer(
    database: Database, dump: Dump, principal: Principal
) -> Callable[[str], Chunks] | None:
    """A text dump's chunks given the base URL; None for a dump written to a file (XLSX)."""
    fragment, document = dump.fragment, dump.document
    if fragment is None or document is None:
        return None

    def stream(base: str) -> Chunks:
        parts = renders.iter_fragments(
            database, principal, fragment, base_url=base, published_only=dump.published_only
        )
        return document(parts)

    return stream


class DumpHandlers:
    def __init__(self, service: ServiceLike) -> None:
        self.service = service

    # seed 000: the published open data, the same whoever asks
    async def dataset_csv(self, request: Request) -> Response:
        since, _ = await since_of(request, self.service.database)
        if since is not None:  # what changed since: streamed, never kept
            await self.service.principal(request)  # a wrong key is a 401; it widens nothing
            parts = changed_fragments(
                self.service.database,
                since,
                Fragment.DATASETS_CSV,
                base_url=self.service.base_url(request),
            )
            return StreamingResponse(
                csv_format.datasets_document(parts),
                media_type=csv_format.CONTENT_TYPE,
                headers={
                    "Cache-Control": "no-cache",
                    "Content-Disposition": 'attachment; filename="dataset.csv"',
                },
            )
        return await self._dump(request, DATASET_CSV)

    # seed 001
    async def export_json(self, request: Request) -> Response:
        return await self._dump(request, EXPORT_JSON)

    async def export_datasets_csv(self, request: Request) -> Response:
        return await self._dump(request, EXPORT_DATASETS_CSV)

    async def export_resources_csv(self, request: Request) -> Response:
        return await self._dump(request, EXPORT_RESOURCES_CSV)

    async def export_xlsx(self, request: Request) -> Response:
        return await self._dump(request, EXPORT_XLSX)

    async def _dump(self, request: Request, dump: Dump) -> Response:
        """One dump, as the caller may see it: from the kept rendering for an anonymous caller
        (rendered once per catalogue state), else rendered for this request. A key is checked
        (a wrong one is a 401); for the open data of seed 000 it then grants nothing more."""
        principal = await self.service.principal(request)
        if dump.published_only:
            principal = ANONYMOUS
        database = self.service.database
        media_type, filename = dump.media_type, dump.filename
        base = self.service.base_url(request)
        cache = self.service.dumps
        stream = streamer(database, dump, principal)
        render = renderer(database, dump, principal, base)

        headers = {
            "Cache-Control": "no-cache",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Vary": "Accept-Encoding",
        }
        state = cache.state()
        if state is not None:
            key = cache_key(dump, base, principal)
            headers.update(validators(state, key))
            if not_modified(request, headers):
                return not_modified_response(headers)
        if state is not None and principal.is_anonymous:
            if stream is not None and accepts_gzip(request.headers.get("accept-encoding", "")):
                # Gzipped once per change too, from the kept rendering: a repeated download is
                # a file read for a client that accepts gzip as well.
                kept = state

                def render_gzipped(sink: BinaryIO) -> None:
                    with cache.open(key, kept, render) as plain:
                        dump_cache.gzip_copy(plain, sink)

                headers["Content-Encoding"] = "gzip"
                handle = await run_in_threadpool(cache.open, f"{key}\ngzip", state, render_gzipped)
            else:
                handle = await run_in_threadpool(cache.open, key, state, render)
        elif stream is not None:
            # Streamed for HEAD too (the ASGI server sends no body): the same headers.
            return StreamingResponse(stream(base), media_type=media_type, headers=headers)
        else:
            handle = await run_in_threadpool(render_temporary, render)
        headers["Content-Length"] = str(os.fstat(handle.fileno()).st_size)
        # Read for HEAD too (the ASGI server sends no body): the GZip middleware then decides
        # on the same bytes, so HEAD's headers are the GET's.
        return StreamingResponse(
            _read(handle),
            media_type=media_type,
            headers=headers,
            # Also when the body is never read (a client gone, a response cancelled).
            background=BackgroundTask(handle.close),
        )


def render_temporary(render: Render) -> BinaryIO:
    """A rendering in an anonymous temporary file (gone when closed), open at its start."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - returned open; the response closes it
    try:
        render(handle)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle


def _read(handle: BinaryIO) -> Iterator[bytes]:
    # A sync iterator: Starlette reads each chunk in its threadpool.
    with handle:
        while chunk := handle.read(READ_CHUNK):
            yield chunk
