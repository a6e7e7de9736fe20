"""DCAT imports: JSON-LD, Turtle and RDF/XML, read by rdflib (the mapping of formats.jsonld,
read backwards, and what other DCAT publishers commonly write).

Safety: a JSON-LD document never makes the importer fetch anything. Every `@context` in it is
checked before rdflib sees it: an embedded context is kept, a reference to our own context
(`.../api/v1/context.jsonld`) is replaced by the copy in resources/, any other reference or an
`@import` is refused. RDF/XML is screened with defusedxml first (no entity declarations, no
external entities), then parsed by rdflib's expat-based parser, which does not fetch DTDs.

What DCAT carries: id (dct:identifier, or the dataset IRI's last segment), title, description as
plain text (an update keeps the stored HTML when its text is the same), keywords, themes, contact
point, licence, issued/modified, and distributions (files: title, description, download URL,
byte size, format, MD5, modified; links: title, description, URL). RDF has no order: tags and
topics keep the stored order when the set is the same (importing.plan), and new children are
numbered in IRI order.
"""

from __future__ import annotations

import html
import re
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import parse as safe_parse
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from app.services.formats.jsonld import FILE_TYPE, FORMATS, context
from app.services.formats.xlsx import timestamp_text
from app.services.importing.limits import MAX_DATASETS, MAX_RDF_BYTES, check_file_size
from app.services.importing.model import ImportFormat, ImportRejected, SourceItem
from app.services.records import Record
from app.services.validation import CHILD_ID, DATASET_ID

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
OUR_CONTEXT_SUFFIX = "/api/v1/context.jsonld"
_RDFLIB_FORMATS = {
    ImportFormat.JSONLD: "json-ld",
    ImportFormat.TURTLE: "turtle",
    ImportFormat.RDFXML: "xml",
}
_FORMAT_BY_CODE = {code: name for name, (_mime, code) in FORMATS.items()}
_FORMAT_BY_MIME = {mime: name for name, (mime, _code) in FORMATS.items()}
IANA = "https://www.iana.org/assignments/media-types/"
_DIGITS = re.compile(r"[0-9]{1,30}")


def read_rdf(path: Path, import_format: ImportFormat) -> list[SourceItem]:
    check_file_size(path, MAX_RDF_BYTES)
    graph = _parse(path, import_format)
    datasets = sorted(set(graph.subjects(RDF.type, DCAT.Dataset)), key=str)
    if len(datasets) > MAX_DATASETS:
        raise ImportRejected(f"More than {MAX_DATASETS:,} datasets in one import")
    if not datasets:
        raise ImportRejected(f"{path.name} describes no dcat:Dataset")
    unordered = frozenset({"tags", "topics"})
    return [
        SourceItem(row, _record(graph, subject), unordered=unordered)
        for row, subject in enumerate(datasets, 1)
    ]


def _parse(path: Path, import_format: ImportFormat) -> Graph:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImportRejected(f"Cannot read {path}: {error.strerror or error}") from error
    if import_format is ImportFormat.JSONLD:
        data = _local_contexts(path, data)
    elif import_format is ImportFormat.RDFXML:
        _screen_xml(path)
    graph = Graph()
    try:
        with warnings.catch_warnings():
            # rdflib 7.6's own JSON-LD parser builds a ConjunctiveGraph, which rdflib deprecates.
            warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
            graph.parse(data=data, format=_RDFLIB_FORMATS[import_format])
    except ImportRejected:
        raise
    except Exception as error:  # rdflib's parsers raise many kinds of error on bad input
        kind = {"json-ld": "JSON-LD", "turtle": "Turtle", "xml": "RDF/XML"}[
            _RDFLIB_FORMATS[import_format]
        ]
        raise ImportRejected(f"{path.name} is not valid {kind}: {error}") from error
    return graph


