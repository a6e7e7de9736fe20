"""CKAN package <-> our record: the pure mapping, and the report of what cannot be carried."""

from __future__ import annotations

from typing import Any

import pytest

from app.services.mappings import ckan as m
from app.services.records import Record
from app.services.sync.merge import canonical
from app.services.validation import validate_record

VOCABULARY = m.PortalVocabulary(
    licences=(
        m.CkanLicence("cc-by", "Creative Commons Attribution", "http://opendefinition.org/cc-by"),
        m.CkanLicence("OGL-UK-3.0", "Open Government Licence v3.0", "https://ogl.example/3/"),
    ),
    groups=frozenset({"council", "transport"}),
    organizations=frozenset({"barnet"}),
)


def full_record(**overrides: Any) -> Record:
    record: Record = {
        "id": "ab12x",
        "title": "Freedom of Information Requests",
        "description": "<p>Requests, <b>by month</b>.</p>",
        "tags": ["FOI", "Freedom of Information"],
        "topics": ["council"],
        "licence": {"url": "https://ogl.example/3/", "title": "Open Government Licence v3.0"},
        "contact": {"email": "opendata@example.org", "title": "Open Data Team"},
        "custom": {"unit": "Assurance", "geography": ["London", "Barnet"]},
        "resources": {
            "k93": {
                "url": "https://data.example/foi.csv",
                "order": 0,
                "title": "FOI requests 2020-25",
                "description": "One row a request",
                "filename": "foi.csv",
                "timeFrame": {"gte": "2020-01", "lte": "2024-11"},
                "format": "csv",
                "hash": "2cdf3a47738b93492906e3ad7e415d1a",
                "size": 1337303,
                "timestamp": "2025-01-24T19:17:04.371Z",
                "origin": "/barnet/dataset/foi.csv",
            }
        },
        "links": {
            "0xd": {
                "url": "https://tfl.gov.uk/",
                "order": 3,
                "title": "TfL",
                "description": "",
                "qa": {
                    "timestamp": "2025-01-24T19:17:04.371Z",
                    "hash": None,
                    "size": None,
                    "mimetype": "text/html;charset=utf-8",
                    "httpStatus": 200,
                },
            }
        },
        "team": "barnet",
        "sharing": "private",
        "state": "published",
    }
    record.update(overrides)
    return record


def round_trip(record: Record) -> Record:
    """Ours -> a package CKAN would store and give back -> ours."""
    package, _losses = m.to_ckan(record, VOCABULARY)
    package.update({"id": "0b5c8f3e-2a41-4a4e-9a43-5b0d9c1f0001", "name": "foi"})
    package["metadata_modified"] = "2024-05-01T10:00:00.123456"
    for entry in VOCABULARY.licences:
        if entry.id == package["license_id"]:
            package["license_title"], package["license_url"] = entry.title, entry.url
    for position, resource in enumerate(package["resources"]):
        resource["id"] = f"0b5c8f3e-2a41-4a4e-9a43-5b0d9c1f{position:04d}"
        resource["last_modified"] = m.to_ckan_time(resource.get("last_modified"))
    return m.from_ckan(package)[0]


def test_a_record_the_portal_can_hold_comes_back_unchanged() -> None:
    record = full_record()
    back = round_trip(record)
    assert canonical(back, m.CARRIED) == canonical(record, m.CARRIED)
    assert back["updatedAt"] == "2024-05-01T10:00:00.123Z"
    assert m.outgoing_losses(record, VOCABULARY) == []


def test_what_the_portal_keeps_is_stable() -> None:
    record = full_record(
        tags=["FOI", "FOI/requests"],
        topics=["council", "unknown-topic"],
        licence={"url": "https://example.org/my-licence", "title": "My licence"},
        state="draft",
        embargoUntil="2999-01-01",
    )
    kept = m.carried(record, VOCABULARY)
    assert kept["tags"] == ["FOI"]
    assert kept["topics"] == ["council"]
    assert kept["licence"] == {"url": None, "title": "My licence"}
    # A draft under embargo is held private there, and CKAN shows it active.
    assert (kept["state"], kept["sharing"]) == ("published", "private")
    assert m.carried(kept, VOCABULARY) == kept
    assert canonical(round_trip(record), m.CARRIED) == canonical(kept, m.CARRIED)


