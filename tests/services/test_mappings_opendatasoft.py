"""Opendatasoft dataset <-> our record: the pure mapping, the report of what cannot be carried,
and our permissions as security rulesets (against a real catalogue)."""

from __future__ import annotations

from typing import Any

import pytest

from app.models.database import Database
from app.services import access, datasets
from app.services.mappings import Titles
from app.services.mappings import opendatasoft as m
from app.services.records import Record
from app.services.sync.opendatasoft_grants import local_grants
from app.services.validation import CHILD_ID, validate_record
from tests.conftest import AUTHOR, make_record

# A Search API v1 dataset as seed 003's portal answers it.
SEARCH_ENTRY: dict[str, Any] = {
    "datasetid": "air-quality-ab12x",
    "metas": {
        "domain": "documentation-resources",
        "title": "Air quality",
        "description": "<p>Hourly <b>NO2</b>.</p>",
        "keyword": ["air", "pollution"],
        "theme": ["Environment"],
        "license": "Open Database License (ODbL)",
        "license_url": "https://opendatacommons.org/licenses/odbl/",
        "publisher": "Environment team",
        "language": "en",
        "modified": "2024-05-01T10:00:00.123000+00:00",
        "metadata_processed": "2024-05-01T10:00:05+00:00",
        "visibility": "restricted",
        "records_count": 0,
    },
    "has_records": False,
    "features": [],
    "attachments": [],
    "fields": [],
}


def test_a_search_dataset_maps_to_our_record() -> None:
    record = m.search_dataset_to_record(SEARCH_ENTRY)
    assert record == {
        "title": "Air quality",
        "description": "<p>Hourly <b>NO2</b>.</p>",
        "tags": ["air", "pollution"],
        "topics": ["Environment"],
        "licence": {
            "url": "https://opendatacommons.org/licenses/odbl/",
            "title": "Open Database License (ODbL)",
        },
        "sharing": "private",
        "state": "published",
        "updatedAt": "2024-05-01T10:00:00.123Z",
    }
    # The version moves with any change of the metas, and only then.
    changed = {**SEARCH_ENTRY, "metas": {**SEARCH_ENTRY["metas"], "visibility": "domain"}}
    assert m.search_version(SEARCH_ENTRY) == m.search_version(dict(SEARCH_ENTRY))
    assert m.search_version(changed) != m.search_version(SEARCH_ENTRY)
    validate_record({**record, "id": "ab12x"})


def test_an_automation_dataset_maps_to_our_record() -> None:
    """The shape of a real Automation API answer (default template values under `value`)."""
    dataset = {
        "uid": "da_tbcnel",
        "dataset_id": "100522",
        "is_published": False,
        "is_restricted": False,
        "created_at": "2026-02-06T15:09:51Z",
        "updated_at": "2026-02-06T15:13:13Z",
        "metadata": {
            "default": {
                "title": {"value": "Test Dataset Title"},
                "description": {"value": "<p>Test description with HTML</p>"},
                "keyword": {"value": ["Test", "sample"]},
                "language": {"value": "de"},
            },
            "internal": {"theme_id": {"value": ["7b5b405"]}},
        },
    }
    assert m.automation_dataset_to_record(dataset) == {
        "title": "Test Dataset Title",
        "description": "<p>Test description with HTML</p>",
        "tags": ["Test", "sample"],
        "sharing": "public",
        "state": "draft",
        "createdAt": "2026-02-06T15:09:51.000Z",
        "updatedAt": "2026-02-06T15:13:13.000Z",
    }
    assert m.draft_version(dataset) == "d:2026-02-06T15:13:13Z"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("x", "not a JSON object"),
        ({"metas": {}}, "no datasetid"),
        ({"datasetid": "x", "metas": None}, "no metas"),
        ({"datasetid": "x", "metas": {"keyword": [1, 2]}}, "keyword"),
    ],
)
def test_a_search_dataset_of_the_wrong_shape_is_refused(entry: Any, problem: str) -> None:
    with pytest.raises(m.Malformed, match=problem):
        m.search_dataset_to_record(entry)


def resource(**overrides: Any) -> Record:
    data: Record = {
        "url": "https://data.example/bins.csv",
        "order": 4,
        "title": "Collections, 2024",
        "description": "",
        "filename": None,
        "timeFrame": {},
        "format": "csv",
        "hash": None,
        "size": None,
        "timestamp": None,
        "origin": None,
    }
    data.update(overrides)
    return data


def test_resources_keep_our_ids_and_order_through_the_portal() -> None:
    record: Record = {"resources": {"k93": resource(), "a01": resource(format="geojson")}}
    bodies, issues = m.resource_bodies(record)
    assert issues == []
    assert [b.body["type"] for b in bodies] == ["csvfile", "geojsonfile"]
    assert bodies[0].body["datasource"] == {
        "type": "http",
        "url": "https://data.example/bins.csv#catalogue-desk=k93;4",
    }
    portal = [{"uid": f"re_{i}", **b.body} for i, b in enumerate(bodies)]
    assert m.resources_to_children(portal) == record["resources"]


def test_a_resource_made_on_the_portal_gets_a_stable_valid_id() -> None:
    made_there = [
        {
            "uid": "re_qf2hyt",
            "type": "csvfile",
            "title": "fromages.csv",
            "datasource": {"type": "http", "url": "https://x.example/fromages.csv"},
        }
    ]
    children = m.resources_to_children(made_there)
    (child_id,) = children
    assert CHILD_ID.match(child_id)
    assert m.resources_to_children(made_there) == children
    assert children[child_id]["url"] == "https://x.example/fromages.csv"
    assert children[child_id]["order"] == 0


