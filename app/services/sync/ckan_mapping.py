"""CKAN package dict <-> our canonical record (seed 002), with what cannot be carried over.

Pure functions, no HTTP: `package_to_record` maps a `package_show` / `package_search` result,
`record_to_package` builds the body of `package_create` / `package_patch`, `carried` is a record
as the portal would give it back, `outgoing_issues` lists what of a record the portal cannot hold.

The mapping (the same conventions as our own CKAN-compatible API, services.formats.ckan):

- title, description (HTML) <-> title, notes;
- tags <-> tags[].name (CKAN refuses some characters: those tags are reported, not sent);
- topics <-> groups[].name (only groups the portal has; others are reported);
- licence <-> license_id from the portal's `license_list`, matched by URL, then title; a licence
  the portal does not know is sent by its title (or URL) alone, and its URL is reported;
- contact <-> maintainer, maintainer_email; custom <-> extras (a list value as a JSON array);
- resources, links <-> resources with resource_type "file" / "link"; our child id, order and
  the fields CKAN lacks (filename, time frame, origin, link QA) travel as resource keys of their
  own, which CKAN keeps;
- sharing <-> private; state <-> state "active" (published) / "draft" (listed with
  include_drafts).

Not carried (reported when set): descriptionIframe, masthead, nextReviewDate, team (CKAN
organizations are not our teams; a new package goes to the portal's organization), collaborators,
readusers, readteams (CKAN membership is per organization), embargoUntil (an embargoed dataset is
sent as a draft until the day passes, so it is never public early).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from app.services import policy
from app.services.clock import as_seed_time, parse_utc
from app.services.records import Record
from app.services.text import slugify
from app.services.validation import CHILD_ID

# Record keys a CKAN package carries; the engine compares and writes only these.
CARRIED: tuple[str, ...] = (
    "title",
    "description",
    "tags",
    "topics",
    "licence",
    "contact",
    "custom",
    "resources",
    "links",
    "sharing",
    "state",
)
NOT_CARRIED: dict[str, str] = {
    "descriptionIframe": "CKAN has no iframe field",
    "masthead": "CKAN has no masthead",
    "nextReviewDate": "CKAN has no review date",
    "team": "CKAN organizations are not our teams; the package stays in its organization",
    "collaborators": "CKAN grants editing per organization, not per dataset",
    "readusers": "CKAN grants reading per organization, not per dataset",
    "readteams": "CKAN grants reading per organization, not per dataset",
    "embargoUntil": "CKAN has no embargo; the dataset is kept a draft until the day passes",
}

# Resource keys that carry our fields CKAN has no column for (CKAN keeps unknown resource keys).
RES_ID = "catalogue_desk_id"
RES_ORDER = "catalogue_desk_order"
RES_FILENAME = "filename"
RES_FROM = "time_frame_from"
RES_TO = "time_frame_to"
RES_ORIGIN = "origin"
QA_KEYS = {
    "timestamp": "qa_timestamp",
    "hash": "qa_hash",
    "size": "qa_size",
    "mimetype": "qa_mimetype",
    "httpStatus": "qa_http_status",
}
# Package fields an extra may not be named after (CKAN refuses "a schema field with the same
# name"); a custom field so named is reported instead of sent.
CORE_PACKAGE_FIELDS = frozenset(
    {
        "id",
        "name",
        "title",
        "author",
        "author_email",
        "maintainer",
        "maintainer_email",
        "license_id",
        "notes",
        "url",
        "version",
        "state",
        "type",
        "private",
        "owner_org",
        "extras",
        "tags",
        "groups",
        "resources",
        "relationships_as_object",
        "relationships_as_subject",
        "metadata_created",
        "metadata_modified",
        "creator_user_id",
    }
)
# CKAN's tag validator: alphanumerics, spaces and - _ . ; 2 to 100 characters.
TAG = re.compile(r"^[\w \-.]{2,100}$")
PACKAGE_NAME = re.compile(r"^[a-z0-9_-]{2,100}$")


@dataclass(frozen=True, slots=True)
class CkanLicence:
    """One entry of the portal's `license_list`."""

    id: str
    title: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Issue:
    """Something of one dataset that cannot be carried over (field path, why)."""

    field: str
    reason: str


