"""The field table is the one description of a record: everything derived from it agrees."""

from __future__ import annotations

from typing import Any

import pytest

from app.models.database import Database
from app.services import datasets, json_patch
from app.services.errors import ValidationFailed
from app.services.record.canonical import canonical_field, empty_record
from app.services.record.columns import (
    COMPANION_COLUMNS,
    DATASET_COLUMNS,
    DATASET_PATHS,
    DESKTOP_COLUMNS,
)
from app.services.record.fields import CHILDREN, DATASET, FIELDS, SYNC_KEYS
from app.services.record.shape import check_shape
from app.services.records import Record
from app.services.validation import validate_record
from app.services.visibility import OWNER
from tests.conftest import AUTHOR


def test_a_stored_record_has_exactly_the_fields_of_the_table(new_dataset: Record) -> None:
    assert set(new_dataset) == set(FIELDS)
    assert set(empty_record("abcde", "2025-01-01T00:00:00.000Z")) == set(FIELDS)
    for name, child in CHILDREN.items():
        for value in new_dataset[name].values():
            assert set(value) == {part.name for part in child.parts}


def test_a_stored_record_is_its_own_canonical_form(new_dataset: Record) -> None:
    for key in SYNC_KEYS:
        assert canonical_field(key, new_dataset[key]) == new_dataset[key], key


def test_every_dataset_column_fills_a_field_and_every_user_field_has_a_column() -> None:
    assert set(DATASET_PATHS) == (set(DATASET_COLUMNS) | set(DESKTOP_COLUMNS)) - COMPANION_COLUMNS
    filled = {path[0] for path in DATASET_PATHS.values()}
    assert {f.name for f in DATASET if f.table != "none"} == filled


@pytest.mark.parametrize(
    ("record", "path"),
    [
        ({"licence": {"url": 5}}, ("licence", "url")),
        ({"contact": {"title": [1]}}, ("contact", "title")),
        (
            {"resources": {"r01": {"timeFrame": {"gte": 5}}}},
            ("resources", "r01", "timeFrame", "gte"),
        ),
        ({"links": {"l01": {"qa": {"size": {}}}}}, ("links", "l01", "qa", "size")),
        ({"links": {"l01": {"qa": {"timestamp": [1]}}}}, ("links", "l01", "qa", "timestamp")),
        ({"readteams": [1]}, ("readteams",)),
        ({"readteams": [None]}, ("readteams",)),
        ({"collaborators": ["1"]}, ("collaborators",)),
        ({"tags": [[[["deep"]]]]}, ("tags",)),
        ({"resources": {"r01": {"size": 2**70}}}, ("resources", "r01", "size")),
    ],
)
def test_a_value_of_the_wrong_type_is_reported_by_its_path(
    record: dict[str, Any], path: tuple[str, ...]
) -> None:
    clean, errors = check_shape(record)
    assert path in errors
    assert clean != record


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        ("/licence/url", 5),
        ("/licence/title", {"a": 1}),
        ("/contact/email", 5),
        ("/contact/title", [1]),
        ("/readteams", [1]),
        ("/readteams", [None]),
        ("/collaborators", [1, 1]),
        ("/links/n01", {"url": "https://x.example/", "qa": {"size": {}}}),
        ("/resources/n01", {"title": "T", "url": "https://x.example/", "timeFrame": {"gte": 5}}),
    ],
)
def test_a_patch_of_the_wrong_type_is_refused_with_a_422_error(
    database: Database, new_dataset: Record, pointer: str, value: Any
) -> None:
    # These used to reach the database (or the serializers) and answer 500.
    with database.transaction() as session, pytest.raises(json_patch.PatchUnprocessable):
        json_patch.patch_dataset(
            session,
            OWNER,
            new_dataset["id"],
            [{"op": "add", "path": pointer, "value": value}],
            author=AUTHOR,
        )
    with database.read() as session:
        assert datasets.get_record(session, new_dataset["id"]) == new_dataset


def test_a_url_that_urllib_cannot_split_is_a_validation_error() -> None:
    record = empty_record("abcde", "2025-01-01T00:00:00.000Z")
    record.update(title="T", descriptionIframe="https://]files.example.org/x")
    with pytest.raises(ValidationFailed) as failure:
        validate_record(record)
    assert failure.value.errors == {"descriptionIframe": "must be an http(s) URL"}


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        (("resources", "hash"), "sha256:" + "ab" * 32, None),
        (("resources", "hash"), "sha512:" + "AB" * 64, None),
        (("resources", "hash"), "sha1:" + "ab" * 20, None),
        (("resources", "hash"), "md5:" + "ab" * 16, None),
        (("resources", "hash"), "ab" * 16, None),
        (("resources", "hash"), "sha256:" + "ab" * 16, "hash"),  # the wrong length
        (("resources", "hash"), "crc32:0badf00d", "hash"),
        (("resources", "url"), "ftp://ftp.example.org/pub/a.zip", None),
        (("resources", "url"), "sftp://files.example.org/a.zip", None),
        (("resources", "url"), "javascript:alert(1)", "url"),
        (("resources", "url"), "data:text/csv,a,b", "url"),
        (("links", "url"), "ftps://ftp.example.org/", None),
        (("links", "url"), "javascript://x.example/%0aalert(1)", "url"),
        (("licence", "url"), "ftp://licences.example.org/ogl", "url"),  # a web page: http(s)
        (("title",), "T" * 1000, None),
        (("title",), "T" * 1001, "title"),
    ],
)
def test_real_catalogues_hashes_urls_and_titles_are_taken(
    path: tuple[str, ...], value: str, error: str | None
) -> None:
    record = empty_record("abcde", "2025-01-01T00:00:00.000Z")
    record["title"] = "T"
    if path[0] in ("resources", "links"):
        child = {"title": "F", "url": "https://f.example/a.csv", "order": 0}
        record[path[0]] = {"k93": {**child, path[1]: value}}
    elif len(path) == 2:
        record[path[0]] = {**(record.get(path[0]) or {}), path[1]: value}
    else:
        record[path[0]] = value
    if error is None:
        validate_record(record)
        return
    with pytest.raises(ValidationFailed) as failure:
        validate_record(record)
    assert [k.rsplit(".", 1)[-1] for k in failure.value.errors] == [error]
