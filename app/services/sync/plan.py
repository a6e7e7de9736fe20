"""What a sync will do, before it does it: the SyncPlan a person previews, and its resolutions.

`sync.engine.plan_pull` / `plan_push` build a SyncPlan without writing anything anywhere; the
GUI (or the CLI) shows it: per dataset, what happens on each side (create, update, delete), the
fields (units: `title`, `resources/k93`, ...) that will change, and the conflicts, each with
its base, local and remote values side by side. `sync.engine.apply(database, plan,
resolutions)` then writes. A conflict is resolved by a Resolution keyed by
`(item.key, conflict.unit)`:

- KEEP_MINE: the local value stays (a push sends it; a pull leaves it for the next push);
- TAKE_THEIRS: the remote value wins (a pull writes it locally; a push leaves it for the next
  pull);
- merged(value): a value of your own (a pull writes it locally and the next push sends it; a
  push sends it and the next pull brings it home).

An unresolved conflict is left alone on both sides: its unit keeps its old base, so the next
sync shows it again. A whole-dataset conflict has the unit "*" (deleted on one side, edited on
the other): KEEP_MINE keeps the local state, TAKE_THEIRS follows the remote. Deleted there and
edited here: KEEP_MINE creates it there again (a push at once; after a pull, the next push),
TAKE_THEIRS deletes it here (a pull at once; after a push, the next pull). Deleted here and
edited there: KEEP_MINE deletes it there, TAKE_THEIRS brings it back here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.services.records import Record
from app.services.sync.adapter import Listing, MappingReport
from app.services.sync.merge import FieldConflict
from app.services.sync.refused import Refused

Direction = Literal["pull", "push"]
Action = Literal["create", "update", "delete", "unlink"]
WHOLE = "*"  # the unit of a whole-dataset conflict


@dataclass(frozen=True, slots=True)
class Resolution:
    choice: Literal["mine", "theirs", "merged"]
    value: Any = None


KEEP_MINE = Resolution("mine")
TAKE_THEIRS = Resolution("theirs")


def merged(value: Any) -> Resolution:
    """Resolve a conflict with a value of your own (a unit's value in the canonical record
    shape: a string for `title`, a resource dict for `resources/k93`, None to remove it)."""
    return Resolution("merged", value)


Resolutions = dict[tuple[str, str], Resolution]


@dataclass(slots=True)
class ItemState:
    """What apply needs to know of one item; not for display."""

    link_pk: int | None = None
    keys: list[str] = field(default_factory=list)  # the synced fields both sides carry
    base: Record | None = None  # canonical, as stored in the link
    local: Record | None = None  # canonical over keys; None: no local dataset
    local_full: Record | None = None  # the whole local record when planned
    local_version: int | None = None  # Dataset.version when planned
    remote: Record | None = None  # canonical over keys; None: no remote dataset
    remote_full: Record | None = None  # the adapter's record (id, createdAt, updatedAt...)
    remote_version: str | None = None  # the listing's version when planned
    converged: dict[str, Any] = field(default_factory=dict)  # units equal on both sides
    adopt: bool = False  # a create in flight found on the remote: adopt it, push the rest
    refresh: bool = False  # nothing to write, but the link's versions/base move on
    skipped: str | None = None  # why it sits this sync out (an unusable answer): a failure


@dataclass(slots=True)
class PlanItem:
    """One dataset in a plan.

    key: stable within the plan (our id, or "remote:<remote id>" for a dataset not here yet).
    local / remote: the action on each side (None: nothing). to_local / to_remote: unit ->
    new value (None removes a resource or link). conflicts: units changed on both sides.
    """

    key: str
    dataset_id: str | None
    remote_id: str | None
    title: str
    local: Action | None = None
    remote: Action | None = None
    to_local: dict[str, Any] = field(default_factory=dict)
    to_remote: dict[str, Any] = field(default_factory=dict)
    conflicts: list[FieldConflict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    state: ItemState = field(default_factory=ItemState, repr=False)

    def describe(self) -> str:
        who = self.dataset_id or f"(new) {self.remote_id}"
        parts = []
        if self.local:
            units = f" {', '.join(sorted(self.to_local))}" if self.to_local else ""
            parts.append(f"local {self.local}{units}")
        if self.remote:
            units = f" {', '.join(sorted(self.to_remote))}" if self.to_remote else ""
            parts.append(f"remote {self.remote}{units}")
        if self.conflicts:
            parts.append("CONFLICT " + ", ".join(c.unit for c in self.conflicts))
        parts.extend(self.notes)
        return f"{who} {self.title!r}: " + "; ".join(parts)


@dataclass(slots=True)
class SyncPlan:
    """A preview of one pull or push; nothing has been written when you hold one."""

    remote: str
    kind: str
    direction: Direction
    items: list[PlanItem]
    report: MappingReport
    listing: Listing
    listed: int  # datasets in the remote's listing (0 for "not modified")
    fetched: int  # full records fetched while planning
    unchanged: int  # linked datasets that changed on neither side
    pending: int  # datasets with changes for the other direction (left for later)
    # Remote datasets this catalogue cannot hold (remote id -> version, why): shown in the
    # report, remembered with the listing token so a pull reads each again only once changed.
    refused: Refused = field(default_factory=dict)

    @property
    def conflicts(self) -> list[tuple[PlanItem, FieldConflict]]:
        return [(item, c) for item in self.items for c in item.conflicts]

    def count(self, side: Literal["local", "remote"], action: Action) -> int:
        return sum(1 for i in self.items if getattr(i, side) == action)

    @property
    def is_empty(self) -> bool:
        return not any(i.local or i.remote or i.conflicts for i in self.items)

    def summary(self) -> str:
        local = ", ".join(f"{self.count('local', a)} {a}d" for a in ("create", "update", "delete"))
        remote = ", ".join(
            f"{self.count('remote', a)} {a}d" for a in ("create", "update", "delete")
        )
        return (
            f"{self.direction} {self.remote}: here {local}; on the remote {remote}; "
            f"{len(self.conflicts)} conflict(s); {self.unchanged} unchanged; "
            f"{self.fetched} fetched"
        )


@dataclass(frozen=True, slots=True)
class ItemFailure:
    key: str
    message: str


@dataclass(slots=True)
class SyncResult:
    """What apply did."""

    remote: str
    direction: Direction
    local_created: list[str] = field(default_factory=list)
    local_updated: list[str] = field(default_factory=list)
    local_deleted: list[str] = field(default_factory=list)
    remote_created: list[str] = field(default_factory=list)
    remote_updated: list[str] = field(default_factory=list)
    remote_deleted: list[str] = field(default_factory=list)
    unlinked: list[str] = field(default_factory=list)
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # (item key, unit)
    failures: list[ItemFailure] = field(default_factory=list)
    # What the writes found they could not carry (the plan's report has what reading found).
    report: MappingReport = field(default_factory=MappingReport)

    @property
    def ok(self) -> bool:
        return not self.unresolved and not self.failures

    def summary(self) -> str:
        return (
            f"{self.direction} {self.remote}: here {len(self.local_created)} created, "
            f"{len(self.local_updated)} updated, {len(self.local_deleted)} deleted; "
            f"on the remote {len(self.remote_created)} created, "
            f"{len(self.remote_updated)} updated, {len(self.remote_deleted)} deleted; "
            f"{len(self.unresolved)} conflict(s) left; {len(self.failures)} failure(s)"
        )
