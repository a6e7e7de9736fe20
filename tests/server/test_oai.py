"""OAI-PMH 2.0 at /oai (issue 12, item 3), over a real uvicorn on loopback: every verb, every
protocol error, from/until/set, paging by resumptionToken while the catalogue changes, deleted
records, a harvester from PyPI (sickle) and an incremental mirror. Every response is validated
against the OAI-PMH schema (tests/data/oai-pmh/, with the oai_dc schema for the metadata)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from rdflib import Graph, Literal, URIRef
from sickle import Sickle
from sickle.oaiexceptions import NoRecordsMatch
from sqlalchemy import select, text, update

from app.models import CatalogueVersion, Dataset
from app.models.database import Database
from app.services import catalogue_version, datasets, managed_lists, publication
from app.services.clock import iso, now_iso, parse_utc
from app.services.cursor import load_secret
from app.services.oai.protocol import datestamp
from app.services.oai.selection import midnight
from app.services.oai.tokens import Position, Resumption, TokenCodec, derive_key
from app.services.server import ServerThread
from app.services.visibility import public_clause
from tests.conftest import AUTHOR, make_record
from tests.server.conftest import Catalogue, ServeFactory

SCHEMAS = Path(__file__).parent.parent / "data" / "oai-pmh"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
_PARSER = etree.XMLParser(no_network=True, resolve_entities=False)
_SCHEMA = etree.XMLSchema(etree.parse(str(SCHEMAS / "responses.xsd"), _PARSER))
DCT_IDENTIFIER = URIRef("http://purl.org/dc/terms/identifier")


def valid(content: bytes) -> Any:
    """The response parsed, after checking it against the OAI-PMH schema."""
    document = etree.fromstring(content, _PARSER)
    if not _SCHEMA.validate(document):
        raise AssertionError(f"not valid OAI-PMH: {_SCHEMA.error_log}\n{content[:2000]!r}")
    return document


def oai(client: httpx.Client, **arguments: str) -> Any:
    response = client.get("/oai", params=arguments)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    return valid(response.content)


def error_code(document: Any) -> str | None:
    found = document.find(f"{OAI}error")
    return None if found is None else found.get("code")


def dataset_id(identifier: str) -> str:
    return identifier.rsplit(":", 1)[1]


def headers(document: Any) -> list[Any]:
    return list(document.iter(f"{OAI}header"))


def walk(client: httpx.Client, verb: str, **arguments: str) -> Iterator[Any]:
    """Each page of a list, following its resumptionTokens."""
    document = oai(client, verb=verb, **arguments)
    while True:
        yield document
        token = document.find(f".//{OAI}resumptionToken")
        if token is None or not token.text:
            return
        document = oai(client, verb=verb, resumptionToken=token.text)


def published(database: Database) -> dict[str, str]:
    """id -> title of what an anonymous caller sees now."""
    with database.read() as session:
        found = session.execute(select(Dataset.id, Dataset.title).where(public_clause())).all()
    return {dataset: title for dataset, title in found}


def add_public(database: Database, count: int, prefix: str = "Item") -> list[str]:
    ids = []
    with database.transaction() as s:
        for n in range(count):
            record = datasets.create_dataset(s, make_record(title=f"{prefix} {n}"), author=AUTHOR)
            publication.publish(s, record["id"], author=AUTHOR)
            ids.append(record["id"])
    return ids


def edit(database: Database, dataset_id: str, title: str) -> None:
    with database.transaction() as s:
        datasets.update_dataset(s, dataset_id, {"title": title}, author=AUTHOR)


# -- the verbs -----------------------------------------------------------------------------------


def test_identify_says_what_a_harvester_needs(client: httpx.Client, catalogue: Catalogue) -> None:
    document = oai(client, verb="Identify")
    identify = document.find(f"{OAI}Identify")
    assert identify.findtext(f"{OAI}baseURL") == str(client.base_url).rstrip("/") + "/oai"
    assert identify.findtext(f"{OAI}protocolVersion") == "2.0"
    assert identify.findtext(f"{OAI}deletedRecord") == "persistent"
    assert identify.findtext(f"{OAI}granularity") == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.findtext(f"{OAI}repositoryName") == "Catalogue Desk open data"
    assert "@" in identify.findtext(f"{OAI}adminEmail")
    stamps = [
        h.findtext(f"{OAI}datestamp")
        for h in headers(oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc"))
    ]
    assert identify.findtext(f"{OAI}earliestDatestamp") == min(stamps)
    assert document.find(f"{OAI}request").attrib == {"verb": "Identify"}


def test_the_admin_email_is_a_setting(serve: ServeFactory, catalogue: Catalogue) -> None:
    server = serve(oai_admin_email="archive@council.example")
    with httpx.Client(base_url=server.url) as http:
        identify = oai(http, verb="Identify").find(f"{OAI}Identify")
    assert identify.findtext(f"{OAI}adminEmail") == "archive@council.example"


def test_list_metadata_formats(client: httpx.Client, catalogue: Catalogue) -> None:
    prefixes = [
        e.text for e in oai(client, verb="ListMetadataFormats").iter(f"{OAI}metadataPrefix")
    ]
    assert prefixes == ["oai_dc", "dcat_ap"]
    host = httpx.URL(str(client.base_url)).host
    one = oai(client, verb="ListMetadataFormats", identifier=f"oai:{host}:{catalogue.public[0]}")
    assert len(list(one.iter(f"{OAI}metadataFormat"))) == 2
    for unknown in ("oai:elsewhere.example:abcde", f"oai:{host}:{catalogue.draft}"):
        answer = oai(client, verb="ListMetadataFormats", identifier=unknown)
        assert error_code(answer) == "idDoesNotExist"


def test_list_sets_names_teams_and_topics_of_published_datasets(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    document = oai(client, verb="ListSets")
    found = {
        s.findtext(f"{OAI}setSpec"): s.findtext(f"{OAI}setName") for s in document.iter(f"{OAI}set")
    }
    # tm001 owns only a draft: its set is not shown.
    assert found == {"topic:council": "Council & Democracy"}


def test_no_set_hierarchy_without_sets(database: Database, client: httpx.Client) -> None:
    add_public(database, 1)
    assert error_code(oai(client, verb="ListSets")) == "noSetHierarchy"
    answer = oai(client, verb="ListRecords", metadataPrefix="oai_dc", set="team:tm001")
    assert error_code(answer) == "noSetHierarchy"


def test_get_record_in_both_formats(client: httpx.Client, catalogue: Catalogue) -> None:
    host = httpx.URL(str(client.base_url)).host
    bins = catalogue.public[0]
    document = oai(
        client, verb="GetRecord", metadataPrefix="oai_dc", identifier=f"oai:{host}:{bins}"
    )
    record = document.find(f".//{OAI}record")
    assert record.findtext(f"{OAI}header/{OAI}identifier") == f"oai:{host}:{bins}"
    assert [s.text for s in record.iter(f"{OAI}setSpec")] == ["topic:council"]
    dc = {e.tag.removeprefix(DC): e.text for e in record.find(f"{OAI}metadata")[0]}
    assert dc["title"] == "Bins collected"
    assert bins in [e.text for e in record.iter(f"{DC}identifier")]
    assert [e.text for e in record.iter(f"{DC}subject")] == [
        "FOI",
        "Freedom of Information",
        "Council & Democracy",
    ]
    assert dc["type"] == "Dataset"
    assert [e.text for e in record.iter(f"{DC}relation")] == [
        "https://data.example/bins.csv",
        "https://council.example/",
    ]
    assert [e.text for e in record.iter(f"{DC}format")] == ["text/csv"]
    assert "OGL v3" in [e.text for e in record.iter(f"{DC}rights")]

    rdf = oai(client, verb="GetRecord", metadataPrefix="dcat_ap", identifier=f"oai:{host}:{bins}")
    metadata = rdf.find(f".//{OAI}metadata")
    assert len(metadata) == 1 and metadata[0].tag.endswith("}RDF")
    graph = Graph().parse(data=etree.tostring(metadata[0]), format="xml")
    assert Literal(bins) in set(graph.objects(None, DCT_IDENTIFIER))


def test_get_record_errors(client: httpx.Client, catalogue: Catalogue) -> None:
    host = httpx.URL(str(client.base_url)).host
    public = f"oai:{host}:{catalogue.public[0]}"
    for hidden in (catalogue.draft, catalogue.private, catalogue.team_draft, "zzzzz"):
        answer = oai(
            client, verb="GetRecord", metadataPrefix="oai_dc", identifier=f"oai:{host}:{hidden}"
        )
        assert error_code(answer) == "idDoesNotExist"
        assert answer.find(f".//{OAI}header") is None
    answer = oai(client, verb="GetRecord", metadataPrefix="marc21", identifier=public)
    assert error_code(answer) == "cannotDisseminateFormat"
    assert answer.find(f"{OAI}request").get("metadataPrefix") == "marc21"


def test_lists_page_by_resumption_token(serve: ServeFactory, catalogue: Catalogue) -> None:
    server = serve(oai_page_size=2)
    with httpx.Client(base_url=server.url) as http:
        for verb in ("ListIdentifiers", "ListRecords"):
            pages = list(walk(http, verb, metadataPrefix="oai_dc"))
            assert len(pages) == 2
            tokens = [p.find(f".//{OAI}resumptionToken") for p in pages]
            assert [(t.get("completeListSize"), t.get("cursor")) for t in tokens] == [
                ("4", "0"),
                ("4", "2"),
            ]
            assert tokens[0].text and tokens[0].get("expirationDate")
            assert not tokens[1].text  # the last page's token is empty
            ids = [dataset_id(h.findtext(f"{OAI}identifier")) for p in pages for h in headers(p)]
            # The embargoed dataset was published, then embargoed: it left, a deleted record.
            assert sorted(ids) == sorted([*catalogue.public, catalogue.embargoed])
        assert (
            oai(http, verb="ListRecords", metadataPrefix="dcat_ap").find(f".//{OAI}record")
            is not None
        )


def test_lists_by_post_form(client: httpx.Client, catalogue: Catalogue) -> None:
    response = client.post("/oai", data={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"})
    assert response.status_code == 200
    assert len(headers(valid(response.content))) == 4
    assert client.post("/oai", json={"verb": "Identify"}).status_code == 415


# -- the errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["", "verb=Nothing", "verb=Identify&verb=Identify", "verb=identify"],
)
def test_bad_verb(client: httpx.Client, query: str) -> None:
    document = valid(client.get(f"/oai?{query}").content)
    assert error_code(document) == "badVerb"
    assert document.find(f"{OAI}request").attrib == {}  # section 3.6: no attributes


@pytest.mark.parametrize(
    "query",
    [
        "verb=Identify&extra=1",
        "verb=ListRecords",
        "verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc",
        "verb=ListRecords&metadataPrefix=oai_dc&from=2024-01-01T00:00:00",
        "verb=ListRecords&metadataPrefix=oai_dc&from=2024-02-30",
        "verb=ListRecords&metadataPrefix=oai_dc&from=2024-01-01&until=2024-01-01T00:00:00Z",
        "verb=ListRecords&metadataPrefix=oai_dc&from=2024-02-01&until=2024-01-01",
        "verb=ListRecords&metadataPrefix=oai_dc&resumptionToken=x",
        "verb=ListRecords&metadataPrefix=oai_dc&set=not%20a%20set",
        "verb=GetRecord&metadataPrefix=oai_dc",
        "verb=GetRecord&identifier=oai:x:y",
        "verb=Identify&resumptionToken=abc",
        "verb=ListMetadataFormats&metadataPrefix=oai_dc",
    ],
)
def test_bad_argument(client: httpx.Client, query: str) -> None:
    document = valid(client.get(f"/oai?{query}").content)
    assert error_code(document) == "badArgument"
    assert document.find(f"{OAI}request").attrib == {}


def test_from_until_of_one_granularity_are_fine(client: httpx.Client, catalogue: Catalogue) -> None:
    wide = {"from": "2000-01-01", "until": "2999-01-01"}
    answer = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **wide)
    assert len(headers(answer)) == 4


def test_bad_resumption_tokens(
    serve: ServeFactory, database: Database, catalogue: Catalogue
) -> None:
    server = serve(oai_page_size=1)
    with httpx.Client(base_url=server.url) as http:
        token = (
            oai(http, verb="ListRecords", metadataPrefix="oai_dc")
            .find(f".//{OAI}resumptionToken")
            .text
        )
        assert token
        forged = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
        codec = TokenCodec(derive_key(load_secret(database)))
        expired = codec.encode(
            Resumption(
                "ListRecords",
                "oai_dc",
                None,
                None,
                None,
                Position("", 0, 0),
                1,
                3,
                int(time.time()) - 8 * 86_400,
            )
        )
        other_verb = codec.encode(
            Resumption(
                "ListIdentifiers",
                "oai_dc",
                None,
                None,
                None,
                Position("", 0, 0),
                1,
                3,
                int(time.time()),
            )
        )
        for bad in (forged, token[:-3], "garbled!!", "", expired, other_verb):
            answer = oai(http, verb="ListRecords", resumptionToken=bad)
            assert error_code(answer) == "badResumptionToken", bad
        # Another catalogue's key cannot open it.
        stranger = TokenCodec(derive_key("00" * 32))
        with pytest.raises(Exception, match="not valid"):
            stranger.decode(token)


def test_no_records_match(client: httpx.Client, catalogue: Catalogue) -> None:
    for arguments in (
        {"from": "2999-01-01"},
        {"until": "2000-01-01"},
        {"set": "team:tm001"},  # a team of hidden datasets only
        {"set": "topic:nothing"},
    ):
        answer = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **arguments)
        assert error_code(answer) == "noRecordsMatch", arguments
        assert answer.find(f"{OAI}request").get("verb") == "ListIdentifiers"


def test_set_and_dates_select(
    client: httpx.Client, database: Database, catalogue: Catalogue
) -> None:
    in_set = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", set="topic:council")
    # The one dataset of the topic, and the deleted record (the embargoed dataset), whose sets
    # are not known.
    assert [dataset_id(h.findtext(f"{OAI}identifier")) for h in headers(in_set)] == [
        catalogue.public[0],
        catalogue.embargoed,
    ]
    everything = headers(oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc"))
    stamps = sorted(h.findtext(f"{OAI}datestamp") for h in everything)
    first, last = stamps[0], stamps[-1]
    # Inclusive at the second: from the last datestamp, and until the first.
    assert (
        len(headers(oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": last})))
        >= 1
    )
    assert (
        len(headers(oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", until=first))) >= 1
    )
    day = first[:10]
    assert (
        len(
            headers(
                oai(
                    client,
                    verb="ListIdentifiers",
                    metadataPrefix="oai_dc",
                    **{"from": day, "until": day},
                )
            )
        )
        == 4
    )


# -- deleted records -----------------------------------------------------------------------------


def test_records_that_left_are_deleted_headers(
    client: httpx.Client, database: Database, catalogue: Catalogue
) -> None:
    extra = add_public(database, 4)
    gone, unpublished, private, embargoed = extra
    with database.transaction() as s:
        datasets.delete_dataset(s, gone, author=AUTHOR)
        publication.unpublish(s, unpublished, author=AUTHOR)
        datasets.update_dataset(s, private, {"sharing": "private"}, author=AUTHOR)
        publication.set_embargo(s, embargoed, "2999-01-01", author=AUTHOR)
    found = headers(oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc"))
    deleted = {
        dataset_id(h.findtext(f"{OAI}identifier")) for h in found if h.get("status") == "deleted"
    }
    live = {dataset_id(h.findtext(f"{OAI}identifier")) for h in found if h.get("status") is None}
    assert deleted == {*extra, catalogue.embargoed}
    assert live == set(catalogue.public)
    for h in found:
        if h.get("status") == "deleted":
            assert h.find(f"{OAI}setSpec") is None
    records = oai(client, verb="ListRecords", metadataPrefix="oai_dc")
    for record in records.iter(f"{OAI}record"):
        is_deleted = record.find(f"{OAI}header").get("status") == "deleted"
        assert (record.find(f"{OAI}metadata") is None) == is_deleted
    host = httpx.URL(str(client.base_url)).host
    one = oai(client, verb="GetRecord", metadataPrefix="oai_dc", identifier=f"oai:{host}:{gone}")
    assert one.find(f".//{OAI}header").get("status") == "deleted"
    # Deleted records are in every set's list: their sets are not known.
    in_set = headers(
        oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", set="topic:council")
    )
    assert {dataset_id(h.findtext(f"{OAI}identifier")) for h in in_set} == {
        catalogue.public[0],
        catalogue.embargoed,
        *extra,
    }
    # Back in the published set: a live record again, not a deleted one.
    with database.transaction() as s:
        publication.publish(s, unpublished, author=AUTHOR)
    found = headers(oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc"))
    back = [h for h in found if dataset_id(h.findtext(f"{OAI}identifier")) == unpublished]
    assert len(back) == 1 and back[0].get("status") is None


def test_an_embargo_that_passed_is_dated_by_its_day(
    client: httpx.Client, database: Database, catalogue: Catalogue
) -> None:
    (held,) = add_public(database, 1)
    today = date.today()
    start = parse_utc(midnight(today))  # the local day's start, in UTC
    with database.transaction() as s:
        publication.set_embargo(s, held, today.isoformat(), author=AUTHOR)
        # As if the embargo had been set two days ago, in the catalogue as its migration to
        # the version log found it (version 0, logged that day): it passed at midnight,
        # without a write.
        s.execute(
            update(Dataset)
            .where(Dataset.id == held)
            .values(changed_at=iso(start - timedelta(days=2)), catalogue_version=0)
        )
        s.execute(
            update(CatalogueVersion)
            .where(CatalogueVersion.version == 0)
            .values(day=(today - timedelta(days=2)).isoformat())
        )
    found = headers(oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc"))
    (header,) = [h for h in found if dataset_id(h.findtext(f"{OAI}identifier")) == held]
    assert header.findtext(f"{OAI}datestamp") == datestamp(midnight(today))
    # A harvester that last harvested an hour before midnight gets it.
    before = datestamp(iso(start - timedelta(hours=1)))
    later = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": before})
    assert held in {dataset_id(h.findtext(f"{OAI}identifier")) for h in headers(later)}
    # One who harvested after midnight already had it: it is not in a harvest from then on.
    after = datestamp(iso(start + timedelta(seconds=1)))
    since = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": after})
    assert held not in {dataset_id(h.findtext(f"{OAI}identifier")) for h in headers(since)}


# -- harvests while the catalogue changes --------------------------------------------------------


def test_a_walk_sees_every_unchanged_record_once(
    serve: ServeFactory, database: Database, catalogue: Catalogue
) -> None:
    extra = add_public(database, 9)
    server = serve(oai_page_size=2)
    changed: set[str] = set()
    seen: list[str] = []
    with httpx.Client(base_url=server.url) as http:
        for number, page in enumerate(walk(http, "ListIdentifiers", metadataPrefix="oai_dc")):
            seen.extend(dataset_id(h.findtext(f"{OAI}identifier")) for h in headers(page))
            if number == 1:
                edit(database, seen[0], "Edited behind the walk")
                ahead = [i for i in extra if i not in seen]
                edit(database, ahead[-1], "Edited ahead of the walk")
                with database.transaction() as s:
                    datasets.delete_dataset(s, ahead[0], author=AUTHOR)
                changed |= {seen[0], ahead[-1], ahead[0]}
                (new,) = add_public(database, 1, "New")
                changed.add(new)
    unchanged = (set(catalogue.public) | set(extra)) - changed
    for dataset in unchanged:
        assert seen.count(dataset) == 1, dataset
    # The changed ones come again at their new place: the edits, the new one, the deletion.
    assert seen.count(seen[0]) == 2
    assert changed <= set(seen)


def _sickle(server: ServerThread) -> Sickle:
    return Sickle(f"{server.url}/oai", max_retries=0, timeout=20)


def test_sickle_walks_the_whole_repository(
    serve: ServeFactory, database: Database, catalogue: Catalogue
) -> None:
    extra = add_public(database, 6)
    with database.transaction() as s:
        datasets.delete_dataset(s, extra[0], author=AUTHOR)
    server = serve(oai_page_size=2)
    harvester = _sickle(server)
    want = published(database)
    records = [r for r in harvester.ListRecords(metadataPrefix="oai_dc") if not r.header.deleted]
    assert sorted(dataset_id(r.header.identifier) for r in records) == sorted(want)
    assert {dataset_id(r.header.identifier): r.metadata["title"][0] for r in records} == want
    ids = list(harvester.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False))
    assert {dataset_id(h.identifier) for h in ids if h.deleted} == {extra[0], catalogue.embargoed}
    assert sorted(dataset_id(h.identifier) for h in ids if not h.deleted) == sorted(want)


def _harvest(
    harvester: Sickle, mirror: dict[str, str], since: str | None, during: Any = None
) -> str:
    """One ListRecords harvest into `mirror` (deleted records removed); `during` runs after
    the first page. The responseDate of its first response, the next harvest's `from`."""
    arguments = {"metadataPrefix": "oai_dc"}
    if since is not None:
        arguments["from"] = since
    try:
        records = harvester.ListRecords(**arguments)
    except NoRecordsMatch:
        return since or ""
    response_date = records.oai_response.xml.findtext(f"{OAI}responseDate")
    for number, record in enumerate(records):
        key = dataset_id(record.header.identifier)
        if record.header.deleted:
            mirror.pop(key, None)
        else:
            mirror[key] = record.metadata["title"][0]
        if number == 1 and during is not None:
            during()
    return str(response_date)


