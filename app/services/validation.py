"""Checks on the values of a dataset record before it is written, by the kinds of the field
table (`record.fields`). Each problem is reported against its field's path (`licence.url`,
`resources.k93.timeFrame.gte`); the import shape check has already dropped values of the
wrong type, so this judges values, not types."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from app.services.errors import ValidationFailed
from app.services.record.fields import DATASET, Field, Kind

Record = dict[str, Any]

DATASET_ID = re.compile(r"^[a-z0-9]{5}$")
# Seed 002: 3-character ids, "UUID keys are also supported".
CHILD_ID = re.compile(
    r"^(?:[a-z0-9]{3}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
ISO_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MD5 = re.compile(r"^[0-9a-f]{32}$")
# Deliberately simple: one @, no spaces, a dot in the domain. Full RFC 5322 helps nobody here.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unbalanced "[" in the host: not an IPv6 address, not a URL
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def is_iso_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def validate_record(record: Record) -> None:
    """Raise ValidationFailed listing every problem with the record."""
    errors: dict[str, str] = {}
    _check_fields(record, DATASET, "", errors)
    if errors:
        raise ValidationFailed(errors)


def _check_fields(
    values: Mapping[str, Any], fields: tuple[Field, ...], prefix: str, errors: dict[str, str]
) -> None:
    for field in fields:
        value = values.get(field.name)
        path = prefix + field.name
        if field.kind is Kind.OBJECT:
            _check_fields(value or {}, field.parts, path + ".", errors)
        elif field.kind is Kind.CUSTOM:
            _check_custom(value, path, errors)
        elif field.kind is Kind.CHILDREN:
            for child_id, child in (value or {}).items():
                _check_child(field, f"{path}.{child_id}", child_id, child, errors)
        else:
            problem = value_error(field, value)
            if problem:
                errors[path] = problem


def _check_child(
    field: Field, path: str, child_id: str, child: Mapping[str, Any], errors: dict[str, str]
) -> None:
    if not CHILD_ID.match(child_id):
        errors[f"{path}.id"] = "must be 3 lower-case letters or digits, or a UUID"
    _check_fields(child, field.parts, path + ".", errors)
    time_frame = child.get("timeFrame") or {}
    gte, lte = time_frame.get("gte"), time_frame.get("lte")
    if gte and lte and ISO_MONTH.match(gte) and ISO_MONTH.match(lte) and gte > lte:
        errors[f"{path}.timeFrame.lte"] = "must not be before the start month"


def value_error(field: Field, value: Any) -> str | None:
    """What is wrong with `value` for `field`, or None (objects and children: see
    validate_record)."""
    empty = value is None or value == "" or value == []
    if field.required and (empty or (isinstance(value, str) and not value.strip())):
        name = field.label if field.label.isupper() else field.label.lower()
        return f"a {name} is required"
    if field.kind is Kind.CHOICE:
        return None if value in field.choices else "must be " + " or ".join(field.choices)
    if field.kind is Kind.DATASET_ID:
        return (
            None if DATASET_ID.match(str(value or "")) else "must be 5 lower-case letters or digits"
        )
    if empty:
        return None
    if field.max_length and isinstance(value, str) and len(value) > field.max_length:
        return f"must be at most {field.max_length} characters"
    check = _CHECKS.get(field.kind)
    return check(value) if check else None


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be text (HTML)"


def _pattern(pattern: re.Pattern[str], message: str) -> Callable[[Any], str | None]:
    return lambda value: None if isinstance(value, str) and pattern.match(value) else message


def _url(value: Any) -> str | None:
    return None if isinstance(value, str) and is_url(value) else "must be an http(s) URL"


def _date(value: Any) -> str | None:
    return None if isinstance(value, str) and is_iso_date(value) else "must be a date, YYYY-MM-DD"


def _text_list(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return "must be a list of non-empty strings"
    if len(set(value)) != len(value):
        return "contains duplicates"
    return None


def _user_ids(value: Any) -> str | None:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return "must be a list of user ids"
    if len(set(value)) != len(value):
        return "contains duplicates"
    return None


def _size(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return "must be a whole number of bytes"
    return None


def _check_custom(value: Any, path: str, errors: dict[str, str]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        errors[path] = "must be an object of fields"
        return
    for key, item in value.items():
        if not str(key).strip():
            errors[path] = "field names must not be empty"
        elif not (isinstance(item, str) or _is_str_list(item)):
            errors[f"{path}.{key}"] = "must be a string or a list of strings"


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


_CHECKS: dict[Kind, Callable[[Any], str | None]] = {
    Kind.HTML: _text,
    Kind.URL: _url,
    Kind.EMAIL: _pattern(EMAIL, "is not an email address"),
    Kind.DATE: _date,
    Kind.MONTH: _pattern(ISO_MONTH, "must be an ISO month, YYYY-MM"),
    Kind.HASH: _pattern(MD5, "must be an MD5 hex digest"),
    Kind.TEXT_LIST: _text_list,
    Kind.TEAM_REFS: _text_list,
    Kind.USER_REFS: _user_ids,
    Kind.BYTES: _size,
}
