"""The dataset permissions of seed 004, stored as a bit set in a ruleset's `perms` column."""

from __future__ import annotations

from enum import IntFlag


class Permission(IntFlag):
    EXPLORE_RESTRICTED_DATASET = 1
    EDIT_DATASET = 2
    PUBLISH_DATASET = 4
    MANAGE_DATASET = 8

    @property
    def api_name(self) -> str:
        return (self.name or "").lower()


ALL_PERMISSIONS: tuple[Permission, ...] = tuple(Permission)

# What each permission includes: whoever may edit, publish or manage may also read.
IMPLIED: dict[Permission, Permission] = {
    Permission.EXPLORE_RESTRICTED_DATASET: Permission.EXPLORE_RESTRICTED_DATASET,
    Permission.EDIT_DATASET: Permission.EDIT_DATASET | Permission.EXPLORE_RESTRICTED_DATASET,
    Permission.PUBLISH_DATASET: Permission.PUBLISH_DATASET | Permission.EXPLORE_RESTRICTED_DATASET,
    Permission.MANAGE_DATASET: Permission(15),
}


def effective(perms: int) -> Permission:
    """A ruleset's bits with everything they imply."""
    result = Permission(0)
    for permission in ALL_PERMISSIONS:
        if perms & permission:
            result |= IMPLIED[permission]
    return result


def to_names(perms: int) -> list[str]:
    return [p.api_name for p in ALL_PERMISSIONS if perms & p]


def from_names(names: list[str]) -> int:
    bits = 0
    known = {p.api_name: p for p in ALL_PERMISSIONS}
    for name in names:
        if name not in known:
            raise ValueError(f"unknown permission {name!r}; expected one of {sorted(known)}")
        bits |= known[name]
    return bits
