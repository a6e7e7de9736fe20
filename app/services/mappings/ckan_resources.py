"""CKAN resources <-> our files and links: the resource half of the CKAN mapping (mappings.ckan).

A package's `resources` hold our files (`resource_type` anything but "link") and links
(`resource_type: "link"`). Our child id, order and the fields CKAN has no column for travel as
resource keys of their own (CKAN keeps unknown resource keys), written only where they hold
something. Read as real catalogues hold them: a resource without a name takes its title from
its file name or URL; a hash (`md5:`, `sha256:`... or bare MD5 hex) is kept as CKAN holds it
and written back so; a URL of any scheme a file may be fetched from (http, https, ftp, ftps,
sftp) is kept, any other (javascript:, data:...) is left out and reported (a link with one is
not read); a resource id that is no child id of ours gives a stable derived one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from operator import itemgetter
from typing import Any, Literal

from app.services.clock import as_seed_time, parse_utc
from app.services.mappings import Loss
from app.services.records import Record
from app.services.validation import CHILD_ID, HASH, is_file_url

from_ckan_time = as_seed_time


def to_ckan_time(value: Any) -> str | None:
    """Our timestamps as CKAN stores them: naive UTC, microseconds."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_utc(value).isoformat(timespec="microseconds")
    except ValueError:
        return value


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


class Malformed(ValueError):
    """A package dict without the shape CKAN documents; the message says what is wrong."""


# Resource keys that carry our fields CKAN has no column for (CKAN keeps unknown resource keys).
RES_ID = "catalogue_desk_id"
RES_ORDER = "catalogue_desk_order"
RES_FILENAME = "filename"
RES_FROM = "time_frame_from"
RES_TO = "time_frame_to"
RES_ORIGIN = "origin"
RES_HTTP_STATUS = "qa_http_status"


def derived_child_id(seed: str) -> str:
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
    return candidate if CHILD_ID.match(candidate) else derived_child_id(raw)


def resource_child_id(resource: Mapping[str, Any], position: int, package_id: str) -> str:
    """Our child id of the resource at `position` of a package (as `from_ckan` reads it)."""
    return _child_id(resource, position, package_id)


def _file_url(value: Any) -> str:
    """A URL a file may be fetched from (record.fields: http, https, ftp, ftps, sftp), or ""."""
    text = _str(value).strip()
    return text if is_file_url(text) else ""


def _digest(value: Any) -> str | None:
    """A CKAN hash as CKAN holds it, if the record can hold it (`<algorithm>:<hex>` of md5,
    sha1, sha256 or sha512, or bare MD5 hex); None for anything else."""
    digest = _str(value).strip()
    return digest if HASH.match(digest) else None


def _resource_title(resource: Mapping[str, Any]) -> str:
    """A resource's name, else its file name or URL's last part (CKAN's name is optional)."""
    name = _str(resource.get("name")).strip()
    if name:
        return name
    url = _str(resource.get("url")).split("?")[0].split("#")[0].rstrip("/")
    return _str(resource.get(RES_FILENAME)).strip() or url.rsplit("/", 1)[-1] or "Untitled"


def child_losses(
    kind: str, child_id: str, resource: Mapping[str, Any], child: Mapping[str, Any]
) -> list[Loss]:
    losses: list[Loss] = []
    url = _str(resource.get("url")).strip()
    if kind == "resources" and url and not child["url"]:
        losses.append(
            Loss(f"resources/{child_id}/url", "a URL that is not http, https, ftp, ftps or sftp")
        )
    raw_hash = _str(resource.get("hash")).strip()
    if raw_hash and child.get("hash") is None and kind == "resources":
        losses.append(
            Loss(f"resources/{child_id}/hash", "a hash of no md5, sha1, sha256 or sha512 digest")
        )
    return losses


def child_from_resource(
    resource: Mapping[str, Any], position: int, package_id: str
) -> tuple[Literal["resources", "links"] | None, str, Record]:
    """(kind, child id, child); kind None: a link we cannot hold (its URL is no file URL)."""
    child_id = _child_id(resource, position, package_id)
    order = _int(resource.get(RES_ORDER))
    if order is None:
        order = _int(resource.get("position"))
    if order is None:
        order = position
    digest = _digest(resource.get("hash"))
    size = _int(resource.get("size"))
    child: Record = {
        "url": _file_url(resource.get("url")),
        "order": order,
        "title": _resource_title(resource),
        "description": _str(resource.get("description")),
    }
    if resource.get("resource_type") == "link":
        if not child["url"]:
            return None, child_id, child
        digest = _str(resource.get("hash")) or None
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


def resources_of(record: Mapping[str, Any], shown: bool) -> list[dict[str, Any]]:
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
            "hash": digest or "",  # as it was read (or as we computed it: MD5 hex)
            "size": resource.get("size"),
            "last_modified": timestamp,
        }
        # Keys of our own only where they hold something: a portal's resources stay as tidy
        # as CKAN's own (package_show lists them as they were sent).
        for key, value in (
            (RES_FILENAME, resource.get("filename")),
            (RES_FROM, time_frame.get("gte")),
            (RES_TO, time_frame.get("lte")),
        ):
            if value or shown:
                item[key] = value or ""
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
        }
        if shown or qa.get("httpStatus") is not None:
            item[RES_HTTP_STATUS] = qa.get("httpStatus")
        if shown:
            item["created"] = None
        children.append((order, 1, item))
    if len(children) > 1:
        # Files before links at equal order, as the DataPress page interleaves them.
        children.sort(key=_BY_ORDER)
    return [child[2] for child in children]


_BY_ORDER = itemgetter(0, 1)
