"""The desktop's search box as seed 003's query language (services.desktop_query): the table's
rows, its counts and facets, on SQLite and PostgreSQL; plain words as before; a malformed query
searches its words and says where it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.models.database import Database
from app.services import access, browse, datasets, desktop_query, facets, managed_lists, search
from app.services.browse import BrowseSpec
from app.services.exporting import ExportFormat, ExportRequest, ExportScope, export_catalogue
from tests.conftest import AUTHOR, make_record

OGL = {"url": "https://www.nationalarchives.gov.uk/doc/ogl/3/", "title": "OGL v3"}
CC = {"url": "https://creativecommons.org/licenses/by/4.0/", "title": "CC BY 4.0"}
Row = tuple[str, list[str], list[str], str | None, dict[str, str], str]
ROWS: tuple[Row, ...] = (  # title, tags, topics, team, licence, state
    ("Air quality", ["air", "FOI"], ["env"], "parks", OGL, "published"),
    ("Air traffic", ["air"], [], None, OGL, "draft"),
    ("Tree census", ["trees", "FOI"], ["env", "road"], "parks", OGL, "draft"),
    ("Freedom of information log", ["FOI requests"], ["road"], "roads", OGL, "published"),
    ("Parking fines", [], [], None, CC, "draft"),
)
EVERY = {row[0] for row in ROWS}

# Query -> the titles it finds, against ROWS (every dataset was changed just now: `modified`).
CASES = {
    "air": {"Air quality", "Air traffic"},
    "tag:FOI": {"Air quality", "Tree census", "Freedom of information log"},
    "tag:FOI AND modified >= 2024": {"Air quality", "Tree census", "Freedom of information log"},
    "tag:FOI AND modified < 2024": set(),
    'tag:FOI AND NOT #exact(tag, "FOI")': {"Freedom of information log"},
    "NOT tag:air": {"Tree census", "Freedom of information log", "Parking fines"},
    "air OR trees": {"Air quality", "Air traffic", "Tree census"},
    "(air OR tree) AND topic:environment": {"Air quality", "Tree census"},
    "team:parks": {"Air quality", "Tree census"},
    "#null(team)": {"Air traffic", "Parking fines"},
    'title:"air quality"': {"Air quality"},
    "licence:cc": {"Parking fines"},
    "created:[2020 TO 2024]": set(),
    "created >= 2024/01/01 AND records_count < 1": EVERY,
}


@pytest.fixture
def catalogue(database: Database) -> Database:
    with database.transaction() as session:
        access.create_team(session, "parks", "Parks team")
        access.create_team(session, "roads", "Roads team")
        managed_lists.add_topic(session, "env", "Environment")
        managed_lists.add_topic(session, "road", "Roads and transport")
        for title, tags, topics, team, licence, state in ROWS:
            record = make_record(
                title=title, tags=tags, topics=topics, team=team, licence=licence, state=state
            )
            datasets.create_dataset(session, record, author=AUTHOR)
    return database


def _titles(database: Database, spec: BrowseSpec) -> list[str]:
    with database.read() as session:
        return [row.title for row in browse.fetch_after(session, spec, None, 100)]


def test_the_table_reads_the_query_language(catalogue: Database) -> None:
    for text, expected in CASES.items():
        query = desktop_query.read(text)
        assert query.error is None, text
        spec = BrowseSpec(search=text)
        shown = _titles(catalogue, spec)
        assert set(shown) == expected, text
        assert shown == sorted(shown)  # the table's order (title) whatever the query
        with catalogue.read() as session:
            assert browse.count(session, spec) == len(expected), text
            assert len(browse.ordered_pks(session, spec)) == len(expected), text
            # The facet counts are over the same rows.
            states = {
                value.value: value.count
                for value in facets.facet_counts(session, spec, "state", today="2026-06-01").values
            }
        assert sum(states.values()) == len(expected), text


def test_a_query_combines_with_the_state_filter_and_the_sidebar(catalogue: Database) -> None:
    spec = BrowseSpec(search="tag:FOI", state="published", facets=(("team", "parks"),))
    assert _titles(catalogue, spec) == ["Air quality"]
    with catalogue.read() as session:
        assert browse.count(session, spec) == 1


def test_plain_words_keep_the_search_module_and_its_plans(catalogue: Database) -> None:
    for text in ("air", "Air Qual", "air (qual)", "AIR AND qual", "café zür", ""):
        query = desktop_query.read(text)
        assert query.node is None and query.error is None, text
        assert query.terms == tuple(w for w in search.terms(text) if w != "and"), text
    with catalogue.read() as session:
        plain, field = BrowseSpec(search="air"), BrowseSpec(search="tag:air")
        assert browse.count(session, plain) == search.count(session, ("air",)) == 2
        assert browse.count(session, field) == 2
        # The walk of the sort index is for plain words (SQLite); a field query fetches.
        assert not browse.prefer_walk(session, field)
    assert _titles(catalogue, plain) == _titles(catalogue, field) == ["Air quality", "Air traffic"]


_WORD = st.text(alphabet="abcdeéßz0123456789-'._", min_size=1, max_size=8)


@given(st.lists(_WORD, max_size=40))
def test_any_plain_words_are_the_terms_search_always_read(words: list[str]) -> None:
    text = " ".join(words)
    assert desktop_query.read(text).terms == search.terms(text)


_TOKEN = st.one_of(
    _WORD, st.sampled_from(["AND", "OR", "NOT", "TO", "ANDY", "or", "(", ")", ":", '"', "#x"])
)


# At most 8 tokens of at most 4 words: within the parser's 32 words (past them it refuses the
# query, and the box reads the first 32 words, as it always has).
@given(st.lists(_TOKEN, max_size=8), st.sampled_from([" ", "  ", "\t", ""]))
def test_reading_plain_text_without_the_parser_reads_as_the_parser(
    tokens: list[str], space: str
) -> None:
    text = space.join(tokens)
    assert desktop_query.read(text) == desktop_query.parsed(text)


@pytest.mark.parametrize(
    ("text", "column", "terms"),
    [
        ("air )", 5, ("air",)),
        ("tag:FOI AND (trees", 19, ("tag", "foi", "and", "trees")),
        ("airport:x", 1, ("airport", "x")),
        ('air "quality', 5, ("air", "quality")),
        ("modified >= yesterday", 13, ("modified", "yesterday")),
    ],
)
def test_a_malformed_query_says_where_and_searches_its_words(
    text: str, column: int, terms: tuple[str, ...]
) -> None:
    query = desktop_query.read(text)
    assert query.error is not None
    assert query.error.column == column
    assert f"column {column}" in query.error.message
    assert query.terms == terms == search.terms(text)


def test_malformed_shows_the_plain_word_matches(catalogue: Database) -> None:
    assert _titles(catalogue, BrowseSpec(search="air )")) == ["Air quality", "Air traffic"]


def test_the_sidebar_and_the_query_language_choose_the_same_rows(catalogue: Database) -> None:
    """Each tag, topic, team and licence the sidebar offers, and the query that names the same
    value (#exact on the desktop's field names, or #null for "(none)"), show the same rows."""
    with catalogue.read() as session:
        found = {facet.key: facet for facet in facets.all_facets(session, BrowseSpec())}
    field = {"tag": "tag", "topic": "topic", "team": "team", "licence": "licence"}
    compared = 0
    for key, name in field.items():
        assert found[key].values, key
        for value in found[key].values:
            chosen = _titles(catalogue, BrowseSpec(facets=((key, value.value),)))
            query = f"#null({name})" if value.value == "" else f'#exact({name}, "{value.title}")'
            assert _titles(catalogue, BrowseSpec(search=query)) == chosen, (key, value)
            assert len(chosen) == value.count
            compared += 1
    assert compared >= 10
    # "(none)" is offered for the team, and the licence title is what both read
    assert _titles(catalogue, BrowseSpec(search="#null(team)")) == ["Air traffic", "Parking fines"]
    assert _titles(catalogue, BrowseSpec(search='#exact(licence, "CC BY 4.0")')) == [
        "Parking fines"
    ]


def test_the_exported_search_is_the_tables(catalogue: Database, tmp_path: Path) -> None:
    text = "tag:FOI AND NOT team:roads"
    request = ExportRequest(
        ExportFormat.CSV, tmp_path / "found.csv", scope=ExportScope.SEARCH, search=text
    )
    result = export_catalogue(catalogue, request)
    assert result.datasets == len(_titles(catalogue, BrowseSpec(search=text))) == 2
