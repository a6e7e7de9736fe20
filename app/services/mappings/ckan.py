"""CKAN package dict <-> our canonical record (seed 002): the one CKAN mapping.

Used by the server's legacy CKAN actions (formats.ckan: `package_search`,
`current_package_list_with_resources`), the CKAN import (importing.json_sources) and the CKAN
sync adapter (sync.ckan). Pure functions, no HTTP:

- `to_ckan` builds the package fields of a record (the body of `package_create` /
  `package_patch`) and what could not go, `show_package` the whole package as `package_show`
  answers it (our server); `from_ckan` reads a package back (only the keys the package has);
- `carried` is a record as the portal would give it back, `outgoing_losses` what of a record a
  portal cannot hold (CARRIAGE's derived list, and the values CKAN refuses).

The mapping:

- title, description (HTML) <-> title, notes;
- tags <-> tags[].name (CKAN refuses some characters: those tags are reported, not sent);
- topics <-> groups[].name (only groups the portal has, when we know them; others reported);
- licence <-> license_id from the portal's `license_list`, matched by URL, then title; a licence
  the portal does not know is sent by its title (or URL) alone, and its URL is reported;
- contact <-> maintainer, maintainer_email; custom <-> extras (a list value as a JSON array;
  an extra named like a package field is refused by CKAN, so reported);
- team <-> the organization: `owner_org` is written with the team's id (CKAN takes an
  organization's name or id) and read from `organization.name` (CKAN answers `owner_org` with
  the organization's UUID); a team the portal or the catalogue does not know is reported;
- resources, links <-> resources with resource_type "file" / "link"; our child id, order and
  the fields CKAN lacks (filename, time frame, origin, link HTTP status) travel as resource keys
  of their own, which CKAN keeps; formats are upper case on CKAN (its `clean_format`), lower
  case here;
- sharing <-> private; state <-> state "active" (published and out of embargo) / "draft";
- createdAt, updatedAt <- metadata_created, metadata_modified (naive UTC, clock.as_seed_time).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal

import orjson

from app.services.clock import as_seed_time, parse_utc
from app.services.mappings import NO_TITLES, Carriage, Loss, Titles, is_public_now
from app.services.records import Record
from app.services.text import slugify
from app.services.validation import CHILD_ID, DATASET_ID

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
    "team",
    "sharing",
    "state",
)
_ORGANIZATION_ACCESS = "CKAN grants access per organization, not per dataset"
CARRIAGE = Carriage.of(
    "CKAN",
    CARRIED,
    collaborators=_ORGANIZATION_ACCESS,
    readusers=_ORGANIZATION_ACCESS,
    readteams=_ORGANIZATION_ACCESS,
    embargoUntil="CKAN has no embargo; the dataset is kept a draft until the day passes",
)

# Resource keys that carry our fields CKAN has no column for (CKAN keeps unknown resource keys).
RES_ID = "catalogue_desk_id"
RES_ORDER = "catalogue_desk_order"
RES_FILENAME = "filename"
RES_FROM = "time_frame_from"
RES_TO = "time_frame_to"
RES_ORIGIN = "origin"
RES_HTTP_STATUS = "qa_http_status"
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


@dataclass(frozen=True, slots=True)
class CkanLicence:
    """One entry of the portal's `license_list`."""

    id: str
    title: str
    url: str | None


class Malformed(ValueError):
    """A package dict without the shape CKAN documents; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class PortalVocabulary:
    """What the portal knows that the mapping needs: its licences, its groups and the
    organizations the key may put datasets in (None: not known, every name is sent)."""

    licences: Sequence[CkanLicence] = ()
    groups: frozenset[str] | None = None
    organizations: frozenset[str] | None = None


class Shown:
    """What `package_show` adds to the package fields: read-only facts of the dataset."""

    __slots__ = ("titles", "webpage")

    def __init__(self, webpage: str, titles: Titles = NO_TITLES) -> None:
        self.webpage = webpage
        self.titles = titles


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


def dataset_id(package: Mapping[str, Any]) -> str | None:
    """Our dataset id, for a package our server wrote (named by the id); None for another
    portal's package (a slug or a UUID is no id of ours)."""
    name = package.get("name") or package.get("id")
    return name if isinstance(name, str) and DATASET_ID.match(name) else None


