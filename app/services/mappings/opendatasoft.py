"""Opendatasoft dataset <-> our canonical record (seed 002), with what cannot be carried over.

Pure functions, no HTTP. Reading: a Search API v1 dataset (seed 003: `datasetid`, `metas`) or,
for a dataset not yet published (which the Search API does not show), an Automation API dataset
(seed 004: `uid`, `dataset_id`, `is_published`, `is_restricted`, `metadata.default.*.value`);
its Automation resources. Writing: the values of the default metadata template, the dataset's
`is_restricted`, its resources, and the user and group security rulesets.

- title, description (HTML), tags <-> default template: title, description, keyword;
- topics, licence <- `metas.theme`, `metas.license` / `license_url`: read, never written (the
  Automation API's default template has neither; they live in the domain's internal template
  under the domain's own ids), so a local change to them is reported;
- sharing <-> `is_restricted` (`metas.visibility` "restricted" / "domain");
- state <-> published / unpublished (publish or unpublish, then the status is polled);
- resources <-> Automation resources over HTTP (`datasource.type` "http", the extractor from
  our format). Our resource id and order ride in the URL fragment, which HTTP never sends, so a
  pull maps each resource back to ours. Title, URL and format are carried; description, file
  name, time frame, hash, size, timestamp and origin are not. From another Catalogue Desk,
  which has no Automation API, resources <- the v1 dataset's `attachments` (read only);
- our user and group rulesets, collaborators, read users -> user and group security rulesets
  (pushed only: DatasetGrants, opendatasoft_grants);
- a create writes our marker (`urn:catalogue-desk:dataset:<our id>`) in the default template's
  `references`: how an interrupted create is found again (`made_by_us`).

Every other field is not carried: PULL and PUSH declare what is, the losses are derived from
them (mappings.Carriage), with a reason where it says more than "not carried".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.services.clock import as_seed_time
from app.services.mappings import Carriage, Loss, Titles, has_value, is_public_now
from app.services.records import Record
from app.services.text import slugify
from app.services.validation import CHILD_ID

MARKER = "urn:catalogue-desk:dataset:"  # + our dataset id: see `marker`
# Record keys read from an Opendatasoft dataset (the engine compares only these).
CARRIED: tuple[str, ...] = (
    "title",
    "description",
    "tags",
    "topics",
    "licence",
    "sharing",
    "state",
    "resources",
)
# Of those, the ones the Automation API can write.
WRITABLE: frozenset[str] = frozenset(
    {"title", "description", "tags", "sharing", "state", "resources"}
)
_NO_TEAMS = "Opendatasoft has groups, not teams"
_REASONS = {
    "contact": "the default metadata template has no contact",
    "custom": "the default metadata template has no custom fields",
    "links": "the default metadata template has one references URL, not a list of links",
    "team": f"{_NO_TEAMS}: the owner team is not carried",
    "readteams": f"{_NO_TEAMS}: team read access is not carried",
    "embargoUntil": "Opendatasoft has no embargo; the dataset stays unpublished until the day",
}
_NO_RULESETS = "not pushed: the adapter has no catalogue to read rulesets from"
# What a push writes (collaborators and read users as security rulesets, when the adapter has
# the catalogue to read them from); a pull reads CARRIED.
PUSH = Carriage.of(
    "Opendatasoft",
    WRITABLE | {"collaborators", "readusers"},
    topics="not written: the Automation API's default template has no theme; change it on the "
    "portal",
    licence="not written: the Automation API's default template has no licence; change it on "
    "the portal",
    **_REASONS,
)
PUSH_WITHOUT_RULESETS = Carriage(
    "Opendatasoft",
    WRITABLE,
    {**PUSH.reasons, "collaborators": _NO_RULESETS, "readusers": _NO_RULESETS},
)
RESOURCE_LOST = ("description", "filename", "timeFrame", "hash", "size", "timestamp", "origin")

# Our resource format -> the Automation extractor that reads it over HTTP, and back.
EXTRACTORS: dict[str, str] = {
    "csv": "csvfile",
    "json": "jsonfile",
    "geojson": "geojsonfile",
    "xlsx": "xlsfile",
    "xls": "xlsfile",
    "kml": "kmlfile",
    "shp": "shapefile",
}
FORMATS: dict[str, str] = {
    "csvfile": "csv",
    "jsonfile": "json",
    "geojsonfile": "geojson",
    "xlsfile": "xlsx",
    "kmlfile": "kml",
    "shapefile": "shp",
}
# "<url>#catalogue-desk=<child id>;<order>": our resource's identity, kept by the portal as part
# of the datasource URL; HTTP clients never send a fragment, so the extractor is not disturbed.
FRAGMENT = re.compile(r"#catalogue-desk=([^;#]+);(-?\d+)$")
PERMISSIONS = (
    "explore_restricted_dataset",
    "edit_dataset",
    "publish_dataset",
    "manage_dataset",
)


class Malformed(ValueError):
    """A dataset without the shape the API documents; the message says what is wrong."""


# -- versions and timestamps ---------------------------------------------------------------------


def search_version(dataset: Mapping[str, Any]) -> str:
    """The version of a Search API dataset: a hash of its metas, which change with any edit,
    publication or visibility change (`modified`, `metadata_processed`, `data_processed`)."""
    metas = dataset.get("metas") or {}
    return "s:" + hashlib.sha256(orjson.dumps(metas, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def draft_version(dataset: Mapping[str, Any]) -> str:
    """The version of an unpublished dataset, from the Automation API."""
    return f"d:{dataset.get('updated_at') or ''}"


def search_dataset_to_record(dataset: Any) -> Record:
    """Our record (CARRIED keys but resources) of a Search API v1 dataset."""
    if not isinstance(dataset, dict):
        raise Malformed("a dataset is not a JSON object")
    if not isinstance(dataset.get("datasetid"), str) or not dataset["datasetid"]:
        raise Malformed("the dataset has no datasetid")
    metas = dataset.get("metas")
    if not isinstance(metas, dict):
        raise Malformed("the dataset has no metas object")
    return {
        "title": _text(metas.get("title")) or dataset["datasetid"],
        "description": _text(metas.get("description")),
        "tags": _strings(metas.get("keyword"), "keyword"),
        "topics": _strings(metas.get("theme"), "theme"),
        "licence": {
            "url": _text(metas.get("license_url")) or None,
            "title": _text(metas.get("license")) or None,
        },
        "sharing": "private" if metas.get("visibility") == "restricted" else "public",
        "state": "published",
        "updatedAt": as_seed_time(metas.get("modified")),
    }


def automation_dataset_to_record(dataset: Any) -> Record:
    """Our record (title, description, tags, sharing, state) of an Automation API dataset:
    what the portal holds for a dataset the Search API does not show yet."""
    if not isinstance(dataset, dict):
        raise Malformed("a dataset is not a JSON object")
    for key in ("uid", "dataset_id"):
        if not isinstance(dataset.get(key), str) or not dataset[key]:
            raise Malformed(f"the dataset has no {key}")
    metadata = dataset.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise Malformed("the dataset's metadata is not an object")
    default = metadata.get("default") or {}
    if not isinstance(default, dict):
        raise Malformed("the dataset's default metadata is not an object")

    def value(name: str) -> Any:
        entry = default.get(name)
        return entry.get("value") if isinstance(entry, dict) else None

    return {
        "title": _text(value("title")) or dataset["dataset_id"],
        "description": _text(value("description")),
        "tags": _strings(value("keyword"), "keyword"),
        "sharing": "private" if dataset.get("is_restricted") is True else "public",
        "state": "published" if dataset.get("is_published") is True else "draft",
        "createdAt": as_seed_time(dataset.get("created_at")),
        "updatedAt": as_seed_time(dataset.get("updated_at")),
    }


def resources_to_children(resources: Any) -> dict[str, Record]:
    """Our resources of an Automation resource listing's `results`."""
    if not isinstance(resources, list):
        raise Malformed("the resource listing has no results list")
    children: dict[str, Record] = {}
    for position, resource in enumerate(resources):
        if not isinstance(resource, dict) or not isinstance(resource.get("uid"), str):
            raise Malformed(f"resource {position} has no uid")
        datasource = resource.get("datasource") or {}
        raw_url = _text(datasource.get("url")) if isinstance(datasource, dict) else ""
        url, child_id, order = split_url(raw_url)
        if child_id is None:
            # A resource made on the portal: a stable id of our own from its uid.
            child_id = resource_child_id(resource["uid"])
            order = position
        children[child_id] = {
            "url": url,
            "order": order,
            "title": _text(resource.get("title")),
            "description": "",
            "filename": None,
            "timeFrame": {},
            "format": FORMATS.get(_text(resource.get("type"))),
            "hash": None,
            "size": None,
            "timestamp": None,
            "origin": None,
        }
    return children


