"""Database side of sync: reading the links and local records a plan needs, writing a batch.

Every function here is synchronous and opens its own session, so the engine runs it in a worker
thread (`asyncio.to_thread`) and the event loop (the GUI's, through qasync) stays live. One
call of `write_batch` is one transaction: the local datasets it writes and their sync links land
together or not at all; a remote record our validation refuses is reported and skipped without
undoing the rest of the batch (the batch is then written again, each dataset in a SAVEPOINT).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Dataset, Remote, SyncLink
from app.models.database import Database
from app.services import datasets
from app.services.batches import IN_CHUNK, batched
from app.services.clock import now_iso
from app.services.datasets import Created
from app.services.errors import CatalogueError
from app.services.records import RECORD_LOAD, Record, dataset_to_record


@dataclass(frozen=True, slots=True)
class LinkRow:
    """A sync link (without its base snapshot: `load_bases`) and the local dataset's current
    version (None: deleted here)."""

    pk: int
    dataset_id: str
    remote_id: str | None
    remote_version: str | None
    local_version: int | None
    current_version: int | None

    @property
    def local_changed(self) -> bool:
        return self.current_version is None or self.current_version != self.local_version


def load_links(database: Database, remote_pk: int) -> list[LinkRow]:
    """Every link of a remote with its dataset's version, in one query. The base snapshots
    stay in the database: a sync with nothing changed never decodes them."""
    with database.read() as session:
        rows = session.execute(
            select(
                SyncLink.pk,
                SyncLink.dataset_id,
                SyncLink.remote_id,
                SyncLink.remote_version,
                SyncLink.local_version,
                Dataset.version,
            )
            .outerjoin(Dataset, Dataset.id == SyncLink.dataset_id)
            .where(SyncLink.remote_pk == remote_pk)
        ).all()
    return [LinkRow(*row) for row in rows]


def load_bases(database: Database, pks: Iterable[int]) -> dict[int, Record]:
    """The base snapshots of these links (a link without one is left out)."""
    wanted = list(pks)
    bases: dict[int, Record] = {}
    with database.read() as session:
        for chunk in batched(wanted, IN_CHUNK):
            for pk, base in session.execute(
                select(SyncLink.pk, SyncLink.base).where(SyncLink.pk.in_(chunk))
            ):
                if base is not None:
                    bases[pk] = base
    return bases


def embargo_passed_ids(database: Database, remote_pk: int, today: str) -> set[str]:
    """Linked datasets whose embargo has passed since their link was last agreed: nothing
    changed here, but a portal may now show them (an adapter's normal form says so)."""
    with database.read() as session:
        return set(
            session.scalars(
                select(Dataset.id)
                .join(SyncLink, SyncLink.dataset_id == Dataset.id)
                .where(
                    SyncLink.remote_pk == remote_pk,
                    Dataset.embargo_until.is_not(None),
                    Dataset.embargo_until <= today,
                    SyncLink.synced_at < Dataset.embargo_until,
                )
            )
        )


def unlinked_local_ids(database: Database, remote_pk: int) -> list[str]:
    """Local datasets without a link to this remote."""
    with database.read() as session:
        linked = select(SyncLink.dataset_id).where(SyncLink.remote_pk == remote_pk)
        return list(
            session.scalars(
                select(Dataset.id).where(Dataset.id.not_in(linked)).order_by(Dataset.pk)
            )
        )


def existing_ids(database: Database, ids: Iterable[str]) -> set[str]:
    with database.read() as session:
        return datasets.taken_ids(session, ids)


def load_records(database: Database, ids: Iterable[str]) -> dict[str, tuple[Record, int]]:
    """Full local records with their versions, by id (missing ids are left out)."""
    wanted = list(ids)
    records: dict[str, tuple[Record, int]] = {}
    with database.read() as session:
        for chunk in batched(wanted, IN_CHUNK):
            for dataset in session.scalars(
                select(Dataset).where(Dataset.id.in_(chunk)).options(*RECORD_LOAD)
            ):
                records[dataset.id] = (dataset_to_record(dataset), dataset.version)
    return records


def local_version(session: Session, dataset_id: str) -> int | None:
    return session.scalar(select(Dataset.version).where(Dataset.id == dataset_id))


@dataclass(slots=True)
class LinkUpdate:
    """Set (or create, or with delete=True remove) one link in the same transaction."""

    dataset_id: str
    remote_id: str | None = None
    remote_version: str | None = None
    local_version: int | None = None
    base: Record | None = None
    delete: bool = False
    link_pk: int | None = None


_READ = "sync_links_read"  # session.info: dataset id -> {remote pk: link} read by read_links


def read_links(session: Session, dataset_ids: Iterable[str]) -> None:
    """Read the links of these datasets in one query, so that `save_link` finds them (or that
    there is none) without a query each: a first pull links thousands of new datasets."""
    known: dict[str, dict[int, SyncLink]] = session.info.setdefault(_READ, {})
    wanted = [i for i in dataset_ids if i not in known]
    for chunk in batched(wanted, IN_CHUNK):
        for dataset_id in chunk:
            known[dataset_id] = {}
        with session.no_autoflush:
            for link in session.scalars(select(SyncLink).where(SyncLink.dataset_id.in_(chunk))):
                known[link.dataset_id][link.remote_pk] = link


def save_link(session: Session, remote_pk: int, update: LinkUpdate) -> None:
    link = None
    if update.link_pk is not None:
        link = session.get(SyncLink, update.link_pk)
    known: dict[int, SyncLink] | None = session.info.get(_READ, {}).get(update.dataset_id)
    if link is None and known is not None:
        link = known.get(remote_pk)
    elif link is None:
        # Without an autoflush: a batch's links are flushed together, not one by one. A link
        # still pending for this dataset would be a second one (the unique index refuses it).
        with session.no_autoflush:
            link = session.scalar(
                select(SyncLink).where(
                    SyncLink.remote_pk == remote_pk, SyncLink.dataset_id == update.dataset_id
                )
            )
    if update.delete:
        if link is not None:
            session.delete(link)
            if known is not None:
                known.pop(remote_pk, None)
        return
    if link is None:
        link = SyncLink(remote_pk=remote_pk, dataset_id=update.dataset_id)
        session.add(link)
        if known is not None:
            known[remote_pk] = link
    link.dataset_id = update.dataset_id
    link.remote_id = update.remote_id
    link.remote_version = update.remote_version
    link.local_version = update.local_version
    link.base = update.base
    link.synced_at = now_iso()


def save_links(database: Database, remote_pk: int, updates: Sequence[LinkUpdate]) -> None:
    if not updates:
        return
    with database.transaction() as session:
        for update in updates:
            save_link(session, remote_pk, update)
        session.flush()


LocalWrite = Callable[[Session], Any]


@dataclass(frozen=True, slots=True)
class LocalCreate:
    """A dataset to create here, then `link` it (its value is the write's outcome). Creates
    next to each other in a batch are written together by `datasets.create_datasets`: a first
    pull creates thousands. A taken id is replaced by a fresh one."""

    record: Record
    author: str
    link: Callable[[Session, Created], Any]


@dataclass(slots=True)
class WriteOutcome:
    key: str
    value: Any = None
    error: CatalogueError | None = None


def write_batch(
    database: Database, writes: Sequence[tuple[str, LocalWrite | LocalCreate]]
) -> list[WriteOutcome]:
    """Run the writes in one transaction. If one fails (a CatalogueError), the batch is rolled
    back and run again with each write in a SAVEPOINT of its own, so the failure undoes that
    write only and is returned with its key. (Savepoints cost ~10% of a write: the common case,
    where nothing fails, goes without them.)"""
    try:
        with database.transaction() as session:
            return _write_in_order(session, writes)
    except CatalogueError:
        pass
    outcomes: list[WriteOutcome] = []
    with database.transaction() as session:
        for key, write in writes:
            try:
                with session.begin_nested():
                    outcomes.extend(_write_in_order(session, [(key, write)]))
            except CatalogueError as error:
                session.info.pop(_READ, None)  # it may hold a link the rollback undid
                outcomes.append(WriteOutcome(key, error=error))
    return outcomes


def _write_in_order(
    session: Session, writes: Sequence[tuple[str, LocalWrite | LocalCreate]]
) -> list[WriteOutcome]:
    """The writes in order, a run of creates by one author as one `create_datasets`."""
    outcomes: list[WriteOutcome] = []
    for author, run in itertools.groupby(
        writes, key=lambda kw: kw[1].author if isinstance(kw[1], LocalCreate) else None
    ):
        group = list(run)
        if author is None:
            outcomes.extend(
                WriteOutcome(key, write(session))
                for key, write in group
                if not isinstance(write, LocalCreate)  # (none is: grouped by author)
            )
            continue
        creates = [write for _key, write in group if isinstance(write, LocalCreate)]
        created = datasets.create_datasets(
            session, [c.record for c in creates], author=author, replace_taken_ids=True
        )
        read_links(session, [stored.record["id"] for stored in created])
        outcomes.extend(
            WriteOutcome(key, create.link(session, stored))
            for (key, _w), create, stored in zip(group, creates, created, strict=True)
        )
    return outcomes


def finish(database: Database, remote_pk: int, listing_token: str | None) -> None:
    """Record the end of a sync: when, and the listing token to pass as `since` next time."""
    with database.transaction() as session:
        remote = session.get(Remote, remote_pk)
        if remote is None:
            return
        remote.last_synced_at = now_iso()
        remote.listing_token = listing_token
