"""Issue 16: no PATCH body can break the server, tie it up or store what the field table
refuses. Each finding of the probe is a case here, through a real server: the answer is a 4xx
with a JSON error naming the JSON pointer, and nothing is stored (no new version)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.models.database import Database
from app.services import datasets, json_patch
from app.services.record.fields import DESCRIPTION_LENGTH, TAGS
from tests.server.conftest import Catalogue
from tests.server.test_dataset_patch import error, patch, versions

NEW_LINK = {"title": "Elsewhere", "url": "https://else.example/"}
NEW_FILE = {"title": "More", "url": "https://else.example/more.csv"}


def _nested(levels: int) -> bytes:
    """A JSON value nested `levels` lists deep, as raw JSON (orjson will not write one)."""
    return b"[" * levels + b"1" + b"]" * levels


# (the patch, the pointer the 422 must name)
WRONG_VALUES: dict[str, tuple[list[dict[str, Any]], str]] = {
    "licence-url-number": ([{"op": "replace", "path": "/licence/url", "value": 5}], "/licence/url"),
    "licence-title-object": (
        [{"op": "replace", "path": "/licence/title", "value": {"a": 1}}],
        "/licence/title",
    ),
    "contact-email-number": (
        [{"op": "replace", "path": "/contact/email", "value": 5}],
        "/contact/email",
    ),
    "contact-title-list": (
        [{"op": "replace", "path": "/contact/title", "value": [1]}],
        "/contact/title",
    ),
    "time-frame-number": (
        [{"op": "add", "path": "/resources/n01", "value": {**NEW_FILE, "timeFrame": {"gte": 5}}}],
        "/resources/n01/timeFrame/gte",
    ),
    "qa-size-object": (
        [{"op": "add", "path": "/links/n01", "value": {**NEW_LINK, "qa": {"size": {}}}}],
        "/links/n01/qa/size",
    ),
    "qa-timestamp-list": (
        [{"op": "add", "path": "/links/n01", "value": {**NEW_LINK, "qa": {"timestamp": [1]}}}],
        "/links/n01/qa/timestamp",
    ),
    "qa-http-status-text": (
        [{"op": "add", "path": "/links/n01", "value": {**NEW_LINK, "qa": {"httpStatus": "abc"}}}],
        "/links/n01/qa/httpStatus",
    ),
    "readusers-true": ([{"op": "replace", "path": "/readusers", "value": [True]}], "/readusers"),
    "readteams-number": ([{"op": "replace", "path": "/readteams", "value": [1]}], "/readteams"),
    "readteams-null": ([{"op": "replace", "path": "/readteams", "value": [None]}], "/readteams"),
    "readteams-duplicate": (
        [{"op": "replace", "path": "/readteams", "value": ["tm001", "tm001"]}],
        "/readteams",
    ),
    "collaborators-duplicate": (
        [{"op": "replace", "path": "/collaborators", "value": [1, 1]}],
        "/collaborators",
    ),
    "unknown-team": ([{"op": "replace", "path": "/team", "value": "nosuch"}], "/team"),
    "unknown-read-team": (
        [{"op": "replace", "path": "/readteams", "value": ["nosuch"]}],
        "/readteams",
    ),
    "unknown-topic": ([{"op": "add", "path": "/topics/-", "value": "nosuch"}], "/topics/0"),
    "unknown-masthead": ([{"op": "replace", "path": "/masthead", "value": "nosuch"}], "/masthead"),
    "ten-thousand-tags": (
        [{"op": "replace", "path": "/tags", "value": [f"t{n}" for n in range(10_000)]}],
        "/tags",
    ),
    "long-tag": ([{"op": "add", "path": "/tags/-", "value": "t" * 1000}], "/tags"),
    "900-kb-description": (
        [{"op": "replace", "path": "/description", "value": "x" * 900_000}],
        "/description",
    ),
    "too-many-custom-fields": (
        [{"op": "replace", "path": "/custom", "value": {f"f{n}": "x" for n in range(5000)}}],
        "/custom",
    ),
    "too-many-files": (
        [
            {
                "op": "replace",
                "path": "/resources",
                "value": {f"{n:03d}": {**NEW_FILE} for n in range(1001)},
            }
        ],
        "/resources",
    ),
}


@pytest.mark.parametrize("case", list(WRONG_VALUES))
def test_a_value_the_field_table_refuses_is_a_422_naming_its_pointer(
    client: httpx.Client, catalogue: Catalogue, database: Database, case: str
) -> None:
    ops, pointer = WRONG_VALUES[case]
    with database.read() as session:
        before = datasets.get_record(session, catalogue.team_draft)
    count = len(versions(database, catalogue.team_draft))
    body = error(patch(client, catalogue.team_draft, ops, catalogue.bob), 422)
    assert body["code"] == "validation_failed"
    assert pointer in body["fields"], body
    assert len(versions(database, catalogue.team_draft)) == count
    with database.read() as session:
        assert datasets.get_record(session, catalogue.team_draft) == before


def test_the_limits_leave_room_for_a_real_record(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    """The limits are limits, not a new kind of refusal: right at them, a patch is stored."""
    ops = [
        {"op": "replace", "path": "/tags", "value": [f"t{n}" for n in range(TAGS)]},
        {"op": "replace", "path": "/description", "value": "x" * DESCRIPTION_LENGTH},
    ]
    response = patch(client, catalogue.team_draft, ops, catalogue.bob)
    assert response.status_code == 200, response.text[:500]
    assert len(response.json()["tags"]) == TAGS


@pytest.mark.parametrize("levels", [20, 500, 1000])
def test_a_deeply_nested_value_is_refused_without_recursion(
    client: httpx.Client, catalogue: Catalogue, database: Database, levels: int
) -> None:
    count = len(versions(database, catalogue.team_draft))
    for op in (b"add", b"test", b"replace"):
        body = b'[{"op": "' + op + b'", "path": "/custom/x", "value": ' + _nested(levels) + b"}]"
        response = patch(client, catalogue.team_draft, body, catalogue.bob, raw=True)
        assert response.status_code == 422, response.text
        assert error(response, 422)["code"] == "patch_too_large"
    assert len(versions(database, catalogue.team_draft)) == count


def test_copies_that_double_the_record_are_refused_as_it_grows(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    """The finding: 18 such copies took 2.8 s and 10,000 were allowed. Each copy is charged
    before it runs: the chain stops at the depth limit, and a flat chain (every copy beside the
    last, no deeper) at the size limit; either way a 422 naming where it stopped."""
    nested = [
        {"op": "copy", "from": "/licence", "path": f"/licence/a{n}"}
        for n in range(json_patch.MAX_OPERATIONS)
    ]
    body = error(patch(client, catalogue.team_draft, nested, catalogue.bob), 422)
    assert body["code"] == "patch_too_large"
    # A big flat value copied again and again: linear, refused once the record would be too large.
    big = "x" * 900_000
    flat = [{"op": "add", "path": "/custom/big", "value": big}] + [
        {"op": "copy", "from": "/custom/big", "path": f"/custom/c{n}"}
        for n in range(json_patch.MAX_OPERATIONS - 1)
    ]
    body = error(patch(client, catalogue.team_draft, flat, catalogue.bob), 422)
    assert body["code"] == "patch_too_large"
    assert len(body["fields"]) == 1 and next(iter(body["fields"])).startswith("/custom/c")


def test_more_operations_than_the_limit_are_a_400_naming_it(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    ops = [{"op": "test", "path": "/title", "value": "Team draft"}] * (
        json_patch.MAX_OPERATIONS + 1
    )
    body = error(patch(client, catalogue.team_draft, ops, catalogue.bob), 400)
    assert str(json_patch.MAX_OPERATIONS) in body["message"]


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "replace", "path": "/topics", "value": None}],
        [{"op": "replace", "path": "/readteams", "value": None}],
        [{"op": "add", "path": "/descriptionIframe", "value": None}],
        [{"op": "replace", "path": "/title", "value": "Team draft "}],
        [{"op": "add", "path": "/tags/-", "value": "x"}, {"op": "remove", "path": "/tags/2"}],
    ],
    ids=["null-list", "null-access-list", "null-text", "trailing-space", "add-then-remove"],
)
def test_a_patch_that_changes_nothing_makes_no_version(
    client: httpx.Client, catalogue: Catalogue, database: Database, ops: list[dict[str, Any]]
) -> None:
    count = len(versions(database, catalogue.team_draft))
    response = patch(client, catalogue.team_draft, ops, catalogue.bob)
    assert response.status_code == 200, response.text
    assert len(versions(database, catalogue.team_draft)) == count


def test_a_copy_chain_is_refused_without_building_it() -> None:
    """Service level: sixty doubling copies would make 2**60 objects; each copy is charged
    before it runs, so the chain is refused after a few steps (the old code never returned)."""
    record = {"licence": {"url": None, "title": "OGL"}}
    ops = [{"op": "copy", "from": "/licence", "path": f"/licence/a{n}"} for n in range(60)]
    with pytest.raises(json_patch.PatchTooLarge):
        json_patch.apply_patch(record, ops)
