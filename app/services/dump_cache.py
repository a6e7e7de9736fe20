"""Render each bulk dump once per catalogue change, and tell clients when nothing changed.

"A dump changes only when the catalogue does": what a caller may see, and how it is rendered,
depends only on (a) the database's content (datasets, resources, links, managed-list titles,
access lists, rulesets, users, teams, groups, keys), (b) today's date (an embargo ends at
midnight) and (c) who asks and under which base URL. So:

**The catalogue state** (`CatalogueState`) is a generation counter that moves whenever (a) or
(b) may have changed. (a) is detected with SQLite's `PRAGMA data_version` on one connection kept
for that alone and never used to write: its value changes exactly when any *other* connection
(a pool connection of this process, the GUI, another `serve` process on the same file) commits
a transaction. Reading it costs microseconds and needs no schema, no triggers and no discipline
from writers: a PATCH, an import or a sync that forgets to "bump a counter" cannot exist. It is
conservative (a commit that changes nothing the dumps show, e.g. the cursor secret, also moves
it), which only costs a re-render. The tag is `epoch.generation.today`: `epoch` is random per
process, because a generation counter restarts with the process and the catalogue may have been
edited while it was down; a restart therefore revalidates every client once. `last_modified`
is when this process saw the change (whole seconds, strictly increasing, so two changes within
a second still give two Last-Modified values), and at least today's local midnight.

Other databases (PostgreSQL, an in-memory SQLite) have no such cheap, exact signal here:
`DumpCache.state()` returns None there, and the server then neither caches nor sends validators.

**The cache** keeps, per key (endpoint, base URL, principal's visibility key), the file of the
last rendering and the state it was rendered under; concurrent first requests for one key
render once (a lock per key); a render during which the state moved is served to its waiters
but not kept. Files live in a private temporary folder removed when the cache is closed or
collected; at most `max_entries` keys are kept (the base URL comes from the Host header, so the
number of keys must not grow with what clients send). Only the anonymous dumps are worth
caching; the server still gives keyed callers validators through `etag()`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
import tempfile
import threading
import time
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import make_url

from app.models.database import Database
from app.services import scratch
from app.services.clock import today_iso


@dataclass(frozen=True, slots=True)
class CatalogueState:
    tag: str
    last_modified: int  # seconds since the epoch


class ChangeWatcher:
    """The catalogue state of one SQLite file, from `PRAGMA data_version` (module docstring)."""

    def __init__(self, path: str) -> None:
        # Never used to write, so its own commits can never hide another connection's.
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._epoch = secrets.token_hex(4)
        self._seen = self._data_version()
        self._generation = 0
        self._changed_at = int(time.time())

    def _data_version(self) -> int:
        row = self._connection.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def state(self) -> CatalogueState:
        today = today_iso()
        with self._lock:
            version = self._data_version()
            if version != self._seen:
                self._seen = version
                self._generation += 1
                self._changed_at = max(int(time.time()), self._changed_at + 1)
            changed_at = self._changed_at
            generation = self._generation
        midnight = int(datetime.combine(date.fromisoformat(today), datetime.min.time()).timestamp())
        return CatalogueState(f"{self._epoch}.{generation}.{today}", max(changed_at, midnight))

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def watcher_for(database: Database) -> ChangeWatcher | None:
    """A ChangeWatcher for a SQLite file catalogue; None for anything else."""
    url = make_url(database.url)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    if url.query.get("mode") == "memory":
        return None
    return ChangeWatcher(path)


def etag(state: CatalogueState, key: str) -> str:
    """A weak validator for the rendering of `key` under `state` (weak: the same tag serves
    the gzip-encoded and identity bodies)."""
    digest = hashlib.sha256(f"{state.tag}\n{key}".encode()).hexdigest()[:32]
    return f'W/"{digest}"'


@dataclass(slots=True)
class _Entry:
    tag: str
    path: Path
    digest: tuple[int, str] | None = None  # (bytes, SHA-256 hex), once asked for


def file_digest(handle: BinaryIO) -> tuple[int, str]:
    """The size and SHA-256 (hex) of what `handle` holds from where it stands to its end."""
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(COPY_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


Render = Callable[[BinaryIO], object]


class DumpCache:
    """Rendered dumps of one catalogue, one file per key, re-rendered after each change."""

    def __init__(
        self,
        database: Database,
        *,
        directory: Path | None = None,
        max_entries: int = 32,
        watcher: ChangeWatcher | None = None,
    ) -> None:
        self._watcher = watcher if watcher is not None else watcher_for(database)
        self._directory = scratch.private_folder("catalogue-dumps-", directory)
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._finalizer = weakref.finalize(self, scratch.remove, self._directory)
        self.renders = 0  # how many renderings were made (for tests and the benchmark)
        self.pages = PageCache()  # small rendered responses (JSON-LD feed pages), in memory

    @property
    def enabled(self) -> bool:
        return self._watcher is not None

    def state(self) -> CatalogueState | None:
        return self._watcher.state() if self._watcher is not None else None

    def open(self, key: str, state: CatalogueState, render: Render) -> BinaryIO:
        """The rendering of `key` under `state`, as a file open for reading at its start.

        Renders (`render(sink)`) only if no rendering under `state` is kept; the caller closes
        the file. Call from a worker thread: a render is slow."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and entry.tag == state.tag:
                    try:
                        handle = entry.path.open("rb")
                    except FileNotFoundError:
                        pass
                    else:
                        self._entries.move_to_end(key)
                        return handle
            name = hashlib.sha256(key.encode()).hexdigest()[:24]
            fd, temporary = tempfile.mkstemp(prefix=name, suffix=".part", dir=self._directory)
            try:
                with os.fdopen(fd, "wb") as sink:
                    render(sink)
                self.renders += 1
                final = self._directory / f"{name}-{secrets.token_hex(4)}"
                os.replace(temporary, final)
            except BaseException:
                _unlink(Path(temporary))
                raise
            handle = final.open("rb")
            current = self.state()
            if current is None or current.tag != state.tag:
                # The catalogue moved during the render: serve it to this caller, keep nothing.
                _unlink(final)
                return handle
            with self._lock:
                old = self._entries.pop(key, None)
                self._entries[key] = _Entry(state.tag, final)
                evicted = [old] if old is not None else []
                while len(self._entries) > self._max_entries:
                    evicted_key, evicted_entry = self._entries.popitem(last=False)
                    self._key_locks.pop(evicted_key, None)
                    evicted.append(evicted_entry)
            for stale in evicted:
                _unlink(stale.path)  # open readers keep reading (POSIX); else left to close()
            return handle

    def digest(self, key: str, state: CatalogueState, render: Render) -> tuple[int, str]:
        """The size and SHA-256 of the rendering of `key` under `state` (rendered if none is
        kept), hashed once per rendering. Call from a worker thread."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.tag == state.tag and entry.digest is not None:
                return entry.digest
        with self.open(key, state, render) as handle:
            found = file_digest(handle)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.tag == state.tag:
                entry.digest = found
        return found

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
        self.pages.close()
        self._finalizer()


@dataclass(frozen=True, slots=True)
class CachedPage:
    """One rendered response kept in memory: its body gzipped (about 8x smaller for JSON-LD, so
    that a whole feed fits, and sent as it is to a client that accepts gzip; inflating it for
    one that does not costs under a millisecond and releases the GIL) and its headers."""

    tag: str
    compressed: bytes
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def of(
        cls,
        tag: str,
        body: bytes,
        headers: tuple[tuple[str, str], ...],
        gzipped: bytes | None = None,
    ) -> CachedPage:
        return cls(tag, gzip_bytes(body) if gzipped is None else gzipped, headers)

    @property
    def body(self) -> bytes:
        return zlib.decompress(self.compressed, GZIP_WBITS)

    @property
    def size(self) -> int:
        return len(self.compressed) + sum(len(k) + len(v) for k, v in self.headers) + 64


# Level 1: most of the size (a feed page shrinks 8x; level 6 gives 10x at 2.5 times the time).
GZIP_LEVEL = 1
GZIP_WBITS = 31  # zlib's gzip container
COPY_CHUNK = 256 * 1024  # bytes read at a time when a file is gzipped


def gzip_bytes(body: bytes) -> bytes:
    """`body` as a gzip member (Content-Encoding: gzip), compressed at GZIP_LEVEL."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
    return compressor.compress(body) + compressor.flush()


