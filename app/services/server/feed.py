"""The JSON-LD feed of seed 000: pages of DCAT datasets, walked by an opaque cursor.

A page is the datasets' JSON-LD nodes (services.renders keeps them rendered) joined inside the
page document of formats.jsonld. What makes a harvest fast, without extra threads and without
ever serving a page of another catalogue state:

* **The selection.** Which datasets a caller sees, by pk with their versions, is read once per
  catalogue state (one query for the whole catalogue) and kept while nothing is committed. A
  page is then a slice of it (a bisection on the cursor), its kept fragments and a join: a
  fraction of a millisecond, done on the event loop, where a query per page, a worker thread
  and a thread switch cost more than the page itself (and much more on a busy machine, where
  a thread waits for a core). A commit makes the next request read the selection again.
* **Gzipped pages** are kept (dump_cache.PageCache) by what they show: the request and the
  (pk, version) pairs of its slice, not the catalogue state, so an edit costs the page it is
  on, and every other page of a walk is sent as it was compressed. A client that does not
  accept gzip gets the page joined again: that costs less than inflating a kept one.

A client that accepts gzip (harvesters built on requests or httpx do by default) gets the page
gzipped here, at a fast level (dump_cache.GZIP_LEVEL), once per content, rather than by the
GZip middleware at every request. The cursor is a pk: a walk during edits sees each dataset
visible throughout exactly once (pages are slices past the cursor, each of one state).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import threading
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import Select, select
from starlette.concurrency import run_in_threadpool

from app.models import Dataset
from app.models.database import Database
from app.services import catalogue_version, dump_cache, renders
from app.services.catalogue_version import Since
from app.services.clock import today_iso
from app.services.cursor import CursorCodec
from app.services.dump_cache import CatalogueState, gzip_bytes
from app.services.formats import jsonld
from app.services.server.dumps import principal_key
from app.services.server.warmer import FeedWarmer
from app.services.visibility import Principal, visible_clause

FEED_PATH = "/api/v1/dataset.jsonld"
MAX_SELECTIONS = 8  # callers whose selection is kept (anonymous harvesters share one)
PLAIN_BYTES = 32 * 1024 * 1024  # pages kept as they are for clients that do not accept gzip


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Everything a page's bytes depend on besides the catalogue state."""

    principal: Principal
    base: str
    token: str | None  # the cursor as the client sent it (None: the first page)
    after_pk: int  # the cursor decoded
    limit: int
    gzip: bool = False  # the client accepts gzip (a representation, not part of the key)
    # An incremental feed: only what changed after this point (services.catalogue_version),
    # and the parameters that asked for it, which every link of the page carries on.
    since: Since | None = None
    echo: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        # The caller's visibility key: callers who may see different rows never share a page.
        who = principal_key(self.principal)
        echo = urlencode(self.echo)
        return f"{FEED_PATH}\n{self.limit}\n{self.token}\n{self.base}\n{who}\n{echo}"


