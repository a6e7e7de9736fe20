"""`GET /api/v1/manifest.json`: what a harvester needs to verify and resume its downloads.

The catalogue version, how many datasets are published, and for each bulk dump its URL, byte
size and SHA-256, all of one catalogue state: the dumps are the anonymous renderings the server
keeps (server.dumps, once per catalogue state), hashed once each, so a download of a dump
while nothing has changed is byte for byte what the manifest describes. A commit during the
manifest's own reading is detected (the version, and the state, read again at the end) and the
manifest read again, a few times at most; a catalogue that keeps changing is a 503.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from app.models import Dataset
from app.services import catalogue_version
from app.services.dump_cache import file_digest
from app.services.server.dumps import (
    DUMPS,
    ServiceLike,
    cache_key,
    render_temporary,
    renderer,
)
from app.services.server.limits import ServerBusy
from app.services.visibility import ANONYMOUS, visible_clause

MANIFEST_PATH = "/api/v1/manifest.json"
ATTEMPTS = 3


class CatalogueChanging(ServerBusy):
    """Commits kept landing while the manifest was read (503, Retry-After)."""

    code = "catalogue_changing"


def read_manifest(service: ServiceLike, base: str) -> dict[str, Any]:
    """The manifest (worker thread: a dump not kept yet is rendered)."""
    database, cache = service.database, service.dumps
    for _ in range(ATTEMPTS):
        state = cache.state()
        with database.read() as session:
            version = catalogue_version.current(session)
            published = session.scalar(
                select(func.count())
                .select_from(Dataset)
                .where(visible_clause(ANONYMOUS, published_only=True))
            )
        dumps: list[dict[str, Any]] = []
        for dump in DUMPS:
            render = renderer(database, dump, ANONYMOUS, base)
            if state is not None:
                size, sha256 = cache.digest(cache_key(dump, base, ANONYMOUS), state, render)
            else:
                with render_temporary(render) as handle:
                    size, sha256 = file_digest(handle)
            dumps.append(
                {
                    "url": base + dump.path,
                    "mediaType": dump.media_type,
                    "bytes": size,
                    "sha256": sha256,
                }
            )
        with database.read() as session:
            unchanged = catalogue_version.current(session) == version
        after = cache.state()
        if unchanged and (state is None or (after is not None and after.tag == state.tag)):
            return {"version": version, "datasets": published or 0, "dumps": dumps}
    raise CatalogueChanging(
        "The catalogue changed while its dumps were read, again and again: try again shortly"
    )


async def manifest(service: ServiceLike, request: Request) -> Response:
    """The manifest; a key is checked (a wrong one is a 401) and widens nothing: the dumps it
    describes are the open ones."""
    await service.principal(request)
    body = await run_in_threadpool(read_manifest, service, service.base_url(request))
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers={"Cache-Control": "no-cache"},
    )