def attachments_to_children(attachments: Any) -> dict[str, Record]:
    """Our resources of a v1 dataset's `attachments` as another Catalogue Desk serves them
    (`search_entry`: our resource id, title, mimetype and URL, in our order). Only for a server
    without the Automation API: a real portal's attachments are files attached to the dataset,
    not its resources, which the Automation API holds. Title, URL and (from the mimetype)
    format are carried; nothing else of a resource is."""
    if attachments is None:
        return {}
    if not isinstance(attachments, list):
        raise Malformed("attachments is not a list")
    children: dict[str, Record] = {}
    for position, attachment in enumerate(attachments):
        if not isinstance(attachment, dict) or not isinstance(attachment.get("id"), str):
            raise Malformed(f"attachment {position} has no id")
        given = attachment["id"]
        child_id = given if CHILD_ID.match(given) else resource_child_id(f"attachment:{given}")
        children[child_id] = {
            "url": _text(attachment.get("url")),
            "order": position,
            "title": _text(attachment.get("title")),
            "description": "",
            "filename": None,
            "timeFrame": {},
            "format": _FORMATS_OF_MIMETYPES.get(_text(attachment.get("mimetype"))),
            "hash": None,
            "size": None,
            "timestamp": None,
            "origin": None,
        }
    return children