@dataclass(frozen=True, slots=True)
class FeedPage:
    """A page as `Feed.page` returns it: `gzipped` is there for a request that accepts gzip,
    `body` for one that does not (and for a page just rendered)."""

    body: bytes | None
    link_header: str
    next_token: str | None = None
    next_after: int = 0  # next_token decoded
    gzipped: bytes | None = None

    def content(self, gzip: bool) -> tuple[bytes, dict[str, str]]:
        """The bytes to send, and the headers that say how they are encoded."""
        if gzip and self.gzipped is not None:
            return self.gzipped, {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        assert self.body is not None  # Feed.page gives a body to a request without gzip
        return self.body, {"Vary": "Accept-Encoding"}


# Gzipped pages are kept by what they show (`_content_key`): such a key holds in every catalogue
# state, so an edit leaves the other pages kept. The page cache keeps them under this one state.
_ANY_STATE = CatalogueState("content", 0)


def _content_key(request: PageRequest, signature: bytes, more: bool, stamp: str) -> str:
    """Everything a page's bytes depend on: the request, the datasets' (pk, version) pairs
    (a version names one content of a dataset's rows), whether a page follows, and the
    context stamp (the titles the nodes show; services.renders)."""
    digest = hashlib.blake2b(signature, digest_size=16).hexdigest()
    return f"{request.key}\n{stamp}\n{more}\n{digest}"


@dataclass(frozen=True, slots=True)
class _Selection:
    """The datasets one caller sees under one catalogue state: pks ascending, their versions."""

    tag: str
    pks: array[int]
    versions: array[int]

    def after(self, after_pk: int, limit: int) -> tuple[list[tuple[int, int]], bool, bytes]:
        """Up to `limit` (pk, version) pairs past `after_pk`, whether more follow, and the
        pairs as bytes (for `_content_key`)."""
        start = bisect_right(self.pks, after_pk)
        end = min(start + limit, len(self.pks))
        pks, versions = self.pks[start:end], self.versions[start:end]
        wanted = list(zip(pks, versions, strict=True))
        return wanted, end < len(self.pks), pks.tobytes() + versions.tobytes()


_Wanted = tuple[Principal, Since | None]  # whose selection, and since when


@functools.lru_cache(maxsize=64)
def _selection_statement(principal: Principal, today: str) -> Select[int, int]:
    """Everything `principal` may harvest (published, visible, out of embargo), by pk."""
    return (
        select(Dataset.pk, Dataset.version)
        .where(visible_clause(principal, today, published_only=True))
        .order_by(Dataset.pk)
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
        # What changed rendered before a harvester asks (server.warmer); started with the app.
        self.warmer = FeedWarmer(database, dumps, self._fragments)
        self._lock = threading.Lock()
        self._selecting = threading.Lock()  # one selection query at a time
        self._selections: OrderedDict[_Wanted, _Selection] = OrderedDict()
        self.selections_read = 0  # for tests and the benchmark
        # Pages last sent to clients that do not accept gzip, by _content_key.
        self._plain: OrderedDict[str, FeedPage] = OrderedDict()
        self._plain_size = 0

    async def page(
        self, request: PageRequest, codec: CursorCodec, state: CatalogueState | None
    ) -> FeedPage:
        """The page `request` asks for, under catalogue state `state` (None: a catalogue whose
        changes cannot be watched, where nothing is cached)."""
        self.warmer.base = request.base
        wanted_set = (request.principal, request.since)
        if state is None:
            if request.since is None:
                return await run_in_threadpool(self._render, request, codec)
            # What changed is one indexed query: read it for this request alone.
            changed = await run_in_threadpool(self._select, wanted_set, None)
            wanted, more, _ = changed.after(request.after_pk, request.limit)
            return await run_in_threadpool(self._sliced, request, codec, wanted, more)
        # One query over the catalogue (or what changed) when none is kept: off the event loop.
        selection = self._kept_selection(wanted_set, state)
        if selection is None:
            selection = await run_in_threadpool(self._select, wanted_set, state)
        wanted, more, signature = selection.after(request.after_pk, request.limit)
        stamp = self._fragments.kept_stamp(state.tag)
        if stamp is None:  # computed once per state: no session for the requests that follow
            with self._database.read() as session:
                stamp = self._fragments.stamp(session, state.tag)
        key = _content_key(request, signature, more, stamp)
        render = functools.partial(self._slice, request, codec, state, wanted, more)
        if not request.gzip:
            return self._plain_page(key, render)
        pages = self._dumps.pages
        cached = pages.get(key, _ANY_STATE)
        if cached is not None:
            return FeedPage(None, dict(cached.headers)["Link"], gzipped=cached.compressed)
        page = render()
        assert page.body is not None
        # zlib lets go of the interpreter: the loop serves others meanwhile.
        gzipped = await run_in_threadpool(gzip_bytes, page.body)
        kept = dump_cache.CachedPage(_ANY_STATE.tag, gzipped, (("Link", page.link_header),))
        pages.put(key, kept, _ANY_STATE)
        return dataclasses.replace(page, gzipped=gzipped)

    def _plain_page(self, key: str, render: Callable[[], FeedPage]) -> FeedPage:
        """The page for a client that does not accept gzip: the last few megabytes of them are
        kept as they are (a page asked for again costs a lookup), the others joined again from
        the fragments, which costs less than inflating a kept gzipped page."""
        with self._lock:
            kept = self._plain.get(key)
            if kept is not None:
                self._plain.move_to_end(key)
                return kept
        page = render()
        size = len(page.body or b"")
        if size > PLAIN_BYTES // 4:
            return page
        with self._lock:
            if key not in self._plain:
                self._plain[key] = page
                self._plain_size += size
            while self._plain_size > PLAIN_BYTES:
                _key, dropped = self._plain.popitem(last=False)
                self._plain_size -= len(dropped.body or b"")
        return page

    def close(self) -> None:
        self.warmer.stop()
        with self._lock:
            self._selections.clear()
            self._plain.clear()
            self._plain_size = 0

    # -- the selection ---------------------------------------------------------------------------

    def _kept_selection(self, wanted: _Wanted, state: CatalogueState) -> _Selection | None:
        with self._lock:
            kept = self._selections.get(wanted)
            if kept is None or kept.tag != state.tag:
                return None
            self._selections.move_to_end(wanted)
            return kept

    def _select(self, wanted: _Wanted, state: CatalogueState | None) -> _Selection:
        """Read what a caller sees (in a worker thread) and keep it, unless something was
        committed meanwhile (then it serves this request only: it may be of a later state),
        or the state is not known (None: kept for nobody)."""
        with self._selecting:
            if state is not None:
                kept = self._kept_selection(wanted, state)  # read by a request that went first
                if kept is not None:
                    return kept
            principal, since = wanted
            today = today_iso()
            if since is None:
                statement, params = _selection_statement(principal, today), {}
            else:
                statement = catalogue_version.changed_statement(today)
                params = catalogue_version.since_params(since)
            with self._database.read() as session:
                result = session.connection().execute(statement, params)
                # Two integers a row, as the driver gives them: SQLAlchemy's Row objects cost
                # as much again as the query (100,000 rows).
                rows = result.cursor.fetchall()
                result.close()
            self.selections_read += 1
            selection = _Selection(
                state.tag if state is not None else "",
                array("q", [r[0] for r in rows]),
                array("q", [r[1] for r in rows]),
            )
            now = self._dumps.state()
            if state is not None and now is not None and now.tag == state.tag:
                with self._lock:
                    self._selections[wanted] = selection
                    self._selections.move_to_end(wanted)
                    while len(self._selections) > MAX_SELECTIONS:
                        self._selections.popitem(last=False)
            return selection

    # -- rendering ---------------------------------------------------------------------------------

    def _slice(
        self,
        request: PageRequest,
        codec: CursorCodec,
        state: CatalogueState,
        wanted: list[tuple[int, int]],
        more: bool,
    ) -> FeedPage:
        """The page of the `wanted` (pk, version) pairs from the kept fragments (those missing
        are rendered); `more`: whether a page follows."""
        pks = [pk for pk, _ in wanted]
        nodes = self._fragments.kept_page(wanted, base_url=request.base, tag=state.tag)
        if nodes is None:  # some to render: a session (opening one costs more than the page)
            with self._database.read() as session:
                parts = self._fragments.fragments(
                    session,
                    renders.Fragment.JSONLD_NODE,
                    wanted,
                    base_url=request.base,
                    tag=state.tag,
                )
            nodes = jsonld.page_nodes(parts[pk] for pk in pks if pk in parts)
        return self._document(request, codec, nodes, pks[-1] if more else None)

    def _sliced(
        self, request: PageRequest, codec: CursorCodec, wanted: list[tuple[int, int]], more: bool
    ) -> FeedPage:
        """As `_slice`, in a catalogue whose state is not known (worker thread)."""
        with self._database.read() as session:
            parts = self._fragments.fragments(
                session, renders.Fragment.JSONLD_NODE, wanted, base_url=request.base
            )
        pks = [pk for pk, _ in wanted]
        nodes = jsonld.page_nodes(parts[pk] for pk in pks if pk in parts)
        rendered = self._document(request, codec, nodes, pks[-1] if more else None)
        if request.gzip and rendered.body is not None:
            rendered = dataclasses.replace(rendered, gzipped=gzip_bytes(rendered.body))
        return rendered

    def _render(self, request: PageRequest, codec: CursorCodec) -> FeedPage:
        """A page of a catalogue whose state is not known: one query of its own (worker thread)."""
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
            )
        shown = page.selected[: request.limit]
        more = len(page.selected) > request.limit
        nodes = jsonld.page_nodes(page.ordered(shown))
        rendered = self._document(request, codec, nodes, shown[-1] if more else None)
        if request.gzip and rendered.body is not None:
            rendered = dataclasses.replace(rendered, gzipped=gzip_bytes(rendered.body))
        return rendered

    def _document(
        self,
        request: PageRequest,
        codec: CursorCodec,
        nodes: jsonld.PageNodes,
        next_after: int | None,
    ) -> FeedPage:
        """The page document around `nodes`, with its links (`next_after`: the cursor's pk to
        the following page, None on the last)."""
        next_token = next_url = None
        if next_after is not None:
            next_token = codec.encode(next_after)
            next_url = self.url(request.base, request.limit, next_token, request.echo)
        first_url = self.url(request.base, request.limit, None, request.echo)
        body = jsonld.page_bytes(
            nodes,
            base_url=request.base,
            page_url=self.url(request.base, request.limit, request.token, request.echo),
            first_url=first_url,
            next_url=next_url,
            catalogue=self._catalogue,
        )
        links = [f'<{first_url}>; rel="first"']
        if next_url is not None:
            links.append(f'<{next_url}>; rel="next"')
        return FeedPage(body, ", ".join(links), next_token, next_after or 0)

    def url(
        self, base: str, limit: int, after: str | None, echo: tuple[tuple[str, str], ...] = ()
    ) -> str:
        params: dict[str, str] = dict(echo)
        if after is not None:
            params["after"] = after
        if limit != self._page_size:
            params["limit"] = str(limit)
        query = urlencode(params)
        return f"{base}{FEED_PATH}" + (f"?{query}" if query else "")
