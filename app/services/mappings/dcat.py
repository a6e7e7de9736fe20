"""DCAT (DCAT-AP 3.0.1) <-> our canonical record: the one DCAT mapping.

Out (`to_dcat`): one dcat:Dataset node as JSON-LD in the terms of resources/dcat-context.jsonld
(`"@type": "Dataset"`, `"title"`) and the site's prefixes (`site_context`: `ds:`, `topic:`),
written directly as JSON, never through an rdflib graph, which is about a hundred times slower;
the feed (formats.jsonld) and the Turtle export (formats.turtle) are made of these nodes. Every
node is typed with the class the DCAT-AP shapes ask for (vcard:Kind, dct:LicenseDocument,
dct:MediaType, spdx:Checksum, skos:Concept: a constant node in full at its first mention in the
dataset, by IRI after; or, for a feed page, once per page: `to_dcat`'s `shared`), a dataset
without a description gets its title as dct:description, and every distribution has a
dcat:accessURL.

In (`from_dcat`): a dcat:Dataset of an rdflib graph (importing.dcat parses the file), read as
formats.jsonld writes it and as other DCAT publishers commonly do.

- a dataset -> dcat:Dataset `<base>/dataset/<id>`, dct:identifier <-> id;
- title <-> dct:title; description <-> dct:description as plain text (an import keeps the stored
  HTML when its text is the same);
- tags <-> dcat:keyword; topics <-> dcat:theme (a skos:Concept `<base>/topic/<id>` labelled with
  its title; read back by the IRI's last segment);
- contact <-> dcat:contactPoint (vcard:fn, vcard:hasEmail);
- licence <-> dct:license of each file (read from the dataset or any distribution);
- createdAt, updatedAt <-> dct:issued, dct:modified;
- each file <-> a dcat:Distribution `<dataset>/resource/<id>`: title, description, downloadURL
  and accessURL, byte size, media type and format, checksum (spdx:checksum with the hash's
  algorithm: md5, sha1, sha256 or sha512), modified;
- each external link <-> a dcat:Distribution `<dataset>/link/<id>`: title, description,
  accessURL, media type.

RDF has no order: tags and topics keep the stored order when the set is the same
(importing.plan), and new children are numbered in IRI order.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from app.services.clock import iso
from app.services.mappings import NO_TITLES, Carriage, Titles
from app.services.records import Record
from app.services.validation import CHILD_ID, DATASET_ID, HASH, hash_parts

if TYPE_CHECKING:
    from rdflib import Graph
    from rdflib.term import Node

CARRIAGE = Carriage.of(
    "DCAT",
    ("title", "description", "tags", "topics", "licence", "contact", "resources", "links"),
)

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


# -- ours -> DCAT --------------------------------------------------------------------------------


def _segment(value: str) -> str:
    """`quote(value, safe="")`, without the call for the usual all-unreserved value."""
    return value if _UNRESERVED.fullmatch(value) else quote(value, safe="")


def _iri(value: str | None) -> str | None:
    if not value or _NOT_IRI.search(value):
        return None
    return value


def _datetime(value: str | None) -> str | None:
    return value if value and _DATETIME.match(value) else None


def _media_type(mime: str) -> str | None:
    """The IANA media type's IRI, compact (the context's `iana:` prefix)."""
    essence = mime.split(";", 1)[0].strip().lower()
    return "iana:" + essence if _MEDIA_TYPE.match(essence) else None


# The (dcat:mediaType, dct:format) IRIs of each known format, built once.
_FORMAT_IRIS: dict[str, tuple[str | None, str]] = {
    name: (_media_type(mime), "filetype:" + code) for name, (mime, code) in FORMATS.items()
}
_ALGORITHM = "spdx:checksumAlgorithm_"  # + md5, sha1, sha256, sha512 (each a context term)
# Prefixes of this site's IRIs, declared per base URL beside the shipped context (`site_context`).
DATASET_PREFIX = "ds"
TOPIC_PREFIX = "topic"


def site_context(base_url: str) -> dict[str, str]:
    """The prefixes `to_dcat` writes this site's IRIs with: a dataset `ds:<id>`, its
    distributions `ds:<id>/resource/<rid>`, a topic `topic:<id>`."""
    base = base_url.rstrip("/")
    return {DATASET_PREFIX: f"{base}/dataset/", TOPIC_PREFIX: f"{base}/topic/"}


def _compact(iri: str, namespace: str, prefix: str) -> str:
    rest = iri[len(namespace) :]
    if not iri.startswith(namespace) or not rest or rest.startswith("/"):
        return iri
    return f"{prefix}:{rest}"


class _Typed:
    """The nodes of one dataset named by an IRI and typed (licence, media types, formats, the
    checksum algorithm, topics, the contact point): the first mention carries the node with its
    type (and title), later ones the IRI alone, which the context coerces. RDF merges the
    repeats, so the triples are those of typing every mention, and each dataset's node still
    stands alone (a shape that asks for the class finds it).

    With `shared` (a feed page: `to_dcat`), every mention is the IRI alone and the nodes go to
    `shared`, for the page to write each once (formats.jsonld)."""

    __slots__ = ("_seen", "_shared")

    def __init__(self, shared: dict[str, dict[str, str]] | None = None) -> None:
        self._seen: set[str] = set()
        self._shared = shared

    def __call__(
        self, iri: str, kind: str, term: str | None = None, **properties: str | None
    ) -> str | dict[str, str]:
        """`term`: the context's name for `iri`, written for a later mention where the
        property's values are read as terms (`@vocab`); `properties`: the node's literals
        (a title, a label), left out when empty."""
        reference = term or iri
        if iri in self._seen:
            return reference
        self._seen.add(iri)
        node = {"@id": iri, "@type": kind}
        node.update((key, value) for key, value in properties.items() if value)
        if self._shared is None:
            return node
        self._shared.setdefault(iri, node)
        return reference


# Prefixes of the shipped context for the licences most catalogues use: a licence IRI is
# repeated on every distribution, so written compact it saves a page the most bytes.
LICENCE_PREFIXES: dict[str, str] = {
    "ogl": "https://www.nationalarchives.gov.uk/doc/open-government-licence/",
    "ccl": "https://creativecommons.org/licenses/",
    "ccpd": "https://creativecommons.org/publicdomain/",
    "odc": "https://opendatacommons.org/licenses/",
}


def _licence_iri(licence: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """The licence's IRI (compact under LICENCE_PREFIXES where it can be) and title."""
    url = _iri(licence.get("url"))
    if url is None:
        return None
    for prefix, namespace in LICENCE_PREFIXES.items():
        if url.startswith(namespace):
            url = _compact(url, namespace, prefix)
            break
    return url, licence.get("title") or None


