"""A save over a dataset someone else changed since it was opened: never a lost update.

The save is refused (StaleEdit, services.datasets); the window then compares three records
with the sync's three-way comparison (services.sync.merge, one merge algorithm): base, the
record as it was opened; mine, the form; theirs, the record stored now. A field only one side
changed takes that side's value without asking (theirs are copied into mine); a field both
changed to different values is a conflict the person decides, side by side. The save then goes
again with the stored version now expected, so a third change meanwhile conflicts again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.services import datasets, history
from app.services.record.fields import SYNC_KEYS
from app.services.records import Record
from app.services.sync.merge import FieldConflict, canonical, set_units, three_way


@dataclass(frozen=True)
class SaveConflict:
    """One refused save, compared.

    merged: mine with what only they changed taken in (a conflict's unit still holds mine);
    conflicts: the units both changed apart; taken: the units taken from theirs unasked;
    version: the stored version now, the one the save expects next; authors: who wrote the
    versions after the one opened, oldest first (names as history shows them)."""

    dataset_id: str
    title: str
    merged: Record
    theirs: Record
    conflicts: tuple[FieldConflict, ...]
    taken: tuple[str, ...]
    version: int
    authors: tuple[str, ...]
    at: str

    def resolved(self, choices: Mapping[str, Any]) -> Record:
        """The record to save: `merged` with each conflict's unit set to the value chosen
        (unit -> value; a conflict not in `choices` keeps mine)."""
        return set_units(self.merged, {u: v for u, v in choices.items() if u in self.units})

    @property
    def units(self) -> frozenset[str]:
        return frozenset(c.unit for c in self.conflicts)


def compare(
    base: Mapping[str, Any], mine: Mapping[str, Any], theirs: Mapping[str, Any]
) -> tuple[Record, tuple[FieldConflict, ...], tuple[str, ...]]:
    """mine merged with theirs over base: (merged, conflicts, units taken from theirs)."""
    keys = [k for k in SYNC_KEYS if k in mine]
    merge = three_way(canonical(base, keys), canonical(mine, keys), canonical(theirs, keys), keys)
    merged = set_units(mine, merge.to_local)
    return merged, tuple(merge.conflicts), tuple(sorted(merge.to_local))


def read(
    session: Session, base: Mapping[str, Any], mine: Mapping[str, Any], opened_version: int
) -> SaveConflict:
    """Compare the form's record `mine` with the stored one, over `base` (opened at
    `opened_version`). NotFound if the dataset was deleted meanwhile."""
    dataset_id = str(mine["id"])
    dataset = datasets.get_dataset(session, dataset_id)
    theirs = datasets.get_record(session, dataset_id)
    merged, conflicts, taken = compare(base, mine, theirs)
    versions = list(reversed(history.list_versions(session, dataset_id)))  # oldest first
    later = [v for v in versions if v.number > opened_version] or versions[-1:]
    return SaveConflict(
        dataset_id=dataset_id,
        title=str(theirs.get("title") or dataset_id),
        merged=merged,
        theirs=theirs,
        conflicts=conflicts,
        taken=taken,
        version=dataset.version,
        authors=tuple(dict.fromkeys(v.who for v in later)),
        at=later[-1].at if later else "",
    )
