"""DCAT JSON-LD pages of the bulk open-data feed (seed 000 `/api/v1/dataset.jsonld`).

Written directly as JSON, one dataset at a time: never through an rdflib graph, which is about a
hundred times slower (rdflib reads the output in the tests instead). The `@context` is the file
`resources/dcat-context.jsonld` and the site's prefixes (`ds:`, `topic:`; mappings.dcat's
`site_context`), embedded in every page so that no consumer fetches anything remote; the server
also serves it at `/api/v1/context.jsonld`. The page is lean because harvesters pay for every
byte (a page of 100 datasets is read and parsed at each step of a walk): terms of the context
(`{"@id": "ds:ab12x", "@type": "Dataset", "title": ...}`), compact IRIs, no indentation, and
what datasets repeat written once per page: the typed constants (licences, media types, file
types, the checksum algorithm, topics) and the contact points are nodes of the page's
`@included`, which the datasets refer to by IRI (a contact by a blank node label). Expanded
with the context, it is the same graph as the prefixed form (`dcat:Dataset`, `dct:title`) that
the context still reads, less the copies of triples (and of blank contact nodes) the datasets
repeated.

A page is a `dcat:Catalog` (also a `hydra:Collection`) whose `hydra:view` is a
`hydra:PartialCollectionView` with `hydra:next` to the following page (absent on the last one),
which is how ckanext-dcat and udata walk paged DCAT. The graph conforms to the DCAT-AP 3.0.1
mandatory shapes and ranges: every node is typed with the class the shapes ask for (vcard:Kind,
dct:LicenseDocument, dct:MediaType, spdx:Checksum, skos:Concept, foaf:Agent), a dataset without
a description gets its title as dct:description, and every distribution has a dcat:accessURL.

The dataset nodes are mappings.dcat's (the mapping the DCAT import reads back).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson

from app.resources import JSONLD_CONTEXT, resource
from app.services.export_query import DatasetRow
from app.services.formats import Chunks, dataset_webpage, json_array
from app.services.mappings.dcat import site_context, to_dcat
from app.services.mappings.rows import row_record, row_titles

CONTENT_TYPE = "application/ld+json"
CONTEXT_PATH = resource(JSONLD_CONTEXT)
NODE_SEPARATOR = b","  # between the dataset nodes of a page (a JSON array)


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
    """The JSON-LD context shipped in the package (resources/, read once)."""
    document: dict[str, Any] = orjson.loads(CONTEXT_PATH.read_bytes())
    return document


@cache
def prefixes() -> dict[str, str]:
    """The context's namespace prefixes (`dcat`, `dct`, ...), without its terms."""
    return {
        name: iri
        for name, iri in context()["@context"].items()
        if isinstance(iri, str) and "://" in iri and iri.endswith(("/", "#"))
    }


@functools.lru_cache(maxsize=16)
def context_for(base_url: str) -> dict[str, Any]:
    """The `@context` of a page served at `base_url`: the shipped one and the site's prefixes
    (mappings.dcat.site_context) that its dataset nodes are written with."""
    return {**context()["@context"], **site_context(base_url)}


@functools.lru_cache(maxsize=16)
def context_bytes(base_url: str) -> bytes:
    return orjson.dumps(context_for(base_url))


def dataset_node(
    row: DatasetRow, base_url: str, shared: dict[str, dict[str, str]] | None = None
) -> dict[str, Any]:
    """One dcat:Dataset node (mappings.dcat), with its distributions, themes and contact point
    embedded; or, given `shared`, referring to those it puts there (mappings.dcat.to_dcat)."""
    iri = dataset_webpage(base_url, row.id)
    return to_dcat(row_record(row), iri, base_url, row_titles(row), shared)


def dataset_nodes(rows: Iterable[DatasetRow], *, base_url: str) -> Iterator[bytes]:
    """Each dataset's fragment of a page: its node as JSON, referring to the nodes it shares
    with other datasets (mappings.dcat.to_dcat's `shared`), each following it on a line of
    its own (JSON as orjson writes it holds no line break). `page_document` writes the node
    in the datasets and each shared node once per page."""
    for row in rows:
        shared: dict[str, dict[str, str]] = {}
        yield node_fragment(dataset_node(row, base_url, shared), shared)


