"""Per-caller API quotas, as an Opendatasoft portal counts them (seed 003, "Quotas" and
"Errors handling").

Who is counted: a request that presents an API key (`Authorization: Apikey KEY`, `Bearer KEY`
or the bare key, as services.api_keys.parse_authorization reads it, else `?apikey=KEY`) counts
against that key, by its SHA-256 (api_keys.hash_key: the raw key is never kept); any other
request counts against its client address (ASGI's `client`, which uvicorn takes from
X-Forwarded-For only for the proxies `--forwarded-allow-ips` names). The key is not checked
here (that would read the database for every call, refused ones included): a wrong key is
counted under its own hash, and the endpoint that reads it answers 401.

What is counted: every HTTP request the app answers, whatever its path (the web pages, the
dumps, /oai and /api/*) and whatever its answer; a CORS preflight is answered before it gets
here and is not. Windows are fixed and aligned to the UTC period (`day`, `hour`, `minute`): a
caller's calls restart at 0 at midnight UTC, not a day after its first call.

Every answer of a counted request carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
`X-RateLimit-Reset` (the Unix second the window ends). The call past the limit is answered here
with the seed's 429 body, without running a handler (nothing is read from the database) and
without Retry-After: the body's `reset_time` says when, as the portal's does.

Memory is bounded: the table of callers is emptied when a window ends, and holds at most
MAX_CALLERS of them; past that, the callers it has not seen this window share one bucket per
kind (anonymous, keyed), so a flood of new addresses or invented keys exhausts that shared
bucket rather than the memory.

Off by default when the server listens on loopback, on by default anywhere else
(`quotas_for`). This module imports nothing heavy: `main.py serve --help` reads its defaults.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from app.services.server.runner import is_loopback

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

PERIODS: dict[str, int] = {"day": 86_400, "hour": 3_600, "minute": 60}  # seconds, UTC-aligned
DEFAULT_PERIOD = "day"
DEFAULT_ANONYMOUS_LIMIT = 1_000  # the seed's examples: 1000 anonymous calls a day
DEFAULT_KEY_LIMIT = 10_000  # and 10000 for a key
MAX_CALLERS = 100_000

LIMIT_HEADER = "X-RateLimit-Limit"
REMAINING_HEADER = "X-RateLimit-Remaining"
RESET_HEADER = "X-RateLimit-Reset"
HEADERS = (LIMIT_HEADER, REMAINING_HEADER, RESET_HEADER)

ANONYMOUS_ERROR = (10005, "You have exceeded the requests limit for anonymous users.")
KEY_ERROR = (10002, "Too many requests on the domain. Please contact the domain administrator.")

_ANONYMOUS = "a:"  # bucket prefixes: a client address, or a key's hash
_KEYED = "k:"
_SHARED = "*"  # the bucket of the callers past MAX_CALLERS


@dataclass(frozen=True, slots=True)
class QuotaSettings:
    """Calls a period per anonymous client address and per API key; `clock` is Unix seconds
    (tests move it)."""

    anonymous_limit: int = DEFAULT_ANONYMOUS_LIMIT
    key_limit: int = DEFAULT_KEY_LIMIT
    period: str = DEFAULT_PERIOD
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}")
        # 0 is allowed: `anonymous_limit=0` serves API keys only.
        if self.anonymous_limit < 0 or self.key_limit < 0:
            raise ValueError("quota limits must be 0 or more")


def quotas_for(
    host: str, settings: QuotaSettings | None = None, *, enabled: bool | None = None
) -> QuotaSettings | None:
    """The quotas of a server listening on `host`: `settings` (default: QuotaSettings()) when
    `enabled`, none when not; by default on unless `host` is loopback."""
    on = not is_loopback(host) if enabled is None else enabled
    return (settings or QuotaSettings()) if on else None


@dataclass(frozen=True, slots=True)
class Tally:
    """One counted call: the caller's calls this window, this one included."""

    keyed: bool
    limit: int
    calls: int
    reset: int  # Unix seconds: the end of the window
    period: str

    @property
    def refused(self) -> bool:
        return self.calls > self.limit

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (LIMIT_HEADER.lower().encode(), str(self.limit).encode()),
            (REMAINING_HEADER.lower().encode(), str(max(0, self.limit - self.calls)).encode()),
            (RESET_HEADER.lower().encode(), str(self.reset).encode()),
        ]

    def error_body(self) -> dict[str, Any]:
        """The seed's 429 body."""
        code, message = KEY_ERROR if self.keyed else ANONYMOUS_ERROR
        ends = datetime.fromtimestamp(self.reset, UTC).replace(tzinfo=None)
        return {
            "errorcode": code,
            "reset_time": ends.isoformat(timespec="seconds") + "Z",
            "limit_time_unit": self.period,
            "call_limit": self.limit,
            "error": message,
        }


