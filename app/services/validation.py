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
from app.services.record.shape import custom_problem, items_problem

Record = dict[str, Any]

DATASET_ID = re.compile(r"^[a-z0-9]{5}$")
# Seed 002: 3-character ids, "UUID keys are also supported".
CHILD_ID = re.compile(
    r"^(?:[a-z0-9]{3}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
ISO_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MD5 = re.compile(r"^[0-9a-f]{32}$")
# A file's hash as portals hold it: `<algorithm>:<hex digest>`, or an MD5 digest alone (what
# seed 002 and our own file reading write). The digest's length is the algorithm's.
HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
# Lower-case algorithm names, hex of either case; plain enough for JSON Schema (record.openapi).
HASH_PATTERN = (
    "^(?:"
    + "|".join(f"{name}:[0-9a-fA-F]{{{length}}}" for name, length in HASH_LENGTHS.items())
    + "|[0-9a-fA-F]{32})$"
)
HASH = re.compile(HASH_PATTERN)
# Deliberately simple: one @, no spaces, a dot in the domain. Full RFC 5322 helps nobody here.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

WEB_SCHEMES = ("http", "https")
# Where a file may be, as portals allow it (CKAN takes any URL; real catalogues hold ftp://).
# Never javascript: or data:, which are no place a file is fetched from.
FILE_SCHEMES = ("http", "https", "ftp", "ftps", "sftp")

# A URL of printable ASCII with a plain host: a URL by the rule below, read without urlsplit
# (the batch write path checks every file's URL).
_HOST_AND_REST = r"://[A-Za-z0-9\-._~%!$&'()*+,;=:@]+(?:[/?#][!-~]*)?\Z"
_PLAIN_URL = re.compile(r"(?i)https?" + _HOST_AND_REST)
_PLAIN_FILE_URL = re.compile(r"(?i)(?:https?|ftps?|sftp)" + _HOST_AND_REST)
_PLAIN = {WEB_SCHEMES: _PLAIN_URL, FILE_SCHEMES: _PLAIN_FILE_URL}


def is_url(value: str, schemes: tuple[str, ...] = WEB_SCHEMES) -> bool:
    """Whether `value` is an absolute URL with a host, of one of `schemes` (http(s) unless
    told)."""
    plain = _PLAIN.get(schemes)
    if plain is not None and plain.match(value):
        return True
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unbalanced "[" in the host: not an IPv6 address, not a URL
        return False
    return parts.scheme.lower() in schemes and bool(parts.netloc) and " " not in value


def is_file_url(value: str) -> bool:
    """A URL a file may be fetched from: http, https, ftp, ftps or sftp."""
    return is_url(value, FILE_SCHEMES)


def hash_parts(value: str) -> tuple[str, str] | None:
    """(algorithm, lower-case hex digest) of a valid hash (a bare digest is MD5), else None."""
    if not HASH.match(value):
        return None
    algorithm, _, digest = value.rpartition(":")
    return (algorithm or "md5"), digest.lower()


def is_iso_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def validate_record(record: Record) -> None:
    """Raise ValidationFailed listing every problem with the record."""
    errors: dict[str, str] = {}
    _run(_DATASET_CHECKS, record, "", errors)
    if errors:
        raise ValidationFailed(errors)


# A field's check: its value, its path, the errors to add to. Made once per field from the
# field table (`_compile`), as validation runs for every dataset an import writes.
FieldCheck = Callable[[Any, str, dict[str, str]], None]


def _run(
    checks: tuple[tuple[str, FieldCheck], ...],
    values: Mapping[str, Any],
    prefix: str,
    errors: dict[str, str],
) -> None:
    get = values.get
    for name, check in checks:
        check(get(name), prefix + name, errors)


def _compile(fields: tuple[Field, ...]) -> tuple[tuple[str, FieldCheck], ...]:
    return tuple((field.name, _field_check(field)) for field in fields if _has_rules(field))


def _has_rules(field: Field) -> bool:
    """Whether any value of `field` can be wrong (a plain text or a number never is: the shape
    check has seen to its type)."""
    return (
        field.required
        or bool(field.max_length)
        or bool(field.max_items)
        or field.kind in _CHECKS
        or field.kind in (Kind.CHOICE, Kind.DATASET_ID, Kind.OBJECT, Kind.CUSTOM, Kind.CHILDREN)
    )


def _field_check(field: Field) -> FieldCheck:
    if field.kind is Kind.OBJECT:
        parts = _compile(field.parts)

        def an_object(value: Any, path: str, errors: dict[str, str]) -> None:
            _run(parts, value or {}, path + ".", errors)

        return an_object
    if field.kind is Kind.CUSTOM:
        return _check_custom
    if field.kind is Kind.CHILDREN:
        children = _compile(field.parts)

        def children_of(value: Any, path: str, errors: dict[str, str]) -> None:
            too_many = items_problem(field, value or {})
            if too_many:
                errors[path] = too_many
                return
            for child_id, child in (value or {}).items():
                _check_child(children, f"{path}.{child_id}", child_id, child, errors)

        return children_of
    # Only a required field, a choice or an id can be wrong when it has no value.
    if not field.required and field.kind not in (Kind.CHOICE, Kind.DATASET_ID):
        return _optional_check(field)
    problem_of = _value_check(field)

    def a_value(value: Any, path: str, errors: dict[str, str]) -> None:
        problem = problem_of(value)
        if problem:
            errors[path] = problem

    return a_value


def _optional_check(field: Field) -> FieldCheck:
    """`_value_check` of a field that may be empty, in one call: most of a record's fields."""
    limit, check = field.max_length, _CHECKS.get(field.kind)
    too_long = f"must be at most {limit} characters"

    def an_optional_value(value: Any, path: str, errors: dict[str, str]) -> None:
        if value is None or value == "" or value == []:
            return
        if limit and isinstance(value, str) and len(value) > limit:
            errors[path] = too_long
            return
        if check is not None:
            problem = check(value)
            if problem:
                errors[path] = problem

    return an_optional_value


def _check_child(
    checks: tuple[tuple[str, FieldCheck], ...],
    path: str,
    child_id: str,
    child: Mapping[str, Any],
    errors: dict[str, str],
) -> None:
    if not CHILD_ID.match(child_id):
        errors[f"{path}.id"] = "must be 3 lower-case letters or digits, or a UUID"
    _run(checks, child, path + ".", errors)
    time_frame = child.get("timeFrame") or {}
    gte, lte = time_frame.get("gte"), time_frame.get("lte")
    if gte and lte and ISO_MONTH.match(gte) and ISO_MONTH.match(lte) and gte > lte:
        errors[f"{path}.timeFrame.lte"] = "must not be before the start month"


def _value_check(field: Field) -> Callable[[Any], str | None]:
    """What is wrong with a value of `field` (a scalar or a list), or None."""
    required, kind, limit = field.required, field.kind, field.max_length
    label = field.label if field.label.isupper() else field.label.lower()
    check = _CHECKS.get(kind)

    def problem(value: Any) -> str | None:
        empty = value is None or value == "" or value == []
        if required and (empty or (isinstance(value, str) and not value.strip())):
            return f"a {label} is required"
        if kind is Kind.CHOICE:
            return None if value in field.choices else "must be " + " or ".join(field.choices)
        if kind is Kind.DATASET_ID:
            ok = DATASET_ID.match(str(value or ""))
            return None if ok else "must be 5 lower-case letters or digits"
        if empty:
            return None
        if limit and isinstance(value, str) and len(value) > limit:
            return f"must be at most {limit} characters"
        if isinstance(value, list):
            if field.max_items is not None and len(value) > field.max_items:
                return items_problem(field, value)
            if limit and any(isinstance(v, str) and len(v) > limit for v in value):
                return f"every item must be at most {limit} characters"
        return check(value) if check else None

    return problem


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be text (HTML)"


def _pattern(pattern: re.Pattern[str], message: str) -> Callable[[Any], str | None]:
    return lambda value: None if isinstance(value, str) and pattern.match(value) else message


def _url(value: Any) -> str | None:
    return None if isinstance(value, str) and is_url(value) else "must be an http(s) URL"


def _file_url(value: Any) -> str | None:
    if isinstance(value, str) and is_file_url(value):
        return None
    return "must be an http, https, ftp, ftps or sftp URL"


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
    problem = custom_problem(value)
    if problem:
        errors[path] = problem
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
    Kind.FILE_URL: _file_url,
    Kind.EMAIL: _pattern(EMAIL, "is not an email address"),
    Kind.DATE: _date,
    Kind.MONTH: _pattern(ISO_MONTH, "must be an ISO month, YYYY-MM"),
    Kind.HASH: _pattern(
        HASH, "must be <algorithm>:<hex digest> (md5, sha1, sha256, sha512) or an MD5 digest"
    ),
    Kind.TEXT_LIST: _text_list,
    Kind.TEAM_REFS: _text_list,
    Kind.USER_REFS: _user_ids,
    Kind.BYTES: _size,
}


_DATASET_CHECKS = _compile(DATASET)
