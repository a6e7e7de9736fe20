"""Keeps the JSON-LD nodes of what changed rendered before a harvester asks for them.

A harvester's daily round is `dataset.jsonld?since=N`: the datasets changed since its last
visit, whose nodes were all rendered at their older versions and none at their new ones. Left
to the request, the round renders them all (most of its time). The warmer looks at the
catalogue's state every `interval` seconds (dump_cache's watch: one PRAGMA on SQLite) and, when
something was committed, renders the nodes of the datasets changed since the version it last
saw (services.catalogue_version), into the feed's fragment store, under the base URL the feed
last served. A change of more than `limit` datasets (an import of a whole catalogue) is left to
the harvest that reads it: rendering it ahead would only move a long piece of work earlier.
Nothing is warmed where the state cannot be watched (PostgreSQL, an in-memory catalogue).
"""

from __future__ import annotations

import logging
import threading

from app.models.database import Database
from app.services import catalogue_version, renders
from app.services.clock import today_iso
from app.services.dump_cache import DumpCache

log = logging.getLogger(__name__)

INTERVAL_S = 0.5
LIMIT = 5_000


class FeedWarmer:
    def __init__(
        self,
        database: Database,
        dumps: DumpCache,
        store: renders.FragmentStore,
        *,
        interval: float = INTERVAL_S,
        limit: int = LIMIT,
    ) -> None:
        self._database = database
        self._dumps = dumps
        self._store = store
        self._interval = interval
        self._limit = limit
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: tuple[str, int] | None = None  # (state tag, catalogue version) warmed up to
        self.base: str | None = None  # the feed's base URL, once it has served a page

    def start(self) -> None:
        """Warm from the catalogue as it is now (call from a worker thread: it reads it)."""
        if self._dumps.state() is None or self._thread is not None:
            return
        self.warm()  # the version it starts from
        self._thread = threading.Thread(target=self._run, name="feed-warmer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.warm()
            except Exception:  # a locked or vanished file: the next round tries again
                log.exception("warming the feed's changed datasets failed")

    def warm(self) -> int:
        """Render the nodes of what changed since the last call; how many were rendered."""
        state = self._dumps.state()
        if state is None or (self._seen is not None and self._seen[0] == state.tag):
            return 0
        with self._database.read() as session:
            version = catalogue_version.current(session)
            seen, self._seen = self._seen, (state.tag, version)
            base = self.base
            # Nothing seen yet, no page served yet, or a catalogue older than the one seen.
            if seen is None or base is None or version <= seen[1]:
                return 0
            since = catalogue_version.since_version(session, seen[1])
            wanted = catalogue_version.changed_since(
                session, since, today_iso(), limit=self._limit + 1
            )
            if not wanted or len(wanted) > self._limit:
                return 0
            before = self._store.rendered
            self._store.fragments(
                session, renders.Fragment.JSONLD_NODE, wanted, base_url=base, tag=state.tag
            )
            return self._store.rendered - before
