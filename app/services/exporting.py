"""Export the catalogue to a file: the desktop's File > Export and `main.py export`.

One function, `export_catalogue`, for every format and scope. The rows come from export_query
(visibility decides through `visible_clause`, never a filter of ours) and go through the same
streaming serializers as the server (docs/ARCHITECTURE.md: formats), so memory stays flat.

The file is written atomically: into a temporary file beside the destination, flushed to disk,
then renamed over it. A cancelled or failed export removes its temporary file and leaves
whatever was at the destination untouched.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from sqlalchemy import func, select

from app.models import Dataset
from app.models.database import Database
from app.services import desktop_query, export_query, renders
from app.services.batches import batched
from app.services.errors import CatalogueError, ValidationFailed
from app.services.export_choices import DEFAULT_BASE_URL
from app.services.export_choices import ExportFormat as ExportFormat
from app.services.export_choices import ExportScope as ExportScope
from app.services.export_query import BATCH_SIZE, DatasetRow
from app.services.formats import csv_format, datapress_json, jsonld, turtle, write_to, xlsx
from app.services.progress import NO_PROGRESS, Progress
from app.services.public_url import export_base_url
from app.services.renders import Fragment
from app.services.visibility import ANONYMOUS, OWNER, Principal, visible_clause

_Item = TypeVar("_Item")


# The file name extension the GUI's Save dialog proposes for each format.
EXTENSIONS: dict[ExportFormat, str] = {
    ExportFormat.CSV: ".csv",
    ExportFormat.RESOURCES_CSV: ".csv",
    ExportFormat.XLSX: ".xlsx",
    ExportFormat.JSON: ".json",
    ExportFormat.JSONLD: ".jsonld",
    ExportFormat.TURTLE: ".ttl",
}


@dataclass(frozen=True)
class ExportRequest:
    format: ExportFormat
    destination: Path
    scope: ExportScope = ExportScope.ALL
    dataset_ids: tuple[str, ...] = ()
    search: str = ""
    # The base of the `webpage` URLs written; None: the catalogue's public URL (services.
    # public_url), else DEFAULT_BASE_URL.
    base_url: str | None = None


@dataclass(frozen=True)
class ExportResult:
    datasets: int
    bytes_written: int
    destination: Path


class ExportFailed(CatalogueError):
    """The file could not be written (disk full, no permission...)."""

    code = "export_failed"


def export_catalogue(
    database: Database, request: ExportRequest, progress: Progress = NO_PROGRESS
) -> ExportResult:
    """Write the datasets `request` selects to `request.destination` in its format.

    Progress is reported after each batch as (datasets done, datasets in scope); Cancelled from
    `progress` (or any error) stops the export and leaves no file under the chosen name."""
    if request.base_url is None:
        with database.read() as session:
            request = dataclasses.replace(request, base_url=export_base_url(session))
    scope = _scope(database, request)
    counter = _Counter(progress, scope.total)
    progress.report(0, scope.total)
    destination = request.destination
    # An OSError (disk full, file system gone) is the environment's: ExportFailed says so.
    with _atomic_file(destination) as sink:
        _write(request, scope, counter, sink)
        sink.flush()
        written = sink.tell()
    progress.report(counter.done, scope.total)
    return ExportResult(datasets=counter.done, bytes_written=written, destination=destination)


# Text formats: one stored fragment per dataset (services.renders) inside their document.
_FRAGMENTS: dict[ExportFormat, Fragment] = {
    ExportFormat.CSV: Fragment.DATASETS_CSV,
    ExportFormat.RESOURCES_CSV: Fragment.RESOURCES_CSV,
    ExportFormat.JSON: Fragment.EXPORT_JSON,
    ExportFormat.JSONLD: Fragment.JSONLD_NODE,
}


def _write(request: ExportRequest, scope: _Scope, counter: _Counter, sink: BinaryIO) -> None:
    base = request.base_url or DEFAULT_BASE_URL
    fmt = request.format
    if fmt is ExportFormat.XLSX:
        # The desktop's workbook carries state, embargo, iframe and site too.
        xlsx.write_xlsx(counter.count(scope.rows()), sink, base_url=base, complete=True)
        return
    if fmt is ExportFormat.TURTLE:
        write_to(sink, turtle.turtle_document(counter.count(scope.rows()), base_url=base))
        return
    parts = counter.count(scope.fragments(_FRAGMENTS[fmt], base))
    if fmt is ExportFormat.CSV:
        write_to(sink, csv_format.datasets_document(parts))
    elif fmt is ExportFormat.RESOURCES_CSV:
        write_to(sink, csv_format.resources_document(parts))
    elif fmt is ExportFormat.JSON:
        write_to(sink, datapress_json.export_document(parts))
    else:
        document = f"{base.rstrip('/')}/api/v1/dataset.jsonld"
        write_to(
            sink,
            jsonld.page_document(
                parts, base_url=base, page_url=document, first_url=document, next_url=None
            ),
        )


# -- which datasets --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """The datasets to export: a principal's whole view, or the given pks (owner's view)."""

    database: Database
    principal: Principal
    total: int
    pks: Sequence[int] | None = None

    def rows(self) -> Iterator[DatasetRow]:
        if self.pks is None:
            return export_query.iter_datasets(self.database, self.principal)
        return (row for rows in self._batches() for row in rows)

    def fragments(self, fragment: Fragment, base_url: str) -> Iterator[bytes]:
        if self.pks is None:
            return renders.iter_fragments(
                self.database, self.principal, fragment, base_url=base_url
            )
        return (
            part for rows in self._batches() for part in fragment.render(rows, base_url.rstrip("/"))
        )

    def _batches(self) -> Iterator[list[DatasetRow]]:
        assert self.pks is not None
        for batch in batched(self.pks, BATCH_SIZE):
            with self.database.read() as session:
                rows = export_query.rows_by_pk(session, self.principal, batch)
            yield rows


def _scope(database: Database, request: ExportRequest) -> _Scope:
    scope = request.scope
    if scope in (ExportScope.ALL, ExportScope.PUBLISHED):
        # Published = what an anonymous visitor sees: published, public, out of embargo.
        principal: Principal = OWNER if scope is ExportScope.ALL else ANONYMOUS
        with database.read() as session:
            total = session.scalar(
                select(func.count()).select_from(Dataset).where(visible_clause(principal))
            )
        return _Scope(database, principal, int(total or 0))
    # A selection or a search is the desktop owner's: the table shows the owner's view.
    if scope is ExportScope.SELECTION and not request.dataset_ids:
        raise ValidationFailed({"selection": "select at least one dataset"}, subject="export")
    with database.read() as session:
        chosen = (
            Dataset.id.in_(set(request.dataset_ids))
            if scope is ExportScope.SELECTION
            # The table's search, read as the table reads it (services.desktop_query), by pk.
            else desktop_query.query_condition(session, request.search)
        )
        pks = list(
            session.scalars(
                select(Dataset.pk).where(visible_clause(OWNER), chosen).order_by(Dataset.pk)
            )
        )
    return _Scope(database, OWNER, len(pks), pks)


class _Counter:
    """Counts rows as the serializer pulls them; reports progress once a batch."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0

    def count(self, items: Iterable[_Item]) -> Iterator[_Item]:
        """`items` (one per dataset), counted as they are consumed."""
        report: Callable[[int, int], None] = self.progress.report
        for item in items:
            yield item
            self.done += 1
            if self.done % BATCH_SIZE == 0:
                report(self.done, self.total)


# -- atomic file -----------------------------------------------------------------------------


@contextmanager
def _atomic_file(destination: Path) -> Iterator[BinaryIO]:
    """A temporary file beside `destination`, renamed over it only when the block succeeds;
    removed whatever else happens (an error, Cancelled)."""
    folder = destination.parent
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=f".{destination.name}.", suffix=".part")
    except OSError as error:
        raise ExportFailed(f"Cannot write in {folder}: {error.strerror or error}") from error
    path = Path(name)
    try:
        with os.fdopen(handle, "w+b") as sink:
            yield sink
            sink.flush()
            os.fsync(sink.fileno())
        # mkstemp makes the file private; give it the permissions of a file saved by the person.
        os.chmod(path, 0o666 & ~_umask())
        os.replace(path, destination)
        _fsync_folder(folder)
    except OSError as error:
        raise ExportFailed(f"Cannot write {destination}: {error.strerror or error}") from error
    finally:
        path.unlink(missing_ok=True)


def _umask() -> int:
    """The process umask, read without os.umask (which would change it for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless to skip where folders cannot be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
