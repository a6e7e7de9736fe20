"""DCAT-AP records as RDF/XML, for OAI-PMH's `dcat_ap`: the dataset's DCAT graph, the very node
the JSON-LD feed writes (formats.jsonld.dataset_node, mappings.dcat), read by rdflib with the
shipped context (nothing fetched) and written as one rdf:RDF element, the single root an
OAI-PMH <metadata> takes. rdflib is slow (milliseconds a dataset): services.renders keeps each
dataset's element."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from app.services.export_query import DatasetRow
from app.services.formats.jsonld import dataset_node

PREFIX = "dcat_ap"
SCHEMA = "https://semiceu.github.io/DCAT-AP/releases/3.0.1/"
NAMESPACE = "http://data.europa.eu/r5r/"  # DCAT-AP's own namespace


def rdf_xml(row: DatasetRow, base_url: str) -> str:
    # rdflib on first use: the server starts without it (a DCAT-AP record is asked for rarely).
    from rdflib import Graph
    from rdflib.compare import to_canonical_graph

    from app.services.formats.turtle import graph_of

    base = base_url.rstrip("/")
    graph = graph_of([dataset_node(row, base)], base)
    # The same dataset gives the same bytes (a kept fragment equals a fresh one): blank nodes
    # relabelled canonically, and the triples added in order, which rdflib writes them in.
    ordered = Graph(bind_namespaces="core")
    for prefix, namespace in graph.namespaces():
        ordered.bind(prefix, namespace, override=True, replace=True)
    for triple in sorted(to_canonical_graph(graph)):
        ordered.add(triple)
    document: str = ordered.serialize(format="xml")
    start = document.find("<rdf:RDF")  # without the XML declaration: the element only
    return document[start:].strip()


def records(rows: Iterable[DatasetRow], *, base_url: str) -> Iterator[bytes]:
    """Each dataset's rdf:RDF element (a fragment, services.renders)."""
    for row in rows:
        yield rdf_xml(row, base_url).encode()
