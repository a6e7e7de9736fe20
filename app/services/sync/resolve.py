"""A plan item's conflicts as the person resolved them, and whether a side agrees with the base."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.services.records import Record
from app.services.sync.merge import unit_values
from app.services.sync.plan import PlanItem, Resolution


def resolve(
    item: PlanItem, resolutions: Mapping[tuple[str, str], Resolution]
) -> tuple[dict[str, tuple[Resolution, Any, Any]], list[str]]:
    """unit -> (resolution, local value, remote value) for resolved conflicts; unresolved."""
    resolved: dict[str, tuple[Resolution, Any, Any]] = {}
    unresolved: list[str] = []
    for conflict in item.conflicts:
        choice = resolutions.get((item.key, conflict.unit))
        if choice is None:
            unresolved.append(conflict.unit)
        else:
            resolved[conflict.unit] = (choice, conflict.local, conflict.remote)
    return resolved, unresolved


def agrees(record: Record | None, base: Record, keys: Sequence[str]) -> bool:
    return record is not None and unit_values(record, keys) == unit_values(base, keys)
