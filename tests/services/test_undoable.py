"""Steps reverted as new versions with expected versions: nothing is ever overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.models.database import Database
from app.services import datasets, history, publication, undoable
from app.services.errors import StaleEdit
from app.services.importing import OnExisting, commit_import, plan_import
from app.services.records import Record
from tests.conftest import AUTHOR, make_record


def record_of(database: Database, dataset_id: str) -> Record:
    with database.read() as session:
        return datasets.get_record(session, dataset_id)


def test_undo_of_an_edit_and_its_redo(database: Database, new_dataset: Record) -> None:
    dataset_id = new_dataset["id"]
    edited = {**new_dataset, "title": "Edited title"}
    with database.transaction() as session:
        step = undoable.save(session, edited, author="me", is_new=False, expected_version=1)
    assert step is not None and step.label() == "edit of title"
    with database.transaction() as session:
        back = undoable.revert(session, step, author="me")
    assert record_of(database, dataset_id)["title"] == new_dataset["title"]
    with database.transaction() as session:
        undoable.revert(session, back, author="me", action="redo")
    assert record_of(database, dataset_id)["title"] == "Edited title"
    with database.read() as session:
        actions = [v.action for v in history.list_versions(session, dataset_id)]
    assert actions == ["redo", "undo", "update", "create"]


def test_undo_after_someone_else_changed_the_dataset_changes_nothing(
    database: Database, new_dataset: Record
) -> None:
    dataset_id = new_dataset["id"]
    with database.transaction() as session:
        step = undoable.save(
            session, {**new_dataset, "title": "Mine"}, author="me", is_new=False,
            expected_version=1,
        )  # fmt: skip
    with database.transaction() as session:
        datasets.update_dataset(session, dataset_id, {"tags": ["theirs"]}, author="bob",
                                action="patch")  # fmt: skip
    assert step is not None
    with pytest.raises(StaleEdit) as refused, database.transaction() as session:
        undoable.revert(session, step, author="me")
    assert refused.value.message.startswith("Cannot undo the edit of title: “Mine” was changed")
    assert "patch (tags) by bob" in refused.value.message
    assert refused.value.message.endswith("Nothing was changed.")
    after = record_of(database, dataset_id)
    assert (after["title"], after["tags"]) == ("Mine", ["theirs"])


def test_undo_of_a_restore_keeps_the_embargo(database: Database, new_dataset: Record) -> None:
    dataset_id = new_dataset["id"]
    with database.transaction() as session:
        publication.publish(session, dataset_id, author=AUTHOR)
        publication.set_embargo(session, dataset_id, "2027-03-01", author=AUTHOR)
        first = history.list_versions(session, dataset_id)[-1]
    with database.transaction() as session:
        step = undoable.restore_version(session, first.pk, author="me")
    assert step.label() == "restore of version 1"
    assert record_of(database, dataset_id)["embargoUntil"] is None
    with database.transaction() as session:
        undoable.revert(session, step, author="me")
    after = record_of(database, dataset_id)
    assert (after["embargoUntil"], after["state"]) == ("2027-03-01", "published")


def test_undo_of_a_delete_brings_the_datasets_back(database: Database) -> None:
    with database.transaction() as session:
        ids = [
            datasets.create_dataset(session, make_record(title=t), author=AUTHOR)["id"]
            for t in ("One", "Two")
        ]
    with database.transaction() as session:
        step = undoable.delete(session, ids, author="me")
    assert step.label() == "delete of 2 datasets"
    with database.transaction() as session:
        back = undoable.revert(session, step, author="me")
    assert [record_of(database, i)["title"] for i in ids] == ["One", "Two"]
    with database.transaction() as session:
        undoable.revert(session, back, author="me", action="redo")
    with database.read() as session:
        assert datasets.taken_ids(session, ids) == set()


def test_undo_of_an_import_deletes_what_it_created_and_gives_back_what_it_updated(
    database: Database, tmp_path: Path
) -> None:
    with database.transaction() as session:
        trees = datasets.create_dataset(session, make_record(title="Street Trees"), author=AUTHOR)
    path = tmp_path / "in.csv"
    path.write_text(f"id,title\n{trees['id']},Street Trees 2024\n,Bus Stops\n", "utf-8")
    plan = plan_import(database, path, on_existing=OnExisting.UPDATE)
    step = commit_import(database, plan, author="me").step
    assert step.label() == "import of 2 datasets"
    (created,) = [edit.dataset_id for edit in step.edits if edit.before is None]
    assert record_of(database, created)["title"] == "Bus Stops"

    with database.transaction() as session:
        back = undoable.revert(session, step, author="me")
    assert back.label() == "import of 2 datasets"
    assert record_of(database, trees["id"])["title"] == "Street Trees"
    with database.read() as session:
        assert datasets.taken_ids(session, [created]) == set()
        actions = [v.action for v in history.list_versions(session, trees["id"])]
    assert actions == ["undo", "import", "create"]  # given back as a new version

    with database.transaction() as session:
        again = undoable.revert(session, back, author="me", action="redo")
    assert record_of(database, trees["id"])["title"] == "Street Trees 2024"
    assert record_of(database, created)["title"] == "Bus Stops"

    # Edited elsewhere since the redo: undoing the import again refuses and changes nothing.
    with database.transaction() as session:
        datasets.update_dataset(session, created, {"tags": ["theirs"]}, author="bob",
                                action="patch")  # fmt: skip
    with pytest.raises(StaleEdit) as refused, database.transaction() as session:
        undoable.revert(session, again, author="me")
    message = refused.value.message
    assert message.startswith("Cannot undo the import of 2 datasets: “Bus Stops” was changed")
    assert "patch (tags) by bob" in message
    assert record_of(database, trees["id"])["title"] == "Street Trees 2024"
    assert record_of(database, created)["tags"] == ["theirs"]


def test_an_import_of_nothing_new_leaves_an_empty_step(database: Database, tmp_path: Path) -> None:
    with database.transaction() as session:
        trees = datasets.create_dataset(session, make_record(title="Street Trees"), author=AUTHOR)
    path = tmp_path / "in.csv"
    path.write_text(f"id,title\n{trees['id']},Street Trees\n", "utf-8")
    plan = plan_import(database, path, on_existing=OnExisting.UPDATE)
    summary = commit_import(database, plan, author="me")
    assert (summary.unchanged, summary.step.edits) == (1, ())
