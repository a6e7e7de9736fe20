"""The mapping modules: each format's round trip on exactly what it carries, and the losses
derived from what it declares."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import orjson
import pytest
from rdflib import RDF, Graph, Namespace

from app.services.formats.jsonld import context_for
from app.services.mappings import (
    Carriage,
    Titles,
    ckan,
    datapress,
    dcat,
    opendatasoft,
    record_fields,
)
from app.services.records import Record
from app.services.sync.merge import canonical
from tests.services.test_mappings_ckan import full_record as ckan_record

BASE = "https://cat.example"
WEBPAGE = f"{BASE}/dataset/ab12x"
TITLES = Titles({"council": "Council"}, {"barnet": "Barnet"}, {"vrv65": "Open data team"})


def full_record() -> Record:
    """A record with every field set (children in order, as a stored record has them)."""
    record = ckan_record()
    record.update(
        {
            "createdAt": "2024-05-01T10:00:00.123Z",
            "description": "Requests by month.",
            "descriptionText": "Requests by month.",
            "descriptionIframe": "https://maps.example/embed",
            "masthead": "barnet",
            "topics": ["council"],
            "nextReviewDate": "2030-01-15",
            "team": "vrv65",
            "collaborators": [3],
            "readusers": [4],
            "readteams": ["abc12"],
            "updatedAt": "2024-06-01T10:00:00.456Z",
            "site": "barnet",
            "embargoUntil": "2999-01-01",
        }
    )
    return record


def without(children: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {cid: {k: v for k, v in c.items() if k not in keys} for cid, c in children.items()}


# -- what a format carries, and the losses derived from it ---------------------------------------


def test_the_record_fields_are_what_a_person_sets() -> None:
    catalogue = {"id", "createdAt", "updatedAt", "site", "descriptionText"}
    assert set(record_fields()) == set(full_record()) - catalogue


def test_what_is_not_carried_is_derived_with_a_generic_reason() -> None:
    carriage = Carriage.of("Example", ("title", "tags"), team="teams are ours")
    assert set(carriage.not_carried) == set(record_fields()) - {"title", "tags"}
    record = full_record()
    losses = {loss.field: loss.reason for loss in carriage.losses(record)}
    assert set(losses) == set(carriage.not_carried)
    assert losses["team"] == "teams are ours"
    assert losses["descriptionIframe"] == "not carried by Example"
    assert set(losses.values()) == {"teams are ours", "not carried by Example"}
    assert [loss.field for loss in carriage.losses(record, keys=["masthead", "title"])] == [
        "masthead"
    ]


def test_only_what_is_set_is_lost() -> None:
    record: Record = {"sharing": "public", "state": "draft", "tags": []}
    record["licence"] = {"url": None, "title": None}
    record["embargoUntil"] = "2001-01-01"  # passed: nothing is held back
    assert ckan.CARRIAGE.losses(record) == []
    record["embargoUntil"] = "2999-01-01"
    assert [loss.field for loss in ckan.CARRIAGE.losses(record)] == ["embargoUntil"]


@pytest.mark.parametrize(
    ("carriage", "lost"),
    [
        (ckan.CARRIAGE, {"collaborators", "readusers", "readteams", "embargoUntil"}),
        (datapress.DATASET_JSON, set()),
        (datapress.SYNC, {"team", "collaborators", "readusers", "readteams"}),
        (datapress.EXPORT, {"collaborators", "readusers", "readteams", "state", "embargoUntil"}),
        (dcat.CARRIAGE, {"custom", "team", "sharing", "state", "embargoUntil"}),
        (opendatasoft.PUSH, {"contact", "custom", "links", "team", "readteams", "embargoUntil"}),
    ],
)
def test_each_format_declares_what_it_carries(carriage: Carriage, lost: set[str]) -> None:
    """The losses of a full record: everything the format does not carry (the lists here name
    the fields with reasons of their own, and a few more)."""
    fields = {loss.field for loss in carriage.losses(full_record())}
    assert fields == set(carriage.not_carried)
    assert lost <= fields


# -- round trips ---------------------------------------------------------------------------------


def test_ckan_server_packages_read_back_as_the_record() -> None:
    record = full_record()
    record["embargoUntil"] = None
    package = ckan.show_package(record, ckan.Shown(WEBPAGE, TITLES))
    assert package["organization"]["title"] == "Open data team"
    assert package["groups"][0]["title"] == "Council"
    assert package["resources"][0]["id"] == "ab12x-k93"
    back, losses = ckan.from_ckan(orjson.loads(orjson.dumps(package)))
    assert losses == []
    assert canonical(back, ckan.CARRIED) == canonical(record, ckan.CARRIED)
    assert (back["createdAt"], back["updatedAt"]) == (record["createdAt"], record["updatedAt"])
    assert ckan.dataset_id(package) == "ab12x"


def test_a_field_the_record_lacks_is_not_cleared_on_the_way_back() -> None:
    """The server's rows have no file origin: its package leaves it out, so an import of the
    package keeps the stored one instead of clearing it."""
    record = full_record()
    del record["resources"]["k93"]["origin"]
    package = ckan.show_package(record, ckan.Shown(WEBPAGE))
    assert ckan.RES_ORIGIN not in package["resources"][0]
    back, _losses = ckan.from_ckan(package)
    assert "origin" not in back["resources"]["k93"]


def test_ckan_reads_the_team_from_the_organization_name() -> None:
    """CKAN answers owner_org with the organization's UUID; its name is our team."""
    package = {
        "id": "0b5c8f3e-2a41-4a4e-9a43-5b0d9c1f0001",
        "name": "foi",
        "owner_org": "5a8c0b7e-1111-4c4c-8888-000000000001",
        "organization": {"id": "5a8c0b7e-1111-4c4c-8888-000000000001", "name": "vrv65"},
    }
    assert ckan.from_ckan(package)[0]["team"] == "vrv65"
    record, losses = ckan.from_ckan(package, teams={"abc12"})
    assert "team" not in record
    assert [loss.field for loss in losses] == ["team"]
    assert ckan.from_ckan({"id": "x", "owner_org": "vrv65"})[0]["team"] == "vrv65"


