"""Content codings: whether a client accepts gzip, read once for every endpoint, and the GZip
middleware that asks that.

RFC 9110 12.5.3: Accept-Encoding is a list of codings, compared case-insensitively, each with
an optional weight `q` among its parameters (`gzip;level=1;q=0` refuses gzip: q=0 means "not
acceptable"); `*` stands for any coding not listed by name, so `*;q=0.5, gzip;q=0` refuses gzip
and `*` alone accepts it; `x-gzip` is gzip. Starlette's GZipMiddleware looks for the text
"gzip" anywhere in the header instead, so it compressed for `gzip;q=0` and not for `*` or
`GZIP`, while the dumps and the feed, which gzip their own kept renderings, read the header
otherwise. Both now decide by `accepts_gzip`.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.gzip import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    GZipResponder,
    IdentityResponder,
)
from starlette.middleware.gzip import GZipMiddleware as StarletteGZip
from starlette.types import ASGIApp, Receive, Scope, Send

_GZIP = ("gzip", "x-gzip")


def _weight(parameters: list[str]) -> float | None:
    """The q of one coding's parameters (1 without one); None for a malformed q."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "q":
            continue
        text = value.strip()
        # qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
        head, _, decimals = text.partition(".")
        if head not in ("0", "1") or len(decimals) > 3 or not (decimals.isdigit() or not decimals):
            return None
        weight = float(text)
        return weight if weight <= 1 else None
    return 1.0


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header admits gzip (RFC 9110 12.5.3; see the module)."""
    named: float | None = None
    anything: float | None = None
    for item in accept_encoding.split(","):
        coding, *parameters = item.split(";")
        coding = coding.strip().lower()
        if coding not in (*_GZIP, "*"):
            continue
        weight = _weight(parameters)
        if weight is None:  # a malformed weight: the element is ignored
            continue
        if coding == "*":
            anything = weight if anything is None else max(anything, weight)
        else:
            named = weight if named is None else max(named, weight)
    chosen = named if named is not None else anything
    return chosen is not None and chosen > 0


# Already compressed: gzipping them again costs time for nothing.
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class GZipMiddleware(StarletteGZip):
    """Starlette's, deciding by `accepts_gzip` rather than by a substring of the header."""

    def __init__(self, app: ASGIApp, minimum_size: int = 500, compresslevel: int = 9) -> None:
        super().__init__(
            app,
            minimum_size,
            compresslevel,
            exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, XLSX_TYPE),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        responder: ASGIApp
        if accepts_gzip(Headers(scope=scope).get("accept-encoding", "")):
            responder = GZipResponder(
                self.app,
                self.minimum_size,
                compresslevel=self.compresslevel,
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=self.exclude_content_types,
            )
        else:
            responder = IdentityResponder(
                self.app, self.minimum_size, exclude_content_types=self.exclude_content_types
            )
        await responder(scope, receive, send)
