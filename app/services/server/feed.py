"""The JSON-LD feed of seed 000: pages of DCAT datasets, walked by an opaque cursor.

A page is joined from the datasets' JSON-LD nodes (services.renders.fragment_page) inside
the page document of formats.jsonld. Two things make a harvest fast without ever serving a page
of another catalogue state:

* **Read-ahead.** A harvester asks for a page, parses it, then asks for the next. While it
  parses, the next page is rendered on the feed's own thread, so that its request finds it
  ready. A read-ahead page is served only if nothing was committed since it was rendered;
  otherwise (or if it has not started yet) the request renders the page itself. A walk is
  what reads ahead: the first page, and each page that was itself read ahead, start the next
  one; a page asked for out of the blue (or served from the page cache) starts no work.
* **The page cache** (dump_cache.PageCache): a page rendered a second time under the same
  catalogue state is kept gzipped, so a page asked for often (the first) costs a lookup,
  while a single walk through the feed neither fills the cache nor spends time compressing.

A client that accepts gzip (harvesters built on requests or httpx do by default) gets the page
gzipped where it was rendered, on a worker thread and at a fast level (dump_cache.GZIP_LEVEL),
rather than by the GZip middleware at every request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool

from app.models.database import Database
from app.services import dump_cache, renders
from app.services.cursor import CursorCodec
from app.services.dump_cache import CatalogueState, gzip_bytes
from app.services.formats import jsonld
from app.services.server.dumps import principal_key
from app.services.visibility import Principal

FEED_PATH = "/api/v1/dataset.jsonld"
MAX_AHEAD = 8  # pages read ahead and not yet asked for (a walk needs one; several walkers more)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Everything a page's bytes depend on besides the catalogue state."""

    principal: Principal
    base: str
    token: str | None  # the cursor as the client sent it (None: the first page)
    after_pk: int  # the cursor decoded
    limit: int
    gzip: bool = False  # the client accepts gzip (a representation, not part of the key)

    @property
    def key(self) -> str:
        # The caller's visibility key: callers who may see different rows never share a page.
        who = principal_key(self.principal)
        return f"{FEED_PATH}\n{self.limit}\n{self.token}\n{self.base}\n{who}"


