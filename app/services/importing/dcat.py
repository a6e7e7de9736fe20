"""DCAT imports: JSON-LD, Turtle and RDF/XML, parsed by rdflib and mapped by mappings.dcat (the
mapping of the JSON-LD feed, read backwards, and what other DCAT publishers commonly write).

Safety: a JSON-LD document never makes the importer fetch anything. Every `@context` in it is
checked before rdflib sees it: an embedded context is kept, a reference to our own context
(`.../api/v1/context.jsonld`) is replaced by the copy in resources/, any other reference or an
`@import` is refused. RDF/XML is screened with defusedxml first (no entity declarations, no
external entities), then parsed by rdflib's expat-based parser, which does not fetch DTDs.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import parse as safe_parse
from rdflib import RDF, Graph, Namespace

from app.services.datasets import new_child_id
from app.services.formats.jsonld import context_for
from app.services.importing.limits import MAX_DATASETS, MAX_RDF_BYTES, check_file_size
from app.services.importing.model import ImportFormat, ImportRejected, SourceItem
from app.services.mappings import dcat

DCAT = Namespace("http://www.w3.org/ns/dcat#")
OUR_CONTEXT_SUFFIX = "/api/v1/context.jsonld"
_RDFLIB_FORMATS = {
    ImportFormat.JSONLD: "json-ld",
    ImportFormat.TURTLE: "turtle",
    ImportFormat.RDFXML: "xml",
}


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
        SourceItem(
            row,
            dcat.from_dcat(graph, subject, new_child_id),
            unordered=unordered,
            carriage=dcat.CARRIAGE,
        )
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
                return context_for(value.removesuffix(OUR_CONTEXT_SUFFIX))
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