def resource_child_id(uid: str) -> str:
    """A child id (a UUID, as seed 002 allows) derived from a portal resource uid."""
    digest = hashlib.sha256(f"opendatasoft-resource:{uid}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def split_url(url: str) -> tuple[str, str | None, int]:
    """(url without our fragment, our child id, our order) of a datasource URL."""
    found = FRAGMENT.search(url)
    if found and CHILD_ID.match(found.group(1)):
        return url[: found.start()], found.group(1), int(found.group(2))
    return url, None, 0


def tagged_url(url: str, child_id: str, order: int) -> str:
    return f"{url}#catalogue-desk={child_id};{order}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _strings(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # a single keyword is sometimes a bare string
        return [value] if value else []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Malformed(f"{name} is not a list of strings")
    return list(value)


# -- ours -> Opendatasoft ------------------------------------------------------------------------


def search_entry(
    record: Mapping[str, Any],
    titles: Titles,
    *,
    changed_at: str,
    webpage: str,
    language: str,
) -> dict[str, Any]:
    """`record` as a Search API v1 dataset (seed 003): `datasetid`, the default template's
    `metas`, and the rest of the v1 shape; what `search_dataset_to_record` reads back.

    `modified` (and metadata_processed) is `changed_at`, when this catalogue last changed the
    dataset; `references` its web page; `records_count` its resources (there is no records
    API here, hence `has_records` false); the resources are listed as `attachments`."""
    licence = record.get("licence") or {}
    team = record.get("team")
    resources = sorted((record.get("resources") or {}).items(), key=lambda item: _order(item[1]))
    metas: dict[str, Any] = {
        "title": record.get("title") or "",
        "description": record.get("description") or "",
        "theme": [titles.topics.get(topic, topic) for topic in record.get("topics") or ()],
        "keyword": list(record.get("tags") or ()),
        "license": licence.get("title") or None,
        "license_url": licence.get("url") or None,
        "publisher": titles.teams.get(team, team) if team else None,
        "language": language,
        "modified": changed_at,
        "issued": record.get("createdAt"),
        "metadata_processed": changed_at,
        "references": webpage,
        "records_count": len(resources),
        "visibility": "restricted" if record.get("sharing") == "private" else "domain",
    }
    return {
        "datasetid": record["id"],
        "has_records": False,
        "data_visible": True,
        "metas": metas,
        "features": [],
        "fields": [],
        "attachments": [
            {
                "id": rid,
                "title": resource.get("title") or rid,
                "mimetype": _MIMETYPES.get(str(resource.get("format") or "").lower(), ""),
                "url": resource.get("url") or "",
            }
            for rid, resource in resources
        ],
        "alternative_exports": [],
        "interop_metas": {},
    }


_MIMETYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "geojson": "application/geo+json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xls": "application/vnd.ms-excel",
    "pdf": "application/pdf",
    "zip": "application/zip",
    "kml": "application/vnd.google-earth.kml+xml",
    "xml": "application/xml",
    "html": "text/html",
}


