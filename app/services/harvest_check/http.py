"""The checks' one HTTP client: every failure to get a usable answer (nothing listening, a
timeout, an unexpected status) becomes an `Unusable` carrying the error finding that says so,
which the check catches and reports; nothing escapes as an exception."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from app.services.harvest_check.findings import Finding, error

USER_AGENT = "Catalogue Desk harvest check"
SNIPPET = 300  # characters of an unexpected answer's body shown in its finding


@dataclass(frozen=True, slots=True)
class Limits:
    """The checks' bounds: a slow or endless server costs at most this much."""

    timeout_s: float = 20.0  # per request
    max_records: int = 100_000  # an OAI-PMH or feed walk stops after this many records
    budget_s: float = 300.0  # and after this long
    examples: int = 5  # ids or nodes named in one finding
    groups: int = 20  # kinds of SHACL result shown, then a count of the rest


DEFAULT_LIMITS = Limits()


class Unusable(Exception):
    """No usable answer; `finding` says why and what to do."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.title)
        self.finding = finding


class Probe:
    """A client of one server, for one run of the checks. `tick` is called before each request,
    for progress and Cancel (it may raise progress.Cancelled); a check that knows how far it is
    says so in `done` (0 to 1)."""

    def __init__(self, url: str, limits: Limits, tick: Callable[[], None] = lambda: None) -> None:
        self.base = url.rstrip("/")
        self.limits = limits
        self.tick = tick
        self.done = 0.0
        self.client = httpx.Client(
            timeout=httpx.Timeout(limits.timeout_s, connect=min(limits.timeout_s, 5.0)),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
        )

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base + path

    def deadline(self) -> float:
        return time.monotonic() + self.limits.budget_s

    def get(
        self,
        path: str,
        what: str,
        *,
        params: dict[str, Any] | None = None,
        expect: tuple[int, ...] = (200,),
        action: str = "",
    ) -> httpx.Response:
        """The answer to `GET path`, whose status is one of `expect`; else Unusable."""
        self.tick()
        url = self.url(path)
        with self._failures(url, what):
            response = self.client.get(url, params=params)
        _expect(response, what, expect, action)
        return response

    def download(self, url: str, what: str, max_bytes: int) -> Download:
        """The byte count and SHA-256 of `GET url`, read as it streams; Unusable if it fails
        or passes `max_bytes`."""
        self.tick()
        digest = hashlib.sha256()
        size = 0
        with self._failures(url, what), self.client.stream("GET", url) as response:
            _expect(response, what, (200,), "")
            # iter_bytes undoes any Content-Encoding: the dump's own bytes, which the
            # manifest describes.
            for chunk in response.iter_bytes():
                size += len(chunk)
                digest.update(chunk)
                if size > max_bytes:
                    raise Unusable(error(f"{what}: larger than {max_bytes:,} bytes", url))
            version = response.headers.get("Last-Modified-Version")
        return Download(size, digest.hexdigest(), version)

    @contextmanager
    def _failures(self, url: str, what: str) -> Iterator[None]:
        try:
            yield
        except httpx.ConnectError as exc:
            raise Unusable(unreachable(self.base, url, exc)) from None
        except httpx.TimeoutException:
            raise Unusable(
                error(
                    f"{what}: no answer within {self.limits.timeout_s:g} s",
                    f"GET {url}",
                    "The server is overloaded or stuck: look at its log, then check again.",
                )
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise Unusable(error(f"{what}: the request failed", f"GET {url}\n{exc}")) from None


@dataclass(frozen=True, slots=True)
class Download:
    bytes: int
    sha256: str
    version: str | None  # its Last-Modified-Version


def _expect(response: httpx.Response, what: str, expect: tuple[int, ...], action: str) -> None:
    if response.status_code in expect:
        return
    response.read()  # a streamed answer's body, for the snippet (a read one is kept)
    raise Unusable(
        error(
            f"{what}: HTTP {response.status_code} {response.reason_phrase}",
            f"GET {response.url}\n{snippet(response)}",
            action or _status_action(response.status_code),
        )
    )


def unreachable(base: str, url: str, exc: Exception) -> Finding:
    parts = httpx.URL(url)
    origin = f"{parts.scheme}://{parts.netloc.decode('ascii')}"
    if url.startswith(base + "/") or url == base:
        return error(
            "Server not reachable",
            f"Nothing answers at {base} ({exc}).",
            "Start the server (the Server tab), or check the address and port.",
        )
    # A link the server wrote (the next page, a dump) leads to its public URL.
    return error(
        f"The server's links lead to {origin}, which does not answer",
        f"GET {url}: {exc}",
        "Harvesters follow these links: check the catalogue's public URL (main.py serve "
        "--public-url) and the proxy in front of the server.",
    )


def snippet(response: httpx.Response) -> str:
    text = response.text.strip()
    return text if len(text) <= SNIPPET else text[:SNIPPET] + "…"


def _status_action(status: int) -> str:
    if status == 404:
        return "This server does not offer it: harvesters that need it cannot read you."
    if status >= 500:
        return "The server failed: its error log says why. Fix it, then check again."
    return "Harvesters get this answer too: look at the request in the server's log."
