"""Version history: every change to a dataset is kept with who, when and what changed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, defer

from app.models import DatasetVersion, User
from app.services.batches import IN_CHUNK, batched
from app.services.clock import now_iso
from app.services.errors import NotFound
from app.services.records import Record


@dataclass(frozen=True)
class VersionInfo:
    pk: int
    dataset_id: str
    number: int
    at: str
    author: str
    action: str
    changes: list[str]
    name: str = ""  # the author's display name, if a catalogue user has the author's username

    @property
    def who(self) -> str:
        """The author as a person reads it: "Alice Archer (alice)", or the username alone."""
        return f"{self.name} ({self.author})" if self.name else self.author


def record_version(
    session: Session,
    *,
    dataset_pk: int,
    dataset_id: str,
    action: str,
    author: str,
    changes: list[str],
    snapshot: Record | None,
    number: int | None = None,
) -> DatasetVersion:
    """Append a version; `snapshot` is the record after the change (None after a delete).
    number: the caller's `next_numbers` for this id, when it asked for a batch at once."""
    version = DatasetVersion(
        dataset_pk=dataset_pk,
        dataset_id=dataset_id,
        number=next_numbers(session, [dataset_id])[dataset_id] if number is None else number,
        at=now_iso(),
        author=author,
        action=action,
        changes=changes,
        snapshot=snapshot,
    )
    session.add(version)
    return version


# Built once, with an expanding parameter (see datasets.taken_ids).
_LAST_NUMBERS = (
    select(DatasetVersion.dataset_id, func.max(DatasetVersion.number))
    .where(DatasetVersion.dataset_id.in_(bindparam("ids", expanding=True)))
    .group_by(DatasetVersion.dataset_id)
)


def next_numbers(session: Session, dataset_ids: Iterable[str]) -> dict[str, int]:
    """The number each id's next version takes, in one query per IN_CHUNK ids. Numbers go on after
    a delete: a dataset recreated under an old id continues its history."""
    wanted = list(dict.fromkeys(dataset_ids))
    numbers = dict.fromkeys(wanted, 1)
    for chunk in batched(wanted, IN_CHUNK):
        rows = session.execute(_LAST_NUMBERS, {"ids": chunk})
        for dataset_id, last in rows:
            numbers[dataset_id] = (last or 0) + 1
    return numbers


def list_versions(session: Session, dataset_id: str) -> list[VersionInfo]:
    """Newest first."""
    rows = session.scalars(
        select(DatasetVersion)
        .where(DatasetVersion.dataset_id == dataset_id)
        .order_by(DatasetVersion.pk.desc())
        .options(defer(DatasetVersion.snapshot))  # packed: inflated only when restored
    )
    versions = list(rows)
    names = display_names(session, {v.author for v in versions})
    return [_info(v, names.get(v.author, "")) for v in versions]


def _info(v: DatasetVersion, name: str) -> VersionInfo:
    return VersionInfo(
        v.pk, v.dataset_id, v.number, v.at, v.author, v.action, list(v.changes), name
    )


def display_names(session: Session, authors: Iterable[str]) -> dict[str, str]:
    """username -> display name, for the authors that are catalogue users with a name. An
    author is who wrote (the desktop's login name, a key's user): the name says who that is."""
    wanted = sorted(set(authors))
    names: dict[str, str] = {}
    for chunk in batched(wanted, IN_CHUNK):
        rows = session.execute(
            select(User.username, User.display_name).where(User.username.in_(chunk))
        )
        names.update((username, name) for username, name in rows if name)
    return names


def version_snapshot(session: Session, version_pk: int) -> tuple[DatasetVersion, dict[str, Any]]:
    version = session.get(DatasetVersion, version_pk)
    if version is None or version.snapshot is None:
        raise NotFound(f"No restorable version {version_pk}")
    return version, dict(version.snapshot)


def latest_version(session: Session, dataset_id: str) -> VersionInfo | None:
    """The newest version of `dataset_id` (who changed it last, and how), or None."""
    versions = session.scalars(
        select(DatasetVersion)
        .where(DatasetVersion.dataset_id == dataset_id)
        .order_by(DatasetVersion.number.desc())
        .limit(1)
        .options(defer(DatasetVersion.snapshot))
    )
    v = versions.first()
    if v is None:
        return None
    return _info(v, display_names(session, [v.author]).get(v.author, ""))
