"""Seed 003's query language and dataset search against a Python oracle (tests/query_oracle), on
SQLite and PostgreSQL: every example of the seed that applies to datasets, a few hundred
generated queries, facet counts with refine, exclude and disjunctive, and paging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from app.models.database import Database
from app.services.dataset_search.facets import FacetGroup
from app.services.dataset_search.request import SearchRequest, read_request
from app.services.dataset_search.search import search_datasets
from app.services.export_query import InvalidQuery
from app.services.query_language.syntax import QuerySyntaxError, parse
from app.services.query_language.to_sql import QueryContext
from app.services.visibility import OWNER
from tests import query_oracle as oracle
from tests.engines import ENGINES, catalogue_on
from tests.services.search_catalogue import (
    DESCRIPTION_WORDS,
    LICENCES,
    TAGS,
    TEAMS,
    TITLE_WORDS,
    TOPICS,
    build,
)

NOW = datetime(2025, 6, 15, 12, 30)
CONTEXT = QueryContext(now=NOW)


class Catalogue:
    def __init__(self, database: Database, docs: list[oracle.Doc]) -> None:
        self.database = database
        self.docs = docs

    def search(self, request: SearchRequest) -> tuple[int, list[str], dict[str, FacetGroup]]:
        with self.database.read() as session:
            result = search_datasets(session, OWNER, request, CONTEXT)
        groups = {group.name: group for group in result.groups}
        return result.nhits, [row.id for row in result.rows], groups

    def ids(self, q: str) -> set[str]:
        nhits, ids, _groups = self.search(SearchRequest(q=q, rows=1000))
        assert nhits == len(ids)
        return set(ids)

    def expected(self, q: str) -> set[str]:
        return oracle.select(parse(q), self.docs, NOW)


@pytest.fixture(scope="module", params=ENGINES)
def catalogue(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Catalogue]:
    folder = tmp_path_factory.mktemp("search")
    with catalogue_on(request.param, folder, request) as database:
        yield Catalogue(database, build(database))


# Every query of seed 003 that applies to datasets (its record examples on our fields: a
# film_date is a date field, film_box_office a number), with the values of this catalogue.
SEED_EXAMPLES = [
    "film",
    '"film"',
    "film OR trees",
    "(film OR trees) AND paris",
    "(title:paris OR description:paris) AND records_count >= 2",
    "modified >= 2022",
    "modified >= 2023/02/11",
    "created: [1950 TO 2000]",
    "records_count > 2 AND created < 2005",
    "modified <= #now()",
    "#null(theme)",
    '#exact(title, "Marie Curie")',
    '#search(title, "Jean-C")',
    '#startswith(title, "Mar")',
    "modified > #now(years=-1, hours=-1)",
    "modified > #now(year=2021)",
    "modified > #now(weeks=-2, weekday=1)",
    "modified < #now(weekday=MO(2))",
    '#search(title, description, "Jean")',
    '#search(*, "Jean")',
    "modified >= 2023-05-01T10:00:00",
    "modified >= 2023-05-01T10:00:00+02:00",
    "publisher:archives",
    "theme:environment",
    "keyword:FOI",
    "language:en",
    "license:ogl",
    "NOT film",
    "film trees",
]


@pytest.mark.parametrize("q", SEED_EXAMPLES)
def test_seed_examples_agree_with_the_oracle(catalogue: Catalogue, q: str) -> None:
    assert catalogue.ids(q) == catalogue.expected(q)


def test_the_seed_examples_find_something(catalogue: Catalogue) -> None:
    """The table above tests something: most examples select some datasets but not all."""
    selective = [q for q in SEED_EXAMPLES if 0 < len(catalogue.expected(q)) < len(catalogue.docs)]
    assert len(selective) >= len(SEED_EXAMPLES) * 3 // 4


# -- generated queries ------------------------------------------------------------------------

_WORDS = sorted({w for t in (*TITLE_WORDS, *DESCRIPTION_WORDS, *TAGS) for w in t.split()})
word = st.sampled_from(_WORDS).flatmap(
    lambda w: st.integers(1, len(w)).map(lambda n: w[:n])  # a word or its beginning
)
phrase = st.sampled_from([*TITLE_WORDS, *TAGS]).flatmap(
    lambda t: st.sampled_from(
        [" ".join(t.split()[i : i + 2]) for i in range(max(1, len(t.split()) - 1))]
    )
)
quoted = phrase.map(lambda p: f'"{p}"')
text_field = st.sampled_from(
    ["title", "description", "keyword", "theme", "publisher", "license", "tag", "datasetid"]
)
year = st.integers(1994, 2027).map(str)
month = st.tuples(st.integers(1994, 2027), st.integers(1, 12)).map(lambda t: f"{t[0]}/{t[1]:02d}")
day = st.tuples(st.integers(2018, 2027), st.integers(1, 12), st.integers(1, 28)).map(
    lambda t: f"{t[0]}/{t[1]:02d}/{t[2]:02d}"
)
date = st.one_of(year, month, day)
date_field = st.sampled_from(["modified", "created", "issued"])
op = st.sampled_from([">", ">=", "<", "<=", ":"])
label = st.sampled_from([*TAGS, *TOPICS.values(), *TEAMS.values(), *LICENCES, "en"])
now_value = st.sampled_from(
    ["#now()", "#now(years=-1)", "#now(months=-6, days=2)", "#now(year=2022)", "#now(weekday=FR)"]
)

term = st.one_of(
    word,
    quoted,
    st.tuples(text_field, word).map(lambda t: f"{t[0]}:{t[1]}"),
    st.tuples(text_field, quoted).map(lambda t: f"{t[0]}:{t[1]}"),
    st.tuples(date_field, op, date).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
    st.tuples(date_field, st.sampled_from([">", "<="]), now_value).map(" ".join),
    st.tuples(st.sampled_from([">", ">=", "<", "<=", "="]), st.integers(0, 4)).map(
        lambda t: f"records_count {t[0]} {t[1]}"
    ),
    st.tuples(date_field, date, date).map(lambda t: f"{t[0]}:[{t[1]} TO {t[2]}]"),
    st.sampled_from(["keyword", "theme", "publisher", "license", "description"]).map(
        lambda f: f"#null({f})"
    ),
    st.tuples(st.sampled_from(["keyword", "theme", "publisher", "license"]), label).map(
        lambda t: f'#exact({t[0]}, "{t[1]}")'
    ),
    st.tuples(st.sampled_from(["title", "keyword", "publisher"]), st.sampled_from(_WORDS)).map(
        lambda t: f'#startswith({t[0]}, "{t[1][:3]}")'
    ),
    st.tuples(st.sampled_from(["title", "description", "*"]), phrase).map(
        lambda t: f'#search({t[0]}, "{t[1][:-1]}")'
    ),
)
query = st.recursive(
    term,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"{t[0]} AND {t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]} OR {t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]} {t[1]}"),
        inner.map(lambda q: f"NOT {q}"),
        inner.map(lambda q: f"({q})"),
    ),
    max_leaves=6,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=query)
def test_generated_queries_agree_with_the_oracle(catalogue: Catalogue, q: str) -> None:
    try:
        expected = catalogue.expected(q)
    except QuerySyntaxError:  # e.g. a generated range with its ends the wrong way is fine;
        return  # only MAX_WORDS can refuse a generated query, and the service then refuses too
    assert catalogue.ids(q) == expected, q


# -- facets -----------------------------------------------------------------------------------

FACETS = ("keyword", "theme", "publisher", "license", "modified", "created", "language")


def _values(catalogue: Catalogue, facet: str) -> list[str]:
    return sorted({v for d in catalogue.docs for v in oracle.facet_values(d, facet)})


@st.composite
def choices(draw: st.DrawFn, catalogue: Catalogue) -> oracle.Choices:
    picked: list[tuple[str, str]] = []
    excluded: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(0, 3))):
        facet = draw(st.sampled_from(FACETS))
        value = draw(st.sampled_from(_values(catalogue, facet)))
        (picked if draw(st.booleans()) else excluded).append((facet, value))
    disjunctive = draw(st.frozensets(st.sampled_from(FACETS), max_size=2))
    return oracle.Choices(tuple(picked), tuple(excluded), disjunctive)


def _request(q: str, chosen: oracle.Choices, facets: tuple[str, ...]) -> SearchRequest:
    params = [("q", q), ("rows", "1000"), *(("facet", f) for f in facets)]
    params += [(f"refine.{f}", v) for f, v in chosen.refine]
    params += [(f"exclude.{f}", v) for f, v in chosen.exclude]
    params += [(f"disjunctive.{f}", "true") for f in chosen.disjunctive]
    return read_request(params)


def _check_facets(catalogue: Catalogue, q: str, chosen: oracle.Choices) -> None:
    matching = [d for d in catalogue.docs if oracle.evaluate(parse(q), d, NOW)]
    nhits, ids, groups = catalogue.search(_request(q, chosen, FACETS))
    expected = {d.id for d in matching if oracle.chosen(d, chosen, leave_out=None, excluding=True)}
    assert set(ids) == expected and nhits == len(expected)
    for facet in FACETS:
        want = oracle.facet_counts(matching, facet, chosen)
        group = groups.get(facet)
        got = {v.path: (v.count, v.state) for v in group.facets} if group else {}
        assert got == want, facet


@pytest.mark.parametrize(
    ("q", "chosen"),
    [
        ("", oracle.Choices()),
        ("", oracle.Choices(refine=(("modified", "2020"),))),  # the seed's refine.modified=2020
        ("", oracle.Choices(exclude=(("modified", "2020"),))),  # exclude.modified=2020
        ("", oracle.Choices(refine=(("modified", "2020"), ("modified", "2021")))),  # none
        (
            "",
            oracle.Choices(
                refine=(("modified", "2020"), ("modified", "2021")),
                disjunctive=frozenset({"modified"}),
            ),
        ),
        ("", oracle.Choices(refine=(("language", "en"), ("modified", "2021/01")))),
        ("", oracle.Choices(exclude=(("publisher", "Archives"),))),
        ("film OR paris", oracle.Choices(refine=(("keyword", "FOI"),))),
    ],
)
def test_seed_facet_examples(catalogue: Catalogue, q: str, chosen: oracle.Choices) -> None:
    _check_facets(catalogue, q, chosen)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), q=st.one_of(st.just(""), term))
def test_facet_counts_agree_with_the_oracle(
    catalogue: Catalogue, data: st.DataObject, q: str
) -> None:
    _check_facets(catalogue, q, data.draw(choices(catalogue)))


def test_refined_dates_open_their_months_and_days(catalogue: Catalogue) -> None:
    moment = catalogue.docs[0].modified
    month = f"{moment.year}/{moment.month:02d}"
    _nhits, _ids, groups = catalogue.search(
        read_request([("facet", "modified"), ("refine.modified", month)])
    )
    (year,) = groups["modified"].facets
    assert (year.path, year.state) == (str(moment.year), "refined")
    (opened,) = year.facets
    assert (opened.name, opened.path, opened.state) == (f"{moment.month:02d}", month, "refined")
    in_month = [
        d
        for d in catalogue.docs
        if (d.modified.year, d.modified.month) == (moment.year, moment.month)
    ]
    days = {f"{month}/{d.modified.day:02d}" for d in in_month}
    assert {day.path for day in opened.facets} == days
    assert sum(day.count for day in opened.facets) == len(in_month) == opened.count
    assert all(day.state == "displayed" for day in opened.facets)


# -- paging -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sort", ["", "modified", "-modified", "records_count", "-title", "created"]
)
@pytest.mark.parametrize("rows", [1, 7, 10])
def test_paging_returns_every_dataset_once(catalogue: Catalogue, sort: str, rows: int) -> None:
    seen: list[str] = []
    start = 0
    while True:
        params = [("q", "NOT zzz"), ("rows", str(rows)), ("start", str(start))]
        if sort:
            params.append(("sort", sort))
        nhits, ids, _groups = catalogue.search(read_request(params))
        if not ids:
            break
        seen.extend(ids)
        start += rows
    assert nhits == len(catalogue.docs)
    assert sorted(seen) == sorted(d.id for d in catalogue.docs)


def test_on_sqlite_words_and_date_pages_read_the_filters_index(catalogue: Catalogue) -> None:
    sent: list[str] = []

    def note(*args: Any) -> None:
        sent.append(args[2])

    event.listen(catalogue.database.engine, "after_cursor_execute", note)
    try:
        found = catalogue.ids("film")
    finally:
        event.remove(catalogue.database.engine, "after_cursor_execute", note)
    assert found == catalogue.expected("film") and found
    through = [sql for sql in sent if "INDEXED BY ix_datasets_search_filters" in sql]
    if not catalogue.database.is_sqlite:
        assert through == []  # PostgreSQL plans for itself: the option is ignored there
        return
    # The hits (from the full-text index) and the page (by the default sort, `modified`).
    assert len(through) == 2, sent
    assert "JOIN datasets INDEXED BY" in through[0] and "datasets_fts MATCH" in through[0]


def test_sort_is_descending_unless_minus(catalogue: Catalogue) -> None:
    _n, newest_first, _g = catalogue.search(read_request([("sort", "modified"), ("rows", "100")]))
    _n, oldest_first, _g = catalogue.search(read_request([("sort", "-modified"), ("rows", "100")]))
    by_id = {d.id: d for d in catalogue.docs}
    stamps = [by_id[i].modified for i in newest_first]
    assert stamps == sorted(stamps, reverse=True)
    assert [by_id[i].modified for i in oldest_first] == sorted(stamps)


# -- bad requests -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("facet", "colour")], "Unknown facet 'colour'"),
        ([("refine.colour", "red")], "Unknown facet 'colour'"),
        ([("sort", "description")], "Cannot sort by 'description'"),
        ([("rows", "10001")], "rows must be a whole number from 0 to 10000"),
        ([("start", "-1")], "start must be a whole number"),
        ([("disjunctive.theme", "maybe")], "true or false"),
        ([("refine.theme", "x")] * 65, "At most 64 refine and exclude values"),
    ],
)
def test_bad_parameters_say_what_is_wrong(params: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        read_request(params)