def _file_distribution(
    rid: str,
    r: Mapping[str, Any],
    dataset_iri: str,
    licence: tuple[str, str | None] | None,
    typed: _Typed,
) -> dict[str, Any]:
    download = _iri(r.get("url"))
    node: dict[str, Any] = {
        "@id": f"{dataset_iri}/resource/{_segment(rid)}",
        "@type": "Distribution",
        "title": r.get("title") or "",
        "accessURL": download or dataset_iri,
    }
    if download:
        node["downloadURL"] = download
    if r.get("description"):
        node["description"] = r["description"]
    size = r.get("size")
    if size is not None and size >= 0:
        node["byteSize"] = str(size)
    fmt = r.get("format")
    known = _FORMAT_IRIS.get(fmt.lower()) if fmt else None
    if known is not None:
        media_type, file_type = known
        if media_type is not None:
            node["mediaType"] = typed(media_type, "MediaType")
        node["format"] = typed(file_type, "MediaTypeOrExtent")
    parts = hash_parts(r["hash"]) if r.get("hash") else None
    if parts is not None:
        algorithm, digest = parts
        node["checksum"] = {
            "@type": "Checksum",
            "algorithm": typed(_ALGORITHM + algorithm, "ChecksumAlgorithm", algorithm),
            "checksumValue": digest,
        }
    if licence is not None:
        node["license"] = typed(licence[0], "LicenseDocument", title=licence[1])
    modified = _datetime(r.get("timestamp"))
    if modified:
        node["modified"] = modified
    return node