def _local_contexts(path: Path, data: bytes) -> bytes:
    """The JSON-LD document with every context local, or ImportRejected."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ImportRejected(f"{path.name} is not valid JSON: {error}") from error

    def context_value(value: Any) -> Any:
        if isinstance(value, str):
            if value.endswith(OUR_CONTEXT_SUFFIX):
                return context()["@context"]
            raise ImportRejected(
                f"{path.name} refers to the remote JSON-LD context {value[:200]!r}; only "
                "embedded contexts (or ours) are read, nothing is fetched"
            )
        if isinstance(value, list):
            return [context_value(v) for v in value]
        if isinstance(value, dict):
            if "@import" in value:
                raise ImportRejected(
                    f"{path.name} imports a remote JSON-LD context; nothing is fetched"
                )
            return {k: walk(v) for k, v in value.items()}
        return value

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: context_value(v) if k == "@context" else walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return orjson.dumps(walk(document))


def _screen_xml(path: Path) -> None:
    try:
        safe_parse(path, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise ImportRejected(f"{path.name}: {error}; refused") from error
    except Exception as error:  # expat and ElementTree errors alike: not XML we can read
        raise ImportRejected(f"{path.name} is not valid XML: {error}") from error


# -- graph to record -------------------------------------------------------------------------


def _text(graph: Graph, subject: Node, predicate: URIRef) -> str | None:
    """One literal value, preferring one without a language tag, then English."""
    values = [o for o in graph.objects(subject, predicate) if isinstance(o, Literal)]
    if not values:
        return None
    values.sort(key=lambda o: (o.language not in (None, ""), o.language != "en", str(o)))
    return str(values[0])


def _moment(graph: Graph, subject: Node, predicate: URIRef) -> str | None:
    """An xsd:dateTime as the catalogue writes it. rdflib keeps the value, not the text: one
    with a zone comes back in UTC with milliseconds and Z (clock.now_iso); one without stays
    without, with milliseconds only if it has a fraction. Other literals are kept as they are."""
    for value in graph.objects(subject, predicate):
        if isinstance(value, Literal) and isinstance(value.value, datetime):
            moment: datetime = value.value
            if moment.tzinfo is not None:
                return timestamp_text(moment.astimezone(UTC), None)
            form = 'yyyy-mm-dd"T"hh:mm:ss.000' if moment.microsecond else 'yyyy-mm-dd"T"hh:mm:ss'
            return timestamp_text(moment, form)
    return _text(graph, subject, predicate)


def _iri(graph: Graph, subject: Node, predicate: URIRef) -> str | None:
    values = sorted(str(o) for o in graph.objects(subject, predicate) if isinstance(o, URIRef))
    return values[0] if values else None


def _segment(iri: str) -> str:
    return unquote(iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1])


def _record(graph: Graph, subject: Node) -> Record:
    record: Record = {}
    identifier = _text(graph, subject, DCT.identifier)
    if identifier is None and isinstance(subject, URIRef):
        identifier = _segment(str(subject))
    if identifier and DATASET_ID.match(identifier):
        record["id"] = identifier
    title = _text(graph, subject, DCT.title)
    if title is not None:
        record["title"] = title
    description = _text(graph, subject, DCT.description)
    if description is not None:
        # Plain text: the planner keeps the stored HTML when its text is this text.
        record["description"] = html.escape(description, quote=False)
        record["descriptionText"] = description
    keywords = sorted(str(o) for o in graph.objects(subject, DCAT.keyword))
    record["tags"] = list(dict.fromkeys(k for k in keywords if k.strip()))
    record["topics"] = sorted(
        {_segment(str(o)) for o in graph.objects(subject, DCAT.theme) if isinstance(o, URIRef)}
    )
    for key, predicate in (("createdAt", DCT.issued), ("updatedAt", DCT.modified)):
        moment = _moment(graph, subject, predicate)
        if moment is not None:
            record[key] = moment
    contact = next(iter(graph.objects(subject, DCAT.contactPoint)), None)
    if contact is not None:
        email = _iri(graph, contact, VCARD.hasEmail) or _text(graph, contact, VCARD.hasEmail)
        record["contact"] = {
            "email": email.removeprefix("mailto:") if email else None,
            "title": _text(graph, contact, VCARD.fn),
        }
    distributions = sorted(set(graph.objects(subject, DCAT.distribution)), key=str)
    licence = _licence(graph, subject, distributions)
    if licence is not None:
        record["licence"] = licence
    record["resources"], record["links"] = _children(graph, subject, distributions)
    return record


def _licence(graph: Graph, subject: Node, distributions: list[Node]) -> dict[str, Any] | None:
    for owner in (subject, *distributions):
        node = next(iter(graph.objects(owner, DCT.license)), None)
        if node is not None:
            url = str(node) if isinstance(node, URIRef) else None
            return {"url": url, "title": _text(graph, node, DCT.title)}
    return None


def _children(
    graph: Graph, subject: Node, distributions: list[Node]
) -> tuple[dict[str, Any], dict[str, Any]]:
    dataset_iri = str(subject)
    files: dict[str, Any] = {}
    links: dict[str, Any] = {}
    for node in distributions:
        iri = str(node) if isinstance(node, URIRef) else ""
        download = _iri(graph, node, DCAT.downloadURL)
        access = _iri(graph, node, DCAT.accessURL)
        is_link = f"{dataset_iri}/link/" in iri or (
            download is None and f"{dataset_iri}/resource/" not in iri
        )
        taken = links if is_link else files
        child_id = _segment(iri) if iri else ""
        if not CHILD_ID.match(child_id) or child_id in taken:
            child_id = _fresh_id(taken)
        title = _text(graph, node, DCT.title) or ""
        description = _text(graph, node, DCT.description) or ""
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
    size = _text(graph, node, DCAT.byteSize)
    checksum = next(iter(graph.objects(node, SPDX.checksum)), None)
    digest = _text(graph, checksum, SPDX.checksumValue) if checksum is not None else None
    resource: dict[str, Any] = {
        "url": download or (access if access != dataset_iri else "") or "",
        "title": title,
        "description": description,
        # ASCII digits only: str.isdigit() also says yes to "²", which int() refuses.
        "size": int(size) if size is not None and _DIGITS.fullmatch(size) else size,
        "hash": digest.lower() if digest else None,
        "format": _format(graph, node),
        "timestamp": _moment(graph, node, DCT.modified),
    }
    return resource


def _format(graph: Graph, node: Node) -> str | None:
    code = _iri(graph, node, DCT["format"])
    if code and code.startswith(FILE_TYPE) and code[len(FILE_TYPE) :] in _FORMAT_BY_CODE:
        return _FORMAT_BY_CODE[code[len(FILE_TYPE) :]]
    media = _iri(graph, node, DCAT.mediaType)
    if media and media.startswith(IANA):
        return _FORMAT_BY_MIME.get(media[len(IANA) :])
    return None


def _fresh_id(taken: dict[str, Any]) -> str:
    from app.services.datasets import new_child_id

    return new_child_id(set(taken))
