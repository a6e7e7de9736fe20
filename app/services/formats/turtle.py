"""DCAT as Turtle: the JSON-LD feed's graph (formats.jsonld) in Turtle, for the desktop export.

rdflib writes Turtle, one batch of datasets at a time, so memory stays flat: each batch's
dataset nodes (the same `jsonld.dataset_node` as the feed, with the shipped context, so nothing
is fetched) are read into a small graph and serialized. The prefixes are written once at the
top; a batch repeats none of them (a prefix rdflib makes up for one batch is declared where it
is first used, which Turtle allows anywhere in a document).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import orjson
from rdflib import Graph

from app.services.export_query import DatasetRow
from app.services.formats import Chunks
from app.services.formats.jsonld import catalogue_iri, context_for, dataset_node, prefixes

CONTENT_TYPE = "text/turtle; charset=utf-8"
BATCH = 200


def graph_of(nodes: list[dict[str, Any]], base: str) -> Graph:
    graph = Graph(bind_namespaces="core")
    for prefix, iri in prefixes().items():
        graph.bind(prefix, iri, override=True, replace=True)
    document = {"@context": context_for(base), "@graph": nodes}
    with warnings.catch_warnings():
        # rdflib 7.6's own JSON-LD parser builds a ConjunctiveGraph, which rdflib deprecates.
        warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
        graph.parse(data=orjson.dumps(document), format="json-ld")
    return graph


def _batches(rows: Iterable[DatasetRow]) -> Iterator[list[DatasetRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def turtle_document(rows: Iterable[DatasetRow], *, base_url: str) -> Chunks:
    """The catalogue and its datasets as one Turtle document, in chunks of one batch each."""
    base = base_url.rstrip("/")
    declared: dict[str, str] = dict(prefixes())
    head = "".join(f"@prefix {prefix}: <{iri}> .\n" for prefix, iri in declared.items())
    yield (head + "\n").encode("utf-8")
    catalogue = {"@id": catalogue_iri(base), "@type": "Catalog"}
    first = True
    for batch in _batches(rows):
        nodes = [dataset_node(row, base) for row in batch]
        links: dict[str, Any] = {
            **catalogue,
            "dataset": [{"@id": node["@id"]} for node in nodes],
        }
        if first:
            links["title"] = "Catalogue Desk export"
            first = False
        yield _body(graph_of([links, *nodes], base), declared)
    if first:  # no dataset at all: still say what the document is
        yield _body(graph_of([{**catalogue, "title": "Catalogue Desk export"}], base), declared)


def _body(graph: Graph, declared: dict[str, str]) -> bytes:
    """`graph` as Turtle without the prefix lines already declared (new ones kept)."""
    text = graph.serialize(format="turtle")
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("@prefix "):
            prefix, _, rest = line[len("@prefix ") :].partition(":")
            iri = rest.strip().removesuffix(".").strip().strip("<>")
            if declared.get(prefix) == iri:
                continue
            declared[prefix] = iri
        out.append(line)
    return "".join(out).encode("utf-8")
