"""The trash: deleted datasets listed from the history, restored, emptied for good."""

from __future__ import annotations

import pytest

from app.models.database import Database
from app.services import datasets, history, trash
from app.services.errors import NotFound, StaleEdit
from tests.conftest import AUTHOR, make_record


def make(database: Database, title: str) -> str:
    with database.transaction() as session:
        dataset_id: str = datasets.create_dataset(session, make_record(title=title), author=AUTHOR)[
            "id"
        ]
    return dataset_id


def delete(database: Database, dataset_id: str, who: str = "ann") -> None:
    with database.transaction() as session:
        datasets.delete_dataset(session, dataset_id, author=who)


def listed(database: Database) -> list[trash.DeletedDataset]:
    with database.read() as session:
        return trash.list_deleted(session)


def test_a_deleted_dataset_is_listed_with_who_and_when_and_restored(database: Database) -> None:
    kept, gone = make(database, "Street Trees"), make(database, "Parking Fines")
    with database.transaction() as session:
        datasets.update_dataset(session, gone, {"title": "Parking Fines 2024"}, author=AUTHOR)
    assert listed(database) == []
    delete(database, gone, who="ann")

    [item] = listed(database)
    assert (item.dataset_id, item.title, item.deleted_by, item.versions) == (
        gone,
        "Parking Fines 2024",  # the last content, not the first
        "ann",
        3,
    )
    assert item.deleted_at.endswith("Z")

    with database.transaction() as session:
        restored = trash.restore(session, gone, author="bob")
    assert restored["title"] == "Parking Fines 2024"
    assert listed(database) == []
    with database.read() as session:
        assert [v.action for v in history.list_versions(session, gone)][:2] == ["restore", "delete"]
        assert datasets.get_record(session, kept)["title"] == "Street Trees"
        # Restoring what is not deleted is refused, and says so.
        with pytest.raises(StaleEdit, match="not deleted"):
            trash.restore(session, gone, author="bob")


def test_emptying_keeps_the_history_or_purges_it_as_asked(database: Database) -> None:
    one, two = make(database, "One"), make(database, "Two")
    delete(database, one)
    delete(database, two)
    assert {d.dataset_id for d in listed(database)} == {one, two}

    with database.transaction() as session:
        assert trash.empty(session, [one], author="ann", keep_history=True) == 1
    assert [d.dataset_id for d in listed(database)] == [two]
    with database.read() as session:
        assert [v.action for v in history.list_versions(session, one)] == [
            "purge",
            "delete",
            "create",
        ]

    with database.transaction() as session:
        assert trash.empty(session, [two, "zzzzz"], author="ann", keep_history=False) == 1
    assert listed(database) == []
    with database.read() as session:
        assert history.list_versions(session, two) == []
        with pytest.raises(NotFound):
            trash.restore(session, two, author="ann")
