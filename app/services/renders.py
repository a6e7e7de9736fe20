"""Each dataset's export fragments, rendered once and reused by every dump: derived data kept
outside the catalogue.

A bulk dump is the same few bytes per dataset over and over: its CSV line, its JSON-LD node,
its export.json object. They are rendered by the format's serializer (`Fragment.render`) the
first time a dump or a feed page needs them and kept in a `FragmentStore`: per fragment kind and
base URL, an anonymous temporary file the fragments are appended to and an index from a
dataset's pk to where its fragment is. A dump then selects the visible datasets' (pk, version)
through visibility.visible_clause, reads their fragments and renders only the missing ones.

What a fragment's bytes depend on, and so what keys it (nothing else needs invalidating):

- the dataset's own rows (dataset, resources, links): every write of them goes through
  services.datasets, which bumps `Dataset.version`, and pks are never reused (AUTOINCREMENT;
  a PostgreSQL sequence), so (pk, version) names one content;
- the titles of the topics, mastheads and teams it refers to: `context_stamp` hashes those
  lists, and a shelf rendered under another stamp is dropped whole;
- the fragment kind and the base URL: one shelf each (at most MAX_SHELVES, least recently used
  dropped first), so no placeholder is ever substituted.

The store also subscribes to services.changes: a committed write in this process forgets the
written datasets' fragments at once (their space is counted as garbage; a shelf that is mostly
garbage is dropped and refilled). Writes in other processes are caught by the version check.

Which datasets a caller sees is decided by visibility.visible_clause alone; fragments hold
content, never access.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import os
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from itertools import chain
from pathlib import Path

from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.orm import Session

from app.models import Dataset, Masthead, Team, Topic
from app.models.database import Database
from app.services import changes, export_query, scratch
from app.services.clock import today_iso
from app.services.export_query import DatasetRow, DatasetSummary
from app.services.formats import csv_format, datapress_json, jsonld, oai_dc, rdf_xml
from app.services.visibility import OWNER, Principal, visible_clause

BATCH_SIZE = 2000
MAX_SHELVES = 8  # (kind, base URL) pairs kept; the base URL comes from the Host header
# A shelf is dropped (and refilled) once its garbage exceeds both this and its live bytes.
MIN_GARBAGE = 64 * 1024 * 1024

# os.pread and os.pwrite where the platform has them (not Windows): else seek and read under a lock.
_POSITIONAL = hasattr(os, "pread") and hasattr(os, "pwrite")

Renderer = Callable[[Iterable[DatasetRow], str], Iterator[bytes]]


class Fragment(Enum):
    """One dataset's part of a dump and the serializer writing it."""

    DATASETS_CSV = "datasets_csv"
    RESOURCES_CSV = "resources_csv"
    JSONLD_NODE = "jsonld_node"
    EXPORT_JSON = "export_json"
    OAI_DC = "oai_dc"  # OAI-PMH's Simple Dublin Core record
    DCAT_RDF_XML = "dcat_rdf_xml"  # OAI-PMH's DCAT-AP record

    def render(self, rows: Iterable[DatasetRow], base_url: str) -> Iterator[bytes]:
        return _RENDERERS[self](rows, base_url)

    def render_by_pk(self, session: Session, pks: Sequence[int], base_url: str) -> dict[int, bytes]:
        """The fragments of those of the datasets `pks` that exist, by pk: their content, as
        the owner reads it, is the same for every caller (visibility picks the datasets)."""
        rows: Sequence[DatasetRow | DatasetSummary]
        if self is Fragment.DATASETS_CSV:  # the table counts children: they are not read
            rows = export_query.summaries_by_pk(session, OWNER, pks)
            parts = csv_format.dataset_lines(rows, base_url=base_url)
        else:
            rows = full = export_query.rows_by_pk(session, OWNER, pks)
            parts = self.render(full, base_url)
        return dict(zip((row.pk for row in rows), parts, strict=True))