class Malformed(ValueError):
    """A package dict without the shape CKAN documents; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class PortalVocabulary:
    """What the portal knows that the mapping needs: its licences and its groups (None: not
    known, every group name is sent)."""

    licences: Sequence[CkanLicence] = ()
    groups: frozenset[str] | None = None


# -- timestamps ----------------------------------------------------------------------------------


# CKAN's naive-UTC ISO timestamps ("2024-05-01T10:00:00.123456") in our format
# ("2024-05-01T10:00:00.123Z").
from_ckan_time = as_seed_time


def to_ckan_time(value: Any) -> str | None:
    """Our timestamps as CKAN stores them: naive UTC, microseconds."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_utc(value).isoformat(timespec="microseconds")
    except ValueError:
        return value


# -- CKAN -> ours --------------------------------------------------------------------------------


def package_to_record(package: Any) -> Record:
    """Our record (only the CARRIED keys, plus createdAt/updatedAt) of a CKAN package dict.
    Raises Malformed if the dict lacks what CKAN always returns."""
    if not isinstance(package, dict):
        raise Malformed("a package is not a JSON object")
    for key in ("id", "name"):
        if not isinstance(package.get(key), str) or not package[key]:
            raise Malformed(f"the package has no {key}")
    tags = _objects(package, "tags")
    groups = _objects(package, "groups")
    extras = _objects(package, "extras")
    resources = _objects(package, "resources")
    record: Record = {
        "title": _str(package.get("title")) or package["name"],
        "description": _str(package.get("notes")),
        "tags": [t["name"] for t in tags if isinstance(t.get("name"), str)],
        "topics": [g["name"] for g in groups if isinstance(g.get("name"), str)],
        "licence": {
            "url": _str(package.get("license_url")) or _url_or_none(package.get("license_id")),
            "title": _str(package.get("license_title")) or _str(package.get("license_id")) or None,
        },
        "contact": {
            "email": _str(package.get("maintainer_email")) or None,
            "title": _str(package.get("maintainer")) or None,
        },
        "custom": _extras_to_custom(extras),
        "resources": {},
        "links": {},
        "sharing": "private" if package.get("private") is True else "public",
        "state": "draft" if package.get("state") == "draft" else "published",
        "createdAt": from_ckan_time(package.get("metadata_created")),
        "updatedAt": from_ckan_time(package.get("metadata_modified")),
    }
    if not record["licence"]["url"]:
        record["licence"]["url"] = None
    for position, resource in enumerate(resources):
        kind, child_id, child = _child_from_resource(resource, position)
        record[kind][child_id] = child
    return record


