"""`/oai`: the OAI-PMH 2.0 endpoint (services.oai). GET with a query, or POST with an
application/x-www-form-urlencoded body, as the protocol allows (section 3.1.1); every answer,
protocol errors included, is HTTP 200 text/xml. The request runs in the server's worker pool
under the request's limits, like every other read (server.limits)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.models.database import Database
from app.services.oai.provider import OaiProvider, RepositoryInfo
from app.services.oai.writer import CONTENT_TYPE

OAI_PATH = "/oai"
MAX_FORM_BYTES = 64 * 1024
FORM = "application/x-www-form-urlencoded"


class OaiRoute:
    def __init__(
        self,
        database: Database,
        base_url: Callable[[Request], str],
        info: RepositoryInfo,
        page_size: int,
    ) -> None:
        self.provider = OaiProvider(database, info, page_size)
        self.base_url = base_url  # the server's: the setting, never the Host header

    async def handle(self, request: Request) -> Response:
        if request.method == "POST":
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != FORM:
                raise HTTPException(415, f"POST to {OAI_PATH} takes {FORM}")
            body = await request.body()
            if len(body) > MAX_FORM_BYTES:
                raise HTTPException(413, "The form is too large")
            try:
                pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                raise HTTPException(400, "The form is not UTF-8") from None
        else:
            pairs = list(request.query_params.multi_items())
        base = self.base_url(request)
        content = await run_in_threadpool(self.provider.respond, pairs, base)
        return Response(content, media_type=CONTENT_TYPE)
