"""Content codings: whether a client accepts gzip, and the GZip middleware that asks that.

Starlette's GZipMiddleware looks for "gzip" anywhere in Accept-Encoding, so it compresses for a
client that sent "gzip;q=0", which RFC 9110 (12.5.3) makes a refusal. The JSON-LD feed gzips
its own pages (server.feed) and must decide the same way as the middleware does for the rest.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware as StarletteGZip
from starlette.types import Receive, Scope, Send


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header admits gzip (a q of 0 refuses it)."""
    for item in accept_encoding.split(","):
        coding, _, parameters = item.partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        weight = parameters.strip().lower()
        if not weight.startswith("q="):
            return True
        try:
            return float(weight[2:]) > 0
        except ValueError:
            return False
    return False


class GZipMiddleware(StarletteGZip):
    """Starlette's, for the clients `accepts_gzip` says accept it; the others pass straight
    through."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not accepts_gzip(
            Headers(scope=scope).get("accept-encoding", "")
        ):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