@dataclass(frozen=True, slots=True)
class FeedPage:
    """A page as `Feed.page` returns it: `gzipped` is there for a request that accepts gzip,
    `body` for one that does not (and for a page just rendered)."""

    body: bytes | None
    link_header: str
    next_token: str | None = None
    next_after: int = 0  # next_token decoded
    # The catalogue state it was rendered under, if nothing was committed meanwhile.
    tag: str | None = None
    gzipped: bytes | None = None

    def content(self, gzip: bool) -> tuple[bytes, dict[str, str]]:
        """The bytes to send, and the headers that say how they are encoded."""
        if gzip and self.gzipped is not None:
            return self.gzipped, {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        assert self.body is not None  # Feed.page gives a body to a request without gzip
        return self.body, {"Vary": "Accept-Encoding"}


_NEXT_TOKEN = "next-token"  # a cached page's cursor to the next one (not sent as a header)
_NEXT_AFTER = "next-after"


def _from_cache(cached: dump_cache.CachedPage, body: bytes | None) -> FeedPage:
    """A cached page: inflated (`body`) for a client without gzip, else as it is kept."""
    meta = dict(cached.headers)
    return FeedPage(
        body,
        meta["Link"],
        meta.get(_NEXT_TOKEN),
        int(meta.get(_NEXT_AFTER, "0")),
        gzipped=cached.compressed if body is None else None,
    )


class Feed:
    def __init__(
        self,
        database: Database,
        dumps: dump_cache.DumpCache,
        *,
        page_size: int,
        catalogue: jsonld.CatalogueInfo,
    ) -> None:
        self._database = database
        self._dumps = dumps
        self._page_size = page_size
        self._catalogue = catalogue
        self._fragments = renders.store_for(database)
        self._lock = threading.Lock()
        # Pages a walk is expected to ask for next: their rendering, or None if cached.
        self._ahead: OrderedDict[str, Future[FeedPage] | None] = OrderedDict()
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feed-read-ahead")
        self.served_ahead = 0  # for tests and the benchmark

    async def page(
        self, request: PageRequest, codec: CursorCodec, state: CatalogueState | None
    ) -> tuple[FeedPage, Callable[[], Awaitable[None]] | None]:
        """The page `request` asks for, under catalogue state `state` (None: a catalogue whose
        changes cannot be watched, where nothing is cached or read ahead); and what to call once
        it has been sent, to read the next page ahead. (Not before: rendering competes with
        sending for the interpreter, and the harvester reads the page meanwhile anyway.)"""
        if state is None:
            return await run_in_threadpool(self._render, request, codec, None), None
        key = request.key
        predicted, ahead = self._take_ahead(key)
        cached = self._dumps.pages.get(key, state)
        if cached is not None:
            if ahead is not None:
                ahead.cancel()
            inflated = None if request.gzip else self._dumps.pages.body(key, cached)
            page = _from_cache(cached, inflated)
        else:
            ready = await self._read_ahead_result(ahead, state)
            if ready is None:
                page = await run_in_threadpool(self._render, request, codec, state)
            else:
                page = ready
            if request.gzip and page.gzipped is None and page.body is not None:
                # Read ahead for a walker that did not accept gzip.
                gzipped = await run_in_threadpool(gzip_bytes, page.body)
                page = dataclasses.replace(page, gzipped=gzipped)
            self._keep(key, page)
        # A walk reads ahead: from the first page, and from each page it was expected to ask for.
        if page.next_token is None or not (predicted or request.token is None):
            return page, None
        following = PageRequest(
            request.principal,
            request.base,
            page.next_token,
            page.next_after,
            request.limit,
            request.gzip,
        )
        return page, functools.partial(self._read_ahead, following, codec, state)

    def _keep(self, key: str, page: FeedPage) -> None:
        """Into the page cache if this is the page's second rendering under its state."""
        if page.tag is None or page.body is None:
            return
        if not self._dumps.pages.seen_before(key, page.tag):
            return
        meta = [("Link", page.link_header)]
        if page.next_token is not None:
            meta += [(_NEXT_TOKEN, page.next_token), (_NEXT_AFTER, str(page.next_after))]
        self._dumps.pages.keep(
            key, page.tag, page.body, tuple(meta), self._dumps.state, page.gzipped
        )

    def close(self) -> None:
        self._reader.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._ahead.clear()

    # -- read-ahead ------------------------------------------------------------------------------

    def _take_ahead(self, key: str) -> tuple[bool, Future[FeedPage] | None]:
        """Whether a walk was expected to ask for `key`, and its rendering if one was started."""
        with self._lock:
            if key not in self._ahead:
                return False, None
            return True, self._ahead.pop(key)

    async def _read_ahead_result(
        self, future: Future[FeedPage] | None, state: CatalogueState
    ) -> FeedPage | None:
        """The page read ahead, if it can be served under `state`."""
        if future is None or future.cancel():  # not started: rendering it here is as quick
            return None
        try:
            page = await asyncio.wrap_future(future)
        except Exception:  # the request renders the page itself, and reports what fails
            return None
        if page.tag != state.tag:  # something was committed since: not served
            return None
        self.served_ahead += 1
        return page

    def ready_ahead(self) -> int:
        """Pages read ahead and waiting to be asked for."""
        with self._lock:
            return sum(f is not None and f.done() for f in self._ahead.values())

    async def _read_ahead(
        self, request: PageRequest, codec: CursorCodec, state: CatalogueState
    ) -> None:
        """Start rendering `request`'s page on the read-ahead thread (async only so that the
        response's background task runs it on the loop: it does not block)."""
        key = request.key
        with self._lock:
            if key in self._ahead:
                return
            while len(self._ahead) >= MAX_AHEAD:
                _key, oldest = self._ahead.popitem(last=False)
                if oldest is not None:
                    oldest.cancel()
            if self._dumps.pages.holds(key, state):
                self._ahead[key] = None  # expected, and nothing to render: the walk goes on
                return
            try:
                self._ahead[key] = self._reader.submit(self._render, request, codec, state)
            except RuntimeError:  # closed: the server is stopping
                return

    # -- rendering ---------------------------------------------------------------------------------

    def _render(
        self, request: PageRequest, codec: CursorCodec, state: CatalogueState | None
    ) -> FeedPage:
        """Render a page in this (worker) thread with a session of its own."""
        with self._database.read() as session:
            page = renders.fragment_page(
                session,
                request.principal,
                renders.Fragment.JSONLD_NODE,
                base_url=request.base,
                after_pk=request.after_pk,
                limit=request.limit + 1,
                published_only=True,
                store=self._fragments,
                tag=state.tag if state is not None else None,
            )
        next_token = next_url = None
        next_after = 0
        shown = page.selected
        if len(shown) > request.limit:
            shown = shown[: request.limit]
            next_after = shown[-1]
            next_token = codec.encode(next_after)
            next_url = self.url(request.base, request.limit, next_token)
        first_url = self.url(request.base, request.limit, None)
        body = b"".join(
            jsonld.page_document(
                page.ordered(shown),
                base_url=request.base,
                page_url=self.url(request.base, request.limit, request.token),
                first_url=first_url,
                next_url=next_url,
                catalogue=self._catalogue,
            )
        )
        links = [f'<{first_url}>; rel="first"']
        if next_url is not None:
            links.append(f'<{next_url}>; rel="next"')
        # Kept or served ahead only if nothing was committed while the page was read.
        tag = state.tag if state is not None else None
        now = self._dumps.state()
        return FeedPage(
            body,
            ", ".join(links),
            next_token,
            next_after,
            tag if now and now.tag == tag else None,
            gzip_bytes(body) if request.gzip else None,
        )

    def url(self, base: str, limit: int, after: str | None) -> str:
        params: dict[str, str] = {}
        if after is not None:
            params["after"] = after
        if limit != self._page_size:
            params["limit"] = str(limit)
        query = urlencode(params)
        return f"{base}{FEED_PATH}" + (f"?{query}" if query else "")
