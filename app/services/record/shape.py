"""The types and sizes of a record that comes from outside, checked against the field table.

A file or a PATCH can hold anything JSON can: a list where a title goes, a number for a
licence URL, an object nested 600 levels deep, a number too big for SQLite, text with unpaired
surrogates that cannot be stored. `check_shape` reports each such value against its path and
leaves it out, so validation (which judges values) and the write never meet a value of the
wrong type. The import preview and the PATCH route both use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.services.record.fields import DATASET, Field, Kind

Path = tuple[str, ...]

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_INT64 = 2**63 - 1
# The most characters accepted for a child id (seed 002: 3 characters, or a UUID).
CHILD_ID_LENGTH = 36
# Custom fields (site-defined): how many, the length of a name and of a text.
CUSTOM_FIELDS = 200
CUSTOM_NAME_LENGTH = 100
CUSTOM_TEXT_LENGTH = 10_000


def text_problem(value: Any, limit: int | None = None) -> str | None:
    """What is wrong with `value` as a text of at most `limit` characters, or None."""
    if not isinstance(value, str):
        return "must be text"
    # isascii() is a flag CPython keeps: most texts need no scan for surrogates.
    if not value.isascii() and _SURROGATE.search(value):
        return "contains characters that are not valid Unicode"
    if limit is not None and len(value) > limit:
        return f"must be at most {limit} characters"
    return None


def integer_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be a whole number"
    if abs(value) > _INT64:
        return "is too large"
    return None


def value_problem(field: Field, value: Any) -> str | None:
    """What is wrong with the type or size of a scalar or list `value` of `field`, or None.
    Objects and children are walked by `check_shape`."""
    if value is None:
        return None if field.nullable else "is required" if field.required else None
    return _problem_of(field)(value)


Problem = Callable[[Any], str | None]


def _problem_of(field: Field) -> Problem:
    """What is wrong with a value (not None) of a scalar or list `field`: made once per field,
    as every dataset of an import is checked."""
    kind = field.kind
    if field.is_text:
        limit = field.max_length
        return lambda value: text_problem(value, limit)
    if kind in (Kind.INTEGER, Kind.BYTES):
        return integer_problem
    if kind is Kind.USER_REFS:
        return lambda value: _items_problem(field, value) or _user_ids_problem(value)
    if field.is_list:
        limit = field.max_length
        return lambda value: _items_problem(field, value) or _text_list_problem(value, limit)
    if kind is Kind.CUSTOM:
        return custom_problem
    return lambda value: None


def items_problem(field: Field, value: list[Any] | dict[str, Any]) -> str | None:
    """Whether the list (or the children) `value` holds more items than `field` allows."""
    if field.max_items is not None and len(value) > field.max_items:
        return f"must hold at most {field.max_items} items"
    return None


def _items_problem(field: Field, value: Any) -> str | None:
    return items_problem(field, value) if isinstance(value, list) else None


def _user_ids_problem(value: Any) -> str | None:
    if not isinstance(value, list) or any(integer_problem(v) for v in value):
        return "must be a list of user ids (numbers)"
    return None


def _text_list_problem(value: Any, limit: int | None = None) -> str | None:
    if not isinstance(value, list):
        return "must be a list of text"
    for item in value:
        problem = text_problem(item, limit)
        if problem:
            return f"every item {problem}"
    return None


def custom_problem(value: Any) -> str | None:
    """What is wrong with the type or size of the custom fields `value`, or None."""
    if not isinstance(value, dict):
        return "must be an object of fields"
    if len(value) > CUSTOM_FIELDS:
        return f"must hold at most {CUSTOM_FIELDS} fields"
    for key, item in value.items():
        if text_problem(key, CUSTOM_NAME_LENGTH):
            return f"field names must be text of at most {CUSTOM_NAME_LENGTH} characters"
        texts = item if isinstance(item, list) else [item]
        if len(texts) > CUSTOM_FIELDS or any(text_problem(t, CUSTOM_TEXT_LENGTH) for t in texts):
            return (
                f"field {str(key)[:40]!r} must be a text or a list of at most {CUSTOM_FIELDS} "
                f"texts, each of at most {CUSTOM_TEXT_LENGTH} characters"
            )
    return None


def check_shape(
    record: Mapping[str, Any], *, unknown: bool = False
) -> tuple[dict[str, Any], dict[Path, str]]:
    """`record` without the values of a wrong type or size, and what was wrong with each, by
    path (`("resources", "k93", "size")`). With `unknown`, keys that are not fields are
    reported too (else they are left out silently)."""
    errors: dict[Path, str] = {}
    clean = _walk(record, _DATASET_STEPS, (), errors, unknown)
    return clean, errors


# How each field of a level is checked, made once from the field table: its name, its kind
# (_OBJECT, _CHILDREN or _VALUE), then for an object or children the steps of its parts, for a
# value what may be wrong with it, whether it may be null, whether it must be given, and the
# field (whose empty value stands for a null it may not hold).
_OBJECT, _CHILDREN, _VALUE = range(3)


@dataclass(frozen=True, slots=True)
class _Steps:
    names: frozenset[str]
    steps: tuple[tuple[str, int, Any, bool, bool, Field], ...]


def _steps(fields: tuple[Field, ...]) -> _Steps:
    steps: list[tuple[str, int, Any, bool, bool, Field]] = []
    for field in fields:
        if field.kind is Kind.OBJECT:
            steps.append((field.name, _OBJECT, _steps(field.parts), True, False, field))
        elif field.kind is Kind.CHILDREN:
            steps.append((field.name, _CHILDREN, _steps(field.parts), True, False, field))
        else:
            check = _problem_of(field)
            steps.append((field.name, _VALUE, check, field.nullable, field.required, field))
    return _Steps(frozenset(f.name for f in fields), tuple(steps))


def _walk(
    values: Mapping[str, Any],
    level: _Steps,
    path: Path,
    errors: dict[Path, str],
    unknown: bool,
) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    if unknown:
        for key in values:
            if key not in level.names:
                errors[(*path, str(key))] = "is not a field"
    for name, kind, check, nullable, required, field in level.steps:
        if name not in values:
            continue
        value = values[name]
        if kind == _VALUE:
            if value is None:
                if nullable:
                    clean[name] = None
                elif required:
                    errors[(*path, name)] = "is required"
                else:
                    clean[name] = field.empty()  # null for "none": an empty list, text
                continue
            problem = check(value)
            if problem:
                errors[(*path, name)] = problem
            else:
                clean[name] = value
        elif kind == _OBJECT:
            if value is None:
                clean[name] = {}
            elif isinstance(value, dict):
                clean[name] = _walk(value, check, (*path, name), errors, unknown)
            else:
                errors[(*path, name)] = "must be an object"
        else:
            children = _children(field, check, value, (*path, name), errors, unknown)
            if children is not None:
                clean[name] = children
    return clean


def _children(
    field: Field,
    level: _Steps,
    value: Any,
    path: Path,
    errors: dict[Path, str],
    unknown: bool,
) -> dict[str, Any] | None:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors[path] = "must be an object keyed by id"
        return None
    too_many = items_problem(field, value)
    if too_many:
        errors[path] = too_many
        return None
    children: dict[str, Any] = {}
    for child_id, child in value.items():
        if text_problem(child_id, CHILD_ID_LENGTH):
            errors[(*path, "id")] = f"ids must be text of at most {CHILD_ID_LENGTH} characters"
            continue
        if not isinstance(child, dict):
            errors[(*path, child_id)] = "must be an object"
            continue
        children[child_id] = _walk(child, level, (*path, child_id), errors, unknown)
    return children


_DATASET_STEPS = _steps(DATASET)