_FORMATS_OF_MIMETYPES = {mimetype: fmt for fmt, mimetype in _MIMETYPES.items()}


def dataset_id_for(record: Mapping[str, Any]) -> str:
    """The Opendatasoft dataset_id a new dataset gets: the title's slug and our id (readable;
    another dataset may hold it, which `create` reports)."""
    slug = slugify(str(record.get("title") or ""))[:80].strip("-")
    return f"{slug}-{record['id']}" if slug else f"dataset-{record['id']}"


def marker(record_id: str) -> str:
    """What a create of ours writes in the default template's `references` (a URI: "link to
    the source of the dataset"), so an interrupted create is found again by proof, not by a
    dataset_id someone else may hold. `references` is a field every portal's default template
    has, written in the create request itself, and no field the mapping carries."""
    return f"{MARKER}{record_id}"


def made_by_us(dataset: Any, record_id: str) -> bool:
    """Whether an Automation API dataset carries the marker a create of ours wrote for
    `record_id`."""
    metadata = dataset.get("metadata") if isinstance(dataset, dict) else None
    default = metadata.get("default") if isinstance(metadata, dict) else None
    entry = default.get("references") if isinstance(default, dict) else None
    value = entry.get("value") if isinstance(entry, dict) else None
    return value == marker(record_id)


def wants_published(record: Mapping[str, Any], today: str | None = None) -> bool:
    """Published on the portal: published here and out of embargo."""
    return is_public_now(record, today)