def test_what_cannot_be_carried_is_reported() -> None:
    record = full_record(
        tags=["FOI", "FOI/requests"],
        topics=["council", "unknown-topic"],
        licence={"url": "https://example.org/my-licence", "title": "My licence"},
        custom={"unit": "Assurance", "name": "clashes with a package field"},
        masthead="barnet",
        nextReviewDate="2025-01-15",
        team="vrv65",
        collaborators=[12],
        readusers=[88],
        readteams=["abc12"],
        embargoUntil="2999-01-01",
    )
    fields = {loss.field for loss in m.outgoing_losses(record, VOCABULARY)}
    assert fields == {
        "tags",
        "topics",
        "licence/url",
        "custom/name",
        "masthead",
        "nextReviewDate",
        "team",
        "collaborators",
        "readusers",
        "readteams",
        "embargoUntil",
    }
    package, _ = m.to_ckan(record, VOCABULARY)
    assert package["tags"] == [{"name": "FOI"}]
    assert package["groups"] == [{"name": "council"}]
    assert package["license_id"] == "My licence"
    assert [e["key"] for e in package["extras"]] == ["unit"]
    # Embargoed: never public early, whatever our state says. CKAN ignores `state` from a
    # non-sysadmin: only `private` hides a package.
    assert package["private"] is True


def test_licences_match_the_portal_register_by_url_then_title() -> None:
    by_url, _ = m.to_ckan(
        full_record(licence={"url": "http://opendefinition.org/cc-by/", "title": "CC BY 4.0"}),
        VOCABULARY,
    )
    assert by_url["license_id"] == "cc-by"
    by_title, _ = m.to_ckan(
        full_record(licence={"url": None, "title": "open government licence v3.0"}), VOCABULARY
    )
    assert by_title["license_id"] == "OGL-UK-3.0"
    none, losses = m.to_ckan(full_record(licence={"url": None, "title": None}))
    assert none["license_id"] == "" and losses == []


def test_a_foreign_package_maps_to_a_valid_record() -> None:
    """A package made on the portal, with none of our own resource keys."""
    package = {
        "id": "8a4d2b1c-0000-4000-8000-000000000001",
        "name": "road-traffic",
        "title": "Road traffic counts",
        "notes": "Counts by **hour**.",
        "private": False,
        "state": "active",
        "license_id": "cc-by",
        "license_title": "Creative Commons Attribution",
        "license_url": "http://opendefinition.org/cc-by",
        "maintainer": None,
        "maintainer_email": None,
        "metadata_created": "2023-02-05T16:34:18.000001",
        "metadata_modified": "2024-01-21T16:10:03.385000",
        "tags": [{"name": "traffic", "display_name": "traffic"}],
        "groups": [{"name": "transport", "title": "Transport"}],
        "extras": [{"key": "frequency", "value": "daily"}, {"key": "areas", "value": '["A","B"]'}],
        "resources": [
            {
                "id": "C0FFEE00-0000-4000-8000-000000000002",
                "name": "Counts 2023",
                "url": "https://data.example/counts.csv",
                "format": "CSV",
                "hash": "",
                "size": "2048",
                "position": 0,
            },
            {
                "id": "c0ffee00-0000-4000-8000-000000000003",
                "name": "Map",
                "url": "https://maps.example/",
                "resource_type": "link",
                "position": 1,
            },
        ],
    }
    record, losses = m.from_ckan(package)
    assert losses == []
    assert record["title"] == "Road traffic counts"
    assert record["licence"] == {
        "url": "http://opendefinition.org/cc-by",
        "title": "Creative Commons Attribution",
    }
    assert record["contact"] == {"email": None, "title": None}
    assert record["custom"] == {"frequency": "daily", "areas": ["A", "B"]}
    assert record["createdAt"] == "2023-02-05T16:34:18.000Z"
    resource = record["resources"]["c0ffee00-0000-4000-8000-000000000002"]
    assert resource["format"] == "csv" and resource["size"] == 2048 and resource["order"] == 0
    assert record["links"]["c0ffee00-0000-4000-8000-000000000003"]["order"] == 1
    validate_record({**record, "id": "ab12x"})


@pytest.mark.parametrize(
    ("package", "problem"),
    [
        ([], "not a JSON object"),
        ({"name": "x"}, "no id"),
        ({"id": "1", "name": "x", "tags": "FOI"}, "tags"),
        ({"id": "1", "name": "x", "resources": [{"name": "no id"}]}, "resource 0 has no id"),
    ],
)
def test_a_package_of_the_wrong_shape_is_refused(package: Any, problem: str) -> None:
    with pytest.raises(m.Malformed, match=problem):
        m.from_ckan(package)


def test_timestamps_convert_both_ways() -> None:
    assert m.to_ckan_time("2025-01-24T19:17:04.371Z") == "2025-01-24T19:17:04.371000"
    assert m.from_ckan_time("2025-01-24T19:17:04.371000") == "2025-01-24T19:17:04.371Z"
    assert m.from_ckan_time("2025-01-24T20:17:04+01:00") == "2025-01-24T19:17:04.000Z"
    assert m.from_ckan_time(None) is None
    assert m.package_name({"id": "ab12x", "title": "Bins, collected!"}) == "bins-collected-ab12x"
    assert m.package_name({"id": "ab12x", "title": "€€"}) == "dataset-ab12x"