def _link_distribution(
    lid: str, link: Mapping[str, Any], dataset_iri: str, typed: _Typed
) -> dict[str, Any] | None:
    url = _iri(link.get("url"))
    if url is None:
        return None
    node: dict[str, Any] = {
        "@id": f"{dataset_iri}/link/{_segment(lid)}",
        "@type": "Distribution",
        "title": link.get("title") or url,
        "accessURL": url,
    }
    if link.get("description"):
        node["description"] = link["description"]
    mimetype = (link.get("qa") or {}).get("mimetype")
    media_type = _media_type(mimetype) if mimetype else None
    if media_type is not None:
        node["mediaType"] = typed(media_type, "MediaType")
    return node


def to_dcat(
    record: Mapping[str, Any],
    dataset_iri: str,
    base_url: str,
    titles: Titles = NO_TITLES,
    shared: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """One dcat:Dataset node, with its distributions, themes and contact point embedded, to be
    read with the shipped context and `site_context(base_url)`.
    `dataset_iri`: the dataset's public URL; `base_url`: the site's, for the topics' IRIs.
    Distributions in the record's order (a stored record has them by `order`).

    `shared`: for a document of many datasets (a feed page), which writes the nodes every
    dataset may repeat once: the typed constants (licence, media types, formats, checksum
    algorithm, topics) and the contact point go there by IRI, and this node refers to them.
    The contact point is then a blank node labelled by its content (`_contact_label`): the
    datasets of a page with the same contact share one node where each had its own copy, a
    graph that means the same (each copy was a blank node with the same triples)."""
    base = base_url.rstrip("/")
    # IRIs under the site's prefixes (site_context), which the page's context declares.
    dataset_iri = _compact(dataset_iri, f"{base}/dataset/", DATASET_PREFIX)
    title = record.get("title") or ""
    node: dict[str, Any] = {
        "@id": dataset_iri,
        "@type": "Dataset",
        "identifier": record["id"],
        "title": title,
        "description": record.get("descriptionText") or title,
    }
    issued, modified = _datetime(record.get("createdAt")), _datetime(record.get("updatedAt"))
    if issued:
        node["issued"] = issued
    if modified:
        node["modified"] = modified
    if record.get("tags"):
        node["keyword"] = list(record["tags"])
    typed = _Typed(shared)
    if record.get("topics"):
        node["theme"] = [
            typed(f"{TOPIC_PREFIX}:{_segment(t)}", "Concept", prefLabel=titles.topics.get(t, t))
            for t in record["topics"]
        ]
    point = _contact_point(record.get("contact") or {})
    if point is not None:
        if shared is None:
            node["contactPoint"] = point
        else:
            label = _contact_label(point)
            shared.setdefault(label, {"@id": label, **point})
            node["contactPoint"] = label
    licence = _licence_iri(record.get("licence") or {})
    distributions = [
        _file_distribution(rid, r, dataset_iri, licence, typed)
        for rid, r in (record.get("resources") or {}).items()
    ]
    distributions.extend(
        d
        for d in (
            _link_distribution(lid, link, dataset_iri, typed)
            for lid, link in (record.get("links") or {}).items()
        )
        if d is not None
    )
    if distributions:
        node["distribution"] = distributions
    return node


def _contact_point(contact: Mapping[str, Any]) -> dict[str, str] | None:
    """The vcard:Kind of a contact, None without a name or an email."""
    if not (contact.get("email") or contact.get("title")):
        return None
    point = {"@type": "Kind"}
    if contact.get("title"):
        point["fn"] = contact["title"]
    email = _iri(f"mailto:{contact['email']}") if contact.get("email") else None
    if email:
        point["hasEmail"] = email
    return point


def _contact_label(point: Mapping[str, str]) -> str:
    """A blank node label naming a contact point by its content: the same contact gets the
    same label in every dataset, two contacts two labels (64 bits of a digest)."""
    content = f"{point.get('fn', '')}\x1f{point.get('hasEmail', '')}".encode()
    return "_:k" + hashlib.blake2b(content, digest_size=8).hexdigest()


# -- DCAT -> ours --------------------------------------------------------------------------------


@cache
def _rdf() -> SimpleNamespace:
    """rdflib's names, imported when a graph is first read: rdflib is slow to import, and only
    an import of a DCAT file needs it."""
    from rdflib import Literal, Namespace, URIRef

    return SimpleNamespace(
        Literal=Literal,
        URIRef=URIRef,
        DCAT=Namespace("http://www.w3.org/ns/dcat#"),
        DCT=Namespace("http://purl.org/dc/terms/"),
        VCARD=Namespace("http://www.w3.org/2006/vcard/ns#"),
        SPDX=Namespace("http://spdx.org/rdf/terms#"),
    )


_FORMAT_BY_CODE = {code: name for name, (_mime, code) in FORMATS.items()}
_FORMAT_BY_MIME = {mime: name for name, (mime, _code) in FORMATS.items()}
_DIGITS = re.compile(r"[0-9]{1,30}")


def _text(graph: Graph, subject: Node, predicate: Node) -> str | None:
    """One literal value, preferring one without a language tag, then English."""
    values = [o for o in graph.objects(subject, predicate) if isinstance(o, _rdf().Literal)]
    if not values:
        return None
    values.sort(key=lambda o: (o.language not in (None, ""), o.language != "en", str(o)))
    return str(values[0])


def _moment(graph: Graph, subject: Node, predicate: Node) -> str | None:
    """An xsd:dateTime as the catalogue writes it. rdflib keeps the value, not the text: one
    with a zone comes back in UTC with milliseconds and Z (clock.iso); one without stays
    without, with milliseconds only if it has a fraction. Other literals are kept as they are."""
    for value in graph.objects(subject, predicate):
        if isinstance(value, _rdf().Literal) and isinstance(value.value, datetime):
            moment: datetime = value.value
            text = iso(moment)  # "...T10:00:00.123Z"
            if moment.tzinfo is None:
                text = text[:-1] if moment.microsecond else text[:19]
            return text
    return _text(graph, subject, predicate)


def _iri_of(graph: Graph, subject: Node, predicate: Node) -> str | None:
    values = sorted(
        str(o) for o in graph.objects(subject, predicate) if isinstance(o, _rdf().URIRef)
    )
    return values[0] if values else None


def _last_segment(iri: str) -> str:
    return unquote(iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1])


