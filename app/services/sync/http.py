"""The one HTTP client every portal adapter uses: httpx.AsyncClient with the sync's manners.

How to use it (adapters get one ready-made from the registry; tests and the benchmark may build
their own)::

    async with PortalHttp("https://portal.example", remote="mine",
                          headers={"Authorization": key},
                          options=HttpOptions(concurrency=8)) as http:
        page = await http.get_json("/api/datasets/export.json")
        one = await http.get_json(f"/api/dataset/{ds}", dataset=ds)
        new = await http.send_json("PATCH", f"/api/dataset/{ds}", patch, dataset=ds,
                                   content_type="application/json-patch+json")

What it does for every request:

- at most `concurrency` requests in flight at once (one asyncio.Semaphore), a timeout on each;
- retries with exponential backoff (and jitter) on network errors and 5xx, for idempotent
  requests only (GET/HEAD/PUT/DELETE/OPTIONS, or `idempotent=True`); a request that may have
  been processed (a POST or PATCH whose answer was lost) is never sent twice: it fails with
  PortalUnreachable / PortalServerError and the sync engine resumes from its links instead;
- 429: waits for `Retry-After` (seconds or an HTTP date), else the `reset_time` of the
  Opendatasoft error body (seed 003: `{"errorcode", "reset_time", "limit_time_unit",
  "call_limit", "error"}`), else a backoff; the wait pauses every request of this client (the
  portal is counting all of them): a request checks the pause after it gets its place among
  the `concurrency` in flight, right before it is sent, so one queued behind the 429 waits too;
  and a wait longer than `max_wait` raises RateLimited with
  the portal's message and reset time instead of sleeping for a day. A 429 was not processed,
  so it is retried whatever the method;
- any other 4xx becomes the matching PortalError (401 PortalAuthError, 403 PortalForbidden,
  404 PortalNotFound, 409/412 PortalConflict, others PortalRejected), carrying the portal's own
  error message (DataPress/Catalogue Desk `{"error": {"message"}}`, Opendatasoft `{"error"}`,
  CKAN `{"success": false, "error": {"message"}}`);
- an answer that should be JSON and is not (cut short, garbled, an HTML page answered with 200
  by a proxy or a maintenance page) is retried like a 5xx, for idempotent requests only; after
  the retries `get_json`/`send_json` raise MalformedAnswer (`decode_json` raises it at once).

Every error names the remote, the request (method and URL) and the dataset passed as
`dataset=`. 304 Not Modified is an answer, not an error (conditional GETs).
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

import httpx
import orjson

from app.services.clock import parse_utc
from app.services.sync.adapter import (
    MalformedAnswer,
    PortalAuthError,
    PortalConflict,
    PortalError,
    PortalForbidden,
    PortalNotFound,
    PortalRejected,
    PortalServerError,
    PortalUnreachable,
    RateLimited,
)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT = 30.0
USER_AGENT = "CatalogueDesk-sync/0.1"


@cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for every client, made as httpx makes its default one
    (SSL_CERT_FILE / SSL_CERT_DIR, else certifi): loading the CA bundle costs ~50 ms."""
    return httpx.create_ssl_context()


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """How a PortalHttp behaves; the defaults suit a hosted portal."""

    concurrency: int = DEFAULT_CONCURRENCY  # requests in flight at once
    timeout: float = DEFAULT_TIMEOUT  # seconds per request (connect at most 10)
    retries: int = 4  # network errors and 5xx, idempotent requests only
    rate_limit_retries: int = 20  # 429s in a row before giving up
    backoff: float = 0.25  # first backoff in seconds, doubled each time, jittered
    max_backoff: float = 20.0
    max_wait: float = 120.0  # longest Retry-After / reset_time we sleep through


@dataclass(slots=True)
class HttpStats:
    """Counters of one client's traffic (for tests, the benchmark and the sync summary)."""

    requests: int = 0  # attempts sent, retries included
    retries: int = 0
    rate_limited: int = 0  # 429 answers
    malformed: int = 0  # answers that should have been JSON and were not
    waited: float = 0.0  # seconds spent waiting for Retry-After / backoff


