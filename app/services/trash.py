"""The deleted datasets: listed from the history, restored, or emptied for good.

A delete keeps the dataset's history (services.datasets.delete_dataset writes a "delete"
version with no snapshot), so the trash is not a table of its own: a dataset is in the trash
when its newest version is a delete and no dataset holds its id. Restoring recreates it from its
last snapshot as a new version ("restore"). Emptying either appends a "purge" version (the
history stays, readable and restorable by id, but the trash no longer lists it) or deletes the
whole history of those ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.models import Dataset, DatasetVersion
from app.services import datasets, history
from app.services.batches import IN_CHUNK, batched
from app.services.errors import NotFound, StaleEdit
from app.services.records import Record

DELETE = "delete"
PURGE = "purge"


@dataclass(frozen=True)
class DeletedDataset:
    dataset_id: str
    title: str  # from its last snapshot
    deleted_at: str  # UTC, as the history stores it
    deleted_by: str
    versions: int  # how many versions its history holds


def list_deleted(session: Session) -> list[DeletedDataset]:
    """Every dataset in the trash, most recently deleted first."""
    newest = (
        select(
            DatasetVersion.dataset_id,
            func.max(DatasetVersion.number).label("last"),
            func.count().label("versions"),
        )
        .group_by(DatasetVersion.dataset_id)
        .subquery()
    )
    rows = session.execute(
        select(
            DatasetVersion.dataset_id, DatasetVersion.at, DatasetVersion.author, newest.c.versions
        )
        .join(
            newest,
            (newest.c.dataset_id == DatasetVersion.dataset_id)
            & (newest.c.last == DatasetVersion.number),
        )
        .where(DatasetVersion.action == DELETE)
        .where(~select(Dataset.pk).where(Dataset.id == DatasetVersion.dataset_id).exists())
        .order_by(DatasetVersion.at.desc(), DatasetVersion.dataset_id)
    ).all()
    titles = _last_titles(session, [row.dataset_id for row in rows])
    return [
        DeletedDataset(
            row.dataset_id, titles.get(row.dataset_id, ""), row.at, row.author, row.versions
        )
        for row in rows
    ]


def _last_snapshots(session: Session, dataset_ids: Sequence[str]) -> dict[str, DatasetVersion]:
    """Each id's newest version that has a snapshot (the content before its delete)."""
    found: dict[str, DatasetVersion] = {}
    for chunk in batched(list(dataset_ids), IN_CHUNK):
        last = (
            select(DatasetVersion.dataset_id, func.max(DatasetVersion.number).label("number"))
            .where(DatasetVersion.dataset_id.in_(chunk), DatasetVersion.snapshot.is_not(None))
            .group_by(DatasetVersion.dataset_id)
            .subquery()
        )
        versions = session.scalars(
            select(DatasetVersion).join(
                last,
                (last.c.dataset_id == DatasetVersion.dataset_id)
                & (last.c.number == DatasetVersion.number),
            )
        )
        found.update((v.dataset_id, v) for v in versions)
    return found


def _last_titles(session: Session, dataset_ids: Sequence[str]) -> dict[str, str]:
    snapshots = _last_snapshots(session, dataset_ids)
    return {i: str((v.snapshot or {}).get("title") or "") for i, v in snapshots.items()}


def restore(session: Session, dataset_id: str, *, author: str) -> Record:
    """Bring a deleted dataset back from its last snapshot, as a new version "restore".
    StaleEdit if a dataset holds that id again; NotFound if there is nothing to restore."""
    if datasets.taken_ids(session, [dataset_id]):
        raise StaleEdit(f"Dataset {dataset_id} is not deleted: a dataset holds that id again")
    version = _last_snapshots(session, [dataset_id]).get(dataset_id)
    if version is None:
        raise NotFound(f"Dataset {dataset_id} has no version to restore")
    return datasets.restore_version(session, version.pk, author=author)


def empty(session: Session, dataset_ids: Iterable[str], *, author: str, keep_history: bool) -> int:
    """Take deleted datasets out of the trash for good; how many were. Ids not in the trash
    (restored meanwhile) are left alone. keep_history: append a "purge" version and keep the
    rest; otherwise delete every version of those ids."""
    wanted = set(dataset_ids)
    in_trash = [d.dataset_id for d in list_deleted(session) if d.dataset_id in wanted]
    for chunk in batched(in_trash, IN_CHUNK):
        if keep_history:
            for dataset_id in chunk:
                last = history.latest_version(session, dataset_id)
                assert last is not None  # it is in the trash: its newest version is a delete
                history.record_version(
                    session,
                    dataset_pk=_pk_of_version(session, last.pk),
                    dataset_id=dataset_id,
                    action=PURGE,
                    author=author,
                    changes=[],
                    snapshot=None,
                )
        else:
            session.execute(delete(DatasetVersion).where(DatasetVersion.dataset_id.in_(chunk)))
    session.flush()
    return len(in_trash)


def _pk_of_version(session: Session, version_pk: int) -> int:
    pk = session.scalar(select(DatasetVersion.dataset_pk).where(DatasetVersion.pk == version_pk))
    return int(pk or 0)