def test_an_incremental_mirror_ends_equal_to_the_catalogue(
    serve: ServeFactory, database: Database, catalogue: Catalogue
) -> None:
    extra = add_public(database, 8)
    with database.transaction() as s:
        for hidden in (catalogue.draft, catalogue.team_draft):
            datasets.update_dataset(s, hidden, {"title": "Hidden, edited"}, author=AUTHOR)
    server = serve(oai_page_size=2)
    harvester = _sickle(server)
    mirror: dict[str, str] = {}

    def during_first() -> None:
        edit(database, extra[0], "Edited during the first walk")
        with database.transaction() as s:
            publication.publish(s, catalogue.draft, author=AUTHOR)
            datasets.delete_dataset(s, extra[7], author=AUTHOR)
            publication.unpublish(s, extra[6], author=AUTHOR)

    since = _harvest(harvester, mirror, None, during_first)

    # Between harvests: edits, publishes, unpublishes, deletes, embargoes.
    with database.transaction() as s:
        publication.set_embargo(s, extra[1], "2999-01-01", author=AUTHOR)
        datasets.update_dataset(s, extra[2], {"sharing": "private"}, author=AUTHOR)
        publication.publish(s, extra[6], author=AUTHOR)
        datasets.delete_dataset(s, catalogue.public[1], author=AUTHOR)
    edit(database, extra[3], "Edited between harvests")
    add_public(database, 2, "Added between harvests")

    def during_second() -> None:
        edit(database, extra[4], "Edited during the second walk")
        with database.transaction() as s:
            publication.unpublish(s, extra[5], author=AUTHOR)

    since = _harvest(harvester, mirror, since, during_second)
    since = _harvest(harvester, mirror, since)
    assert mirror == published(database)


