"""services.json_patch without HTTP: what the sync service will call."""

from __future__ import annotations

import pytest

from app.models.database import Database
from app.services import datasets, json_patch
from app.services.errors import StaleEdit
from app.services.records import Record
from app.services.visibility import OWNER
from tests.conftest import AUTHOR


def test_the_owner_patches_with_a_plain_list_and_an_expected_version(
    database: Database, new_dataset: Record
) -> None:
    dataset_id = new_dataset["id"]
    with database.read() as session:
        version = datasets.get_dataset(session, dataset_id).version
    ops = [{"op": "replace", "path": "/custom/unit", "value": "Audit"}]
    with database.transaction() as session:
        record = json_patch.patch_dataset(
            session, OWNER, dataset_id, ops, author=AUTHOR, expected_version=version
        )
    assert record["custom"]["unit"] == "Audit"
    with database.transaction() as session, pytest.raises(StaleEdit):
        json_patch.patch_dataset(
            session, OWNER, dataset_id, ops, author=AUTHOR, expected_version=version
        )


def test_immutable_changes_name_json_pointers() -> None:
    before: Record = {
        "id": "abcde",
        "site": "",
        "createdAt": "2024-01-01T00:00:00Z",
        "resources": {"a/b": {"url": "https://x.example/", "size": 1}},
        "links": {"l01": {"url": "https://y.example/", "qa": {"httpStatus": 200}}},
    }
    after = {
        **before,
        "resources": {"a/b": {"url": "https://x.example/", "size": 2}, "new": {"size": 5}},
        "links": {"l01": {"url": "https://y.example/", "qa": {"httpStatus": 404}}},
    }
    assert json_patch.immutable_changes(before, after) == {
        "/resources/a~1b/size": "is immutable",
        "/links/l01/qa": "is immutable",
    }


def test_a_patch_is_checked_before_it_touches_the_database() -> None:
    with pytest.raises(json_patch.InvalidPatch):
        json_patch.parse_patch({"op": "add"})
    with pytest.raises(json_patch.PatchTestFailed):
        json_patch.apply_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
