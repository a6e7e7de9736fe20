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

On PostgreSQL, and between the worker processes of `serve --workers N` (whose per-process
generations cannot agree), the state is the catalogue version (`VersionWatcher`: one indexed
read of `catalogue_counter` per request, services.catalogue_version), which every committed
write of a dataset moves; its tag is `epoch.version.today` with the epoch shared by the
workers, and `last_modified` is the version's own time. It misses a commit that writes no
dataset (a setting, a managed list, a team): dumps and validators follow at the next dataset
change. An in-memory SQLite has no state: `DumpCache.state()` returns None there, and the
server then neither caches nor sends validators.

**The cache** keeps, per key (endpoint, base URL, principal's visibility key), the file of the
last rendering and the state it was rendered under; concurrent first requests for one key
render once (a lock per key); a render during which the state moved is served to its waiters
but not kept. Files live in a private temporary folder removed when the cache is closed or
collected; at most `max_entries` keys are kept (the base URL comes from the Host header, so the
number of keys must not grow with what clients send). Only the anonymous dumps are worth
caching; the server still gives keyed callers validators through `etag()`.

**Shared between workers** (`SharedDumps`, made by the `serve --workers N` supervisor, removed
when it stops): the renderings live in one folder, named by the key's and the state's digests,
written under a temporary name and renamed, so a worker finds another's rendering by its name;
a lock file per key (`fcntl.flock`) makes two workers asking at once render once. Each
rendering appends a line to `renders.log` there: what was rendered, counted across processes.
"""

from __future__ import annotations

import contextlib
import fcntl
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
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.engine import make_url

from app.models.database import Database
from app.services import scratch
from app.services.clock import parse_utc, today_iso


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
        return _state(f"{self._epoch}.{generation}", today, changed_at)

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class VersionWatcher:
    """The catalogue state from the catalogue version (module docstring): for PostgreSQL, and
    for the workers of one server, which share `epoch`."""

    def __init__(self, database: Database, epoch: str | None = None) -> None:
        self._epoch = epoch if epoch is not None else secrets.token_hex(4)
        self._path = _sqlite_path(database)
        self._engine = database.engine
        self._lock = threading.Lock()
        self._connection: Any = None

    def _connect(self) -> Any:
        # A connection of its own, in autocommit: one round trip a read, no transaction held,
        # and none of the engine's events (a request's statement limits) on it.
        if self._path is not None:
            return sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        raw = self._engine.raw_connection()
        driver: Any = raw.driver_connection
        driver.autocommit = True
        return raw

    def _read(self) -> tuple[int, str]:
        with self._lock:
            for attempt in (1, 2):
                if self._connection is None:
                    self._connection = self._connect()
                try:
                    cursor = self._connection.cursor()
                    cursor.execute(_VERSION_SQL)
                    row = cursor.fetchone()
                    break
                except Exception:
                    # A server restarted or a connection dropped: once more on a new one.
                    self._drop()
                    if attempt == 2:
                        raise
        return (int(row[0]), str(row[1] or "")) if row is not None else (0, "")

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                # The pool's connection is closed, never given back in autocommit.
                closing = getattr(self._connection, "invalidate", self._connection.close)
                closing()
            self._connection = None

    def state(self) -> CatalogueState:
        today = today_iso()
        version, at = self._read()
        changed_at = int(parse_utc(at).replace(tzinfo=UTC).timestamp()) if at else 0
        return _state(f"{self._epoch}.v{version}", today, changed_at)

    def close(self) -> None:
        with self._lock:
            self._drop()


def _state(seen: str, today: str, changed_at: int) -> CatalogueState:
    """The state `seen` (a watcher's epoch and count) on local day `today`: its tag moves at
    midnight too, and `last_modified` is at least that midnight."""
    midnight = int(datetime.combine(date.fromisoformat(today), datetime.min.time()).timestamp())
    return CatalogueState(f"{seen}.{today}", max(changed_at, midnight))


_VERSION_SQL = "SELECT version, at FROM catalogue_counter WHERE id = 1"

Watcher = ChangeWatcher | VersionWatcher


def _sqlite_path(database: Database) -> str | None:
    """The file of a SQLite file catalogue; None for an in-memory one or another engine."""
    url = make_url(database.url)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    if url.query.get("mode") == "memory":
        return None
    return path


def watcher_for(database: Database) -> Watcher | None:
    """A ChangeWatcher for a SQLite file catalogue, a VersionWatcher for a database server;
    None for an in-memory catalogue."""
    if database.url.startswith("sqlite"):
        path = _sqlite_path(database)
        return ChangeWatcher(path) if path is not None else None
    return VersionWatcher(database)


@dataclass(frozen=True, slots=True)
class SharedDumps:
    """The folder the workers of one server keep their dumps in, and the epoch of their
    states (module docstring)."""

    folder: Path
    epoch: str

    @property
    def render_log(self) -> Path:
        return self.folder / "renders.log"

    def renders(self) -> int:
        """How many renderings every worker made (for tests and the benchmark)."""
        try:
            return len(self.render_log.read_bytes().splitlines())
        except FileNotFoundError:
            return 0


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
        watcher: Watcher | None = None,
        shared: SharedDumps | None = None,
    ) -> None:
        self._shared = shared
        if watcher is None:
            watcher = VersionWatcher(database, shared.epoch) if shared else watcher_for(database)
        self._watcher: Watcher | None = watcher
        # The supervisor made the shared folder and removes it; a private one is ours.
        self._directory = (
            shared.folder if shared else scratch.private_folder("catalogue-dumps-", directory)
        )
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._finalizer = weakref.finalize(
            self, scratch.remove if shared is None else _keep, self._directory
        )
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
        if self._shared is not None:
            with key_lock:
                return self._open_shared(self._shared, key, state, render)
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
            name = _key_name(key)
            temporary = self._render_part(name, render)
            final = self._directory / f"{name}-{secrets.token_hex(4)}"
            os.replace(temporary, final)
            handle = final.open("rb")
            if self._moved_since(state):  # serve it to this caller, keep nothing
                _unlink(final)
                return handle
            for stale in self._remember(key, _Entry(state.tag, final)):
                _unlink(stale.path)  # open readers keep reading (POSIX); else left to close()
            return handle

    def _open_shared(
        self, shared: SharedDumps, key: str, state: CatalogueState, render: Render
    ) -> BinaryIO:
        """`open` from the folder the workers share (module docstring); under the key's
        thread lock."""
        name = _key_name(key)
        final = self._directory / f"{name}-{hashlib.sha256(state.tag.encode()).hexdigest()[:16]}"
        handle = _open_existing(final)
        if handle is None:
            with open(self._directory / f"{name}.lock", "ab") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
                handle = _open_existing(final)  # rendered by the worker that held the lock
                if handle is None:
                    handle = self._render_shared(shared, name, final, state, render)
        self._remember(key, _Entry(state.tag, final))
        return handle

    def _render_shared(
        self,
        shared: SharedDumps,
        name: str,
        final: Path,
        state: CatalogueState,
        render: Render,
    ) -> BinaryIO:
        temporary = self._render_part(name, render)
        with open(shared.render_log, "a", encoding="utf-8") as log:  # O_APPEND: one write
            log.write(f"{os.getpid()} {name} {state.tag}\n")
        handle = temporary.open("rb")
        if self._moved_since(state):  # serve it to this caller, keep nothing
            _unlink(temporary)
            return handle
        os.replace(temporary, final)
        for stale in self._directory.glob(f"{name}-*"):  # this key's older renderings
            if stale != final:
                _unlink(stale)  # open readers, in any worker, keep reading (POSIX)
        return handle

    def _render_part(self, name: str, render: Render) -> Path:
        """A new rendering by `render` in a temporary file of the folder (none if it fails)."""
        fd, part = tempfile.mkstemp(prefix=name, suffix=".part", dir=self._directory)
        try:
            with os.fdopen(fd, "wb") as sink:
                render(sink)
        except BaseException:
            _unlink(Path(part))
            raise
        self.renders += 1
        return Path(part)

    def _moved_since(self, state: CatalogueState) -> bool:
        """Whether the catalogue moved on from `state` (during a render): not to be kept."""
        current = self.state()
        return current is None or current.tag != state.tag

    def _remember(self, key: str, entry: _Entry) -> list[_Entry]:
        """Keep `entry` as the rendering of `key`; the entries no longer kept (this key's
        previous one, and the least recently used past `max_entries`)."""
        with self._lock:
            old = self._entries.pop(key, None)
            evicted: list[_Entry] = []
            if old is not None and old.path == entry.path:  # the same shared file
                entry.digest = old.digest
            elif old is not None:
                evicted.append(old)
            self._entries[key] = entry
            while len(self._entries) > self._max_entries:
                evicted_key, evicted_entry = self._entries.popitem(last=False)
                self._key_locks.pop(evicted_key, None)
                evicted.append(evicted_entry)
        return evicted

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


def _key_name(key: str) -> str:
    """The start of the names of `key`'s files (a digest: a key holds a URL)."""
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _open_existing(path: Path) -> BinaryIO | None:
    try:
        return path.open("rb")
    except FileNotFoundError:
        return None


def _keep(_folder: Path) -> None:
    """A shared folder outlives each worker's cache: its supervisor removes it."""
