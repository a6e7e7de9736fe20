"""The three-way comparison, unit by unit (pure functions)."""

from __future__ import annotations

from app.services.sync.merge import (
    FieldConflict,
    canonical,
    set_units,
    three_way,
    unit_values,
)

KEYS = ["title", "tags", "licence", "resources"]


def rec(**fields: object) -> dict[str, object]:
    record: dict[str, object] = {
        "title": "T",
        "tags": ["a"],
        "licence": {"url": None, "title": "OGL"},
        "resources": {"k93": {"title": "File", "url": "https://x.example/f.csv"}},
    }
    record.update(fields)
    return canonical(record)


def test_one_side_changes_flow_to_the_other() -> None:
    base = rec()
    merge = three_way(base, rec(title="Mine"), rec(tags=["b"]), KEYS)
    assert merge.to_remote == {"title": "Mine"}
    assert merge.to_local == {"tags": ["b"]}
    assert merge.conflicts == []


def test_same_change_on_both_sides_converges_and_different_ones_conflict() -> None:
    base = rec()
    merge = three_way(base, rec(title="Same", tags=["x"]), rec(title="Same", tags=["y"]), KEYS)
    assert merge.converged == {"title": "Same"}
    assert merge.conflicts == [FieldConflict("tags", ["a"], ["x"], ["y"])]
    assert merge.to_local == merge.to_remote == {}


def test_resources_are_compared_one_by_one() -> None:
    base = rec()
    mine = set_units(base, {"resources/m01": canonical_resource("Mine")})
    theirs = set_units(base, {"resources/t01": canonical_resource("Theirs"), "resources/k93": None})
    merge = three_way(base, mine, theirs, KEYS)
    assert set(merge.to_remote) == {"resources/m01"}
    assert merge.to_local == {"resources/t01": theirs["resources"]["t01"], "resources/k93": None}
    assert merge.conflicts == []
    # Removing a file here while it was edited there is a conflict, not a silent loss.
    edited = set_units(base, {"resources/k93": canonical_resource("Edited")})
    removed = set_units(base, {"resources/k93": None})
    [conflict] = three_way(base, removed, edited, KEYS).conflicts
    assert conflict.unit == "resources/k93" and conflict.local is None


def test_without_a_base_every_difference_is_a_conflict() -> None:
    merge = three_way(None, rec(title="A"), rec(title="B"), KEYS)
    assert [c.unit for c in merge.conflicts] == ["title"]
    assert "tags" in merge.converged


def test_canonical_form_ignores_missing_nulls() -> None:
    sparse = {"title": " T ", "licence": None, "resources": {"k93": {"title": "F"}}}
    full = {
        "title": "T",
        "licence": {"url": None, "title": None},
        "resources": {
            "k93": {
                "title": "F",
                "url": "",
                "order": 0,
                "description": "",
                "filename": None,
                "timeFrame": {},
                "format": None,
                "hash": None,
                "size": None,
                "timestamp": None,
                "origin": None,
            }
        },
    }
    assert canonical(sparse) == canonical(full)
    assert unit_values(canonical(sparse), ["resources"]).keys() == {"resources/k93"}


def canonical_resource(title: str) -> dict[str, object]:
    resources = canonical({"resources": {"x": {"title": title, "url": "https://x.example/"}}})
    child: dict[str, object] = resources["resources"]["x"]
    return child