def from_ckan(package: Any, *, teams: Container[str] | None = None) -> tuple[Record, list[Loss]]:
    """Our record of a CKAN package, with the keys of what the package holds (CARRIED, and
    createdAt/updatedAt), and what could not be read. `teams`: our team ids, if known: an
    organization that is none of them is reported, not read. Raises Malformed if the package
    is not an object with an id, or a list of CKAN's has the wrong shape."""
    if not isinstance(package, dict):
        raise Malformed("a package is not a JSON object")
    if not isinstance(package.get("id"), str) or not package["id"]:
        raise Malformed("the package has no id")
    losses: list[Loss] = []
    record: Record = {"title": _str(package.get("title")) or _str(package.get("name"))}
    if "notes" in package:
        record["description"] = _str(package["notes"])
    if "tags" in package:
        record["tags"] = _names(_objects(package, "tags"))
    if "groups" in package:
        record["topics"] = _names(_objects(package, "groups"))
    if package.keys() & {"license_id", "license_url", "license_title"}:
        record["licence"] = {
            "url": _str(package.get("license_url")) or _url_or_none(package.get("license_id")),
            "title": _str(package.get("license_title")) or _str(package.get("license_id")) or None,
        }
    if package.keys() & {"maintainer", "maintainer_email"}:
        record["contact"] = {
            "email": _str(package.get("maintainer_email")) or None,
            "title": _str(package.get("maintainer")) or None,
        }
    if "extras" in package:
        record["custom"] = _extras_to_custom(_objects(package, "extras"))
    if package.keys() & {"owner_org", "organization"}:
        team = _organization(package)
        if team is not None and teams is not None and team not in teams:
            losses.append(Loss("team", f"the portal's organization {team!r} is no team here"))
        else:
            record["team"] = team
    if "private" in package:
        record["sharing"] = "private" if package["private"] is True else "public"
    if "state" in package:
        record["state"] = "draft" if package["state"] == "draft" else "published"
    for ours, theirs in (("createdAt", "metadata_created"), ("updatedAt", "metadata_modified")):
        if isinstance(package.get(theirs), str):
            record[ours] = from_ckan_time(package[theirs])
    if "resources" in package:
        record["resources"], record["links"] = {}, {}
        package_id = _str(package.get("id"))
        for position, resource in enumerate(_objects(package, "resources")):
            kind, child_id, child = _child_from_resource(resource, position, package_id)
            taken = record[kind]
            if child_id in taken:
                child_id = _derived_child_id(f"{child_id}:{position}")
            taken[child_id] = child
    return record, losses


def _organization(package: Mapping[str, Any]) -> str | None:
    organization = package.get("organization")
    if isinstance(organization, dict) and isinstance(organization.get("name"), str):
        return organization["name"] or None
    owner = package.get("owner_org")
    return owner if isinstance(owner, str) and owner else None