class PortalHttp:
    """An httpx.AsyncClient bound to one portal; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        *,
        remote: str = "",
        headers: Mapping[str, str] | None = None,
        options: HttpOptions | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        options = options or HttpOptions()
        if options.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.remote = remote
        self.options = options
        concurrency = options.concurrency
        timeout = options.timeout
        self.stats = HttpStats()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._paused_until = 0.0  # time.monotonic() before which nothing is sent (429)
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
            verify=_ssl_context(),
            follow_redirects=True,
        )

    @property
    def has_authorization(self) -> bool:
        """Whether requests carry an Authorization header (a key was given)."""
        return "authorization" in self._client.headers

    async def __aenter__(self) -> PortalHttp:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- requests --------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        dataset: str | None = None,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        ok: Collection[int] = (),
    ) -> httpx.Response:
        """Send one request with the retries above; the response (2xx, 304, or a status in
        `ok`), read in full. Raises a PortalError for anything else."""
        response, _ = await self._exchange(
            method,
            path,
            dataset=dataset,
            params=params,
            json=json,
            content=content,
            headers=headers,
            idempotent=idempotent,
            ok=ok,
            decode=False,
        )
        return response

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        dataset: str | None,
        params: Mapping[str, str | int] | None,
        json: Any = None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        idempotent: bool | None,
        ok: Collection[int] = (),
        decode: bool,
        empty_ok: bool = False,
    ) -> tuple[httpx.Response, Any]:
        """`request`, and with `decode` the decoded JSON of a 2xx answer (None for a 304, or an
        empty body where `empty_ok`): an answer that is not JSON is retried like a 5xx."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        if json is not None:
            content = orjson.dumps(json)
            headers = {"Content-Type": "application/json", **(headers or {})}
        failures = 0
        limited = 0
        while True:
            try:
                async with self._semaphore:
                    # Checked once a place is ours, right before sending: a 429 answered
                    # while this request queued pauses it too.
                    await self._wait_for_pause()
                    self.stats.requests += 1
                    response = await self._client.request(
                        method, path, params=params, content=content, headers=headers
                    )
                    await response.aread()
            except httpx.DecodingError as error:
                # A compressed body that does not decompress (gzip cut or garbled on the way):
                # an unreadable answer, as a cut JSON one is.
                self.stats.malformed += 1
                if idempotent and failures < self.options.retries:
                    failures += 1
                    await self._sleep(self._backoff(failures))
                    continue
                raise MalformedAnswer(
                    f"the answer's compressed body cannot be read ({error})",
                    remote=self.remote,
                    method=method,
                    url=self._url(path),
                    dataset=dataset,
                ) from None
            except httpx.TransportError as error:
                sent = not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
                if (idempotent or not sent) and failures < self.options.retries:
                    failures += 1
                    await self._sleep(self._backoff(failures))
                    continue
                raise PortalUnreachable(
                    _network_reason(error),
                    remote=self.remote,
                    method=method,
                    url=self._url(path),
                    dataset=dataset,
                ) from error
            status = response.status_code
            if status < 300 or status == 304 or status in ok:
                if not decode or status >= 300 or (empty_ok and not response.content.strip()):
                    return response, None
                try:
                    return response, self.decode_json(response, dataset=dataset)
                except MalformedAnswer:
                    self.stats.malformed += 1
                    # A proxy's page or a cut answer is as passing as a 5xx; a write whose
                    # answer is unreadable may have landed, so it is not sent twice.
                    if idempotent and failures < self.options.retries:
                        failures += 1
                        await self._sleep(self._backoff(failures))
                        continue
                    raise
            if status == 429:
                self.stats.rate_limited += 1
                wait, body = _rate_limit_wait(response)
                if wait is None:
                    wait = self._backoff(limited + 1)
                if wait > self.options.max_wait or limited >= self.options.rate_limit_retries:
                    limit_error = RateLimited(
                        f"rate limited (429): {_error_message(response)}",
                        remote=self.remote,
                        method=method,
                        url=str(response.request.url),
                        dataset=dataset,
                        status=429,
                    )
                    reset = body.get("reset_time")
                    limit_error.reset_time = reset if isinstance(reset, str) else None
                    raise limit_error
                limited += 1
                self._pause(wait)
                continue
            if status >= 500 and idempotent and failures < self.options.retries:
                failures += 1
                await self._sleep(self._backoff(failures))
                continue
            raise self._status_error(response, method, dataset)

    async def get(
        self,
        path: str,
        *,
        dataset: str | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Collection[int] = (),
    ) -> httpx.Response:
        return await self.request(
            "GET", path, dataset=dataset, params=params, headers=headers, ok=ok
        )

    async def get_json(
        self,
        path: str,
        *,
        dataset: str | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """GET and decode JSON; MalformedAnswer if the body is still not JSON after the
        retries."""
        _, body = await self.get_answer(path, dataset=dataset, params=params, headers=headers)
        return body

    async def get_answer(
        self,
        path: str,
        *,
        dataset: str | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[httpx.Response, Any]:
        """`get_json` for a caller that also needs the response (its headers, a 304: then the
        JSON is None)."""
        return await self._exchange(
            "GET",
            path,
            dataset=dataset,
            params=params,
            content=None,
            headers=headers,
            idempotent=True,
            decode=True,
        )

    async def send_json(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        dataset: str | None = None,
        content_type: str = "application/json",
        idempotent: bool | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        """Send `body` as JSON with `method`; the decoded JSON answer (None for an empty one)."""
        _, answer = await self._exchange(
            method,
            path,
            dataset=dataset,
            params=params,
            content=orjson.dumps(body),
            headers={"Content-Type": content_type},
            idempotent=idempotent,
            decode=True,
            empty_ok=True,
        )
        return answer

    def decode_json(self, response: httpx.Response, *, dataset: str | None = None) -> Any:
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as error:
            raise MalformedAnswer(
                f"the answer is not valid JSON ({error})",
                remote=self.remote,
                method=response.request.method,
                url=str(response.request.url),
                dataset=dataset,
                status=response.status_code,
            ) from None

    def malformed(
        self, reason: str, *, dataset: str | None = None, response: httpx.Response | None = None
    ) -> MalformedAnswer:
        """A MalformedAnswer for an answer whose JSON has the wrong shape (for adapters)."""
        return MalformedAnswer(
            reason,
            remote=self.remote,
            method=response.request.method if response is not None else "",
            url=str(response.request.url) if response is not None else "",
            dataset=dataset,
            status=response.status_code if response is not None else None,
        )

    # -- helpers --------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return path if "://" in path else self.base_url + path

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.options.max_backoff, self.options.backoff * 2.0 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)

    async def _sleep(self, seconds: float) -> None:
        self.stats.retries += 1
        self.stats.waited += seconds
        await asyncio.sleep(seconds)

    def _pause(self, seconds: float) -> None:
        self.stats.retries += 1
        until = time.monotonic() + seconds
        if until > self._paused_until:
            self.stats.waited += until - max(self._paused_until, time.monotonic())
            self._paused_until = until

    async def _wait_for_pause(self) -> None:
        while (delay := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    def _status_error(
        self, response: httpx.Response, method: str, dataset: str | None
    ) -> PortalError:
        status = response.status_code
        kind: type[PortalError]
        if status == 401:
            kind = PortalAuthError
        elif status == 403:
            kind = PortalForbidden
        elif status == 404:
            kind = PortalNotFound
        elif status in (409, 412):
            kind = PortalConflict
        elif status >= 500:
            kind = PortalServerError
        else:
            kind = PortalRejected
        return kind(
            f"{status} {response.reason_phrase}: {_error_message(response)}",
            remote=self.remote,
            method=method,
            url=str(response.request.url),
            dataset=dataset,
            status=status,
        )


def _network_reason(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"no answer in time ({type(error).__name__})"
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect ({error})"
    return f"the connection failed ({type(error).__name__}: {error})"


def _rate_limit_wait(response: httpx.Response) -> tuple[float | None, dict[str, Any]]:
    """Seconds to wait after a 429, from Retry-After or the Opendatasoft body; and the body."""
    body: dict[str, Any] = {}
    try:
        decoded = orjson.loads(response.content)
        if isinstance(decoded, dict):
            body = decoded
    except orjson.JSONDecodeError:
        pass
    header = response.headers.get("retry-after")
    if header is not None:
        header = header.strip()
        if header.isdigit():
            return float(header), body
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds()), body
    reset = body.get("reset_time")
    if isinstance(reset, str):
        try:
            when = parse_utc(reset).replace(tzinfo=UTC)
        except ValueError:
            return None, body
        return max(0.0, (when - datetime.now(UTC)).total_seconds()), body
    return None, body


def _error_message(response: httpx.Response) -> str:
    """The portal's own words for an error, whatever its dialect."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        text = response.text.strip()
        return text[:200] if text else "(no message)"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            if isinstance(message, str):
                return message
        if isinstance(error, str):
            return error
        for key in ("message", "detail"):
            if isinstance(body.get(key), str):
                return str(body[key]) + _field_errors(body.get("fields"))
    return orjson.dumps(body).decode()[:200]


def _field_errors(fields: Any) -> str:
    """Opendatasoft's validation errors by field (`{"fields": {"dataset_id": ["..."]}}`), which
    say what "Invalid payload." was about."""
    if not isinstance(fields, dict) or not fields:
        return ""
    said = [
        f"{name}: {' '.join(str(m) for m in messages) if isinstance(messages, list) else messages}"
        for name, messages in fields.items()
    ]
    return f" ({'; '.join(said)})"
