"""The lean JSON-LD node (terms and prefixes of the context, typed constants once per dataset)
means exactly the triples the earlier verbose node meant: tests/data/dcat-node.nt is the graph
the verbose form (prefixed names, every nested node typed in full) gave for RECORD. A feed page
writes what its datasets share once, and means the same graph less the copies."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from pathlib import Path

import orjson
from rdflib import RDF, BNode, Graph, Namespace, URIRef
from rdflib.compare import graph_diff, to_isomorphic
from rdflib.namespace import DCAT

from app.services.formats import jsonld
from app.services.formats.jsonld import context_for
from app.services.mappings import Titles, dcat
from app.services.records import Record
from tests.dcat_helpers import dcat_ap_report, parse_jsonld

EXPECTED = Path(__file__).resolve().parents[1] / "data" / "dcat-node.nt"
BASE = "https://cat.example"
IRI = f"{BASE}/dataset/ab12x"
TITLES = Titles({"council": "Council", "roads": "Roads & streets"}, {}, {})
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
OGL = {"url": "https://www.nationalarchives.gov.uk/doc/ogl/3/", "title": "OGL v3"}


def _file(title: str, fmt: str | None, digest: str | None, url: str | None) -> dict[str, object]:
    return {
        "title": title,
        "description": "",
        "url": url,
        "format": fmt,
        "size": 1337,
        "hash": digest,
        "timestamp": "2025-01-21T16:10:02",
    }


RECORD: Record = {
    "id": "ab12x",
    "title": "Road works",
    "descriptionText": "Works on the roads, by month.",
    "createdAt": "2024-05-01T10:00:00.123Z",
    "updatedAt": "2024-06-01T10:00:00.456Z",
    "tags": ["roads", "works"],
    "topics": ["council", "roads"],
    "licence": OGL,
    "contact": {"email": "opendata@example.org", "title": "Open Data Team"},
    "resources": {
        "r1": _file("2024", "csv", "2cdf3a47738b93492906e3ad7e415d1a", "https://f.example/1.csv"),
        "r2": _file("2023", "csv", "d707107e855c384429e821a4c74803e3", "https://f.example/2.csv"),
        "r3": _file("Map", "pdf", None, "https://f.example/3.pdf"),
        "r4": _file("No URL, odd format", "sav", None, None),
    },
    "links": {
        "l1": {
            "title": "Portal",
            "description": "The council's portal",
            "url": "https://portal.example/roads",
            "qa": {"mimetype": "text/html; charset=utf-8"},
        },
        "l2": {"title": "", "url": "https://portal.example/csv", "qa": {"mimetype": "text/csv"}},
    },
}


def node_graph(node: Mapping[str, object]) -> Graph:
    document = {"@context": context_for(BASE), "@graph": [node]}
    graph = Graph()
    with warnings.catch_warnings():
        # rdflib 7.6's own JSON-LD parser builds a ConjunctiveGraph, which rdflib deprecates.
        warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
        graph.parse(data=orjson.dumps(document), format="json-ld")
    return graph


def test_the_lean_node_means_the_verbose_nodes_triples() -> None:
    expected = Graph().parse(EXPECTED, format="nt")
    graph = node_graph(dcat.to_dcat(RECORD, IRI, BASE, TITLES))
    in_both, only_new, only_old = graph_diff(to_isomorphic(graph), to_isomorphic(expected))
    assert not list(only_new) and not list(only_old)
    assert len(in_both) == len(expected) > 80


def test_the_context_still_reads_the_prefixed_form() -> None:
    """A page written before the terms (prefixed names, full IRIs) means the same with the
    shipped context, so its import reads the same record."""
    old = {
        "@id": IRI,
        "@type": "dcat:Dataset",
        "dct:identifier": "ab12x",
        "dct:title": "Road works",
        "dct:issued": "2024-05-01T10:00:00.123Z",
        "dcat:keyword": ["roads"],
        "dcat:distribution": [
            {
                "@id": f"{IRI}/resource/r1",
                "@type": "dcat:Distribution",
                "dct:title": "2024",
                "dcat:accessURL": "https://f.example/1.csv",
                "dcat:downloadURL": "https://f.example/1.csv",
                "dcat:byteSize": "1337",
            }
        ],
    }
    new = {
        "@id": "ds:ab12x",
        "@type": "Dataset",
        "identifier": "ab12x",
        "title": "Road works",
        "issued": "2024-05-01T10:00:00.123Z",
        "keyword": ["roads"],
        "distribution": [
            {
                "@id": "ds:ab12x/resource/r1",
                "@type": "Distribution",
                "title": "2024",
                "accessURL": "https://f.example/1.csv",
                "downloadURL": "https://f.example/1.csv",
                "byteSize": "1337",
            }
        ],
    }
    old_graph, new_graph = node_graph(old), node_graph(new)
    assert to_isomorphic(old_graph) == to_isomorphic(new_graph)
    (subject,) = old_graph.subjects(RDF.type, DCAT.Dataset)
    record = dcat.from_dcat(old_graph, subject, lambda taken: "new")
    assert record["title"] == "Road works"
    assert [r["size"] for r in record["resources"].values()] == [1337]


def test_a_hash_of_another_algorithm_is_its_spdx_checksum_and_reads_back() -> None:
    digest = "ab" * 32
    file = _file("2024", "csv", f"sha256:{digest}", "ftp://f.example/1.csv")
    graph = node_graph(dcat.to_dcat({**RECORD, "resources": {"r1": file}}, IRI, BASE, TITLES))
    spdx = "http://spdx.org/rdf/terms#"
    checksum = next(graph.objects(predicate=URIRef(spdx + "checksum")))
    algorithm = next(graph.objects(checksum, URIRef(spdx + "algorithm")))
    assert str(algorithm) == spdx + "checksumAlgorithm_sha256"
    assert str(next(graph.objects(checksum, URIRef(spdx + "checksumValue")))) == digest
    read = dcat.from_dcat(graph, URIRef(IRI), lambda taken: "zzz")
    (child,) = read["resources"].values()
    assert child["hash"] == f"sha256:{digest}" and child["url"] == "ftp://f.example/1.csv"


def _content_named(graph: Graph) -> set[tuple[object, object, object]]:
    """The triples of `graph`, each blank node named by its own triples: copies of a blank
    node (the same contact point written for every dataset) become one."""
    names: dict[object, URIRef] = {}
    for node in {term for triple in graph for term in triple if isinstance(term, BNode)}:
        content = sorted((str(p), str(o)) for p, o in graph.predicate_objects(node))
        names[node] = URIRef("urn:content:" + hashlib.sha256(repr(content).encode()).hexdigest())
    return {tuple(names.get(term, term) for term in triple) for triple in graph}  # type: ignore[misc]


def _page(fragments: list[bytes]) -> bytes:
    feed = f"{BASE}/api/v1/dataset.jsonld"
    return b"".join(
        jsonld.page_document(fragments, base_url=BASE, page_url=feed, first_url=feed, next_url=None)
    )


def test_a_page_writes_what_its_datasets_share_once_and_means_the_same_graph() -> None:
    """Licence, media types, formats, algorithm, topics and contact point: in full once per
    page, in `@included`, referred to by IRI; the page means the triples of the stand-alone
    nodes, less the copies (the contact, a blank node per dataset there, is one node here)."""
    records = [RECORD, {**RECORD, "id": "cd34y", "title": "Road works, again"}]
    iris = [f"{BASE}/dataset/{r['id']}" for r in records]
    fragments = []
    for record, iri in zip(records, iris, strict=True):
        shared: dict[str, dict[str, str]] = {}
        node = dcat.to_dcat(record, iri, BASE, TITLES, shared)
        fragments.append(jsonld.node_fragment(node, shared))
    lean = _page(fragments)
    verbose = _page(
        [
            orjson.dumps(dcat.to_dcat(record, iri, BASE, TITLES))
            for record, iri in zip(records, iris, strict=True)
        ]
    )

    lean_graph, verbose_graph = parse_jsonld(lean), parse_jsonld(verbose)
    assert _content_named(lean_graph) == _content_named(verbose_graph)
    assert len(lean_graph) < len(verbose_graph)
    contacts = set(lean_graph.objects(None, DCAT.contactPoint))
    assert len(contacts) == 1 and len(set(verbose_graph.objects(None, DCAT.contactPoint))) == 2
    (contact,) = contacts
    assert (contact, RDF.type, VCARD.Kind) in lean_graph
    for name in ("LicenseDocument", "MediaTypeOrExtent", "ChecksumAlgorithm", "Concept", "Kind"):
        assert verbose.count(f'"@type":"{name}"'.encode()) == 2 * lean.count(
            f'"@type":"{name}"'.encode()
        ), name
    assert len(lean) < len(verbose)
    assert dcat_ap_report(lean_graph)[0]


def test_a_common_licence_is_written_with_a_prefix_of_the_context() -> None:
    context = context_for(BASE)
    for prefix, namespace in dcat.LICENCE_PREFIXES.items():
        assert context[prefix] == namespace
    cc_by = {"url": "https://creativecommons.org/licenses/by/4.0/", "title": "CC BY 4.0"}
    node = dcat.to_dcat({**RECORD, "licence": cc_by}, IRI, BASE, TITLES)
    assert b'"ccl:by/4.0/"' in orjson.dumps(node)
    graph = node_graph(node)
    licences = set(graph.objects(None, URIRef("http://purl.org/dc/terms/license")))
    assert licences == {URIRef(cc_by["url"])}
    assert (
        URIRef(cc_by["url"]),
        RDF.type,
        URIRef("http://purl.org/dc/terms/LicenseDocument"),
    ) in graph
