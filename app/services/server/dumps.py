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
from email.utils import formatdate, parsedate_to_datetime
from typing import BinaryIO, Protocol

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.models.database import Database
from app.services import dump_cache, export_query, renders
from app.services.dump_cache import CatalogueState, DumpCache
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
        return await self._text_dump(
            request,
            Fragment.DATASETS_CSV,
            csv_format.datasets_document,
            csv_format.CONTENT_TYPE,
            "dataset.csv",
            published_only=True,
        )

    # seed 001
    async def export_json(self, request: Request) -> Response:
        return await self._text_dump(
            request,
            Fragment.EXPORT_JSON,
            datapress_json.export_document,
            datapress_json.CONTENT_TYPE,
            "export.json",
        )

    async def export_datasets_csv(self, request: Request) -> Response:
        return await self._text_dump(
            request,
            Fragment.DATASETS_CSV,
            csv_format.datasets_document,
            csv_format.CONTENT_TYPE,
            "export.datasets.csv",
        )

    async def export_resources_csv(self, request: Request) -> Response:
        return await self._text_dump(
            request,
            Fragment.RESOURCES_CSV,
            csv_format.resources_document,
            csv_format.CONTENT_TYPE,
            "export.resources.csv",
        )

    async def export_xlsx(self, request: Request) -> Response:
        principal = await self.service.principal(request)
        database = self.service.database

        def write(base: str, sink: BinaryIO) -> None:
            rows = export_query.iter_datasets(database, principal)
            xlsx.write_xlsx(rows, sink, base_url=base)

        return await self._dump(request, principal, None, write, xlsx.CONTENT_TYPE, "export.xlsx")

    async def _text_dump(
        self,
        request: Request,
        fragment: Fragment,
        document: Callable[[Iterable[bytes]], Chunks],
        media_type: str,
        filename: str,
        *,
        published_only: bool = False,
    ) -> Response:
        """A text dump: each visible dataset's fragment (services.renders) in its document.
        `published_only`: the bulk open data of seed 000, exactly what an anonymous caller sees
        whoever asks ("so the open data stays open"); a key is still checked (a wrong one is
        a 401), and then grants nothing more."""
        principal = await self.service.principal(request)
        if published_only:
            principal = ANONYMOUS
        database = self.service.database

        def stream(base: str) -> Chunks:
            parts = renders.iter_fragments(
                database, principal, fragment, base_url=base, published_only=published_only
            )
            return document(parts)

        return await self._dump(request, principal, stream, None, media_type, filename)

    async def _dump(
        self,
        request: Request,
        principal: Principal,
        stream: Callable[[str], Chunks] | None,
        write: Callable[[str, BinaryIO], object] | None,
        media_type: str,
        filename: str,
    ) -> Response:
        """One dump, by a chunk serializer (`stream`) or a file writer (`write`), either given
        the base URL."""
        base = self.service.base_url(request)
        cache = self.service.dumps

        def render(sink: BinaryIO) -> None:
            if write is not None:
                write(base, sink)
            elif stream is not None:
                write_to(sink, stream(base))

        headers = {
            "Cache-Control": "no-cache",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Vary": "Accept-Encoding",
        }
        state = cache.state()
        if state is not None:
            key = f"{request.url.path}\n{base}\n{principal_key(principal)}"
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
            handle = await run_in_threadpool(_render_temporary, render)
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


def _render_temporary(render: Callable[[BinaryIO], None]) -> BinaryIO:
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