def _objects(package: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    value = package.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise Malformed(f"the package's {key} is not a list of objects")
    return value


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _url_or_none(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return value
    return None


def _extras_to_custom(extras: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    for extra in extras:
        key, value = extra.get("key"), extra.get("value")
        if not isinstance(key, str) or not key:
            continue
        custom[key] = _extra_value(value)
    return custom


def _extra_value(value: Any) -> str | list[str]:
    """Our own CKAN API writes a list value as a JSON array; read it back as a list."""
    if isinstance(value, str) and value.startswith("["):
        try:
            decoded = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        if isinstance(decoded, list) and all(isinstance(v, str) for v in decoded):
            return decoded
    if isinstance(value, str):
        return value
    return "" if value is None else orjson.dumps(value).decode()


def _child_from_resource(
    resource: Mapping[str, Any], position: int
) -> tuple[Literal["resources", "links"], str, Record]:
    resource_id = resource.get("id")
    if not isinstance(resource_id, str) or not resource_id:
        raise Malformed(f"resource {position} has no id")
    ours = resource.get(RES_ID)
    # Our own child id when we wrote it; else CKAN's resource id (a UUID, a valid child id).
    child_id = ours if isinstance(ours, str) and CHILD_ID.match(ours) else resource_id.lower()
    order = _int(resource.get(RES_ORDER))
    if order is None:
        order = _int(resource.get("position"))
    if order is None:
        order = position
    title = _str(resource.get("name"))
    url = _str(resource.get("url"))
    description = _str(resource.get("description"))
    if resource.get("resource_type") == "link":
        qa = {ours_key: resource.get(theirs) for ours_key, theirs in QA_KEYS.items()}
        qa["size"] = _int(qa["size"])
        qa["httpStatus"] = _int(qa["httpStatus"])
        for key in ("timestamp", "hash", "mimetype"):
            qa[key] = _str(qa[key]) or None
        return (
            "links",
            child_id,
            {
                "url": url,
                "order": order,
                "title": title,
                "description": description,
                "qa": qa,
            },
        )
    digest = _str(resource.get("hash"))
    if digest.startswith("md5:"):
        digest = digest[4:]
    time_frame = {
        bound: _str(resource.get(key))
        for bound, key in (("gte", RES_FROM), ("lte", RES_TO))
        if _str(resource.get(key))
    }
    return (
        "resources",
        child_id,
        {
            "url": url,
            "order": order,
            "title": title,
            "description": description,
            "filename": _str(resource.get(RES_FILENAME)) or None,
            "timeFrame": time_frame,
            "format": _str(resource.get("format")) or None,
            "hash": digest.lower() or None,
            "size": _int(resource.get("size")),
            "timestamp": from_ckan_time(resource.get("last_modified")),
            "origin": _str(resource.get(RES_ORIGIN)) or None,
        },
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


# -- ours -> CKAN --------------------------------------------------------------------------------


def package_name(record: Record) -> str:
    """The CKAN name a new package gets: the title's slug and our id, so it is readable, unique
    and found again by `find` after an interrupted create."""
    slug = slugify(str(record.get("title") or ""))[:90].strip("-")
    return f"{slug}-{record['id']}" if slug else f"dataset-{record['id']}"


def is_embargoed(record: Mapping[str, Any], today: str | None = None) -> bool:
    embargo = record.get("embargoUntil")
    return policy.is_embargoed(str(embargo) if embargo else None, today)


def record_to_package(
    record: Mapping[str, Any],
    vocabulary: PortalVocabulary = PortalVocabulary(),
    *,
    keys: Iterable[str] = CARRIED,
    today: str | None = None,
) -> tuple[dict[str, Any], list[Issue]]:
    """The package fields for `keys` of `record`, and what could not go. A key outside CARRIED
    is ignored (see NOT_CARRIED)."""
    wanted = [k for k in keys if k in CARRIED]
    package: dict[str, Any] = {}
    issues: list[Issue] = []
    for key in wanted:
        value = record.get(key)
        if key == "title":
            package["title"] = str(value or "").strip()
        elif key == "description":
            package["notes"] = str(value or "")
        elif key == "tags":
            good = []
            for tag in value or []:
                if TAG.match(tag):
                    good.append({"name": tag})
                else:
                    issues.append(
                        Issue(
                            "tags",
                            f"tag {tag!r} has characters CKAN refuses (letters, digits, "
                            "spaces, - _ . only, 2 to 100 of them)",
                        )
                    )
            package["tags"] = good
        elif key == "topics":
            groups = []
            for topic in value or []:
                if vocabulary.groups is None or topic in vocabulary.groups:
                    groups.append({"name": topic})
                else:
                    issues.append(Issue("topics", f"the portal has no group {topic!r}"))
            package["groups"] = groups
        elif key == "licence":
            license_id, issue = _licence_id(value or {}, vocabulary.licences)
            package["license_id"] = license_id
            if issue:
                issues.append(issue)
        elif key == "contact":
            contact = value or {}
            package["maintainer"] = contact.get("title") or ""
            package["maintainer_email"] = contact.get("email") or ""
        elif key == "custom":
            extras = []
            for name, data in sorted((value or {}).items()):
                if name in CORE_PACKAGE_FIELDS:
                    issues.append(Issue(f"custom/{name}", "CKAN has a package field of that name"))
                    continue
                text = data if isinstance(data, str) else orjson.dumps(list(data)).decode()
                extras.append({"key": name, "value": text})
            package["extras"] = extras
        elif key == "sharing":
            package["private"] = value == "private"
        elif key == "state":
            published = value == "published" and not is_embargoed(record, today)
            package["state"] = "active" if published else "draft"
    if "resources" in wanted or "links" in wanted:
        # CKAN holds files and links in one list: both go whenever either changed.
        package["resources"] = _resources(record)
    return package, issues


def _licence_id(
    licence: Mapping[str, Any], register: Sequence[CkanLicence]
) -> tuple[str, Issue | None]:
    url, title = licence.get("url") or None, licence.get("title") or None
    if not url and not title:
        return "", None
    for entry in register:
        if url and entry.url and entry.url.rstrip("/") == url.rstrip("/"):
            return entry.id, None
    for entry in register:
        if title and entry.title.casefold() == title.casefold():
            return entry.id, None
    if url and title:
        return title, Issue(
            "licence/url",
            "the portal's licence list has no such licence: only its title is carried",
        )
    return (title or url or ""), None


def _resources(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    children: list[tuple[int, int, str, dict[str, Any]]] = []
    for rid, resource in (record.get("resources") or {}).items():
        time_frame = resource.get("timeFrame") or {}
        digest = resource.get("hash")
        children.append(
            (
                int(resource.get("order") or 0),
                0,
                rid,
                {
                    RES_ID: rid,
                    RES_ORDER: int(resource.get("order") or 0),
                    "resource_type": "file",
                    "name": resource.get("title") or "",
                    "description": resource.get("description") or "",
                    "url": resource.get("url") or "",
                    "format": resource.get("format") or "",
                    "hash": f"md5:{digest}" if digest else "",
                    "size": resource.get("size"),
                    "last_modified": to_ckan_time(resource.get("timestamp")),
                    RES_FILENAME: resource.get("filename") or "",
                    RES_FROM: time_frame.get("gte") or "",
                    RES_TO: time_frame.get("lte") or "",
                    RES_ORIGIN: resource.get("origin") or "",
                },
            )
        )
    for lid, link in (record.get("links") or {}).items():
        qa = link.get("qa") or {}
        item: dict[str, Any] = {
            RES_ID: lid,
            RES_ORDER: int(link.get("order") or 0),
            "resource_type": "link",
            "name": link.get("title") or "",
            "description": link.get("description") or "",
            "url": link.get("url") or "",
        }
        for ours_key, theirs in QA_KEYS.items():
            item[theirs] = qa.get(ours_key)
        children.append((int(link.get("order") or 0), 1, lid, item))
    # Files before links at equal order, as the DataPress page interleaves them.
    return [item for *_sort, item in sorted(children, key=lambda c: c[:3])]


# -- what the portal keeps -----------------------------------------------------------------------


def carried(
    record: Mapping[str, Any],
    vocabulary: PortalVocabulary = PortalVocabulary(),
    *,
    today: str | None = None,
) -> Record:
    """`record` as the portal would give it back after `record_to_package` (CARRIED keys
    only): comparing this with what the portal holds shows only real differences."""
    package, _issues = record_to_package(record, vocabulary, today=today)
    package.update({"id": "x", "name": "x"})
    for entry in vocabulary.licences:
        if entry.id == package.get("license_id"):
            package["license_title"], package["license_url"] = entry.title, entry.url
    for position, resource in enumerate(package.get("resources") or []):
        resource["id"] = f"r{position}"
    result = package_to_record(package)
    result.pop("createdAt", None)
    result.pop("updatedAt", None)
    return result


def outgoing_issues(
    record: Mapping[str, Any],
    vocabulary: PortalVocabulary = PortalVocabulary(),
    *,
    today: str | None = None,
) -> list[Issue]:
    """Everything of `record` a CKAN portal cannot hold."""
    _package, issues = record_to_package(record, vocabulary, today=today)
    for key, reason in NOT_CARRIED.items():
        value = record.get(key)
        if key == "embargoUntil":
            if is_embargoed(record, today):
                issues.append(Issue(key, reason))
        elif value:
            issues.append(Issue(key, reason))
    return issues