def test_another_catalogue_desks_attachments_are_its_resources() -> None:
    record: Record = {
        "id": "bins1",
        "resources": {
            "k93": {
                "title": "Rounds",
                "url": "https://x.example/r.csv",
                "format": "csv",
                "order": 2,
            },
            "a01": {"title": "Map", "url": "https://x.example/m.geojson", "format": "GeoJSON"},
            "z09": {"title": "Notes", "url": "https://x.example/n.txt", "format": "txt"},
        },
    }
    entry = m.search_entry(record, Titles(), changed_at="", webpage="", language="en")
    children = m.attachments_to_children(entry["attachments"])
    assert [(k, c["title"], c["url"], c["format"], c["order"]) for k, c in children.items()] == [
        ("a01", "Map", "https://x.example/m.geojson", "geojson", 0),
        ("z09", "Notes", "https://x.example/n.txt", None, 1),  # no mimetype: no format
        ("k93", "Rounds", "https://x.example/r.csv", "csv", 2),  # in our order, as positions
    ]
    # A real portal's attachment (a file): a stable id of our own, never an error.
    portal = m.attachments_to_children([{"id": "notice_pdf", "title": "notice.pdf"}])
    (child_id,) = portal
    assert CHILD_ID.match(child_id) and portal == m.attachments_to_children(
        [{"id": "notice_pdf", "title": "notice.pdf"}]
    )
    assert m.attachments_to_children(None) == {}
    with pytest.raises(m.Malformed):
        m.attachments_to_children([{"title": "no id"}])


def test_what_the_portal_keeps_is_stable_and_what_it_cannot_hold_is_reported() -> None:
    record = make_record(
        id="ab12x",
        state="published",
        embargoUntil="2999-01-01",
        masthead="barnet",
        topics=["environment"],
        links={"0xd": {"url": "https://tfl.gov.uk/", "title": "TfL", "order": 1}},
        team="tm001",
        resources={
            "k93": resource(hash="2cdf3a47738b93492906e3ad7e415d1a", size=10),
            "pdf": resource(format="pdf"),
        },
    )
    kept = m.carried(record)
    assert kept["state"] == "draft"  # embargoed: never published early
    assert list(kept["resources"]) == ["k93"]
    assert kept["resources"]["k93"]["hash"] is None
    assert m.carried(kept) == kept
    issues = {i.field: i.reason for i in m.outgoing_losses(record, grants_attached=False)}
    assert set(issues) == {
        "resources/k93",
        "resources/pdf",
        "topics",
        "licence",
        "contact",
        "custom",
        "links",
        "masthead",
        "team",
        "embargoUntil",
    }
    assert "hash, size" in issues["resources/k93"]
    assert "no extractor for format pdf" in issues["resources/pdf"]
    # Only the fields a push changes are reported for it.
    only = m.outgoing_losses(record, keys=["title", "topics"])
    assert [i.field for i in only] == ["topics"]


def test_the_create_body_has_what_the_automation_api_requires() -> None:
    body = m.create_body(
        {"id": "ab12x", "title": "Bins collected", "tags": ["bins"], "sharing": "private"},
        language="en",
    )
    assert body["dataset_id"] == "bins-collected-ab12x"
    assert body["is_restricted"] is True
    default = body["metadata"]["default"]
    assert default["title"] == {"value": "Bins collected"}
    assert default["keyword"] == {"value": ["bins"]}
    assert default["language"] == {"value": "en"}


def test_our_permissions_become_rulesets(database: Database) -> None:
    with database.transaction() as s:
        alice = access.create_user(s, "alice")
        bob = access.create_user(s, "bob")
        carol = access.create_user(s, "carol")
        access.create_user(s, "dave")
        designers = access.create_group(s, "Content Designers")
        access.create_group(s, "Nobody")
        access.create_team(s, "tm001", "Team One")
        record = datasets.create_dataset(
            s,
            make_record(
                collaborators=[bob.id],
                readusers=[carol.id],
                team="tm001",
                readteams=["tm001"],
                sharing="private",
            ),
            author=AUTHOR,
        )
        access.set_user_ruleset(s, record["id"], alice.id, ["publish_dataset"])
        access.set_user_ruleset(s, record["id"], carol.id, ["explore_restricted_dataset"])
        access.set_group_ruleset(s, record["id"], designers.id, ["edit_dataset"])
    with database.read() as s:
        grants = local_grants(s, record["id"])
        assert local_grants(s, "zzzzz") is None
    assert grants is not None
    assert grants.users == {
        "alice": ["explore_restricted_dataset", "publish_dataset"],
        "bob": ["explore_restricted_dataset", "edit_dataset"],
        "carol": ["explore_restricted_dataset"],
    }
    assert grants.groups == {"content_designers": ["explore_restricted_dataset", "edit_dataset"]}
    assert {i.field for i in grants.issues} == {"team", "readteams"}
    assert grants.managed_users == {"alice", "bob", "carol", "dave"}
    assert grants.managed_groups == {"content_designers", "nobody"}
    body = m.ruleset_body("group", "content_designers", grants.groups["content_designers"])
    assert body["group"] == {"uid": "content_designers"}
    assert body["security"]["visible_fields"] == ["*"]