def from_dcat(graph: Graph, subject: Node, new_id: Callable[[set[str]], str]) -> Record:
    """Our record of the dcat:Dataset `subject` of `graph`, with the keys it has (tags, topics,
    resources and links always). `new_id` names a distribution whose IRI gives no child id."""
    rdf = _rdf()
    record: Record = {}
    identifier = _text(graph, subject, rdf.DCT.identifier)
    if identifier is None and isinstance(subject, rdf.URIRef):
        identifier = _last_segment(str(subject))
    if identifier and DATASET_ID.match(identifier):
        record["id"] = identifier
    title = _text(graph, subject, rdf.DCT.title)
    if title is not None:
        record["title"] = title
    description = _text(graph, subject, rdf.DCT.description)
    if description is not None:
        # Plain text: the planner keeps the stored HTML when its text is this text.
        record["description"] = html.escape(description, quote=False)
        record["descriptionText"] = description
    keywords = sorted(str(o) for o in graph.objects(subject, rdf.DCAT.keyword))
    record["tags"] = list(dict.fromkeys(k for k in keywords if k.strip()))
    record["topics"] = sorted(
        {
            _last_segment(str(o))
            for o in graph.objects(subject, rdf.DCAT.theme)
            if isinstance(o, rdf.URIRef)
        }
    )
    for key, predicate in (("createdAt", rdf.DCT.issued), ("updatedAt", rdf.DCT.modified)):
        moment = _moment(graph, subject, predicate)
        if moment is not None:
            record[key] = moment
    contact = next(iter(graph.objects(subject, rdf.DCAT.contactPoint)), None)
    if contact is not None:
        email = _iri_of(graph, contact, rdf.VCARD.hasEmail) or _text(
            graph, contact, rdf.VCARD.hasEmail
        )
        record["contact"] = {
            "email": email.removeprefix("mailto:") if email else None,
            "title": _text(graph, contact, rdf.VCARD.fn),
        }
    distributions = sorted(set(graph.objects(subject, rdf.DCAT.distribution)), key=str)
    licence = _licence_of(graph, subject, distributions)
    if licence is not None:
        record["licence"] = licence
    record["resources"], record["links"] = _children(graph, subject, distributions, new_id)
    return record


