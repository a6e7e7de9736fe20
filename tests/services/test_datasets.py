from __future__ import annotations

import pytest

from app.models.database import Database
from app.services import datasets, history
from app.services.errors import NotFound, StaleEdit, ValidationFailed
from app.services.records import Record
from tests.conftest import AUTHOR, make_record


def test_create_assigns_id_slug_and_text(database: Database) -> None:
    with database.transaction() as session:
        created = datasets.create_dataset(session, make_record(), author=AUTHOR)
    assert len(created["id"]) == 5
    assert created["descriptionText"] == "Requests received, by month."
    with database.read() as session:
        stored = datasets.get_dataset(session, created["id"])
        assert stored.slug == "freedom-of-information-requests"
        assert datasets.get_record(session, created["id"]) == created


def test_invalid_record_reports_each_field_and_writes_nothing(database: Database) -> None:
    bad = make_record(
        title="  ",
        contact={"email": "not-an-email", "title": "x"},
        resources={"k93": {"title": "r", "timeFrame": {"gte": "2024-13"}, "url": "ftp:/x"}},
    )
    with pytest.raises(ValidationFailed) as failure, database.transaction() as session:
        datasets.create_dataset(session, bad, author=AUTHOR)
    assert set(failure.value.errors) == {
        "title",
        "contact.email",
        "resources.k93.timeFrame.gte",
        "resources.k93.url",
    }
    with database.read() as session:
        assert history.list_versions(session, bad["id"] or "xxxxx") == []


def test_update_keeps_history_and_restore_brings_old_values_back(
    database: Database, new_dataset: Record
) -> None:
    dataset_id = new_dataset["id"]
    with database.transaction() as session:
        datasets.update_dataset(session, dataset_id, {"title": "FOI requests 2025"}, author="ann")
    with database.read() as session:
        versions = history.list_versions(session, dataset_id)
    assert [(v.number, v.action, v.author) for v in versions] == [
        (2, "update", "ann"),
        (1, "create", AUTHOR),
    ]
    assert versions[0].changes == ["title"]
    with database.transaction() as session:
        restored = datasets.restore_version(session, versions[1].pk, author="bob")
    assert restored["title"] == "Freedom of Information Requests"


def test_immutable_id_and_stale_edit_are_refused(database: Database, new_dataset: Record) -> None:
    dataset_id = new_dataset["id"]
    with pytest.raises(ValidationFailed) as failure, database.transaction() as session:
        datasets.update_dataset(session, dataset_id, {"id": "zzzzz"}, author=AUTHOR)
    assert failure.value.errors == {"id": "cannot be changed"}
    with database.transaction() as session:
        datasets.update_dataset(session, dataset_id, {"title": "Two"}, author=AUTHOR)
    with pytest.raises(StaleEdit), database.transaction() as session:
        datasets.update_dataset(
            session, dataset_id, {"title": "Three"}, author=AUTHOR, expected_version=1
        )


def test_delete_then_restore_recreates_the_dataset(database: Database, new_dataset: Record) -> None:
    dataset_id = new_dataset["id"]
    with database.transaction() as session:
        datasets.delete_dataset(session, dataset_id, author=AUTHOR)
    with pytest.raises(NotFound), database.read() as session:
        datasets.get_dataset(session, dataset_id)
    with database.read() as session:
        first = history.list_versions(session, dataset_id)[-1]
    with database.transaction() as session:
        datasets.restore_version(session, first.pk, author=AUTHOR)
    with database.read() as session:
        assert datasets.get_record(session, dataset_id)["title"] == new_dataset["title"]


def test_create_many_gives_each_the_same_as_creating_one_by_one(
    database: Database, new_dataset: Record
) -> None:
    """A batch: fresh ids where none or a taken one is given (replace_taken_ids), history
    numbers that go on after a delete, and records identical to single creates."""
    taken = new_dataset["id"]
    with database.transaction() as session:
        datasets.delete_dataset(session, taken, author=AUTHOR)
        datasets.create_dataset(session, make_record(id="kept1"), author=AUTHOR)
    batch = [make_record(id=taken), make_record(), make_record(id="kept1"), make_record(id="new01")]
    with database.transaction() as session:
        created = datasets.create_datasets(session, batch, author=AUTHOR, replace_taken_ids=True)
    ids = [c.record["id"] for c in created]
    assert ids[0] == taken and ids[3] == "new01"
    assert ids[1] not in ("", "kept1") and ids[2] not in ("kept1", ids[1])
    # The recreated id goes on from its deleted history (create, delete, create again).
    assert [c.version for c in created] == [3, 1, 1, 1]
    with database.read() as session:
        for entry in created:
            assert datasets.get_record(session, entry.record["id"]) == entry.record
            assert datasets.get_dataset(session, entry.record["id"]).version == entry.version
            latest = history.list_versions(session, entry.record["id"])[0]
            assert (latest.number, latest.action) == (entry.version, "create")


def test_create_many_refuses_a_taken_or_repeated_id_and_writes_nothing(
    database: Database, new_dataset: Record
) -> None:
    for batch in (
        [make_record(id="fresh"), make_record(id=new_dataset["id"])],
        [make_record(id="twice"), make_record(id="twice")],
    ):
        with pytest.raises(ValidationFailed) as failure, database.transaction() as session:
            datasets.create_datasets(session, batch, author=AUTHOR)
        assert "already exists" in failure.value.errors["id"]
    with database.read() as session:
        assert datasets.taken_ids(session, ["fresh", "twice", new_dataset["id"]]) == {
            new_dataset["id"]
        }
