"""DCAT JSON-LD pages of the bulk open-data feed (seed 000 `/api/v1/dataset.jsonld`).

Written directly as JSON, one dataset at a time: never through an rdflib graph, which is about a
hundred times slower (rdflib reads the output in the tests instead). The `@context` is the file
`resources/dcat-context.jsonld`, embedded in every page so that no consumer fetches anything
remote; the server also serves it at `/api/v1/context.jsonld`.

A page is a `dcat:Catalog` (also a `hydra:Collection`) whose `hydra:view` is a
`hydra:PartialCollectionView` with `hydra:next` to the following page (absent on the last one),
which is how ckanext-dcat and udata walk paged DCAT. The graph conforms to the DCAT-AP 3.0.1
mandatory shapes and ranges: every node is typed with the class the shapes ask for (vcard:Kind,
dct:LicenseDocument, dct:MediaType, spdx:Checksum, skos:Concept, foaf:Agent), a dataset without
a description gets its title as dct:description, and every distribution has a dcat:accessURL.

Mapping: a dataset -> dcat:Dataset `<base>/dataset/<id>`; tags -> dcat:keyword; topics ->
dcat:theme (a skos:Concept `<base>/topic/<id>` labelled with its title); contact ->
dcat:contactPoint (vcard); each file -> a dcat:Distribution with downloadURL and accessURL, byte
size, media type, MD5 checksum, and the dataset's licence as dct:license; each external link ->
a dcat:Distribution with its accessURL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from app.services.export_query import DatasetRow, LinkRow, ResourceRow
from app.services.formats import Chunks, dataset_webpage, json_array

CONTENT_TYPE = "application/ld+json"
CONTEXT_PATH = Path(__file__).resolve().parents[3] / "resources" / "dcat-context.jsonld"
MD5_ALGORITHM = "http://spdx.org/rdf/terms#checksumAlgorithm_md5"
IANA = "https://www.iana.org/assignments/media-types/"
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"

# A resource's detected format -> (IANA media type, EU file-type authority code).
FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv", "CSV"),
    "tsv": ("text/tab-separated-values", "TSV"),
    "json": ("application/json", "JSON"),
    "geojson": ("application/geo+json", "GEOJSON"),
    "jsonld": ("application/ld+json", "JSON_LD"),
    "xml": ("application/xml", "XML"),
    "rdf": ("application/rdf+xml", "RDF_XML"),
    "ttl": ("text/turtle", "RDF_TURTLE"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "XLSX"),
    "xls": ("application/vnd.ms-excel", "XLS"),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", "ODS"),
    "pdf": ("application/pdf", "PDF"),
    "zip": ("application/zip", "ZIP"),
    "txt": ("text/plain", "TXT"),
    "html": ("text/html", "HTML"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "DOCX"),
    "kml": ("application/vnd.google-earth.kml+xml", "KML"),
    "shp": ("application/x-shapefile", "SHP"),
    "parquet": ("application/vnd.apache.parquet", "PARQUET"),
}
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_DATETIME = re.compile(r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
# Characters that may not appear in an IRI (RFC 3987): a URL holding one is left out.
_NOT_IRI = re.compile(r"[\x00-\x20<>\"{}|\\^`]")
# What `quote(value, safe="")` leaves as it is: such a value needs no quoting call.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


@dataclass(frozen=True, slots=True)
class CatalogueInfo:
    """What the feed says about the catalogue itself (dct:title, dct:description, publisher)."""

    title: str = "Catalogue Desk open data"
    description: str = "The published datasets of this catalogue, as DCAT."
    publisher: str = "Catalogue Desk"


def catalogue_iri(base_url: str) -> str:
    """The dcat:Catalog (and hydra:Collection), distinct from the page documents that view it."""
    return f"{base_url.rstrip('/')}/api/v1/dataset.jsonld#catalog"


@cache
def context() -> dict[str, Any]:
    """The JSON-LD context shipped in resources/ (read once)."""
    document: dict[str, Any] = orjson.loads(CONTEXT_PATH.read_bytes())
    return document


@cache
def context_bytes() -> bytes:
    return orjson.dumps(context()["@context"])


def _segment(value: str) -> str:
    """`quote(value, safe="")`, without the call for the usual all-unreserved value."""
    return value if _UNRESERVED.fullmatch(value) else quote(value, safe="")


def _iri(value: str | None) -> str | None:
    if not value or _NOT_IRI.search(value):
        return None
    return value


def _datetime(value: str | None) -> str | None:
    return value if value and _DATETIME.match(value) else None


def _media_type(mime: str) -> dict[str, str] | None:
    essence = mime.split(";", 1)[0].strip().lower()
    if not _MEDIA_TYPE.match(essence):
        return None
    return {"@id": IANA + essence, "@type": "dct:MediaType"}


# The (dcat:mediaType, dct:format) nodes of each known format, built once: only serialized.
_FORMAT_NODES: dict[str, tuple[dict[str, str] | None, dict[str, str]]] = {
    name: (_media_type(mime), {"@id": FILE_TYPE + code, "@type": "dct:MediaTypeOrExtent"})
    for name, (mime, code) in FORMATS.items()
}
_MD5 = {"@id": MD5_ALGORITHM, "@type": "spdx:ChecksumAlgorithm"}


def _licence(row: DatasetRow) -> dict[str, Any] | None:
    url = _iri(row.licence_url)
    if url is None:
        return None
    licence: dict[str, Any] = {"@id": url, "@type": "dct:LicenseDocument"}
    if row.licence_title:
        licence["dct:title"] = row.licence_title
    return licence


def _file_distribution(
    r: ResourceRow, dataset_iri: str, licence: dict[str, Any] | None
) -> dict[str, Any]:
    download = _iri(r.url)
    node: dict[str, Any] = {
        "@id": f"{dataset_iri}/resource/{_segment(r.rid)}",
        "@type": "dcat:Distribution",
        "dct:title": r.title,
        "dcat:accessURL": download or dataset_iri,
    }
    if download:
        node["dcat:downloadURL"] = download
    if r.description:
        node["dct:description"] = r.description
    if r.size is not None and r.size >= 0:
        node["dcat:byteSize"] = str(r.size)
    known = _FORMAT_NODES.get(r.format.lower()) if r.format else None
    if known is not None:
        node["dcat:mediaType"], node["dct:format"] = known
    if r.hash:
        node["spdx:checksum"] = {
            "@type": "spdx:Checksum",
            "spdx:algorithm": _MD5,
            "spdx:checksumValue": r.hash,
        }
    if licence is not None:
        node["dct:license"] = licence
    modified = _datetime(r.timestamp)
    if modified:
        node["dct:modified"] = modified
    return node


def _link_distribution(link: LinkRow, dataset_iri: str) -> dict[str, Any] | None:
    url = _iri(link.url)
    if url is None:
        return None
    node: dict[str, Any] = {
        "@id": f"{dataset_iri}/link/{_segment(link.lid)}",
        "@type": "dcat:Distribution",
        "dct:title": link.title or url,
        "dcat:accessURL": url,
    }
    if link.description:
        node["dct:description"] = link.description
    media_type = _media_type(link.qa_mimetype) if link.qa_mimetype else None
    if media_type is not None:
        node["dcat:mediaType"] = media_type
    return node


def dataset_node(row: DatasetRow, base_url: str) -> dict[str, Any]:
    """One dcat:Dataset node, with its distributions, themes and contact point embedded."""
    base = base_url.rstrip("/")
    iri = dataset_webpage(base, row.id)
    node: dict[str, Any] = {
        "@id": iri,
        "@type": "dcat:Dataset",
        "dct:identifier": row.id,
        "dct:title": row.title,
        "dct:description": row.description_text or row.title,
    }
    issued, modified = _datetime(row.created_at), _datetime(row.updated_at)
    if issued:
        node["dct:issued"] = issued
    if modified:
        node["dct:modified"] = modified
    if row.tags:
        node["dcat:keyword"] = list(row.tags)
    if row.topics:
        node["dcat:theme"] = [
            {
                "@id": f"{base}/topic/{_segment(t.id)}",
                "@type": "skos:Concept",
                "skos:prefLabel": t.title,
            }
            for t in row.topics
        ]
    if row.contact_email or row.contact_title:
        contact: dict[str, Any] = {"@type": "vcard:Kind"}
        if row.contact_title:
            contact["vcard:fn"] = row.contact_title
        email = _iri(f"mailto:{row.contact_email}") if row.contact_email else None
        if email:
            contact["vcard:hasEmail"] = email
        node["dcat:contactPoint"] = contact
    licence = _licence(row)
    distributions = [_file_distribution(r, iri, licence) for r in row.resources]
    distributions.extend(
        d for d in (_link_distribution(link, iri) for link in row.links) if d is not None
    )
    if distributions:
        node["dcat:distribution"] = distributions
    return node


def dataset_nodes(rows: Iterable[DatasetRow], *, base_url: str) -> Iterator[bytes]:
    """Each dataset's node, as JSON."""
    for row in rows:
        yield orjson.dumps(dataset_node(row, base_url))


