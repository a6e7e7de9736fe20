"""The harvest's incremental half (docs/ARCHITECTURE.md: catalogue version): `since` and
`modified_since` on the feed and the CSV, `deleted.json` and the `Last-Modified-Version` header
of every answer (CKAN's `fq=metadata_modified:[T TO *]` is package_search's).

A harvester that keeps a mirror walks the catalogue once, keeps the `Last-Modified-Version` of
its first page, and then asks, each time, for what changed since that version and what was
deleted since it, keeping the version of those answers for the next round. The version is read
before anything else of a request, so an answer never says a version newer than what it shows:
at worst a change is sent twice, never missed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.models.database import Database
from app.services import catalogue_version, renders
from app.services.batches import batched
from app.services.catalogue_version import Since
from app.services.clock import parse_moment, today_iso
from app.services.dump_cache import DumpCache
from app.services.export_query import InvalidQuery
from app.services.server.params import MODIFIED_SINCE, SINCE, optional_int_param

VERSION_HEADER = "Last-Modified-Version"
_BATCH = 500

Echo = tuple[tuple[str, str], ...]  # the parameters a page's links carry on


async def since_of(request: Request, database: Database) -> tuple[Since | None, Echo]:
    """The point `since=N` or `modified_since=<ISO 8601>` asks from (None for neither; both:
    what changed after both), and the parameters as given. InvalidQuery for a malformed one,
    VersionAhead for a version ahead of the catalogue's."""
    version = optional_int_param(request, SINCE.name)
    moment = MODIFIED_SINCE.text(request)
    if version is None and moment is None:
        return None, ()
    at = _moment(moment, "modified_since") if moment is not None else None

    def resolve() -> Since:
        points: list[Since] = []
        with database.read() as session:
            if version is not None:
                points.append(catalogue_version.since_version(session, version))
            if at is not None:
                points.append(catalogue_version.since_time(session, at))
        return Since(max(p.version for p in points), max(p.passed_after for p in points))

    echo: Echo = ()
    if version is not None:
        echo += (("since", str(version)),)
    if moment is not None:
        echo += (("modified_since", moment),)
    return await run_in_threadpool(resolve), echo


def _moment(text: str, name: str) -> datetime:
    try:
        return parse_moment(text)
    except ValueError:
        raise InvalidQuery(
            f"{name} must be an ISO 8601 day or RFC 3339 time, e.g. 2025-01-31T00:00:00Z"
        ) from None


def deleted_since_answer(database: Database, since: int) -> dict[str, object]:
    """deleted.json: the catalogue's version, and the ids that left the published set after
    version `since` and are not back in it (worker thread)."""
    with database.read() as session:
        catalogue_version.since_version(session, since)  # VersionAhead past the catalogue's
        newest = catalogue_version.current(session)
        ids = catalogue_version.deleted_since(session, since)
    return {"version": newest, "datasets": ids}


def changed_fragments(
    database: Database, since: Since, fragment: renders.Fragment, *, base_url: str
) -> Iterator[bytes]:
    """The fragment of each published dataset changed after `since`, by pk: what changed is
    read in one query (the index ranges of services.catalogue_version), then its fragments a
    batch at a time."""
    with database.read() as session:
        wanted = catalogue_version.changed_since(session, since, today_iso())
    store = renders.store_for(database)
    for batch in batched(wanted, _BATCH):
        with database.read() as session:
            parts = store.fragments(session, fragment, list(batch), base_url=base_url)
        yield from (parts[pk] for pk, _ in batch if pk in parts)


class VersionReader:
    """The catalogue version, read once per catalogue state where the state can be watched
    (dump_cache: SQLite's data_version), else at every request."""

    def __init__(self, database: Database, dumps: DumpCache) -> None:
        self._database = database
        self._dumps = dumps
        self._lock = threading.Lock()
        self._kept: tuple[str, int] | None = None  # (state tag, version)

    async def current(self) -> int:
        state = self._dumps.state()
        with self._lock:
            kept = self._kept
        if state is not None and kept is not None and kept[0] == state.tag:
            return kept[1]
        version = await run_in_threadpool(self._read)
        after = self._dumps.state()
        # Kept only if nothing was committed around the read: it is then that state's.
        if state is not None and after is not None and after.tag == state.tag:
            with self._lock:
                self._kept = (state.tag, version)
        return version

    def _read(self) -> int:
        with self._database.read() as session:
            return catalogue_version.current(session)


class VersionHeaderMiddleware:
    """`Last-Modified-Version: N` on every answer, N read before the request is handled."""

    def __init__(self, app: ASGIApp, versions: VersionReader) -> None:
        self.app = app
        self.versions = versions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = (VERSION_HEADER.lower().encode(), str(await self.versions.current()).encode())

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_version)
