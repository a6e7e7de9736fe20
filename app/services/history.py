"""Version history: every change to a dataset is kept with who, when and what changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import DatasetVersion
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


def record_version(
    session: Session,
    *,
    dataset_pk: int,
    dataset_id: str,
    action: str,
    author: str,
    changes: list[str],
    snapshot: Record | None,
) -> DatasetVersion:
    """Append a version; `snapshot` is the record after the change (None after a delete)."""
    last = session.scalar(
        select(func.max(DatasetVersion.number)).where(DatasetVersion.dataset_id == dataset_id)
    )
    version = DatasetVersion(
        dataset_pk=dataset_pk,
        dataset_id=dataset_id,
        number=(last or 0) + 1,
        at=now_iso(),
        author=author,
        action=action,
        changes=changes,
        snapshot=snapshot,
    )
    session.add(version)
    return version


def list_versions(session: Session, dataset_id: str) -> list[VersionInfo]:
    """Newest first."""
    rows = session.scalars(
        select(DatasetVersion)
        .where(DatasetVersion.dataset_id == dataset_id)
        .order_by(DatasetVersion.pk.desc())
    )
    return [
        VersionInfo(v.pk, v.dataset_id, v.number, v.at, v.author, v.action, list(v.changes))
        for v in rows
    ]


def version_snapshot(session: Session, version_pk: int) -> tuple[DatasetVersion, dict[str, Any]]:
    version = session.get(DatasetVersion, version_pk)
    if version is None or version.snapshot is None:
        raise NotFound(f"No restorable version {version_pk}")
    return version, dict(version.snapshot)
