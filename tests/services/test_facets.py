"""Facet counts: GROUP BY over the table's visible set, equal to what a click then shows."""

from __future__ import annotations

from dataclasses import replace

from app.models.database import Database
from app.services import access, browse, datasets, facets, managed_lists
from app.services.browse import BrowseSpec
from tests.conftest import AUTHOR, make_record


def _catalogue(database: Database) -> None:
    with database.transaction() as session:
        access.create_team(session, "parks", "Parks team")
        managed_lists.add_topic(session, "env", "Environment")
        rows = [
            ("Air quality", ["air", "health"], ["env"], "parks", "published"),
            ("Air traffic", ["air"], [], None, "draft"),
            ("Tree census", ["trees"], ["env"], "parks", "draft"),
        ]
        for title, tags, topics, team, state in rows:
            datasets.create_dataset(
                session,
                make_record(title=title, tags=tags, topics=topics, team=team, state=state),
                author=AUTHOR,
            )


def _counts(database: Database, spec: BrowseSpec) -> dict[str, dict[str, int]]:
    with database.read() as session:
        found = facets.all_facets(session, spec)
    return {f.key: {v.value: v.count for v in f.values} for f in found}


def test_counts_follow_the_search(database: Database) -> None:
    _catalogue(database)
    counts = _counts(database, BrowseSpec(search="air"))
    assert counts["tag"] == {"air": 2, "health": 1}
    assert counts["team"] == {"": 1, "parks": 1}
    assert counts["state"] == {"draft": 1, "published": 1}
    assert counts["topic"] == {"env": 1}
    assert counts["links"] == {"ok": 2}


def test_a_facet_value_filters_the_table_to_its_count(database: Database) -> None:
    _catalogue(database)
    spec = BrowseSpec(facets=(("topic", "env"),))
    counts = _counts(database, spec)
    with database.read() as session:
        for tag, count in counts["tag"].items():
            narrowed = replace(spec, facets=(*spec.facets, ("tag", tag)))
            assert browse.count(session, narrowed) == count
            assert len(browse.fetch_after(session, narrowed, None, 10)) == count
    # the chosen facet still lists its other values (choosing one of them instead)
    assert counts["topic"] == {"env": 2}
    assert counts["tag"] == {"air": 1, "health": 1, "trees": 1}


def test_titles_name_teams_and_topics(database: Database) -> None:
    _catalogue(database)
    with database.read() as session:
        found = {f.key: f for f in facets.all_facets(session, BrowseSpec())}
    assert {v.title for v in found["team"].values} == {"Parks team", "(none)"}
    assert [v.title for v in found["topic"].values] == ["Environment"]


def test_search_count_with_facets_is_not_the_search_alone(database: Database) -> None:
    _catalogue(database)
    with database.read() as session:
        spec = BrowseSpec(search="air", facets=(("team", "parks"),))
        assert browse.count(session, spec) == 1
