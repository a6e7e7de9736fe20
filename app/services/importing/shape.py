"""The types and sizes of a record read from a file, checked before validation sees it.

validation.validate_record checks the values a person types into the form; a file can hold
anything JSON, RDF or a spreadsheet can: a list where a title goes, an object for a licence, a
number too big for SQLite, text with unpaired surrogates that cannot be stored. `check_shape`
reports each such field (by its record path) and drops it, so validation and the write never
meet a value of the wrong kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from app.services.records import Record

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_INT64 = 2**63 - 1

Check = Callable[[Any], str | None]  # a value -> what is wrong with it, or None


def _text(limit: int | None = None, *, nullable: bool = True) -> Check:
    def check(value: Any) -> str | None:
        if value is None:
            return None if nullable else "is required"
        if not isinstance(value, str):
            return "must be text"
        if _SURROGATE.search(value):
            return "contains characters that are not valid Unicode"
        if limit is not None and len(value) > limit:
            return f"must be at most {limit} characters"
        return None

    return check


def _integer(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be a whole number"
    if abs(value) > _INT64:
        return "is too large"
    return None


def _text_list(value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be a list of text"
    for item in value:
        problem = _text(nullable=False)(item)
        if problem:
            return f"every item {problem}"
    return None


def _id_list(value: Any) -> str | None:
    if not isinstance(value, list) or not all(_integer(v) is None and v is not None for v in value):
        return "must be a list of user ids (numbers)"
    return None


def _custom(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be an object of fields"
    for key, item in value.items():
        if _text(nullable=False)(key) or (
            _text(nullable=False)(item) and _text_list(item) is not None
        ):
            return f"field {str(key)[:40]!r} must be text or a list of text"
    return None


_DATASET: dict[str, Check] = {
    "id": _text(36),
    "title": _text(nullable=False),
    "description": _text(),
    "descriptionText": _text(),
    "descriptionIframe": _text(),
    "masthead": _text(100),
    "tags": _text_list,
    "topics": _text_list,
    "nextReviewDate": _text(10),
    "custom": _custom,
    "team": _text(100),
    "sharing": _text(10),
    "collaborators": _id_list,
    "readusers": _id_list,
    "readteams": _text_list,
    "createdAt": _text(24),
    "updatedAt": _text(24),
    "site": _text(100),
    "state": _text(10),
    "embargoUntil": _text(10),
}
_PAIRS: dict[str, dict[str, Check]] = {
    "licence": {"url": _text(), "title": _text()},
    "contact": {"email": _text(), "title": _text()},
}
_RESOURCE: dict[str, Check] = {
    "url": _text(),
    "order": _integer,
    "title": _text(),
    "description": _text(),
    "filename": _text(),
    "format": _text(40),
    "hash": _text(64),
    "size": _integer,
    "timestamp": _text(32),
    "origin": _text(),
}
_TIME_FRAME: dict[str, Check] = {"gte": _text(7), "lte": _text(7)}
_LINK: dict[str, Check] = {
    "url": _text(),
    "order": _integer,
    "title": _text(),
    "description": _text(),
}
_QA: dict[str, Check] = {
    "timestamp": _text(32),
    "hash": _text(),
    "size": _integer,
    "mimetype": _text(),
    "httpStatus": _integer,
}


def check_shape(record: Record) -> tuple[Record, dict[str, str]]:
    """`record` with the fields of a wrong type or size left out, and what was wrong with
    each, by record path (e.g. `resources.k93.size`)."""
    errors: dict[str, str] = {}
    clean = _fields(record, _DATASET, "", errors)
    for key, fields in _PAIRS.items():
        _object(record, key, fields, key, errors, clean)
    for key, fields in (("resources", _RESOURCE), ("links", _LINK)):
        if key in record:
            children = _children(record[key], fields, key, errors)
            if children is not None:
                clean[key] = children
    return clean, errors


def _fields(
    values: dict[str, Any], checks: dict[str, Check], prefix: str, errors: dict[str, str]
) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, check in checks.items():
        if key not in values:
            continue
        problem = check(values[key])
        if problem:
            errors[prefix + key] = problem
        else:
            clean[key] = values[key]
    return clean


def _object(
    owner: dict[str, Any],
    key: str,
    checks: dict[str, Check],
    path: str,
    errors: dict[str, str],
    clean: dict[str, Any],
) -> None:
    """`owner[key]`, an object of a few known fields (None for none), checked into `clean`."""
    if key not in owner:
        return
    value = owner[key]
    if value is None:
        clean[key] = {}
    elif isinstance(value, dict):
        clean[key] = _fields(value, checks, f"{path}.", errors)
    else:
        errors[path] = "must be an object"


def _children(
    value: Any, checks: dict[str, Check], key: str, errors: dict[str, str]
) -> dict[str, Any] | None:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors[key] = "must be an object keyed by id"
        return None
    children: dict[str, Any] = {}
    for child_id, child in value.items():
        path = f"{key}.{child_id}"
        if _text(36, nullable=False)(child_id):
            errors[f"{key}.id"] = "ids must be text of at most 36 characters"
            continue
        if not isinstance(child, dict):
            errors[path] = "must be an object"
            continue
        clean = _fields(child, checks, f"{path}.", errors)
        _object(child, "timeFrame", _TIME_FRAME, f"{path}.timeFrame", errors, clean)
        _object(child, "qa", _QA, f"{path}.qa", errors, clean)
        children[child_id] = clean
    return children
