"""Checks on a dataset record before it is written. Each problem is reported against its field."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from app.services.errors import ValidationFailed
from app.services.records import Record

DATASET_ID = re.compile(r"^[a-z0-9]{5}$")
# Seed 002: 3-character ids, "UUID keys are also supported".
CHILD_ID = re.compile(
    r"^(?:[a-z0-9]{3}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
ISO_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MD5 = re.compile(r"^[0-9a-f]{32}$")
# Deliberately simple: one @, no spaces, a dot in the domain. Full RFC 5322 helps nobody here.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SHARING = ("public", "private")
STATES = ("draft", "published")


def is_url(value: str) -> bool:
    parts = urlsplit(value)
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
    _check_dataset_fields(record, errors)
    for rid, resource in (record.get("resources") or {}).items():
        _check_resource(f"resources.{rid}", rid, resource, errors)
    for lid, link in (record.get("links") or {}).items():
        _check_link(f"links.{lid}", lid, link, errors)
    if errors:
        raise ValidationFailed(errors)


def _check_dataset_fields(record: Record, errors: dict[str, str]) -> None:
    if not DATASET_ID.match(str(record.get("id") or "")):
        errors["id"] = "must be 5 lower-case letters or digits"
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        errors["title"] = "a title is required"
    elif len(title) > 500:
        errors["title"] = "must be at most 500 characters"
    if not isinstance(record.get("description") or "", str):
        errors["description"] = "must be text (HTML)"
    iframe = record.get("descriptionIframe")
    if iframe and not is_url(iframe):
        errors["descriptionIframe"] = "must be an http(s) URL"
    for key in ("tags", "topics"):
        values = record.get(key) or []
        if not isinstance(values, list) or not all(
            isinstance(v, str) and v.strip() for v in values
        ):
            errors[key] = "must be a list of non-empty strings"
        elif len(set(values)) != len(values):
            errors[key] = "contains duplicates"
    review = record.get("nextReviewDate")
    if review and not is_iso_date(review):
        errors["nextReviewDate"] = "must be a date, YYYY-MM-DD"
    embargo = record.get("embargoUntil")
    if embargo and not is_iso_date(embargo):
        errors["embargoUntil"] = "must be a date, YYYY-MM-DD"
    licence = record.get("licence") or {}
    if licence.get("url") and not is_url(licence["url"]):
        errors["licence.url"] = "must be an http(s) URL"
    contact = record.get("contact") or {}
    if contact.get("email") and not EMAIL.match(contact["email"]):
        errors["contact.email"] = "is not an email address"
    custom = record.get("custom") or {}
    for key, value in custom.items() if isinstance(custom, dict) else []:
        if not str(key).strip():
            errors["custom"] = "field names must not be empty"
        elif not (isinstance(value, str) or _is_str_list(value)):
            errors[f"custom.{key}"] = "must be a string or a list of strings"
    if record.get("sharing") not in SHARING:
        errors["sharing"] = "must be public or private"
    if record.get("state") not in STATES:
        errors["state"] = "must be draft or published"
    for key in ("collaborators", "readusers"):
        values = record.get(key) or []
        if not isinstance(values, list) or not all(isinstance(v, int) for v in values):
            errors[key] = "must be a list of user ids"


def _check_resource(path: str, rid: str, resource: dict[str, Any], errors: dict[str, str]) -> None:
    if not CHILD_ID.match(rid):
        errors[f"{path}.id"] = "must be 3 lower-case letters or digits, or a UUID"
    if not str(resource.get("title") or "").strip():
        errors[f"{path}.title"] = "a title is required"
    url = resource.get("url")
    if url and not is_url(url):
        errors[f"{path}.url"] = "must be an http(s) URL"
    time_frame = resource.get("timeFrame") or {}
    for bound in ("gte", "lte"):
        value = time_frame.get(bound)
        if value and not ISO_MONTH.match(value):
            errors[f"{path}.timeFrame.{bound}"] = "must be an ISO month, YYYY-MM"
    gte, lte = time_frame.get("gte"), time_frame.get("lte")
    if gte and lte and ISO_MONTH.match(gte) and ISO_MONTH.match(lte) and gte > lte:
        errors[f"{path}.timeFrame.lte"] = "must not be before the start month"
    digest = resource.get("hash")
    if digest and not MD5.match(digest):
        errors[f"{path}.hash"] = "must be an MD5 hex digest"
    size = resource.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        errors[f"{path}.size"] = "must be a whole number of bytes"


def _check_link(path: str, lid: str, link: dict[str, Any], errors: dict[str, str]) -> None:
    if not CHILD_ID.match(lid):
        errors[f"{path}.id"] = "must be 3 lower-case letters or digits, or a UUID"
    url = link.get("url")
    if not url:
        errors[f"{path}.url"] = "a URL is required"
    elif not is_url(url):
        errors[f"{path}.url"] = "must be an http(s) URL"


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