def default_metadata(record: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """Default-template field name -> value, for the given record keys."""
    values: dict[str, Any] = {}
    for key in keys:
        if key == "title":
            values["title"] = str(record.get("title") or "").strip()
        elif key == "description":
            values["description"] = str(record.get("description") or "")
        elif key == "tags":
            values["keyword"] = list(record.get("tags") or [])
    return values


def create_body(record: Mapping[str, Any], *, language: str) -> dict[str, Any]:
    """The body of "Create dataset" (seed 004): dataset_id, is_restricted, default metadata
    (title and language are required; `modified` follows metadata changes)."""
    default = {
        name: {"value": value}
        for name, value in default_metadata(record, ("title", "description", "tags")).items()
    }
    default["language"] = {"value": language}
    default["modified_updates_on_metadata_change"] = {"value": True}
    default["references"] = {"value": marker(str(record["id"]))}
    return {
        "dataset_id": dataset_id_for(record),
        "is_restricted": record.get("sharing") == "private",
        "metadata": {"default": default},
    }


@dataclass(frozen=True, slots=True)
class ResourceBody:
    """One Automation resource to create or update, for our child `child_id`."""

    child_id: str
    body: dict[str, Any]


def resource_bodies(record: Mapping[str, Any]) -> tuple[list[ResourceBody], list[Loss]]:
    """Automation resource bodies for our resources, and those that cannot go."""
    bodies: list[ResourceBody] = []
    issues: list[Loss] = []
    resources = record.get("resources") or {}
    for rid, resource in sorted(resources.items(), key=lambda item: _order(item[1])):
        body, issue = resource_body(rid, resource)
        if body is not None:
            bodies.append(ResourceBody(rid, body))
        if issue is not None:
            issues.append(issue)
    return bodies, issues


def resource_body(
    rid: str, resource: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, Loss | None]:
    fmt = str(resource.get("format") or "").lower()
    extractor = EXTRACTORS.get(fmt)
    url = str(resource.get("url") or "")
    if extractor is None or not url:
        why = (
            "it has no URL"
            if not url
            else f"Opendatasoft has no extractor for format {fmt or '(none)'}"
        )
        return None, Loss(f"resources/{rid}", f"not sent: {why}")
    body = {
        "type": extractor,
        "title": str(resource.get("title") or rid),
        "params": {},
        "datasource": {"type": "http", "url": tagged_url(url, rid, _order(resource))},
    }
    lost = [name for name in RESOURCE_LOST if has_value(resource.get(name))]
    issue = (
        Loss(f"resources/{rid}", f"Opendatasoft resources do not hold: {', '.join(lost)}")
        if lost
        else None
    )
    return body, issue


def _order(resource: Mapping[str, Any]) -> int:
    try:
        return int(resource.get("order") or 0)
    except (TypeError, ValueError):
        return 0


# -- security ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DatasetGrants:
    """Who may do what with one local dataset, by the names the portal knows them by.

    users: username -> permission names (our user rulesets, collaborators: edit_dataset,
    read users: explore_restricted_dataset); groups: portal group uid -> permission names (our
    group rulesets); issues: what of our access control has no Opendatasoft equivalent.
    managed_users / managed_groups: every user and group the catalogue knows: a portal ruleset
    for one of them that `users` / `groups` lacks is revoked; rulesets of anyone else (the
    portal's own administrators) are left alone.
    """

    users: Mapping[str, Sequence[str]] = field(default_factory=dict)
    groups: Mapping[str, Sequence[str]] = field(default_factory=dict)
    issues: Sequence[Loss] = ()
    managed_users: frozenset[str] = frozenset()
    managed_groups: frozenset[str] = frozenset()


def group_uid(title: str) -> str:
    """The portal group uid our group of that title corresponds to ("Content Designers" ->
    "content_designers", as the portal derives it)."""
    return slugify(title).replace("-", "_")


def merge_permissions(*sets: Iterable[str]) -> list[str]:
    wanted = {name for names in sets for name in names}
    return [name for name in PERMISSIONS if name in wanted]


def ruleset_body(kind: str, name: str, permissions: Sequence[str]) -> dict[str, Any]:
    """A user or group ruleset (seed 004): permissions, and a security that lets the target
    see every record and field (our catalogue has no record- or field-level rules)."""
    target = {"username": name} if kind == "user" else {"uid": name}
    return {
        "security": {
            "is_data_visible": True,
            "visible_fields": ["*"],
            "filter_query": "",
            "api_calls_quota": None,
        },
        "permissions": list(permissions),
        kind: target,
    }


# -- what the portal keeps -----------------------------------------------------------------------


def carried(record: Mapping[str, Any], *, today: str | None = None) -> Record:
    """`record` as the portal would give it back (CARRIED keys): what a pull after a push would
    read, so comparing it with the portal shows only real differences."""
    result: Record = {
        "title": str(record.get("title") or "").strip(),
        "description": str(record.get("description") or ""),
        "tags": list(record.get("tags") or []),
        "topics": list(record.get("topics") or []),
        "licence": {
            "url": (record.get("licence") or {}).get("url") or None,
            "title": (record.get("licence") or {}).get("title") or None,
        },
        "sharing": "private" if record.get("sharing") == "private" else "public",
        "state": "published" if wants_published(record, today) else "draft",
    }
    bodies, _issues = resource_bodies(record)
    result["resources"] = resources_to_children(
        [{"uid": f"re_{i}", **b.body} for i, b in enumerate(bodies)]
    )
    return result


def outgoing_losses(
    record: Mapping[str, Any],
    *,
    keys: Iterable[str] | None = None,
    grants_attached: bool = True,
    today: str | None = None,
) -> list[Loss]:
    """Everything of `record` an Opendatasoft portal cannot hold (of `keys` only, if given:
    the fields a push changes). `grants_attached`: whether our permissions are pushed as
    rulesets (the adapter has the catalogue); if not, collaborators and read users are lost."""
    keys = None if keys is None else list(keys)
    issues: list[Loss] = []
    if keys is None or "resources" in keys:
        _bodies, resource_issues = resource_bodies(record)
        issues.extend(resource_issues)
    carriage = PUSH if grants_attached else PUSH_WITHOUT_RULESETS
    return issues + carriage.losses(record, keys=keys, today=today)
