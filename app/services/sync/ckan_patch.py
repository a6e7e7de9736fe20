"""The body of a CKAN `package_patch` that changes only what changed, merged into the package
as the portal holds it now.

CKAN replaces whole lists: a `package_patch` that sends `resources` makes the package's
resources exactly what was sent (a resource key not sent, `mimetype`, `resource_type` or an
extra such as `schema`, is gone; a resource not sent is deleted), and one that sends `extras`
replaces them all. So the lists are built from the package just read: every resource we do not
change goes back as it is, a changed one gets only its changed fields, a new one is added with
our keys, a removed one is left out; the extras are our custom fields plus the extras we do not
carry (the marker of a create of ours). Pure functions (sync.ckan calls them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.services.mappings import ckan as mapping
from app.services.mappings.ckan_resources import derived_child_id, resources_of
from app.services.records import Record
from app.services.sync.merge import canonical

KINDS = ("resources", "links")


def _kind(resource: Mapping[str, Any]) -> str:
    return "links" if resource.get("resource_type") == "link" else "resources"


def _body(kind: str, child_id: str, child: Mapping[str, Any]) -> dict[str, Any]:
    """One child as the resource `to_ckan` would send."""
    (resource,) = resources_of({kind: {child_id: child}}, False)
    return resource


def merged_resources(
    package: Mapping[str, Any], before: Record, after: Record
) -> list[dict[str, Any]]:
    """The resource list to send: `package`'s resources (as read), with the children that
    differ between `before` and `after` (canonical records) changed, added or removed."""
    before_c = canonical(before, KINDS)
    after_c = canonical(after, KINDS)
    package_id = str(package.get("id") or "")
    raw = package.get("resources")
    sent: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    taken: set[str] = set()
    for position, resource in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(resource, dict):
            continue
        kind = _kind(resource)
        child_id = mapping.resource_child_id(resource, position, package_id)
        if child_id in taken:  # as from_ckan reads a repeated id
            child_id = derived_child_id(f"{child_id}:{position}")
        taken.add(child_id)
        old = (before_c.get(kind) or {}).get(child_id)
        new = (after_c.get(kind) or {}).get(child_id)
        seen.add((kind, child_id))
        if old is None:
            sent.append(resource)  # a resource we do not read (or not this kind): kept
        elif new is None:
            continue  # removed here
        elif new == old:
            sent.append(resource)
        else:
            sent.append(_changed(resource, kind, child_id, old, new))
    added = [
        (int(child.get("order") or 0), kind, child_id, child)
        for kind in KINDS
        for child_id, child in (after_c.get(kind) or {}).items()
        if (kind, child_id) not in seen and child_id not in (before_c.get(kind) or {})
    ]
    for _order, kind, child_id, child in sorted(added, key=lambda a: (a[0], a[1], a[2])):
        sent.append(_body(kind, child_id, child))
    return sent


def _changed(
    resource: Mapping[str, Any],
    kind: str,
    child_id: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
) -> dict[str, Any]:
    """`resource` with only the fields whose value changed between `old` and `new`."""
    was, now = _body(kind, child_id, old), _body(kind, child_id, new)
    updated = dict(resource)
    for key in was.keys() | now.keys():
        if was.get(key) != now.get(key):
            updated[key] = now.get(key, "")
    return updated


def merged_extras(package: Mapping[str, Any], extras: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`extras` (our custom fields) and the package's extras no custom field carries."""
    ours = {extra["key"] for extra in extras}
    raw = package.get("extras")
    kept = [
        extra
        for extra in (raw if isinstance(raw, list) else [])
        if isinstance(extra, dict)
        and extra.get("key") == mapping.MARKER
        and extra.get("key") not in ours
    ]
    return [*extras, *kept]
