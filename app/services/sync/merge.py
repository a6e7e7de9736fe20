"""The three-way comparison of one dataset: base (last agreed), local and remote. Pure functions.

A record is compared in *units*: each top-level synced field (`title`, `tags`, `licence`, ...)
is one unit, and each resource, each link and each custom field is a unit of its own
(`resources/k93`, `custom/frequency`), so two people adding different files to the same dataset,
or editing different custom fields, is no conflict. Values are compared in their
canonical form (`record.canonical`: as records.dataset_to_record gives them, defaults filled in), so
a portal leaving out a null field is no change.

For each unit:

| base vs local | base vs remote | outcome                                      |
| ------------- | -------------- | -------------------------------------------- |
| same          | same           | nothing                                      |
| changed       | same           | local value goes to the remote (`to_remote`) |
| same          | changed        | remote value comes to local (`to_local`)     |
| changed       | changed, equal | converged: only the base moves               |
| changed       | changed, apart | conflict: both values kept, nothing written  |

With no base at all (a dataset matched on a first sync), every unit that differs is a conflict.
A child unit that is absent has the value None (a resource or link is never null).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.services.record.canonical import canonical_field
from app.services.records import Record
from app.services.sync.adapter import CHILD_FIELDS, SYNC_FIELDS


def synced_keys(record: Mapping[str, Any]) -> list[str]:
    """The synced fields `record` carries, in SYNC_FIELDS order."""
    return [k for k in SYNC_FIELDS if k in record]


def canonical(record: Mapping[str, Any], keys: Iterable[str] | None = None) -> Record:
    """The synced fields of `record` (or only `keys`), canonical. Keys it lacks stay absent."""
    wanted = synced_keys(record) if keys is None else [k for k in keys if k in record]
    return {k: canonical_field(k, record[k]) for k in wanted}


# -- units -------------------------------------------------------------------------------------


# Fields compared by their parts: each resource and link by its id, each custom field by its
# key, so different custom fields edited on each side merge instead of conflicting.
KEYED: frozenset[str] = CHILD_FIELDS | {"custom"}


def unit_values(record: Mapping[str, Any] | None, keys: Iterable[str]) -> dict[str, Any]:
    """unit path -> value for the given keys of a canonical record (None record: nothing)."""
    if record is None:
        return {}
    values: dict[str, Any] = {}
    for key in keys:
        if key not in record:
            continue
        if key in KEYED:
            for child_id, child in (record[key] or {}).items():
                values[f"{key}/{child_id}"] = child
        else:
            values[key] = record[key]
    return values


def unit_key(unit: str) -> str:
    """The record key a unit belongs to ("resources/k93" -> "resources")."""
    return unit.split("/", 1)[0]


def get_unit(record: Mapping[str, Any], unit: str) -> Any:
    key, _, child = unit.partition("/")
    if child:
        return (record.get(key) or {}).get(child)
    return record.get(key)


def set_units(record: Mapping[str, Any], changes: Mapping[str, Any]) -> Record:
    """A copy of `record` with each unit set (a child set to None is removed)."""
    result = dict(record)
    for unit, value in changes.items():
        key, _, child = unit.partition("/")
        if child:
            children = dict(result.get(key) or {})
            if value is None:
                children.pop(child, None)
            else:
                children[child] = value
            result[key] = children
        else:
            result[key] = value
    return result


# -- the comparison ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldConflict:
    """One unit changed on both sides to different values. None: absent (a child)."""

    unit: str
    base: Any
    local: Any
    remote: Any


@dataclass(slots=True)
class Merge:
    to_local: dict[str, Any] = field(default_factory=dict)
    to_remote: dict[str, Any] = field(default_factory=dict)
    conflicts: list[FieldConflict] = field(default_factory=list)
    converged: dict[str, Any] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not (self.to_local or self.to_remote or self.conflicts or self.converged)


def three_way(
    base: Mapping[str, Any] | None,
    local: Mapping[str, Any],
    remote: Mapping[str, Any],
    keys: Iterable[str],
) -> Merge:
    """Compare canonical records unit by unit over `keys` (the fields both sides carry)."""
    keys = list(keys)
    b = unit_values(base, keys)
    mine = unit_values(local, keys)
    theirs = unit_values(remote, keys)
    merge = Merge()
    for unit in sorted(set(b) | set(mine) | set(theirs)):
        old, ours, their = b.get(unit), mine.get(unit), theirs.get(unit)
        if ours == their:
            if (base is not None and ours != old) or base is None:
                merge.converged[unit] = ours
            continue
        if base is None:
            merge.conflicts.append(FieldConflict(unit, None, ours, their))
        elif ours == old:
            merge.to_local[unit] = their
        elif their == old:
            merge.to_remote[unit] = ours
        else:
            merge.conflicts.append(FieldConflict(unit, old, ours, their))
    return merge
