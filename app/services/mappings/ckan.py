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
- sharing, state, embargoUntil -> private: CKAN ignores `state` from a non-sysadmin (a package
  is created active), so only `private: true` keeps a dataset from anonymous callers: a dataset
  that is not public here now (draft, private, under embargo) is sent private, and opened once
  it is; read back, private <-> sharing and an active package is published;
- real catalogues are read as they are: a resource without a name takes its title from its
  file name or URL; `sha256:` (any of md5, sha1, sha256, sha512) and bare MD5 hashes are kept as
  CKAN holds them, and ftp, ftps and sftp URLs as http(s) ones; a hash of another kind, a URL
  of another scheme (javascript:, data:) and a title over the record's 1,000 characters are
  reported (the rest of the dataset is read);
- createdAt, updatedAt <- metadata_created, metadata_modified (naive UTC, clock.as_seed_time).
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from app.services.mappings import NO_TITLES, Carriage, Loss, Titles, is_public_now
from app.services.mappings.ckan_resources import RES_FILENAME as RES_FILENAME
from app.services.mappings.ckan_resources import RES_FROM as RES_FROM
from app.services.mappings.ckan_resources import RES_HTTP_STATUS as RES_HTTP_STATUS
from app.services.mappings.ckan_resources import RES_ID as RES_ID
from app.services.mappings.ckan_resources import RES_ORDER as RES_ORDER
from app.services.mappings.ckan_resources import RES_ORIGIN as RES_ORIGIN
from app.services.mappings.ckan_resources import RES_TO as RES_TO
from app.services.mappings.ckan_resources import Malformed as Malformed
from app.services.mappings.ckan_resources import (
    child_from_resource,
    child_losses,
    derived_child_id,
    resources_of,
)
from app.services.mappings.ckan_resources import from_ckan_time as from_ckan_time
from app.services.mappings.ckan_resources import resource_child_id as resource_child_id
from app.services.mappings.ckan_resources import to_ckan_time as to_ckan_time
from app.services.record.fields import DATASET
from app.services.records import Record
from app.services.text import slugify
from app.services.validation import DATASET_ID

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
    embargoUntil="CKAN has no embargo; the dataset is kept private until the day passes",
)
# The extra a package created by this catalogue carries: our dataset id, so a create whose
# answer was lost is found again by what we wrote, never by a name (sync.ckan `find`).
MARKER = "catalogue_desk_dataset"
TITLE_LIMIT = next(f.max_length or 0 for f in DATASET if f.name == "title")

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


@dataclass(frozen=True, slots=True)
class PortalVocabulary:
    """What the portal knows that the mapping needs: its licences, its groups and the
    organizations the key may put datasets in (None: not known, every name is sent)."""

    licences: Sequence[CkanLicence] = ()
    groups: frozenset[str] | None = None
    organizations: frozenset[str] | None = None


class Shown:
    """What `package_show` adds to the package fields: read-only facts of the dataset."""

    __slots__ = ("modified", "titles", "webpage")

    def __init__(
        self, webpage: str, titles: Titles = NO_TITLES, modified: str | None = None
    ) -> None:
        self.webpage = webpage
        self.titles = titles
        # CKAN's metadata_modified is when the portal's copy last changed: here, when this
        # catalogue last changed the dataset (services.catalogue_version), else its updatedAt.
        self.modified = modified


# -- timestamps ----------------------------------------------------------------------------------


# CKAN's naive-UTC ISO timestamps ("2024-05-01T10:00:00.123456") in our format
# ("2024-05-01T10:00:00.123Z"): from_ckan_time, and back: to_ckan_time (mappings.ckan_resources).


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
    title = _str(package.get("title")).strip() or _str(package.get("name"))
    if len(title) > TITLE_LIMIT:
        losses.append(Loss("title", f"over {TITLE_LIMIT} characters: its start is kept here"))
        title = title[:TITLE_LIMIT].rstrip()
    record: Record = {"title": title}
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
            kind, child_id, child = child_from_resource(resource, position, package_id)
            if kind is None:
                losses.append(Loss(f"links/{child_id}", "a link whose URL is not http(s)"))
                continue
            losses.extend(child_losses(kind, child_id, resource, child))
            taken = record[kind]
            if child_id in taken:
                child_id = derived_child_id(f"{child_id}:{position}")
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
        if not isinstance(key, str) or not key or key == MARKER:
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
        # Our server shows its own state; a portal gets private for anything not public here.
        "private": record.get("sharing") == "private" or (not shown and not published),
        "state": "active" if published or not shown else "draft",
        "resources": resources_of(record, shown),
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
            "metadata_modified": shown.modified or record.get("updatedAt"),
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
    return settled(result)


def settled(record: Record) -> Record:
    """A record read from a portal in the form CKAN settles on: tags sorted by name (as
    package_show gives them), an unpublished CKAN draft as what it is to the world, private."""
    if isinstance(record.get("tags"), list):
        record["tags"] = sorted(record["tags"])
    if record.get("state") == "draft":
        record["state"], record["sharing"] = "published", "private"
    return record


# CKAN package fields no record field carries: what a pull leaves behind (sync.ckan reports it).
_NOT_READ = {
    "name": "CKAN's URL name is not kept here",
    "author": "CKAN's author is not kept here (the contact is its maintainer)",
    "author_email": "CKAN's author email is not kept here",
    "url": "CKAN's source URL is not kept here",
    "version": "CKAN's version is not kept here",
}


def pull_losses(package: Mapping[str, Any]) -> list[Loss]:
    """What of a portal's package a pull does not bring here (besides `from_ckan`'s losses):
    the package fields no record field carries, and each file's media type and resource type
    (a link is a link). Nothing of it is lost there: a push patches only what it changes."""
    losses = [Loss(key, why) for key, why in _NOT_READ.items() if package.get(key)]
    package_id = str(package.get("id") or "")
    resources = package.get("resources")
    for position, resource in enumerate(resources if isinstance(resources, list) else []):
        if not isinstance(resource, dict) or resource.get("resource_type") == "link":
            continue
        try:
            child = resource_child_id(resource, position, package_id)
        except Malformed:
            continue
        if resource.get("mimetype"):
            losses.append(Loss(f"resources/{child}/mimetype", "a file's media type"))
        if resource.get("resource_type") not in (None, "", "file"):
            losses.append(Loss(f"resources/{child}/resource_type", "a file's resource type"))
    return losses


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