def jsonld_page(
    rows: Iterable[DatasetRow],
    *,
    base_url: str,
    page_url: str,
    first_url: str,
    next_url: str | None,
    catalogue: CatalogueInfo | None = None,
) -> Chunks:
    """One page of the feed: the catalogue, its hydra view, and `rows` as dcat:dataset."""
    return page_document(
        dataset_nodes(rows, base_url=base_url),
        base_url=base_url,
        page_url=page_url,
        first_url=first_url,
        next_url=next_url,
        catalogue=catalogue,
    )


def page_document(
    nodes: Iterable[bytes],
    *,
    base_url: str,
    page_url: str,
    first_url: str,
    next_url: str | None,
    catalogue: CatalogueInfo | None = None,
) -> Chunks:
    """One page of the feed around nodes from `dataset_nodes`."""
    info = catalogue or CatalogueInfo()
    base = base_url.rstrip("/")
    view: dict[str, Any] = {
        "@id": page_url,
        "@type": "hydra:PartialCollectionView",
        "hydra:first": first_url,
    }
    if next_url is not None:
        view["hydra:next"] = next_url
    head = {
        "@id": catalogue_iri(base),
        "@type": ["dcat:Catalog", "hydra:Collection"],
        "dct:title": info.title,
        "dct:description": info.description,
        "dct:publisher": {
            "@id": f"{base}/#publisher",
            "@type": "foaf:Agent",
            "foaf:name": info.publisher,
        },
        "hydra:view": view,
    }
    # The head object without its closing brace, then the datasets array.
    opening = b'{"@context":' + context_bytes() + b"," + orjson.dumps(head)[1:-1]
    return json_array(opening + b',"dcat:dataset":[', nodes, b"]}")