def _licence_of(graph: Graph, subject: Node, distributions: list[Node]) -> dict[str, Any] | None:
    rdf = _rdf()
    for owner in (subject, *distributions):
        node = next(iter(graph.objects(owner, rdf.DCT.license)), None)
        if node is not None:
            url = str(node) if isinstance(node, rdf.URIRef) else None
            return {"url": url, "title": _text(graph, node, rdf.DCT.title)}
    return None


def _children(
    graph: Graph,
    subject: Node,
    distributions: list[Node],
    new_id: Callable[[set[str]], str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    rdf = _rdf()
    dataset_iri = str(subject)
    files: dict[str, Any] = {}
    links: dict[str, Any] = {}
    for node in distributions:
        iri = str(node) if isinstance(node, rdf.URIRef) else ""
        download = _iri_of(graph, node, rdf.DCAT.downloadURL)
        access = _iri_of(graph, node, rdf.DCAT.accessURL)
        is_link = f"{dataset_iri}/link/" in iri or (
            download is None and f"{dataset_iri}/resource/" not in iri
        )
        taken = links if is_link else files
        child_id = _last_segment(iri) if iri else ""
        if not CHILD_ID.match(child_id) or child_id in taken:
            child_id = new_id(set(taken))
        title = _text(graph, node, rdf.DCT.title) or ""
        description = _text(graph, node, rdf.DCT.description) or ""
        if is_link:
            url = access or download or ""
            links[child_id] = {
                "url": url,
                # Our export titles an untitled link with its URL.
                "title": "" if title == url else title,
                "description": description,
            }
            continue
        files[child_id] = _file(graph, node, download, access, dataset_iri, title, description)
    return files, links


def _file(
    graph: Graph,
    node: Node,
    download: str | None,
    access: str | None,
    dataset_iri: str,
    title: str,
    description: str,
) -> dict[str, Any]:
    rdf = _rdf()
    size = _text(graph, node, rdf.DCAT.byteSize)
    checksum = next(iter(graph.objects(node, rdf.SPDX.checksum)), None)
    digest = _text(graph, checksum, rdf.SPDX.checksumValue) if checksum is not None else None
    if digest and checksum is not None:
        algorithm = next(iter(graph.objects(checksum, rdf.SPDX.algorithm)), None)
        name = str(algorithm or "").rsplit("checksumAlgorithm_", 1)[-1].lower()
        # An MD5 digest alone, as seed 002 holds it; any other algorithm named.
        digest = digest.lower() if name in ("", "md5") else f"{name}:{digest.lower()}"
        if not HASH.match(digest):
            digest = None  # an algorithm the record cannot hold
    return {
        "url": download or (access if access != dataset_iri else "") or "",
        "title": title,
        "description": description,
        # ASCII digits only: str.isdigit() also says yes to "²", which int() refuses.
        "size": int(size) if size is not None and _DIGITS.fullmatch(size) else size,
        "hash": digest or None,
        "format": _format(graph, node),
        "timestamp": _moment(graph, node, rdf.DCT.modified),
    }


def _format(graph: Graph, node: Node) -> str | None:
    rdf = _rdf()
    code = _iri_of(graph, node, rdf.DCT["format"])
    if code and code.startswith(FILE_TYPE) and code[len(FILE_TYPE) :] in _FORMAT_BY_CODE:
        return _FORMAT_BY_CODE[code[len(FILE_TYPE) :]]
    media = _iri_of(graph, node, rdf.DCAT.mediaType)
    if media and media.startswith(IANA):
        return _FORMAT_BY_MIME.get(media[len(IANA) :])
    return None