class QuotaCounter:
    """Calls per caller in the current window; thread-safe (a lock around a dict)."""

    def __init__(self, settings: QuotaSettings, max_callers: int = MAX_CALLERS) -> None:
        self.settings = settings
        self.max_callers = max_callers
        self._lock = threading.Lock()
        self._window_end = 0
        self._calls: dict[str, int] = {}

    def count(self, client: str | None, key: str | None) -> Tally:
        """Count a call by `key` (a presented API key) or, without one, from `client` (an
        address)."""
        settings = self.settings
        if key:
            from app.services.api_keys import hash_key  # loaded with the app, not for --help

            caller, limit = _KEYED + hash_key(key), settings.key_limit
        else:
            caller, limit = _ANONYMOUS + (client or ""), settings.anonymous_limit
        length = PERIODS[settings.period]
        end = (math.floor(settings.clock() / length) + 1) * length
        with self._lock:
            if end != self._window_end:  # a new window (or the clock went back): start again
                self._calls.clear()
                self._window_end = end
            if caller not in self._calls and len(self._calls) >= self.max_callers:
                caller = caller[:2] + _SHARED
            calls = self._calls.get(caller, 0) + 1
            self._calls[caller] = calls
        return Tally(bool(key), limit, calls, end, settings.period)

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)


class QuotaMiddleware:
    """Counts each HTTP request against its caller's quota (module docstring); with no
    settings, passes everything through untouched."""

    def __init__(self, app: ASGIApp, settings: QuotaSettings | None = None) -> None:
        self.app = app
        self.counter = QuotaCounter(settings) if settings is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.counter is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        tally = self.counter.count(client[0] if client else None, presented_key(scope))
        headers = tally.headers()
        if tally.refused:
            body = json.dumps(tally.error_body()).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        *headers,
                    ],
                }
            )
            # The body for HEAD too, as every answer here: the ASGI server does not send it.
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_quota(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_quota)


def presented_key(scope: Scope) -> str | None:
    """The API key a request presents: its Authorization header, else `?apikey=`."""
    from app.services.api_keys import parse_authorization  # (as in QuotaCounter.count)

    header = next((v for n, v in scope.get("headers") or () if n == b"authorization"), b"")
    key = parse_authorization(bytes(header).decode("latin-1"))  # the first, as Starlette reads
    if key:
        return key
    query: str = scope.get("query_string", b"").decode("latin-1")
    if "apikey=" in query:
        for name, text in parse_qsl(query, keep_blank_values=True):
            if name == "apikey" and text.strip():
                return text.strip()
    return None


# -- the OpenAPI document (scripts/update_openapi.py writes these into resources/openapi.json) --

QUOTA_RESPONSE = "QuotaExceeded"
QUOTA_SCHEMA = "QuotaError"


def openapi_components() -> dict[str, dict[str, Any]]:
    """The quota's headers, its 429 body and answer, by components section."""
    integer = {"type": "integer", "minimum": 0}
    headers = {
        LIMIT_HEADER: "Calls a period this caller may make (quotas on)",
        REMAINING_HEADER: "Calls left to this caller in the current period (quotas on)",
        RESET_HEADER: "When the current period ends, in Unix seconds (quotas on)",
    }
    return {
        "headers": {
            name: {"description": text, "required": True, "schema": integer}
            for name, text in headers.items()
        },
        "schemas": {
            QUOTA_SCHEMA: {
                "type": "object",
                "description": "Seed 003's quota error: 10005 for an anonymous caller (counted "
                "by client address), 10002 for an API key",
                "required": ["errorcode", "reset_time", "limit_time_unit", "call_limit", "error"],
                "additionalProperties": False,
                "properties": {
                    "errorcode": {"enum": [ANONYMOUS_ERROR[0], KEY_ERROR[0]]},
                    "reset_time": {"type": "string", "format": "date-time"},
                    "limit_time_unit": {"enum": list(PERIODS)},
                    "call_limit": integer,
                    "error": {"enum": [ANONYMOUS_ERROR[1], KEY_ERROR[1]]},
                },
            }
        },
        "responses": {
            QUOTA_RESPONSE: {
                "description": "The caller's quota for the period is spent (quotas on): no "
                "call is served until reset_time",
                "headers": {name: {"$ref": f"#/components/headers/{name}"} for name in HEADERS},
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{QUOTA_SCHEMA}"}}
                },
            }
        },
    }


def with_quota_answer(path_item: dict[str, Any]) -> dict[str, Any]:
    """`path_item` with the quota's 429 among the responses of each of its operations."""
    answer = {"$ref": f"#/components/responses/{QUOTA_RESPONSE}"}
    item = dict(path_item)
    for method, operation in path_item.items():
        if isinstance(operation, dict) and "responses" in operation:
            item[method] = {**operation, "responses": {**operation["responses"]}}
            item[method]["responses"].setdefault("429", answer)
    return item
