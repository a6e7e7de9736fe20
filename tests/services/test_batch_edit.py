"""Batch edit: a preview per dataset, one all-or-nothing write, one step that undo reverses."""

from __future__ import annotations

import pytest

from app.models.database import Database
from app.services import access, batch_edit, datasets, undoable
from app.services.batch_edit import BatchChange, BatchInvalid
from app.services.errors import StaleEdit
from tests.conftest import AUTHOR, make_record


def _make(database: Database, count: int = 3) -> list[str]:
    with database.transaction() as session:
        access.create_team(session, "parks", "Parks team")
        return [
            datasets.create_dataset(
                session, make_record(title=f"Set {n}", tags=["old", f"t{n}"]), author=AUTHOR
            )["id"]
            for n in range(count)
        ]


def test_preview_lists_each_dataset_fields_before_and_after(database: Database) -> None:
    ids = _make(database)
    change = BatchChange(add_tags=("new",), remove_tags=("old",), set_team="parks")
    with database.read() as session:
        preview = batch_edit.preview(session, ids, change)
    assert [item.dataset_id for item in preview.changing] == ids
    first = preview.datasets[0]
    by_key = {c.key: (c.before, c.after) for c in first.changes}
    assert by_key == {"tags": (["old", "t0"], ["t0", "new"]), "team": (None, "parks")}
    with database.read() as session:  # a preview writes nothing
        assert datasets.get_record(session, ids[0])["tags"] == ["old", "t0"]


def test_apply_writes_all_and_one_revert_undoes_all(database: Database) -> None:
    ids = _make(database)
    change = BatchChange(state="publish", add_topics=("environment",), set_embargo="2030-01-01")
    with database.read() as session:
        preview = batch_edit.preview(session, ids, change)
    with database.transaction() as session:
        step = batch_edit.apply(session, preview.expected_versions(), change, author=AUTHOR)
    assert step.dataset_ids == frozenset(ids)
    assert step.label() == "batch edit of 3 datasets"
    with database.read() as session:
        after = [datasets.get_record(session, i) for i in ids]
    assert all(r["state"] == "published" and r["embargoUntil"] == "2030-01-01" for r in after)
    assert all(r["topics"] == ["environment"] for r in after)
    with database.transaction() as session:
        undoable.revert(session, step, author=AUTHOR)
    with database.read() as session:
        back = [datasets.get_record(session, i) for i in ids]
    assert all(r["state"] == "draft" and r["embargoUntil"] is None for r in back)
    assert all(r["topics"] == [] for r in back)


def test_invalid_datasets_are_reported_each_and_nothing_is_written(database: Database) -> None:
    ids = _make(database)
    change = BatchChange(set_contact={"email": "not an email", "title": "X"})
    with database.read() as session:
        preview = batch_edit.preview(session, ids, change)
    assert [item.dataset_id for item in preview.refused] == ids
    assert "contact.email" in preview.datasets[0].errors
    with pytest.raises(BatchInvalid) as raised, database.transaction() as session:
        versions = {item.dataset_id: item.version for item in preview.datasets}
        batch_edit.apply(session, versions, change, author=AUTHOR)
    assert set(raised.value.per_dataset) == set(ids)
    with database.read() as session:
        assert datasets.get_record(session, ids[0])["contact"]["email"] == "opendata@example.org"


def test_unknown_team_is_refused_in_the_preview(database: Database) -> None:
    ids = _make(database, 1)
    with database.read() as session:
        preview = batch_edit.preview(session, ids, BatchChange(set_team="nobody"))
    assert preview.datasets[0].errors == {"team": "no team 'nobody'"}


def test_a_dataset_changed_since_the_preview_stops_the_whole_batch(database: Database) -> None:
    ids = _make(database)
    change = BatchChange(add_tags=("new",))
    with database.read() as session:
        preview = batch_edit.preview(session, ids, change)
    with database.transaction() as session:
        datasets.update_dataset(session, ids[2], {"title": "Elsewhere"}, author="server")
    with pytest.raises(StaleEdit), database.transaction() as session:
        batch_edit.apply(session, preview.expected_versions(), change, author=AUTHOR)
    with database.read() as session:  # the first two, written before the stale one, rolled back
        assert "new" not in datasets.get_record(session, ids[0])["tags"]


def test_datasets_already_so_are_unchanged(database: Database) -> None:
    ids = _make(database, 2)
    with database.read() as session:
        preview = batch_edit.preview(session, ids, BatchChange(state="unpublish"))
    assert preview.unchanged == 2 and not preview.changing