def node_fragment(node: dict[str, Any], shared: dict[str, dict[str, str]]) -> bytes:
    """A dataset's fragment of a page: `node` and, a line each, the nodes it `shared`."""
    return fragment_bytes(orjson.dumps(node), [orjson.dumps(n) for n in shared.values()])


def fragment_bytes(node: bytes, shared: Sequence[bytes]) -> bytes:
    """A fragment from its dataset node and the lines of the nodes it shares (`split_fragment`
    in reverse)."""
    return b"\n".join([node, *shared]) if shared else node


def split_fragment(fragment: bytes) -> tuple[bytes, list[bytes]]:
    """A fragment's dataset node, and the lines of the nodes it shares."""
    node, tail = _split(fragment)
    return node, [] if tail is None else tail.split(b"\n")


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
    """One page of the feed around fragments from `dataset_nodes`: their nodes as dcat:dataset,
    the nodes they share (each once, however many datasets refer to it) in `@included`."""
    shared: dict[bytes, None] = {}  # an ordered set: the page's bytes do not depend on hashing
    datasets = (_dataset(fragment, shared) for fragment in nodes)
    opening = _opening(base_url, page_url, first_url, next_url, catalogue)
    yield from json_array(opening + b',"dataset":[', datasets, b"]")
    yield _included(shared) + b"}"


@dataclass(frozen=True, slots=True)
class PageNodes:
    """The dataset nodes of a page, joined by commas, and the nodes they share, each once, in
    the order they are first referred to (what `page_document` makes of their fragments)."""

    datasets: bytes | memoryview
    shared: Sequence[bytes]


def page_nodes(fragments: Iterable[bytes]) -> PageNodes:
    """The PageNodes of fragments from `dataset_nodes`."""
    datasets: list[bytes] = []
    tails: list[bytes] = []
    for fragment in fragments:
        node, tail = _split(fragment)
        datasets.append(node)
        if tail is not None:
            tails.append(tail)
    # One split of all the tails: bytes.split walks the bytes in C, a call per tail costs more.
    shared = list(dict.fromkeys(b"\n".join(tails).split(b"\n"))) if tails else []
    return PageNodes(NODE_SEPARATOR.join(datasets), shared)


def page_bytes(
    nodes: PageNodes,
    *,
    base_url: str,
    page_url: str,
    first_url: str,
    next_url: str | None,
    catalogue: CatalogueInfo | None = None,
) -> bytes:
    """`page_document` in one piece, for a page that is sent whole (the feed's): one join."""
    opening = _opening(base_url, page_url, first_url, next_url, catalogue)
    return b"".join((opening, b',"dataset":[', nodes.datasets, b"]", _included(nodes.shared), b"}"))


def _opening(
    base_url: str,
    page_url: str,
    first_url: str,
    next_url: str | None,
    catalogue: CatalogueInfo | None,
) -> bytes:
    """The page object up to its datasets: the context, the catalogue and the hydra view."""
    info = catalogue or CatalogueInfo()
    base = base_url.rstrip("/")
    view: dict[str, Any] = {"@id": page_url, "@type": "PartialCollectionView", "first": first_url}
    if next_url is not None:
        view["next"] = next_url
    head = {
        "@id": catalogue_iri(base),
        "@type": ["Catalog", "Collection"],
        "title": info.title,
        "description": info.description,
        "publisher": {"@id": f"{base}/#publisher", "@type": "Agent", "name": info.publisher},
        "view": view,
    }
    # The head object without its closing brace.
    return b'{"@context":' + context_bytes(base) + b"," + orjson.dumps(head)[1:-1]


def _split(fragment: bytes) -> tuple[bytes, bytes | None]:
    """A fragment's dataset node, and the lines of the nodes it shares (None: it shares none)."""
    end = fragment.find(b"\n")
    return (fragment, None) if end < 0 else (fragment[:end], fragment[end + 1 :])


def _dataset(fragment: bytes, shared: dict[bytes, None]) -> bytes:
    """The dataset node of a fragment; the nodes it shares are added to `shared`."""
    node, tail = _split(fragment)
    if tail is not None:
        shared.update(dict.fromkeys(tail.split(b"\n")))
    return node


def _included(shared: Collection[bytes]) -> bytes:
    """The shared nodes as JSON-LD 1.1 `@included`: nodes of the graph that no property of
    the catalogue points at (each dataset refers to them by IRI)."""
    if not shared:
        return b""
    return b',"@included":[' + b",".join(shared) + b"]"
