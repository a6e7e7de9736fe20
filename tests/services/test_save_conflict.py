"""A refused save compared three ways: what one side changed merges, what both did is asked."""

from __future__ import annotations

import pytest

from app.models.database import Database
from app.services import access, datasets, save_conflict
from app.services.errors import StaleEdit
from app.services.sync.merge import FieldConflict
from tests.conftest import make_record


def test_one_sided_changes_merge_and_both_sided_ones_conflict(database: Database) -> None:
    with database.transaction() as session:
        access.create_user(session, "bob", display_name="Bob Baker")
        base = datasets.create_dataset(session, make_record(title="Trees"), author="alice")
        opened = datasets.get_dataset(session, base["id"]).version
    mine = {**base, "title": "Trees (mine)", "tags": ["Mine"]}
    with database.transaction() as session:
        datasets.update_dataset(
            session, base["id"], {"title": "Trees (theirs)", "description": "<p>New.</p>"},
            author="bob",
        )  # fmt: skip
    with pytest.raises(StaleEdit), database.transaction() as session:
        datasets.update_dataset(session, base["id"], mine, author="alice", expected_version=opened)
    with database.read() as session:
        conflict = save_conflict.read(session, base, mine, opened)
        version = datasets.get_dataset(session, base["id"]).version
    assert conflict.conflicts == (
        FieldConflict("title", "Trees", "Trees (mine)", "Trees (theirs)"),
    )
    assert conflict.taken == ("description",)
    assert conflict.merged["description"] == "<p>New.</p>"  # theirs, unasked
    assert conflict.merged["tags"] == ["Mine"]  # mine, unasked
    assert conflict.version == version
    assert conflict.authors == ("Bob Baker (bob)",)
    assert conflict.resolved({"title": "Trees (theirs)"})["title"] == "Trees (theirs)"
    assert conflict.resolved({})["title"] == "Trees (mine)"
    with database.transaction() as session:  # saved again over the version stored now
        saved = datasets.update_dataset(
            session, base["id"], conflict.resolved({}), author="alice",
            expected_version=conflict.version,
        )  # fmt: skip
    assert (saved["title"], saved["description"], saved["tags"]) == (
        "Trees (mine)", "<p>New.</p>", ["Mine"],
    )  # fmt: skip
