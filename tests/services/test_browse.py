"""The table's queries against Python's own answer over the same rows."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.models import Dataset
from app.models.database import Database
from app.services import browse, datasets, synthetic
from app.services.browse import SORT_COLUMNS, BrowseSpec
from app.services.progress import Cancelled
from app.services.visibility import ANONYMOUS, display_state
from tests.conftest import AUTHOR, make_record

TODAY = "2026-06-01"
# Not queries (services.desktop_query): the table searches their words, as plain words.
TRICKY = [
    'NEAR(" OR *',
    '"unbalanced',
    "footfall )",
    "title:",
    "AND",
    "foot-fall ^ (x)",
    "' OR 1=1 --",
    "_",
]


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database.open(Path(tmp_path_factory.mktemp("browse")) / "catalogue.sqlite")
    synthetic.generate(db, 700, seed=11)
    with db.transaction() as session:
        for title in ('Footfall "NEAR" OR *', "footfall_under_scores", "Ünïcode Zürich café"):
            datasets.create_dataset(session, make_record(title=title, tags=[]), author=AUTHOR)
        datasets.create_dataset(session, make_record(title="No team", team=None), author=AUTHOR)
    yield db
    db.dispose()


def _all(db: Database) -> list[Dataset]:
    with db.read() as session:
        return list(session.scalars(select(Dataset).options(selectinload(Dataset.resources))).all())


def _key(spec: BrowseSpec, d: Dataset) -> Any:
    if spec.sort == "state":
        return display_state(d, TODAY)
    if spec.sort == "team":
        return d.team or ""
    return getattr(d, spec.sort)


def _expected(db: Database, spec: BrowseSpec) -> list[int]:
    rows = [d for d in _all(db) if _matches(d, spec)]
    rows.sort(key=lambda d: (_key(spec, d), d.pk), reverse=spec.descending)
    return [d.pk for d in rows]


def _words(text: str) -> list[str]:
    plain = "".join(
        c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c)
    )
    return re.findall(r"[^\W_]+", plain)


def _matches(d: Dataset, spec: BrowseSpec) -> bool:
    if spec.state is not None and display_state(d, TODAY) != spec.state:
        return False
    wanted = _words(spec.search)
    if not wanted:
        return True
    words = _words(" ".join([d.id, d.title, d.description_text, *d.tags]))
    return all(any(w.startswith(prefix) for w in words) for prefix in wanted)


def _walk_forward(db: Database, spec: BrowseSpec, size: int, walk: bool | None = None) -> list[int]:
    pks: list[int] = []
    key = None
    with db.read() as session:
        while True:
            rows = browse.fetch_after(session, spec, key, size, today=TODAY, walk=walk)
            pks += [r.pk for r in rows]
            if len(rows) < size:
                return pks
            key = rows[-1].key


def _walk_backward(
    db: Database, spec: BrowseSpec, size: int, walk: bool | None = None
) -> list[int]:
    pks: list[int] = []
    key = None
    with db.read() as session:
        while True:
            rows = browse.fetch_before(session, spec, key, size, today=TODAY, walk=walk)
            pks = [r.pk for r in rows] + pks
            if len(rows) < size:
                return pks
            key = rows[0].key


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("sort", SORT_COLUMNS)
def test_windows_in_both_directions_follow_pythons_sort(
    catalogue: Database, sort: browse.SortColumn, descending: bool
) -> None:
    spec = BrowseSpec(sort=sort, descending=descending)
    expected = _expected(catalogue, spec)
    assert len(expected) == 704
    assert _walk_forward(catalogue, spec, 97) == expected
    assert _walk_backward(catalogue, spec, 97) == expected
    with catalogue.read() as session:
        assert browse.ordered_pks(session, spec, today=TODAY).tolist() == expected
        assert browse.count(session, spec, today=TODAY) == len(expected)


@pytest.mark.parametrize("search", ["footfall", "zur", "air qual", "FOI", "café", "caf", *TRICKY])
def test_search_finds_exactly_the_rows_with_words_starting_so(
    catalogue: Database, search: str
) -> None:
    spec = BrowseSpec(search=search)
    expected = _expected(catalogue, spec)
    with catalogue.read() as session:
        assert browse.ordered_pks(session, spec, today=TODAY).tolist() == expected
        assert browse.count(session, spec, today=TODAY) == len(expected)
    # Both search plans (walk the sort index, or fetch the matches and sort) give the rows.
    assert _walk_forward(catalogue, spec, 50, walk=True) == expected
    assert _walk_backward(catalogue, spec, 50, walk=False) == expected
    if search in ("footfall", "zur", "air qual", "FOI", "café"):
        assert expected  # the catalogue has rows for these, so the test can fail


def test_a_field_query_searches_that_field_only(catalogue: Database) -> None:
    # Once plain words, now the query language: the title's words only, not the tags'.
    spec = BrowseSpec(search="title: footfall")
    titles = _titles(catalogue)  # once: read per dataset, the test took three minutes
    expected = [
        pk
        for pk in _expected(catalogue, BrowseSpec())
        if any(w.startswith("footfall") for w in _words(titles[pk]))
    ]
    assert expected
    with catalogue.read() as session:
        assert browse.ordered_pks(session, spec, today=TODAY).tolist() == expected
        assert browse.count(session, spec, today=TODAY) == len(expected)
    assert _walk_forward(catalogue, spec, 50) == expected


def _titles(db: Database) -> dict[int, str]:
    return {d.pk: d.title for d in _all(db)}


def test_search_combines_with_state_filter_and_sort(catalogue: Database) -> None:
    spec = BrowseSpec(search="air", state="published", sort="updated_at", descending=True)
    expected = _expected(catalogue, spec)
    assert expected
    assert _walk_forward(catalogue, spec, 40) == expected
    with catalogue.read() as session:
        assert browse.count(session, spec, today=TODAY) == len(expected)


@pytest.mark.parametrize("state", browse.DISPLAY_STATES)
def test_state_filter_and_state_column_agree_with_display_state(
    catalogue: Database, state: str
) -> None:
    spec = BrowseSpec(state=state)
    expected = _expected(catalogue, spec)
    assert expected
    with catalogue.read() as session:
        rows = browse.fetch_pks(session, spec, expected, today=TODAY)
        assert browse.count(session, spec, today=TODAY) == len(expected)
    assert [r.pk for r in rows] == expected
    assert {r.state for r in rows} == {state}


def test_an_anonymous_table_lists_only_what_anybody_may_read(catalogue: Database) -> None:
    # The table reads through visibility like every other reader (the desktop passes OWNER).
    with catalogue.read() as session:
        everything = browse.count(session, BrowseSpec(), today=TODAY)
        anonymous = BrowseSpec(principal=ANONYMOUS)
        public = browse.count(session, anonymous, today=TODAY)
        rows = browse.fetch_after(session, anonymous, None, 1000, today=TODAY)
    assert 0 < public < everything
    assert len(rows) == public
    assert {row.state for row in rows} == {"published"}


def test_rows_carry_the_displayed_values(catalogue: Database) -> None:
    by_pk = {d.pk: d for d in _all(catalogue)}
    with catalogue.read() as session:
        rows = browse.fetch_pks(session, BrowseSpec(), list(by_pk), today=TODAY)
    assert len(rows) == len(by_pk)
    for row in rows:
        d = by_pk[row.pk]
        assert (row.id, row.title, row.sharing, row.team, row.updated_at) == (
            d.id,
            d.title,
            d.sharing,
            d.team,
            d.updated_at,
        )
        assert row.state == display_state(d, TODAY)
        assert row.tags == tuple(d.tags)
        assert row.resources == len(d.resources)
    assert any(r.team_title for r in rows) and any(r.team is None for r in rows)


def test_rank_is_the_row_number(catalogue: Database) -> None:
    spec = BrowseSpec(sort="updated_at", descending=True, search="a")
    expected = _expected(catalogue, spec)
    ids = {d.pk: d.id for d in _all(catalogue)}
    with catalogue.read() as session:
        for position in (0, 1, len(expected) // 2, len(expected) - 1):
            assert browse.rank(session, spec, ids[expected[position]], today=TODAY) == position
        outside = next(pk for pk in ids if pk not in set(expected))
        assert browse.rank(session, spec, ids[outside], today=TODAY) is None


@pytest.mark.parametrize("sort", ["title", "id", "updated_at", "created_at", "team"])
def test_indexed_sorts_walk_an_index_without_sorting(catalogue: Database, sort: str) -> None:
    spec = BrowseSpec(sort=sort)  # type: ignore[arg-type]
    with catalogue.read() as session:
        for key, forward in ((None, True), (("m", 5), True), (("m", 5), False)):
            stmt = browse.window_statement(session, spec, key, 100, forward=forward)
            sql = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
            plan = " ".join(
                str(row[-1])
                for row in session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            )
            assert "INDEX" in plan and "TEMP B-TREE" not in plan, plan
            assert " OFFSET " not in str(sql).replace("OFFSET 0", ""), sql


def test_search_plan_follows_the_density_of_matches(catalogue: Database) -> None:
    with catalogue.read() as session:
        assert browse.prefer_walk(session, BrowseSpec(search="air"))  # about 1 row in 20
        assert not browse.prefer_walk(session, BrowseSpec(search="air"), matches=1)
        assert not browse.prefer_walk(session, BrowseSpec())
        assert not browse.prefer_walk(session, BrowseSpec(search="air", sort="state"))


def test_spec_refuses_unknown_sort_and_state() -> None:
    with pytest.raises(ValueError):
        BrowseSpec(sort="resources")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        BrowseSpec(state="deleted")


def test_an_interrupted_order_load_is_cancelled(catalogue: Database) -> None:
    interrupter = browse.Interrupter()
    interrupter.interrupt()
    with pytest.raises(Cancelled), catalogue.read() as session:
        browse.ordered_pks(session, BrowseSpec(), interrupter=interrupter)
    with catalogue.read() as session:  # the pooled connection still works afterwards
        assert (
            len(browse.ordered_pks(session, BrowseSpec(), interrupter=browse.Interrupter())) == 704
        )
