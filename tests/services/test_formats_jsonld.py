"""DCAT JSON-LD pages: rdflib reads the intended graph, and it conforms to DCAT-AP 3.0.1."""

from __future__ import annotations

import pytest
import rdflib
from rdflib import RDF, XSD, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, SKOS

from app.models.database import Database
from app.services import datasets, managed_lists, publication
from app.services.export_query import iter_datasets
from app.services.formats.jsonld import CONTEXT_PATH, catalogue_iri, context, jsonld_page
from app.services.visibility import ANONYMOUS
from tests.conftest import AUTHOR, make_record
from tests.dcat_helpers import dcat_ap_report, parse_jsonld

BASE = "http://127.0.0.1:8080"
FEED = f"{BASE}/api/v1/dataset.jsonld"
VCARD = rdflib.Namespace("http://www.w3.org/2006/vcard/ns#")
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")
HYDRA = rdflib.Namespace("http://www.w3.org/ns/hydra/core#")


def _publish(database: Database, **overrides: object) -> str:
    with database.transaction() as session:
        record = datasets.create_dataset(session, make_record(**overrides), author=AUTHOR)
        publication.publish(session, record["id"], author=AUTHOR)
    dataset_id: str = record["id"]
    return dataset_id


@pytest.fixture
def full_id(database: Database) -> str:
    with database.transaction() as session:
        managed_lists.add_topic(session, "community-information", "Community Information")
    return _publish(
        database,
        topics=["community-information"],
        resources={
            "k93": {
                "title": "FOI requests received 2020-25",
                "url": "https://data.example/download/k93.csv",
                "format": "csv",
                "size": 1337303,
                "hash": "2cdf3a47738b93492906e3ad7e415d1a",
                "timestamp": "2025-01-21T16:10:02",
            },
            "k94": {"title": "No URL, odd format", "format": "sav"},
        },
        links={
            "el3": {
                "title": "TfL Open Data",
                "url": "https://tfl.gov.uk/info-for/open-data-users/our-open-data",
                "qa": {"mimetype": "text/html; charset=utf-8", "httpStatus": 200},
            }
        },
    )


def _page(database: Database, next_url: str | None = None) -> rdflib.Graph:
    rows = iter_datasets(database, ANONYMOUS, published_only=True)
    body = b"".join(
        jsonld_page(rows, base_url=BASE, page_url=FEED, first_url=FEED, next_url=next_url)
    )
    return parse_jsonld(body)


def test_a_dataset_becomes_the_intended_dcat_triples(database: Database, full_id: str) -> None:
    graph = _page(database)
    ds = URIRef(f"{BASE}/dataset/{full_id}")
    catalogue = URIRef(catalogue_iri(BASE))
    assert (catalogue, RDF.type, DCAT.Catalog) in graph
    assert (catalogue, DCAT.dataset, ds) in graph
    assert (ds, RDF.type, DCAT.Dataset) in graph
    assert (ds, DCTERMS.identifier, Literal(full_id)) in graph
    assert (ds, DCTERMS.title, Literal("Freedom of Information Requests")) in graph
    assert (ds, DCTERMS.description, Literal("Requests received, by month.")) in graph
    assert set(graph.objects(ds, DCAT.keyword)) == {
        Literal("FOI"),
        Literal("Freedom of Information"),
    }
    theme = URIRef(f"{BASE}/topic/community-information")
    assert (ds, DCAT.theme, theme) in graph
    assert (theme, SKOS.prefLabel, Literal("Community Information")) in graph
    contact = graph.value(ds, DCAT.contactPoint)
    assert (contact, RDF.type, VCARD.Kind) in graph
    assert (contact, VCARD.hasEmail, URIRef("mailto:opendata@example.org")) in graph
    assert (contact, VCARD.fn, Literal("Open Data Team")) in graph
    issued = graph.value(ds, DCTERMS.issued)
    assert isinstance(issued, Literal) and issued.datatype == XSD.dateTime

    file = URIRef(f"{BASE}/dataset/{full_id}/resource/k93")
    assert (ds, DCAT.distribution, file) in graph
    download = URIRef("https://data.example/download/k93.csv")
    assert (file, DCAT.downloadURL, download) in graph
    assert (file, DCAT.accessURL, download) in graph
    assert (file, DCAT.byteSize, Literal("1337303", datatype=XSD.nonNegativeInteger)) in graph
    assert (
        file,
        DCAT.mediaType,
        URIRef("https://www.iana.org/assignments/media-types/text/csv"),
    ) in graph
    assert (
        file,
        DCTERMS.license,
        URIRef("https://www.nationalarchives.gov.uk/doc/ogl/3/"),
    ) in graph
    checksum = graph.value(file, SPDX.checksum)
    assert (checksum, SPDX.algorithm, SPDX.checksumAlgorithm_md5) in graph
    assert (
        checksum,
        SPDX.checksumValue,
        Literal("2cdf3a47738b93492906e3ad7e415d1a", datatype=XSD.hexBinary),
    ) in graph

    bare = URIRef(f"{BASE}/dataset/{full_id}/resource/k94")
    assert (bare, DCAT.accessURL, ds) in graph, "a file without URL is reached via its dataset"
    assert graph.value(bare, DCAT.downloadURL) is None
    link = URIRef(f"{BASE}/dataset/{full_id}/link/el3")
    assert (
        link,
        DCAT.accessURL,
        URIRef("https://tfl.gov.uk/info-for/open-data-users/our-open-data"),
    ) in graph


def test_the_page_conforms_to_dcat_ap(database: Database, full_id: str) -> None:
    _publish(database, description="", contact={}, licence={}, tags=[])  # the sparse case
    conforms, report = dcat_ap_report(_page(database, next_url=f"{FEED}?after=x"))
    assert conforms, report


def test_the_shapes_do_catch_a_violation(database: Database, full_id: str) -> None:
    graph = _page(database)
    graph.remove((URIRef(catalogue_iri(BASE)), DCTERMS.publisher, None))
    conforms, report = dcat_ap_report(graph)
    assert not conforms and "publisher" in report


def test_each_page_is_a_hydra_partial_view_and_the_last_has_no_next(
    database: Database, full_id: str
) -> None:
    graph = _page(database, next_url=f"{FEED}?after=abc")
    view = URIRef(FEED)
    assert (view, RDF.type, HYDRA.PartialCollectionView) in graph
    assert (view, HYDRA.next, URIRef(f"{FEED}?after=abc")) in graph
    assert (URIRef(catalogue_iri(BASE)), HYDRA.view, view) in graph
    last = _page(database, next_url=None)
    assert (view, RDF.type, HYDRA.PartialCollectionView) in last
    assert last.value(view, HYDRA.next) is None


def test_an_empty_page_is_still_a_valid_catalogue(database: Database) -> None:
    graph = _page(database)
    catalogue = URIRef(catalogue_iri(BASE))
    assert (catalogue, RDF.type, DCAT.Catalog) in graph
    assert graph.value(graph.value(catalogue, DCTERMS.publisher), FOAF.name) is not None
    assert dcat_ap_report(graph)[0]


def test_the_context_is_shipped_and_embedded() -> None:
    assert CONTEXT_PATH.is_file()
    assert context()["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
