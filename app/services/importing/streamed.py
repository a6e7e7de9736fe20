"""Import a file in one go (the CLI's `import`): planned and written at once.

A large file is planned by a worker process while this one writes what is planned so far: the
plan (reading, shaping, validating: nearly half the work) and the write (rows, history, the
search index, SQLite) run side by side instead of one after the other. The worker reads the
file itself and only reads the catalogue; it sends each chunk of planned items as
`plan_chunks` makes it. The write is `commit_import`'s, chunk by chunk (`ChunkWriter`), in one
transaction: a plan with any error is rolled back whole, so nothing is written unless every
row is good, as with a plan previewed first. A small file is planned here, then committed: a
worker takes a second to start.
"""

from __future__ import annotations

import gc
import queue
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from multiprocessing import get_context, parent_process
from pathlib import Path
from typing import Any

from app.models.database import Database
from app.services.errors import CatalogueError
from app.services.importing.detect import detect_format
from app.services.importing.model import ImportFormat, ImportRejected, OnExisting
from app.services.importing.plan import (
    ChunkWriter,
    ImportPlan,
    ImportSummary,
    PlannedChunk,
    commit_import,
    cyclic_gc_paused,
    plan_chunks,
    plan_import,
)
from app.services.new_datasets import indexes_rebuilt_after

# A file at least this large is planned by a worker (some 9,000 rows of our CSV, whose plan
# takes about a second here: as long as a worker takes to start).
WORKER_MIN_BYTES = 8_000_000
AHEAD = 3  # planned chunks the worker may hold ready
_POLL_SECONDS = 1.0  # how often a wait for the worker checks that it still runs


def import_file(
    database: Database,
    path: Path,
    *,
    author: str,
    mapping: Mapping[str, str] | None = None,
    on_existing: OnExisting = OnExisting.SKIP,
    in_worker: bool | None = None,
) -> tuple[ImportPlan, ImportSummary | None]:
    """Plan `path` and write it in one transaction: the plan, and what was written (None when
    the plan has errors: then nothing was). StaleEdit as `commit_import`; ImportRejected if
    the file cannot be read. `in_worker`: plan in a worker process (None: if the file is
    large, see WORKER_MIN_BYTES)."""
    if in_worker is None:
        in_worker = path.stat().st_size >= WORKER_MIN_BYTES
    if not in_worker:
        plan = plan_import(database, path, mapping=mapping, on_existing=on_existing)
        return plan, commit_import(database, plan, author=author) if plan.ok else None
    import_format = detect_format(path)
    plan = ImportPlan(format=import_format, source=path)
    with _PlanningWorker(database.url, path, import_format, mapping, on_existing) as chunks:
        return plan, _write(database, plan, chunks, author)


class _Refused(Exception):
    """The plan has errors: the transaction rolls back."""


def _write(
    database: Database, plan: ImportPlan, chunks: Iterator[PlannedChunk], author: str
) -> ImportSummary | None:
    head = next(chunks)
    plan.errors.extend(head.errors)
    try:
        with (
            cyclic_gc_paused(),  # the plan's records are held for the undo step
            database.transaction() as session,
            indexes_rebuilt_after(session.connection(), head.total),
        ):
            writer = ChunkWriter(session, author)
            for chunk in chunks:
                plan.items.extend(chunk.items)
                plan.errors.extend(chunk.errors)
                if not plan.errors:
                    writer.write(chunk.items)
            if plan.errors:
                raise _Refused
    except _Refused:
        return None
    return writer.summary()


@dataclass(frozen=True)
class _Failed:
    """What stopped the worker: an expected error (its message) or a bug (its traceback)."""

    message: str
    rejected: bool = False
    expected: bool = False


class _PlanningWorker:
    """The worker that plans the file, as an iterator of its chunks; stopped on the way out,
    whatever happens."""

    def __init__(
        self,
        url: str,
        path: Path,
        import_format: ImportFormat,
        mapping: Mapping[str, str] | None,
        on_existing: OnExisting,
    ) -> None:
        context = get_context("spawn")  # it needs nothing of this process (its connections)
        self.queue: Any = context.Queue(maxsize=AHEAD)
        self.process = context.Process(
            target=_plan_into,
            args=(url, path, import_format, dict(mapping) if mapping else None, on_existing),
            kwargs={"out": self.queue},
            daemon=True,
        )

    def __enter__(self) -> Iterator[PlannedChunk]:
        self.process.start()
        return self._chunks()

    def __exit__(self, *exc_info: object) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        self.queue.close()
        self.queue.cancel_join_thread()

    def _chunks(self) -> Iterator[PlannedChunk]:
        while (message := self._next()) is not None:
            if isinstance(message, _Failed):
                if message.rejected:
                    raise ImportRejected(message.message)
                if message.expected:
                    raise CatalogueError(message.message)
                raise RuntimeError(f"the import's planner failed:\n{message.message}")
            yield message

    def _next(self) -> PlannedChunk | _Failed | None:
        while True:
            try:
                message: PlannedChunk | _Failed | None = self.queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not self.process.is_alive():
                    raise CatalogueError(
                        f"The import's planner stopped (exit code {self.process.exitcode}): "
                        "nothing was imported."
                    ) from None
                continue
            return message


def _plan_into(
    url: str,
    path: Path,
    import_format: ImportFormat,
    mapping: Mapping[str, str] | None,
    on_existing: OnExisting,
    *,
    out: Any,
) -> None:
    """The worker: each chunk of the plan of `path` put on `out`, then None (or a _Failed)."""
    # As plan_import (cyclic_gc_paused), for the worker's whole life: millions of dicts and
    # lists, none in a cycle.
    gc.disable()
    database = Database(url)
    try:
        for chunk in plan_chunks(database, path, import_format, mapping, on_existing):
            _put(out, chunk)
        _put(out, None)
    except CatalogueError as error:
        _put(out, _Failed(error.message, isinstance(error, ImportRejected), expected=True))
    except Exception:
        _put(out, _Failed(traceback.format_exc()))
    finally:
        database.dispose()


def _put(out: Any, message: PlannedChunk | _Failed | None) -> None:
    """`message` on `out` once there is room, or SystemExit if the importing process is gone
    (killed: nobody will read it), so that no worker is left behind."""
    parent = parent_process()
    while True:
        try:
            out.put(message, timeout=_POLL_SECONDS)
            return
        except queue.Full:
            if parent is None or not parent.is_alive():
                # Exit without waiting for the queue's feeder thread: it is stuck writing
                # what nobody will read.
                out.cancel_join_thread()
                raise SystemExit(1) from None