def test_a_change_in_flight_is_not_missed(
    serve: ServeFactory, database: Database, catalogue: Catalogue
) -> None:
    """A change stamped before a harvest's responseDate but committed after it is in the next
    harvest `from` that responseDate: while a writer is under way, the responseDate is the
    snapshot's newest version's time, never later than a change it does not show."""
    server = serve()
    harvester = _sickle(server)
    mirror: dict[str, str] = {}
    _harvest(harvester, mirror, None)  # the cursor secret exists: nothing below writes it
    # The newest committed change, long ago: a clock-based responseDate would be far later.
    with database.transaction() as s:
        s.execute(text("UPDATE catalogue_counter SET at = '2020-01-01T00:00:00.000Z'"))
    with database.transaction() as s:
        datasets.update_dataset(s, catalogue.public[2], {"title": "Committed late"}, author=AUTHOR)
        written = catalogue_version.stamp(s)
        # In flight: stamped (now) and not committed while another harvest runs.
        since = _harvest(harvester, mirror, None)
        assert since <= datestamp(written.at)
        assert since == "2020-01-01T00:00:00Z"
    after = _harvest(harvester, mirror, since)
    assert mirror == published(database)
    assert mirror[catalogue.public[2]] == "Committed late"
    # With no writer under way, the responseDate is the clock's: no later than now, and not
    # before the last change.
    assert datestamp(written.at) <= after <= datestamp(now_iso())


