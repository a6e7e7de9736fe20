"""PATCH /api/dataset/{id} (seed 002): RFC 6902 JSON Patch on a real server, key by key."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from app.models.database import Database
from app.services import access, api_keys, datasets, history
from tests.conftest import AUTHOR
from tests.server.conftest import Catalogue

PATCH_TYPE = {"Content-Type": "application/json-patch+json"}


def patch(
    client: httpx.Client, dataset_id: str, body: Any, key: str | None = None, raw: bool = False
) -> httpx.Response:
    headers = dict(PATCH_TYPE)
    if key is not None:
        headers["Authorization"] = key
    content = body if raw else orjson.dumps(body)
    return client.patch(f"/api/dataset/{dataset_id}", content=content, headers=headers)


def versions(database: Database, dataset_id: str) -> list[history.VersionInfo]:
    with database.read() as session:
        return history.list_versions(session, dataset_id)


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] and body["message"]
    return body


def test_an_editor_patches_and_the_edit_is_a_version_by_the_keys_user(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    before = versions(database, catalogue.team_draft)
    response = patch(
        client,
        catalogue.team_draft,
        [
            {"op": "test", "path": "/title", "value": "Team draft"},
            {"op": "replace", "path": "/title", "value": "Team report"},
            {"op": "add", "path": "/tags/-", "value": "reports"},
            {"op": "replace", "path": "/resources/t01/title", "value": "Team file, 2024"},
        ],
        catalogue.bob,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    record = response.json()
    assert record["title"] == "Team report"
    assert record["tags"][-1] == "reports"
    assert record["resources"]["t01"]["title"] == "Team file, 2024"
    assert record["resources"]["t01"]["url"] == "https://t.example/t.csv"

    bob = {"Authorization": catalogue.bob}
    assert client.get(f"/api/dataset/{catalogue.team_draft}", headers=bob).json() == record
    after = versions(database, catalogue.team_draft)
    assert len(after) == len(before) + 1
    newest = after[0]
    assert (newest.author, newest.action) == ("bob", "patch")
    assert newest.changes == ["resources", "tags", "title"]


def test_without_a_key_a_patch_is_a_401(client: httpx.Client, catalogue: Catalogue) -> None:
    response = patch(client, catalogue.public[0], [{"op": "remove", "path": "/tags/0"}])
    assert error(response, 401)["code"] == "unauthorized"
    assert response.headers["www-authenticate"]
    wrong = patch(client, catalogue.public[0], [], "cdk_not-a-key")
    assert error(wrong, 401)["code"] == "unauthorized"


def test_a_key_without_edit_rights_is_a_403(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    ops = [{"op": "replace", "path": "/title", "value": "Mine now"}]
    # carol may read the public dataset but not edit it; alice may read the private one only.
    assert error(patch(client, catalogue.public[0], ops, catalogue.carol), 403)["code"] == (
        "forbidden"
    )
    assert error(patch(client, catalogue.private, ops, catalogue.alice), 403)
    # carol may not even read the draft.
    assert error(patch(client, catalogue.draft, ops, catalogue.carol), 403)
    with database.read() as session:
        assert datasets.get_record(session, catalogue.public[0])["title"] == "Bins collected"


def test_an_unknown_dataset_is_a_404(client: httpx.Client, catalogue: Catalogue) -> None:
    response = patch(client, "zzzzz", [{"op": "remove", "path": "/tags/0"}], catalogue.bob)
    assert error(response, 404)["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"op": "remove", "path": "/tags/0"}',
        b'["remove"]',
        b'[{"op": "frobnicate", "path": "/title"}]',
        b'[{"op": "replace", "path": "title", "value": "x"}]',
        b'[{"op": "replace", "path": "/title"}]',
        b'[{"op": "move", "path": "/title"}]',
        b'[{"op": "add", "path": "/tags/~2", "value": "x"}]',
    ],
    ids=[
        "not-json",
        "object",
        "strings",
        "unknown-op",
        "bad-pointer",
        "no-value",
        "no-from",
        "bad-escape",
    ],
)
def test_a_malformed_patch_is_a_400(
    client: httpx.Client, catalogue: Catalogue, body: bytes
) -> None:
    response = patch(client, catalogue.team_draft, body, catalogue.bob, raw=True)
    assert error(response, 400)["code"] == "invalid_patch"


def test_a_patch_that_does_not_apply_is_a_409_and_changes_nothing(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    before = versions(database, catalogue.team_draft)
    failed_test = patch(
        client,
        catalogue.team_draft,
        [
            {"op": "replace", "path": "/title", "value": "Changed"},
            {"op": "test", "path": "/title", "value": "Team draft"},
        ],
        catalogue.bob,
    )
    assert error(failed_test, 409)["code"] == "patch_test_failed"
    missing = patch(
        client, catalogue.team_draft, [{"op": "remove", "path": "/resources/zzz"}], catalogue.bob
    )
    assert error(missing, 409)["code"] == "patch_conflict"
    into_text = patch(
        client,
        catalogue.team_draft,
        [{"op": "add", "path": "/title/x", "value": 1}],
        catalogue.bob,
    )
    assert error(into_text, 409)["code"] == "patch_conflict"
    assert versions(database, catalogue.team_draft) == before


@pytest.mark.parametrize(
    ("ops", "path"),
    [
        ([{"op": "replace", "path": "/id", "value": "abcde"}], "/id"),
        ([{"op": "remove", "path": "/createdAt"}], "/createdAt"),
        ([{"op": "replace", "path": "/site", "value": "elsewhere"}], "/site"),
        ([{"op": "replace", "path": "/descriptionText", "value": "x"}], "/descriptionText"),
        (
            [{"op": "replace", "path": "/resources/t01/url", "value": "https://x.example/"}],
            "/resources/t01/url",
        ),
        ([{"op": "add", "path": "/resources/t01/size", "value": 12}], "/resources/t01/size"),
        ([{"op": "add", "path": "/resources/t01/hash", "value": "0" * 32}], "/resources/t01/hash"),
        ([{"op": "add", "path": "/resources/t01/format", "value": "xls"}], "/resources/t01/format"),
        ([{"op": "add", "path": "/resources/t01/origin", "value": "/x"}], "/resources/t01/origin"),
        (
            # The whole resource replaced by one with another URL: still a change of the URL.
            [
                {
                    "op": "replace",
                    "path": "/resources/t01",
                    "value": {"title": "Team file", "url": "https://t.example/other.csv"},
                }
            ],
            "/resources/t01/url",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_immutable_fields_are_refused_with_their_path(
    client: httpx.Client,
    catalogue: Catalogue,
    database: Database,
    ops: list[dict[str, Any]],
    path: str,
) -> None:
    before = versions(database, catalogue.team_draft)
    body = error(patch(client, catalogue.team_draft, ops, catalogue.bob), 422)
    assert body["code"] == "immutable_field"
    assert path in body["fields"] and path in body["message"]
    assert versions(database, catalogue.team_draft) == before


def test_link_qa_is_immutable_but_new_files_and_links_may_be_added_and_removed(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    with database.transaction() as session:
        datasets.update_dataset(
            session,
            catalogue.team_draft,
            {"links": {"el3": {"title": "Council", "url": "https://council.example/"}}},
            author=AUTHOR,
        )
    qa = patch(
        client,
        catalogue.team_draft,
        [{"op": "replace", "path": "/links/el3/qa/httpStatus", "value": 200}],
        catalogue.bob,
    )
    assert "/links/el3/qa" in error(qa, 422)["fields"]

    new_file = {
        "title": "Second file",
        "url": "https://t.example/second.csv",
        "order": 1,
        "format": "csv",
        "size": 10,
    }
    response = patch(
        client,
        catalogue.team_draft,
        [
            {"op": "add", "path": "/resources/t02", "value": new_file},
            {"op": "remove", "path": "/links/el3"},
            {"op": "remove", "path": "/tags"},
        ],
        catalogue.bob,
    )
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["resources"]["t02"]["url"] == "https://t.example/second.csv"
    assert record["resources"]["t02"]["size"] == 10
    assert record["links"] == {}
    assert record["tags"] == []  # a removed field is cleared, not kept


@pytest.mark.parametrize(
    ("ops", "field"),
    [
        ([{"op": "replace", "path": "/title", "value": "  "}], "/title"),
        (
            [{"op": "replace", "path": "/contact/email", "value": "not an address"}],
            "/contact/email",
        ),
        ([{"op": "replace", "path": "/sharing", "value": "secret"}], "/sharing"),
        ([{"op": "replace", "path": "/resources", "value": []}], "/resources"),
        ([{"op": "replace", "path": "/licence", "value": "OGL"}], "/licence"),
        ([{"op": "add", "path": "/colour", "value": "blue"}], "/colour"),
        (
            [{"op": "add", "path": "/resources/t01/colour", "value": "blue"}],
            "/resources/t01/colour",
        ),
        ([{"op": "add", "path": "/", "value": 1}], "/"),
        ([{"op": "replace", "path": "", "value": []}], ""),
        ([{"op": "add", "path": "/readusers/-", "value": 999999}], "/readusers"),
        ([{"op": "replace", "path": "/updatedAt", "value": "yesterday"}], "/updatedAt"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_an_invalid_result_is_a_422_with_the_field_errors(
    client: httpx.Client,
    catalogue: Catalogue,
    database: Database,
    ops: list[dict[str, Any]],
    field: str,
) -> None:
    before = versions(database, catalogue.team_draft)
    body = error(patch(client, catalogue.team_draft, ops, catalogue.bob), 422)
    assert body["code"] == "validation_failed"
    assert field in body["fields"], body
    assert versions(database, catalogue.team_draft) == before


def test_the_patch_must_be_sent_as_json(client: httpx.Client, catalogue: Catalogue) -> None:
    response = client.patch(
        f"/api/dataset/{catalogue.team_draft}",
        content=b'[{"op": "remove", "path": "/tags/0"}]',
        headers={"Authorization": catalogue.bob, "Content-Type": "text/plain"},
    )
    assert error(response, 415)["code"] == "unsupported_media_type"
    plain_json = client.patch(
        f"/api/dataset/{catalogue.team_draft}",
        json=[{"op": "replace", "path": "/title", "value": "Sent as application/json"}],
        headers={"Authorization": catalogue.bob},
    )
    assert plain_json.status_code == 200, plain_json.text


def test_a_collaborator_edits_but_may_not_publish_or_share(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    with database.transaction() as session:
        dave = access.create_user(session, "dave")
        key = api_keys.create_api_key(session, dave.id).key
        datasets.update_dataset(
            session, catalogue.draft, {"collaborators": [dave.id]}, author=AUTHOR
        )
    edit = [{"op": "replace", "path": "/title", "value": "Budget, revised"}]
    assert patch(client, catalogue.draft, edit, key).status_code == 200
    for field, op in (
        ("/state", {"op": "replace", "path": "/state", "value": "published"}),
        ("/sharing", {"op": "replace", "path": "/sharing", "value": "private"}),
        ("/readusers", {"op": "add", "path": "/readusers/-", "value": dave.id}),
    ):
        body = error(patch(client, catalogue.draft, [op], key), 403)
        assert field in body["message"]
    # bob's team owns its draft: he may publish it.
    publish = [{"op": "replace", "path": "/state", "value": "published"}]
    assert patch(client, catalogue.team_draft, publish, catalogue.bob).json()["state"] == (
        "published"
    )


def test_updated_at_moves_on_unless_the_patch_sets_it_and_a_no_op_adds_no_version(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    with database.read() as session:
        stored = datasets.get_record(session, catalogue.team_draft)
    rename = [{"op": "replace", "path": "/title", "value": "Renamed"}]
    touched = patch(client, catalogue.team_draft, rename, catalogue.bob).json()
    assert touched["updatedAt"] > stored["updatedAt"]

    own = [
        {"op": "replace", "path": "/title", "value": "Renamed again"},
        {"op": "replace", "path": "/updatedAt", "value": "2025-01-21T16:10:03.385Z"},
    ]
    kept = patch(client, catalogue.team_draft, own, catalogue.bob).json()
    assert kept["updatedAt"] == "2025-01-21T16:10:03.385Z"

    count = len(versions(database, catalogue.team_draft))
    same = patch(client, catalogue.team_draft, [], catalogue.bob)
    assert same.status_code == 200 and same.json() == kept
    assert len(versions(database, catalogue.team_draft)) == count
