"""schema.org `Dataset` <- our canonical record: what a dataset's web page says to search engines.

Out only (nothing imports schema.org): one `Dataset` node as JSON-LD with the schema.org
context, the form Google Dataset Search reads from a page's `<script type="application/ld+json">`
(services.web_pages writes it there, escaped).

- id -> identifier; the page's address -> url (and `@id`);
- title -> name; description -> description as plain text (the title when there is none:
  schema.org readers ask for one);
- tags -> keywords; licence -> license (its URL, else a CreativeWork named by its title);
- createdAt, updatedAt -> dateCreated, dateModified;
- team -> publisher, an Organization named by the team's title (else the catalogue's publisher);
- each file with a web address -> a DataDownload in `distribution`: name, description,
  contentUrl, encodingFormat (the IANA media type of a known format, mappings.dcat.FORMATS,
  else the format as written), contentSize in bytes.

External links are pages, not downloads: the web page lists them, the JSON-LD does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from app.services.html_sanitize import safe_url
from app.services.mappings import NO_TITLES, Carriage, Titles
from app.services.mappings.dcat import FORMATS

CARRIAGE = Carriage.of("schema.org", ("title", "description", "tags", "licence", "resources"))
CONTEXT = "https://schema.org"


def web_url(value: str | None) -> str | None:
    """`value` if it is an absolute http(s) address a page may link to, else None."""
    if not value or not safe_url(value) or any(c.isspace() for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    return value if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def encoding_format(fmt: str | None) -> str | None:
    """A resource's format as schema.org's encodingFormat: the media type of a known format."""
    if not fmt:
        return None
    known = FORMATS.get(fmt.lower())
    return known[0] if known is not None else fmt


def to_schema_org(
    record: Mapping[str, Any],
    page_url: str,
    titles: Titles = NO_TITLES,
    *,
    publisher: str,
    catalogue: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The schema.org `Dataset` of `record`, whose web page is `page_url`. `publisher`: the
    organisation named when the dataset has no team; `catalogue`: the DataCatalog it is part
    of (`name`, `url`), if any."""
    title = record.get("title") or ""
    node: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "Dataset",
        "@id": page_url,
        "url": page_url,
        "identifier": record["id"],
        "name": title,
        "description": record.get("descriptionText") or title,
    }
    if record.get("tags"):
        node["keywords"] = list(record["tags"])
    licence = record.get("licence") or {}
    licence_url = web_url(licence.get("url"))
    if licence_url:
        node["license"] = licence_url
    elif licence.get("title"):
        node["license"] = {"@type": "CreativeWork", "name": licence["title"]}
    if record.get("createdAt"):
        node["dateCreated"] = record["createdAt"]
    if record.get("updatedAt"):
        node["dateModified"] = record["updatedAt"]
    team = record.get("team")
    node["publisher"] = {
        "@type": "Organization",
        "name": titles.teams.get(team, team) if team else publisher,
    }
    downloads = [
        d for d in (_download(r) for r in (record.get("resources") or {}).values()) if d is not None
    ]
    if downloads:
        node["distribution"] = downloads
    if catalogue:
        node["includedInDataCatalog"] = {"@type": "DataCatalog", **catalogue}
    return node


def _download(resource: Mapping[str, Any]) -> dict[str, Any] | None:
    url = web_url(resource.get("url"))
    if url is None:
        return None
    node: dict[str, Any] = {"@type": "DataDownload", "contentUrl": url}
    if resource.get("title"):
        node["name"] = resource["title"]
    if resource.get("description"):
        node["description"] = resource["description"]
    media = encoding_format(resource.get("format"))
    if media:
        node["encodingFormat"] = media
    size = resource.get("size")
    if size is not None and size >= 0:
        node["contentSize"] = f"{size} B"
    return node