def test_the_schema_check_can_fail(client: httpx.Client) -> None:
    content = client.get("/oai?verb=Identify").content
    broken = re.sub(
        rb"<protocolVersion>2.0</protocolVersion>", b"<protocolVersion>3</protocolVersion>", content
    )
    with pytest.raises(AssertionError, match="not valid"):
        valid(broken)


def test_topics_of_odd_ids_have_no_set(
    client: httpx.Client, database: Database, catalogue: Catalogue
) -> None:
    with database.transaction() as s:
        managed_lists.add_topic(s, "with space", "Spaced")
        record = datasets.create_dataset(s, make_record(topics=["with space"]), author=AUTHOR)
        publication.publish(s, record["id"], author=AUTHOR)
    specs = [e.text for e in oai(client, verb="ListSets").iter(f"{OAI}setSpec")]
    assert specs == ["topic:council"]
    oai(client, verb="ListRecords", metadataPrefix="oai_dc")  # still valid


def test_values_are_escaped(client: httpx.Client, database: Database) -> None:
    title = 'Rates <b>&amp; "levies"</b> \x0b]]> end'
    with database.transaction() as s:
        record = datasets.create_dataset(
            s, make_record(title=title, tags=["a&b", "<x>"]), author=AUTHOR
        )
        publication.publish(s, record["id"], author=AUTHOR)
    for verb in ("ListRecords", "ListIdentifiers"):
        oai(client, verb=verb, metadataPrefix="oai_dc")  # valid, whatever the values hold
    document = oai(client, verb="ListRecords", metadataPrefix="oai_dc")
    assert [e.text for e in document.iter(f"{DC}title")] == [title.replace("\x0b", "")]
    assert [e.text for e in document.iter(f"{DC}subject")][:2] == ["a&b", "<x>"]
    echoed = oai(client, verb="GetRecord", metadataPrefix="oai_dc", identifier="oai:x:a&b'c")
    assert echoed.find(f"{OAI}request").get("identifier") == "oai:x:a&b'c"
    assert error_code(echoed) == "idDoesNotExist"
    # Not a URI: badArgument, nothing echoed.
    refused = oai(client, verb="GetRecord", metadataPrefix="oai_dc", identifier='oai:x:"<>"')
    assert error_code(refused) == "badArgument"