@contextmanager
def _cycles_not_collected() -> Iterator[None]:
    """No cyclic garbage collection while a page is read, built and rendered: its many
    containers form no cycle, yet their allocation triggers collections that walk the whole
    heap (a sixth of a cold CSV dump's time at 100,000 datasets). Reference counting still frees
    everything. Process-wide, but harmless to another thread: it only postpones a collection."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_RENDERERS: dict[Fragment, Renderer] = {
    Fragment.DATASETS_CSV: lambda rows, base: csv_format.dataset_lines(rows, base_url=base),
    Fragment.RESOURCES_CSV: lambda rows, base: csv_format.resource_lines(rows, base_url=base),
    Fragment.JSONLD_NODE: lambda rows, base: jsonld.dataset_nodes(rows, base_url=base),
    Fragment.EXPORT_JSON: lambda rows, base: datapress_json.dataset_objects(rows, base_url=base),
    Fragment.OAI_DC: lambda rows, base: oai_dc.records(rows, base_url=base),
    Fragment.DCAT_RDF_XML: lambda rows, base: rdf_xml.records(rows, base_url=base),
}


def context_stamp(session: Session) -> str:
    """A digest of everything besides a dataset's own rows that its fragments show: the titles
    of the topics, mastheads and teams (export_query.build_rows looks them up)."""
    digest = hashlib.blake2b(digest_size=16)
    for model in (Topic, Masthead, Team):
        digest.update(b"\x1e" + model.__tablename__.encode())
        for key, title in session.execute(select(model.id, model.title).order_by(model.id)):
            digest.update(f"\x1f{key}\x1f{title}".encode())
    return digest.hexdigest()


# Where a dataset's fragment is in a shelf: its version, offset and length in the file, and the
# numbers of the lines it shares (_Shelf.shares; empty for other kinds).
_Span = tuple[int, int, int, tuple[int, ...]]


class _Shelf:
    """The fragments of one kind under one base URL and one context stamp: an append-only
    anonymous file and, per pk, where its fragment is in it (_Span).

    A shelf of JSON-LD nodes (`shares`) keeps the nodes that fragments share with others (a
    page's `@included`, formats.jsonld) once, in memory, numbered; the file holds each
    fragment's own node followed by the separator of a page's nodes, and the index the numbers
    of the lines it shares. A page of nodes stored end to end is then one read, and its
    `@included` a union of small tuples: no fragment is split and no line hashed per page."""

    def __init__(self, directory: Path, stamp: str, *, shares: bool = False) -> None:
        self.stamp = stamp
        self.shares = shares
        file = tempfile.TemporaryFile(dir=directory, buffering=0)  # noqa: SIM115 - finalizer
        self._file = file
        self._fd = file.fileno()
        # Closed when the last reader lets go of a dropped shelf, or by close().
        self.close = weakref.finalize(self, file.close)
        self._index: dict[int, _Span] = {}
        self._lines: list[bytes] = []  # the shared lines, by number (appended under the lock)
        self._numbers: dict[bytes, int] = {}
        self._sets: dict[tuple[int, ...], tuple[int, ...]] = {}  # one tuple for equal ones
        self._lock = threading.Lock()
        self._size = 0
        self.garbage = 0

    def read(self, wanted: Sequence[tuple[int, int]]) -> list[bytes | None]:
        """The fragments of `wanted` (pk, version) pairs, None where none of that version is
        kept. Fragments stored one after the other are read at once."""
        index = self._index
        spans = [index.get(pk) for pk, _ in wanted]
        found: list[bytes | None] = [None] * len(wanted)
        run: list[int] = []  # positions in `wanted` whose fragments lie end to end
        for position, ((_, version), span) in enumerate(zip(wanted, spans, strict=True)):
            if span is None or span[0] != version:
                continue
            if run:
                last = spans[run[-1]]
                assert last is not None
                if last[1] + last[2] == span[1]:
                    run.append(position)
                    continue
                self._read_run(run, spans, found)
            run = [position]
        if run:
            self._read_run(run, spans, found)
        return found

    def _read_run(
        self,
        run: list[int],
        spans: list[_Span | None],
        found: list[bytes | None],
    ) -> None:
        first, last = spans[run[0]], spans[run[-1]]
        assert first is not None and last is not None
        start = first[1]
        data = self._read_at(last[1] + last[2] - start, start)
        lines = self._lines
        separator = len(jsonld.NODE_SEPARATOR)
        for position in run:
            span = spans[position]
            assert span is not None
            part = data[span[1] - start : span[1] - start + span[2]]
            if self.shares:  # the fragment as it was given: its node, then its shared lines
                part = jsonld.fragment_bytes(part[:-separator], [lines[n] for n in span[3]])
            found[position] = part

    def read_page(self, wanted: Sequence[tuple[int, int]]) -> jsonld.PageNodes | None:
        """The nodes of `wanted` (pk, version) pairs joined as a page joins them, and the
        lines they share, if every one is kept (else None). A shelf that `shares` only."""
        assert self.shares
        index = self._index
        pieces: list[bytes] = []
        sets: dict[tuple[int, ...], None] = {}  # an ordered set: as the nodes refer to them
        start = end = -1  # the run of nodes stored end to end being gathered
        for pk, version in wanted:
            span = index.get(pk)
            if span is None or span[0] != version:
                return None
            if span[1] != end:
                if end >= 0:
                    pieces.append(self._read_at(end - start, start))
                start = span[1]
            end = span[1] + span[2]
            sets[span[3]] = None
        if end < 0:
            return jsonld.PageNodes(b"", [])
        pieces.append(self._read_at(end - start, start))
        joined = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        lines = self._lines
        numbers = dict.fromkeys(chain.from_iterable(sets))
        # Without the separator that follows the last node: no copy of the nodes.
        datasets = memoryview(joined)[: len(joined) - len(jsonld.NODE_SEPARATOR)]
        return jsonld.PageNodes(datasets, [lines[n] for n in numbers])

    def add(self, items: Iterable[tuple[int, int, bytes]]) -> None:
        """Keep (pk, version, fragment) items, replacing what was kept for their pks."""
        items = list(items)
        if not items:
            return
        with self._lock:
            if self.shares:
                stored = [(pk, version, *self._stored(part)) for pk, version, part in items]
            else:
                stored = [(pk, version, part, ()) for pk, version, part in items]
            blob = b"".join(part for _, _, part, _ in stored)
            offset = self._size
            self._write_at(blob, offset)  # written before the index points at it
            self._size += len(blob)
            for pk, version, part, shared in stored:
                old = self._index.get(pk)
                if old is not None:
                    self.garbage += old[2]
                self._index[pk] = (version, offset, len(part), shared)
                offset += len(part)

    def _stored(self, fragment: bytes) -> tuple[bytes, tuple[int, ...]]:
        """Under self._lock: what the file keeps of a fragment, and its shared lines' numbers."""
        node, lines = jsonld.split_fragment(fragment)
        numbers = tuple(self._number(line) for line in lines)
        return node + jsonld.NODE_SEPARATOR, self._sets.setdefault(numbers, numbers)

    def _number(self, line: bytes) -> int:
        number = self._numbers.get(line)
        if number is None:
            number = len(self._lines)
            self._lines.append(line)  # before a span can refer to it
            self._numbers[line] = number
        return number

    def _read_at(self, size: int, offset: int) -> bytes:
        if _POSITIONAL:  # no lock: readers never wait for each other or for a writer
            return os.pread(self._fd, size, offset)
        with self._lock:
            self._file.seek(offset)
            return self._file.read(size)

    def _write_at(self, data: bytes, offset: int) -> None:
        """Under self._lock. A write may take less than it is given: the rest follows."""
        view = memoryview(data)
        while view:
            if _POSITIONAL:
                written = os.pwrite(self._fd, view, offset)
            else:
                self._file.seek(offset)
                written = self._file.write(view) or 0
            view, offset = view[written:], offset + written

    def forget(self, pks: Iterable[int]) -> None:
        with self._lock:
            for pk in pks:
                old = self._index.pop(pk, None)
                if old is not None:
                    self.garbage += old[2]

    @property
    def mostly_garbage(self) -> bool:
        return self.garbage > max(MIN_GARBAGE, self._size - self.garbage)


class FragmentStore:
    """Rendered fragments of one catalogue, in temporary files (module docstring)."""

    def __init__(self, catalogue: str, directory: Path | None = None) -> None:
        """catalogue: changes.catalogue_of the database whose fragments are kept."""
        self._catalogue = catalogue
        self._directory = scratch.private_folder("catalogue-fragments-", directory)
        self._lock = threading.Lock()
        self._shelves: OrderedDict[tuple[Fragment, str], _Shelf] = OrderedDict()
        self._stamps: tuple[str, str] | None = None  # (catalogue state tag, stamp) last computed
        # Subscribed weakly: the subscription must not keep a store of a closed catalogue.
        method = weakref.WeakMethod(self._forget_written)

        def forward(written: changes.ChangeSet) -> None:
            bound = method()
            if bound is not None:
                bound(written)

        unsubscribe = changes.subscribe(forward)
        self._finalizer = weakref.finalize(self, _remove, self._directory, unsubscribe)
        self.rendered = 0  # fragments rendered (for tests and the benchmark)

    def kept_stamp(self, tag: str) -> str | None:
        """The context stamp of catalogue state `tag` if it was computed (no session needed)."""
        kept = self._stamps
        return kept[1] if kept is not None and kept[0] == tag else None

    def stamp(self, session: Session, tag: str | None) -> str:
        """The context stamp, computed once per catalogue state `tag` (every time without one)."""
        kept = self.kept_stamp(tag) if tag is not None else None
        if kept is not None:
            return kept
        stamp = context_stamp(session)
        if tag is not None:
            self._stamps = (tag, stamp)
        return stamp

    def _shelf(self, fragment: Fragment, base: str, stamp: str) -> _Shelf:
        key = (fragment, base)
        with self._lock:
            shelf = self._shelves.get(key)
            if shelf is None or shelf.stamp != stamp or shelf.mostly_garbage:
                # Old shelves are not closed here: a reader may hold one. Dropped, they are
                # closed by the garbage collector with their file.
                shares = fragment is Fragment.JSONLD_NODE
                shelf = self._shelves[key] = _Shelf(self._directory, stamp, shares=shares)
            self._shelves.move_to_end(key)
            while len(self._shelves) > MAX_SHELVES:
                self._shelves.popitem(last=False)
            return shelf

    def fragments(
        self,
        session: Session,
        fragment: Fragment,
        wanted: Sequence[tuple[int, int]],
        *,
        base_url: str,
        tag: str | None = None,
    ) -> dict[int, bytes]:
        """The fragment of each of the datasets `wanted` as (pk, version) pairs: read where
        kept, else rendered from their rows (and kept). A dataset deleted since it was selected
        (a database without snapshot reads, e.g. PostgreSQL's READ COMMITTED) is left out; one
        edited since is rendered as it is now, which later readers tell by its version."""
        base = base_url.rstrip("/")
        shelf = self._shelf(fragment, base, self.stamp(session, tag))
        found = shelf.read(wanted)
        missing = [pk for (pk, _), part in zip(wanted, found, strict=True) if part is None]
        fresh: dict[int, bytes] = {}
        if missing:
            versions = dict(wanted)
            fresh = fragment.render_by_pk(session, missing, base)
            self.rendered += len(fresh)
            shelf.add((pk, versions[pk], part) for pk, part in fresh.items())
        for (pk, _), part in zip(wanted, found, strict=True):
            if part is not None:
                fresh[pk] = part
        return fresh

    def kept_page(
        self, wanted: Sequence[tuple[int, int]], *, base_url: str, tag: str
    ) -> jsonld.PageNodes | None:
        """The JSON-LD nodes of `wanted` joined for a page (jsonld.PageNodes) if every one is
        kept under catalogue state `tag` (no session is opened: a feed page served from kept
        fragments needs none), else None (`fragments` then reads and renders what is
        missing)."""
        stamp = self.kept_stamp(tag)
        if stamp is None:
            return None
        return self._shelf(Fragment.JSONLD_NODE, base_url.rstrip("/"), stamp).read_page(wanted)

    def _forget_written(self, written: changes.ChangeSet) -> None:
        if written.catalogue != self._catalogue:
            return
        with self._lock:
            shelves = list(self._shelves.values())
        for shelf in shelves:
            shelf.forget(written.datasets)

    def close(self) -> None:
        with self._lock:
            shelves = list(self._shelves.values())
            self._shelves.clear()
        for shelf in shelves:
            shelf.close()
        self._finalizer()


def _remove(directory: Path, unsubscribe: Callable[[], None]) -> None:
    unsubscribe()
    scratch.remove(directory)


_STORES: weakref.WeakKeyDictionary[Database, FragmentStore] = weakref.WeakKeyDictionary()
_STORES_LOCK = threading.Lock()


def store_for(database: Database) -> FragmentStore:
    """The process's fragment store for `database` (the server and desktop exports share it)."""
    with _STORES_LOCK:
        store = _STORES.get(database)
        if store is None:
            catalogue = changes.catalogue_of(database.engine)
            store = _STORES[database] = FragmentStore(catalogue)
        return store


@dataclass(frozen=True, slots=True)
class FragmentPage:
    """The datasets a page selected, and their fragments (`ordered`)."""

    selected: list[int]  # pks, ascending
    parts: dict[int, bytes]  # by pk; none for a dataset deleted while the page was read

    def ordered(self, pks: Iterable[int] | None = None) -> list[bytes]:
        """The fragments of `pks` (all selected ones unless given), in order."""
        chosen = self.selected if pks is None else pks
        return [self.parts[pk] for pk in chosen if pk in self.parts]


def fragment_page(
    session: Session,
    principal: Principal,
    fragment: Fragment,
    *,
    base_url: str,
    after_pk: int = 0,
    limit: int = BATCH_SIZE,
    published_only: bool = False,
    today: str | None = None,
    store: FragmentStore,
    tag: str | None = None,
) -> FragmentPage:
    """Up to `limit` datasets visible to `principal` past `after_pk`, by pk, and their fragments.
    tag: the catalogue state the caller runs under, if it knows it (dump_cache)."""
    statement = _page_statement(principal, published_only, today or today_iso())
    with _cycles_not_collected():
        found = session.connection().execute(statement, {"after_pk": after_pk, "limit": limit})
        wanted = [(pk, version) for pk, version in found.all()]
        parts = store.fragments(session, fragment, wanted, base_url=base_url, tag=tag)
    return FragmentPage([pk for pk, _ in wanted], parts)


@functools.lru_cache(maxsize=64)
def _page_statement(principal: Principal, published_only: bool, today: str) -> Select[int, int]:
    """The query of `fragment_page`, built once per caller and day (building the visibility
    clause costs more than running the query on a page)."""
    return (
        select(Dataset.pk, Dataset.version)
        .where(visible_clause(principal, today, published_only=published_only))
        .where(Dataset.pk > bindparam("after_pk", type_=Integer))
        .order_by(Dataset.pk)
        .limit(bindparam("limit", type_=Integer))
    )


def iter_fragments(
    database: Database,
    principal: Principal,
    fragment: Fragment,
    *,
    base_url: str,
    published_only: bool = False,
    batch_size: int = BATCH_SIZE,
    store: FragmentStore | None = None,
    tag: str | None = None,
) -> Iterator[bytes]:
    """The fragment of every dataset visible to `principal`, by pk, one read session a batch
    (a walk, not a snapshot: as export_query.iter_datasets). store: the process's store for
    `database` unless given."""
    kept = store if store is not None else store_for(database)
    today = today_iso()
    after_pk = 0
    while True:
        with database.read() as session:
            page = fragment_page(
                session,
                principal,
                fragment,
                base_url=base_url,
                after_pk=after_pk,
                limit=batch_size,
                published_only=published_only,
                today=today,
                store=kept,
                tag=tag,
            )
        yield from page.ordered()
        if len(page.selected) < batch_size:
            return
        after_pk = page.selected[-1]
