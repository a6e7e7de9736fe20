"""A record's values in canonical form: what a stored dataset gives back for them.

Two records that mean the same thing are equal in canonical form: an absent optional field, a
null and an empty string are one value; a list or an object comes back as a fresh copy. Sync
compares canonical values (a portal leaving out a null field is no change), the batch write
path stores them, and a new record is the canonical form of nothing.

Each field's conversion is made once from the field table (`_converter`): the write path runs
it for every field of every dataset it writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from app.services.record.fields import (
    CHILDREN,
    DATASET,
    FIELDS,
    LIST_KINDS,
    TEXT_KINDS,
    Field,
    Kind,
)

Record = dict[str, Any]
Converter = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _converter(field: Field) -> Converter:
    """The function that puts a value of `field` in canonical form."""
    kind, default = field.kind, field.default
    if kind is Kind.CHILDREN:
        child = _child_converter(field)
        return lambda value: {cid: child(data) for cid, data in (value or {}).items()}
    if kind is Kind.OBJECT:
        parts = tuple((p.name, _converter(p), p.nullable) for p in field.parts)

        def an_object(value: Any) -> Any:
            data = value or {}
            converted: Record = {}
            for name, convert, nullable in parts:
                part = convert(data.get(name))
                # A part that cannot be null (a time frame's bound) is left out when empty.
                if nullable or part is not None:
                    converted[name] = part
            return converted

        return an_object
    if kind is Kind.CUSTOM:
        return lambda value: dict(value or {})
    if kind in LIST_KINDS:
        return lambda value: list(value or [])
    if kind in (Kind.INTEGER, Kind.BYTES):
        return _same if default is None else lambda value: default if value is None else value
    if kind in TEXT_KINDS:
        required = field.required

        def a_text(value: Any) -> Any:
            if value is None or value == "":
                return default
            text = value if type(value) is str else str(value)
            return text.strip() if required else text

        return a_text
    return _same


def _child_converter(field: Field) -> Callable[[Mapping[str, Any]], Record]:
    parts = tuple((p.name, _converter(p)) for p in field.parts)
    return lambda data: {name: convert(data.get(name)) for name, convert in parts}


_BY_NAME: dict[str, Converter] = {f.name: _converter(f) for f in DATASET}
_CHILD: dict[str, Callable[[Mapping[str, Any]], Record]] = {
    name: _child_converter(child) for name, child in CHILDREN.items()
}
_ORDER = tuple(_BY_NAME.items())


def canonical_value(field: Field, value: Any) -> Any:
    """`value` of `field` in canonical form."""
    convert = _BY_NAME.get(field.name) if FIELDS.get(field.name) is field else None
    return (convert or _converter(field))(value)


def canonical_field(key: str, value: Any) -> Any:
    """The dataset field `key` in canonical form (an unknown key: `value` as it is)."""
    convert = _BY_NAME.get(key)
    return value if convert is None else convert(value)


def canonical_record(record: Mapping[str, Any]) -> Record:
    """Every field of the table, in its order, in canonical form (absent ones empty)."""
    get = record.get
    return {name: convert(get(name)) for name, convert in _ORDER}


def canonical_child(field: Field, data: Mapping[str, Any]) -> Record:
    """A resource or link (`field` is RESOURCE or LINK) in canonical form."""
    return (_CHILD.get(field.name) or _child_converter(field))(data)


def canonical_resource(data: Mapping[str, Any]) -> Record:
    return _CHILD["resources"](data)


def canonical_link(data: Mapping[str, Any]) -> Record:
    return _CHILD["links"](data)


_EMPTY: Record = {field.name: field.empty() for field in DATASET}


def empty_record(dataset_id: str, created_at: str) -> Record:
    """A new dataset's record before the person fills it in."""
    # Lists and objects fresh for each record; an empty object's parts are all None.
    record = {k: v.copy() if isinstance(v, list | dict) else v for k, v in _EMPTY.items()}
    record.update(id=dataset_id, createdAt=created_at, updatedAt=created_at)
    return record
