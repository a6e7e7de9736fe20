"""A record's values in canonical form: what a stored dataset gives back for them.

Two records that mean the same thing are equal in canonical form: an absent optional field, a
null and an empty string are one value; a list or an object comes back as a fresh copy. Sync
compares canonical values (a portal leaving out a null field is no change), and a new record
is the canonical form of nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.services.record.fields import CHILDREN, DATASET, FIELDS, Field, Kind

Record = dict[str, Any]


def canonical_value(field: Field, value: Any) -> Any:
    """`value` of `field` in canonical form."""
    kind = field.kind
    if kind is Kind.CHILDREN:
        return {
            child_id: canonical_child(field, child) for child_id, child in (value or {}).items()
        }
    if kind is Kind.OBJECT:
        data = value or {}
        values: Record = {}
        for part in field.parts:
            part_value = canonical_value(part, data.get(part.name))
            # A part that cannot be null (a time frame's bound) is left out when empty.
            if part.nullable or part_value is not None:
                values[part.name] = part_value
        return values
    if kind is Kind.CUSTOM:
        return dict(value or {})
    if field.is_list:
        return list(value or [])
    if kind in (Kind.INTEGER, Kind.BYTES):
        if value is None and field.default is not None:
            return field.default
        return value
    if field.is_text:
        if value is None or value == "":
            return field.default
        text = str(value)
        return text.strip() if field.required else text
    return value


def canonical_child(field: Field, data: Mapping[str, Any]) -> Record:
    """A resource or link (`field` is RESOURCE or LINK) in canonical form."""
    return {part.name: canonical_value(part, data.get(part.name)) for part in field.parts}


def canonical_field(key: str, value: Any) -> Any:
    """The dataset field `key` in canonical form (an unknown key: `value` as it is)."""
    field = FIELDS.get(key)
    return value if field is None else canonical_value(field, value)


def canonical_resource(data: Mapping[str, Any]) -> Record:
    return canonical_child(CHILDREN["resources"], data)


def canonical_link(data: Mapping[str, Any]) -> Record:
    return canonical_child(CHILDREN["links"], data)


def empty_record(dataset_id: str, created_at: str) -> Record:
    """A new dataset's record before the person fills it in."""
    record = {field.name: field.empty() for field in DATASET}
    record.update(id=dataset_id, createdAt=created_at, updatedAt=created_at)
    return record