def _objects(package: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    value = package.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise Malformed(f"the package's {key} is not a list of objects")
    return value


def _names(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    return [o["name"] for o in objects if isinstance(o.get("name"), str)]


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
    """A list value is written as a JSON array: read it back as a list."""
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


def _derived_child_id(seed: str) -> str:
    """A stable child id (a UUID, as seed 002 allows) for a resource id that is none."""
    digest = hashlib.sha256(f"ckan-resource:{seed}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _child_id(resource: Mapping[str, Any], position: int, package_id: str) -> str:
    ours = resource.get(RES_ID)
    if isinstance(ours, str) and CHILD_ID.match(ours):
        return ours
    raw = resource.get("id")
    if not isinstance(raw, str) or not raw:
        raise Malformed(f"resource {position} has no id")
    # Our server's resource ids are "<dataset id>-<child id>" (unique site-wide, as CKAN's).
    if package_id and raw.startswith(package_id + "-"):
        raw = raw[len(package_id) + 1 :]
    candidate = raw.lower()
    return candidate if CHILD_ID.match(candidate) else _derived_child_id(raw)


def _child_from_resource(
    resource: Mapping[str, Any], position: int, package_id: str
) -> tuple[Literal["resources", "links"], str, Record]:
    child_id = _child_id(resource, position, package_id)
    order = _int(resource.get(RES_ORDER))
    if order is None:
        order = _int(resource.get("position"))
    if order is None:
        order = position
    digest = _str(resource.get("hash")).removeprefix("md5:").lower() or None
    size = _int(resource.get("size"))
    child: Record = {
        "url": _str(resource.get("url")),
        "order": order,
        "title": _str(resource.get("name")),
        "description": _str(resource.get("description")),
    }
    if resource.get("resource_type") == "link":
        qa: Record = {
            "timestamp": from_ckan_time(resource.get("last_modified")),
            "hash": digest,
            "size": size,
            "mimetype": _str(resource.get("mimetype")) or None,
        }
        # CKAN has no HTTP status: without ours, an import keeps the one the catalogue has.
        if RES_HTTP_STATUS in resource:
            qa["httpStatus"] = _int(resource[RES_HTTP_STATUS])
        child["qa"] = qa
        return "links", child_id, child
    child.update(
        {
            "format": _str(resource.get("format")).lower() or None,
            "hash": digest,
            "size": size,
            # Not `created`: CKAN sets that when the resource is made, not when the file was.
            "timestamp": from_ckan_time(resource.get("last_modified")),
        }
    )
    if RES_FILENAME in resource:
        child["filename"] = _str(resource[RES_FILENAME]) or None
    if RES_FROM in resource or RES_TO in resource:
        child["timeFrame"] = {
            bound: _str(resource.get(key))
            for bound, key in (("gte", RES_FROM), ("lte", RES_TO))
            if _str(resource.get(key))
        }
    if RES_ORIGIN in resource:
        child["origin"] = _str(resource[RES_ORIGIN]) or None
    return "resources", child_id, child


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


# -- ours -> CKAN --------------------------------------------------------------------------------


def package_name(record: Mapping[str, Any]) -> str:
    """The CKAN name a new package gets on a portal: the title's slug and our id, so it is
    readable, unique and found again by `find` after an interrupted create."""
    slug = slugify(str(record.get("title") or ""))[:90].strip("-")
    return f"{slug}-{record['id']}" if slug else f"dataset-{record['id']}"


def _fields(record: Mapping[str, Any], today: str | None, shown: bool) -> dict[str, Any]:
    """Every CARRIED field of `record` as package fields, as they are (the portal's vocabulary
    is applied by `to_ckan`). `shown`: the shape `package_show` answers with."""
    licence = record.get("licence") or {}
    contact = record.get("contact") or {}
    team = record.get("team") or None
    tags = record.get("tags") or ()
    # An empty string clears the portal's value; package_show shows null.
    empty = None if shown else ""
    published = is_public_now(record, today)
    custom = record.get("custom") or {}
    return {
        "title": str(record.get("title") or "").strip(),
        "notes": str(record.get("description") or ""),
        "tags": [
            {"name": tag, "display_name": tag, "state": "active", "vocabulary_id": None}
            for tag in tags
        ]
        if shown
        else [{"name": tag} for tag in tags],
        "groups": [{"name": topic} for topic in record.get("topics") or ()],
        "license_id": licence.get("url") or "",
        "license_title": licence.get("title"),
        "license_url": licence.get("url"),
        "maintainer": contact.get("title") or empty,
        "maintainer_email": contact.get("email") or empty,
        "extras": [
            {"key": name, "value": data if isinstance(data, str) else orjson.dumps(data).decode()}
            for name, data in sorted(custom.items())
        ],
        "owner_org": team,
        "private": record.get("sharing") == "private",
        "state": "active" if published else "draft",
        "resources": _resources(record, shown),
    }


# The record field each package field carries (resources: files and links alike).
_FIELD_OF = {
    "title": "title",
    "notes": "description",
    "tags": "tags",
    "groups": "topics",
    "license_id": "licence",
    "license_title": "licence",
    "license_url": "licence",
    "maintainer": "contact",
    "maintainer_email": "contact",
    "extras": "custom",
    "owner_org": "team",
    "private": "sharing",
    "state": "state",
}


def to_ckan(
    record: Mapping[str, Any],
    vocabulary: PortalVocabulary = PortalVocabulary(),
    *,
    keys: Iterable[str] = CARRIED,
    today: str | None = None,
) -> tuple[dict[str, Any], list[Loss]]:
    """The body of `package_create` / `package_patch` for `keys` of `record` (only CARRIED
    ones count), and what of them the portal cannot take (not sent)."""
    wanted = set(keys)
    package = _fields(record, today, shown=False)
    del package["license_title"], package["license_url"]  # the portal's register says them
    losses: list[Loss] = []
    good_tags = [t for t in package["tags"] if TAG.match(t["name"])]
    for tag in package["tags"]:
        if not TAG.match(tag["name"]):
            losses.append(
                Loss(
                    "tags",
                    f"tag {tag['name']!r} has characters CKAN refuses (letters, digits, spaces, "
                    "- _ . only, 2 to 100 of them)",
                )
            )
    package["tags"] = good_tags
    if vocabulary.groups is not None:
        known = vocabulary.groups
        for group in package["groups"]:
            if group["name"] not in known:
                losses.append(Loss("topics", f"the portal has no group {group['name']!r}"))
        package["groups"] = [g for g in package["groups"] if g["name"] in known]
    package["license_id"] = _licence_id(record.get("licence") or {}, vocabulary.licences, losses)
    extras = []
    for extra in package["extras"]:
        if extra["key"] in CORE_PACKAGE_FIELDS:
            losses.append(Loss(f"custom/{extra['key']}", "CKAN has a package field of that name"))
        else:
            extras.append(extra)
    package["extras"] = extras
    team = package["owner_org"]
    if team and vocabulary.organizations is not None and team not in vocabulary.organizations:
        losses.append(
            Loss("team", f"the portal has no organization {team!r} the key may put datasets in")
        )
        del package["owner_org"]
    body = {
        key: value
        for key, value in package.items()
        if _FIELD_OF.get(key) in wanted
        # CKAN holds files and links in one list: both go whenever either changed.
        or (key == "resources" and wanted & {"resources", "links"})
    }
    return body, [loss for loss in losses if loss.field.split("/")[0] in wanted]


def show_package(
    record: Mapping[str, Any], shown: Shown, *, today: str | None = None
) -> dict[str, Any]:
    """The whole package of `record` as CKAN's `package_show` answers it, for our own server:
    named by our id, its resources' ids `<dataset id>-<child id>` because CKAN resource ids
    are unique site-wide. (What a portal could not take is `outgoing_losses`.)"""
    package = _fields(record, today, shown=True)
    dataset = str(record.get("id") or "")
    titles = shown.titles
    for group in package["groups"]:
        title = titles.topics.get(group["name"], group["name"])
        group.update({"id": group["name"], "title": title, "display_name": title})
    team = package["owner_org"]
    package["organization"] = (
        {
            "id": team,
            "name": team,
            "title": titles.teams.get(team, team),
            "type": "organization",
            "is_organization": True,
            "state": "active",
        }
        if team
        else None
    )
    resources = package["resources"]
    for position, resource in enumerate(resources):
        resource["id"] = f"{dataset}-{resource[RES_ID]}"
        resource["package_id"] = dataset
        resource["position"] = position
        resource["url_type"] = None
        resource["state"] = "active"
    package.update(
        {
            "id": dataset,
            "name": dataset,
            "type": "dataset",
            "url": shown.webpage,
            "author": None,
            "author_email": None,
            "metadata_created": record.get("createdAt"),
            "metadata_modified": record.get("updatedAt"),
            "num_tags": len(package["tags"]),
            "num_resources": len(resources),
        }
    )
    return package


def _licence_id(
    licence: Mapping[str, Any], register: Sequence[CkanLicence], losses: list[Loss]
) -> str:
    url, title = licence.get("url") or None, licence.get("title") or None
    if not url and not title:
        return ""
    for entry in register:
        if url and entry.url and entry.url.rstrip("/") == url.rstrip("/"):
            return entry.id
    for entry in register:
        if title and entry.title.casefold() == title.casefold():
            return entry.id
    if url and title:
        losses.append(
            Loss(
                "licence/url",
                "the portal's licence list has no such licence: only its title is carried",
            )
        )
    return title or url or ""


def _resources(record: Mapping[str, Any], shown: bool) -> list[dict[str, Any]]:
    """Files and links as CKAN resources, by order; `shown`: with the keys package_show adds
    (their ids and positions are set by show_package)."""
    children: list[tuple[int, int, dict[str, Any]]] = []
    for rid, resource in (record.get("resources") or {}).items():
        time_frame = resource.get("timeFrame") or {}
        digest = resource.get("hash")
        order = int(resource.get("order") or 0)
        timestamp = resource.get("timestamp")
        if not shown:
            timestamp = to_ckan_time(timestamp)
        item: dict[str, Any] = {
            RES_ID: rid,
            RES_ORDER: order,
            "resource_type": "file",
            "name": resource.get("title") or "",
            "description": resource.get("description") or "",
            "url": resource.get("url") or "",
            "format": (resource.get("format") or "").upper(),
            "hash": f"md5:{digest}" if digest else "",
            "size": resource.get("size"),
            "last_modified": timestamp,
            RES_FILENAME: resource.get("filename") or "",
            RES_FROM: time_frame.get("gte") or "",
            RES_TO: time_frame.get("lte") or "",
        }
        if "origin" in resource:
            # The export rows have no origin: an import of our own package keeps the stored one.
            item[RES_ORIGIN] = resource["origin"] or ""
        if shown:
            item["created"] = timestamp
            item["mimetype"] = None
        children.append((order, 0, item))
    for lid, link in (record.get("links") or {}).items():
        qa = link.get("qa") or {}
        order = int(link.get("order") or 0)
        timestamp = qa.get("timestamp")
        item = {
            RES_ID: lid,
            RES_ORDER: order,
            "resource_type": "link",
            "name": link.get("title") or "",
            "description": link.get("description") or "",
            "url": link.get("url") or "",
            "format": "",
            "mimetype": qa.get("mimetype"),
            "size": qa.get("size"),
            "hash": qa.get("hash") or "",
            "last_modified": timestamp if shown else to_ckan_time(timestamp),
            RES_HTTP_STATUS: qa.get("httpStatus"),
        }
        if shown:
            item["created"] = None
        children.append((order, 1, item))
    if len(children) > 1:
        # Files before links at equal order, as the DataPress page interleaves them.
        children.sort(key=_BY_ORDER)
    return [child[2] for child in children]


_BY_ORDER = itemgetter(0, 1)


# -- what the portal keeps -----------------------------------------------------------------------


def carried(
    record: Mapping[str, Any],
    vocabulary: PortalVocabulary = PortalVocabulary(),
    *,
    today: str | None = None,
) -> Record:
    """`record` as the portal would give it back after `to_ckan` (CARRIED keys only):
    comparing this with what the portal holds shows only real differences."""
    package, _losses = to_ckan(record, vocabulary, today=today)
    package.update({"id": "x", "name": "x"})
    for entry in vocabulary.licences:
        if entry.id == package.get("license_id"):
            package["license_title"], package["license_url"] = entry.title, entry.url
    for position, resource in enumerate(package.get("resources") or []):
        resource["id"] = f"r{position}"
    result, _losses = from_ckan(package)
    result.pop("createdAt", None)
    result.pop("updatedAt", None)
    if "owner_org" not in package:
        result.pop("team", None)  # an organization the portal lacks: not sent, not compared
    return result


def outgoing_losses(
    record: Mapping[str, Any],
    vocabulary: PortalVocabulary = PortalVocabulary(),
    *,
    keys: Iterable[str] | None = None,
    today: str | None = None,
) -> list[Loss]:
    """Everything of `record` (of `keys`, if given) a CKAN portal cannot hold."""
    _package, losses = to_ckan(
        record, vocabulary, keys=CARRIED if keys is None else keys, today=today
    )
    return losses + CARRIAGE.losses(record, keys=keys, today=today)