def test_ckan_times_are_read_through_the_clock() -> None:
    record, _losses = ckan.from_ckan(
        {
            "id": "x",
            "metadata_created": "2024-05-01T10:00:00.123456",
            "metadata_modified": "2024-05-01T12:00:00+02:00",
            "resources": [{"id": "r1", "last_modified": "2025-01-24T19:17:04"}],
        }
    )
    assert record["createdAt"] == "2024-05-01T10:00:00.123Z"
    assert record["updatedAt"] == "2024-05-01T10:00:00.000Z"
    (resource,) = record["resources"].values()
    assert resource["timestamp"] == "2025-01-24T19:17:04.000Z"


def test_ckan_writes_to_a_portal_only_what_it_knows() -> None:
    vocabulary = ckan.PortalVocabulary(organizations=frozenset({"council"}))
    package, losses = ckan.to_ckan(full_record(), vocabulary, keys=["team", "title"])
    assert package == {"title": "Freedom of Information Requests"}
    assert [loss.field for loss in losses] == ["team"]
    package, losses = ckan.to_ckan({**full_record(), "team": "council"}, vocabulary)
    assert package["owner_org"] == "council"
    assert [loss.field for loss in losses] == ["licence/url"]  # no register: by title alone
    assert package["private"] is True  # embargoed: never public early (CKAN ignores state)
    assert package["resources"][0]["format"] == "CSV"


def test_the_datapress_dataset_json_is_the_record() -> None:
    record = full_record()
    assert datapress.from_datapress(copy.deepcopy(record), lambda taken: "new") == {
        k: v for k, v in record.items() if k != "descriptionText"
    }


def test_the_datapress_export_reads_back_as_the_record() -> None:
    record = full_record()
    exported = orjson.loads(orjson.dumps(datapress.to_export(record, WEBPAGE, TITLES)))
    assert exported["masthead"] == {"id": "barnet", "title": "Barnet"}
    back = datapress.from_datapress(exported, lambda taken: "new")
    for key in datapress.EXPORT.carried - {"resources", "links"}:
        assert back[key] == record[key], key
    # The export lists children in order, without the order itself; files have no origin.
    assert back["resources"] == without(record["resources"], "order", "origin")
    assert back["links"] == without(record["links"], "order")
    assert (back["id"], back["createdAt"], back["updatedAt"]) == (
        record["id"],
        record["createdAt"],
        record["updatedAt"],
    )


def test_dcat_reads_back_as_the_record() -> None:
    record = full_record()
    node = dcat.to_dcat(record, WEBPAGE, BASE, TITLES)
    graph = Graph()
    with warnings.catch_warnings():
        # rdflib 7.6's own JSON-LD parser builds a ConjunctiveGraph, which rdflib deprecates.
        warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
        document = {"@context": context_for(BASE), "@graph": [node]}
        graph.parse(data=orjson.dumps(document), format="json-ld")
    (subject,) = graph.subjects(RDF.type, Namespace("http://www.w3.org/ns/dcat#").Dataset)
    back = dcat.from_dcat(graph, subject, lambda taken: "new")
    assert back["id"] == record["id"]
    for key in ("title", "description", "licence", "contact"):
        assert back[key] == record[key], key
    # RDF has no order: sets of tags and topics.
    assert set(back["tags"]) == set(record["tags"])
    assert back["topics"] == record["topics"]
    assert back["resources"] == without(
        record["resources"], "order", "filename", "timeFrame", "origin"
    )
    assert back["links"] == without(record["links"], "order", "qa")
    assert (back["createdAt"], back["updatedAt"]) == (record["createdAt"], record["updatedAt"])