def gzip_copy(source: BinaryIO, sink: BinaryIO) -> None:
    """`source` to its end into `sink` as one gzip member, at GZIP_LEVEL."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
    while chunk := source.read(COPY_CHUNK):
        sink.write(compressor.compress(chunk))
    sink.write(compressor.flush())


class PageCache:
    """Rendered pages (e.g. of the JSON-LD feed) kept in memory between catalogue changes.

    A key says everything a page's bytes depend on besides the catalogue state (endpoint, page
    token, limit, base URL, the caller's visibility key: never share a key between callers who
    may see different rows); an entry is served only under the state tag it was rendered under.
    Least recently used entries go first once `max_bytes` (of compressed pages) is exceeded; a
    page larger than a quarter of it is not kept.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, CachedPage] = OrderedDict()
        self._bytes = 0
        self.hits = 0  # for tests and the benchmark
        self.misses = 0

    @property
    def size(self) -> int:
        return self._bytes

    def get(self, key: str, state: CatalogueState) -> CachedPage | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.tag != state.tag:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: str, page: CachedPage, current: CatalogueState | None) -> None:
        """Keep `page` under `key`, unless the catalogue moved since it was rendered
        (`current` is the state now) or it is too large."""
        if current is None or current.tag != page.tag:
            return
        size = page.size + len(key)
        if size > self._max_bytes // 4:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size + len(key)
            # Entries of an older state can never be served again: drop them first.
            if self._entries:
                stale = [k for k, v in self._entries.items() if v.tag != page.tag]
                for k in stale:
                    self._bytes -= self._entries.pop(k).size + len(k)
            self._entries[key] = page
            self._bytes += size
            while self._bytes > self._max_bytes and self._entries:
                k, v = self._entries.popitem(last=False)
                self._bytes -= v.size + len(k)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def close(self) -> None:
        self.clear()


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
