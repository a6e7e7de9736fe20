"""The duplicate finder and the merge (services.duplicates): groups by title and by file, the
merged record field by field, one step that one revert undoes."""

from __future__ import annotations

from typing import Any

import pytest

from app.models.database import Database
from app.services import datasets, duplicates, trash, undoable
from app.services.duplicates import SAME_FILE, SAME_TITLE, SIMILAR_TITLE
from app.services.errors import StaleEdit
from tests.conftest import AUTHOR, make_record

MD5 = "0123456789abcdef0123456789abcdef"


def _file(url: str, md5: str | None = None, title: str = "File") -> dict[str, Any]:
    return {"title": title, "url": url, "hash": md5, "format": "CSV"}


def _create(database: Database, **fields: Any) -> str:
    with database.transaction() as session:
        return str(datasets.create_dataset(session, make_record(**fields), author=AUTHOR)["id"])


def test_title_key_ignores_case_accents_punctuation_and_spacing() -> None:
    assert duplicates.title_key("  Café TREES, 2024! ") == duplicates.title_key("cafe trees 2024")
    assert duplicates.title_key("Trees") != duplicates.title_key("Parks")


def test_groups_by_same_title_similar_title_and_same_file(database: Database) -> None:
    trees = _create(database, title="Street trees, Barnet")
    trees_again = _create(database, title="STREET TREES  barnet")
    trees_typo = _create(database, title="Street tress, Barnet")  # one letter off: similar
    bins = _create(database, title="Bin collections", resources={"r01": _file("https://a/1", MD5)})
    rounds = _create(database, title="Refuse rounds", resources={"r01": _file("https://b/2", MD5)})
    _create(database, title="Parking fines")
    _create(database, title="Library loans")
    with database.read() as session:
        groups = duplicates.find_duplicates(session)
    found = {frozenset(g.dataset_ids): g.reasons for g in groups}
    assert found == {
        frozenset({trees, trees_again, trees_typo}): (SAME_TITLE, SIMILAR_TITLE),
        frozenset({bins, rounds}): (SAME_FILE,),
    }


def test_similar_pairs_compare_within_rare_word_blocks_only() -> None:
    # A word shared by every title (more than BLOCK_LIMIT) files nothing; rare words do.
    keys = [f"annual report {n}" for n in range(duplicates.BLOCK_LIMIT + 5)]
    keys += ["street trees barnet", "street tress barnet"]
    pairs = duplicates.similar_pairs(keys)
    assert ("street trees barnet", "street tress barnet") in pairs
    assert ("annual report 1", "annual report 2") not in pairs  # different numbers: no block


def test_merge_takes_chosen_fields_unites_files_and_one_revert_restores_all(
    database: Database,
) -> None:
    old = _create(
        database,
        title="Trees",
        description="<p>Old words</p>",
        tags=["old"],
        resources={"aaa": _file("https://x/1.csv", MD5), "bbb": _file("https://x/2.csv")},
        links={"lll": {"title": "Site", "url": "https://site/"}},
    )
    new = _create(
        database,
        title="trees",
        description="<p>New words</p>",
        tags=["new"],
        resources={"aaa": _file("https://y/same-md5.csv", MD5), "ccc": _file("https://x/2.csv")},
        links={"mmm": {"title": "Site", "url": "https://site/"}, "nnn": {"url": "https://other/"}},
    )
    with database.read() as session:
        plan = duplicates.read_plan(session, [old, new])
        originals = {i: datasets.get_record(session, i) for i in (old, new)}
    assert plan.records[plan.kept]["id"] == new  # the most recently modified is kept
    plan = duplicates.MergePlan(plan.records, plan.versions, plan.kept, {"description": 0})

    with database.transaction() as session:
        step = duplicates.merge(session, plan, author=AUTHOR)
    with database.read() as session:
        merged = datasets.get_record(session, new)
        assert old in {d.dataset_id for d in trash.list_deleted(session)}
    assert merged["title"] == "trees"
    assert merged["description"] == "<p>Old words</p>"  # chosen from the other record
    assert merged["tags"] == ["new"]
    assert sorted(r["url"] for r in merged["resources"].values()) == [
        "https://x/2.csv",
        "https://y/same-md5.csv",
    ]  # the old "a" has the same MD5, its "b" the same URL as "c": neither comes twice
    assert sorted(r["url"] for r in merged["links"].values()) == ["https://other/", "https://site/"]
    assert step.label() == "merge of 2 datasets"

    with database.transaction() as session:
        undoable.revert(session, step, author=AUTHOR)
    with database.read() as session:
        for dataset_id, record in originals.items():
            now = datasets.get_record(session, dataset_id)
            for key in ("title", "description", "tags", "resources", "links"):
                assert now[key] == record[key]


def test_merge_refuses_when_a_dataset_changed_since_and_writes_nothing(
    database: Database,
) -> None:
    first = _create(database, title="Trees")
    second = _create(database, title="Trees.")
    with database.read() as session:
        plan = duplicates.read_plan(session, [first, second])
    gone = plan.records[1 - plan.kept]["id"]
    with database.transaction() as session:
        datasets.update_dataset(session, gone, {"tags": ["edited"]}, author="someone")
    with pytest.raises(StaleEdit), database.transaction() as session:
        duplicates.merge_groups(session, [plan], author=AUTHOR)
    with database.read() as session:
        assert datasets.get_record(session, gone)["tags"] == ["edited"]
        assert len(duplicates.find_duplicates(session)) == 1
