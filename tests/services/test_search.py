"""One search, the same answers on SQLite (FTS5) and PostgreSQL (tsvector): the desktop table,
CKAN package_search and the export's search scope, case by case."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text

from app.models import Dataset
from app.models.database import Database
from app.models.search_index import fold, words
from app.services import browse, datasets, package_search, search
from app.services.exporting import ExportFormat, ExportRequest, ExportScope, export_catalogue
from app.services.query_language.solr import SolrQueryError
from app.services.visibility import ANONYMOUS, OWNER
from tests.conftest import AUTHOR, make_record
from tests.engines import ENGINES, catalogue_on

# id -> (title, description, tags)
DATASETS: dict[str, tuple[str, str, list[str]]] = {
    "air01": (
        "Air Quality Monitoring",
        "<p>Hourly nitrogen dioxide in the air.</p>",
        ["Environment"],
    ),
    "zur01": ("Zürich Café Survey", "Visitors to CAFÉS, by month.", ["Qualité de l'air"]),
    "bus01": ("Bus Stops", "Locations: see example.com/stops.csv (v2.1)", ["transport"]),
    "und01": ("Footfall_under_scores", "", ["roads"]),
    "msk01": ("Москва Transit", "Αθήνα and ΜΟΣΧΑΣ", []),
}
# search -> the ids it finds
CASES: dict[str, set[str]] = {
    "monitoring": {"air01"},  # title
    "nitrogen": {"air01"},  # description text (not its HTML)
    "environment": {"air01"},  # tag
    "transport": {"bus01"},
    "bus01": {"bus01"},  # id
    "und": {"und01"},  # id prefix, and a word of the title split at "_"
    "air qual": {"air01", "zur01"},  # prefixes, every word required, tags included
    "AIR": {"air01", "zur01"},  # case
    "qualite": {"zur01"},  # an accent in a tag (stored as JSON "\u00e9")
    "zurich": {"zur01"},  # accents folded in the data
    "ZÜRICH café": {"zur01"},  # and in the query
    "cafes": {"zur01"},
    "bus locations": {"bus01"},
    "bus nitrogen": set(),  # all words, not any
    "csv": {"bus01"},  # a word inside example.com/stops.csv
    "example stops": {"bus01"},
    "v2": {"bus01"},
    "scores": {"und01"},
    "москва": {"msk01"},  # Cyrillic, case folded
    "МОСК": {"msk01"},
    "ΑΘΉΝ": {"msk01"},  # Greek, case folded; its accents are kept, as FTS5 keeps them
    "αθηνα": set(),
    "μοσχας": {"msk01"},  # a final sigma is a sigma
    'air" * ^(-:': {"air01", "zur01"},  # typed FTS5 or tsquery syntax is not syntax
    "air OR nowhere": set(),  # OR is a word like any other (but in the desktop's box: DESKTOP)
    "xyz": set(),
    "": set(DATASETS),
    "*:*": set(DATASETS),  # CKAN's "everything": no words
}
# Where the desktop's box differs: it reads seed 003's query language (services.desktop_query).
DESKTOP: dict[str, set[str]] = {"air OR nowhere": {"air01", "zur01"}}
# CKAN's package_search reads its q as Solr's syntax (query_language.solr): where the typed
# text is syntax, it answers otherwise (None: it refuses the query as CKAN does).
PACKAGE_SEARCH: dict[str, set[str] | None] = {
    'air" * ^(-:': None,
    "air OR nowhere": {"air01", "zur01"},
}


def _fill(database: Database) -> None:
    with database.transaction() as session:
        for dataset_id, (title, description, tags) in DATASETS.items():
            record = make_record(id=dataset_id, title=title, description=description, tags=tags)
            datasets.create_dataset(session, record, author=AUTHOR)


@pytest.fixture(scope="module", params=ENGINES)
def catalogue(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with catalogue_on(request.param, tmp_path_factory.mktemp("search"), request) as database:
        _fill(database)
        yield database


def _ids(database: Database, pks: list[int]) -> set[str]:
    with database.read() as session:
        return set(session.scalars(select(Dataset.id).where(Dataset.pk.in_(pks))))


@pytest.mark.parametrize("typed", list(CASES))
def test_every_surface_finds_the_same_datasets(catalogue: Database, typed: str) -> None:
    expected = CASES[typed]
    with catalogue.read() as session:
        query = search.terms(typed)
        matching = session.scalars(select(Dataset.pk).where(search.matches(session, query)))
        assert _ids(catalogue, list(matching)) == expected
        assert search.count(session, query) == len(expected)
        spec = browse.BrowseSpec(search=typed)
        shown = DESKTOP.get(typed, expected)
        assert _ids(catalogue, browse.ordered_pks(session, spec).tolist()) == shown
        assert browse.count(session, spec) == len(shown)
        expected_there = PACKAGE_SEARCH.get(typed, expected)
        if expected_there is None:
            with pytest.raises(SolrQueryError):
                package_search.search(session, OWNER, q=typed, rows=100)
            return
        page = package_search.search(session, OWNER, q=typed, rows=100)
        assert {row.id for row in page.rows} == expected_there
        assert page.count == len(expected_there)


def test_the_export_search_scope_is_the_tables_search(catalogue: Database, tmp_path: Path) -> None:
    out = tmp_path / "found.csv"
    request = ExportRequest(ExportFormat.CSV, out, scope=ExportScope.SEARCH, search="air qual")
    assert export_catalogue(catalogue, request).datasets == 2
    exported = out.read_text(encoding="utf-8")
    assert "air01" in exported and "zur01" in exported and "bus01" not in exported


def test_a_score_sort_ranks_on_both_engines(catalogue: Database) -> None:
    with catalogue.read() as session:
        page = package_search.search(session, OWNER, q="air", sort="score desc, name asc")
        worst_first = package_search.search(session, OWNER, q="air", sort="score asc")
    assert {row.id for row in page.rows} == {"air01", "zur01"}
    # "air" twice (title, description) beats "air" once (a tag), on either engine.
    assert [row.id for row in page.rows] == ["air01", "zur01"]
    assert [row.id for row in worst_first.rows] == ["zur01", "air01"]


def test_the_index_follows_edits_and_deletes(catalogue: Database) -> None:
    with catalogue.transaction() as session:
        datasets.update_dataset(session, "bus01", {"tags": ["Tramways"]}, author=AUTHOR)
    with catalogue.read() as session:
        assert search.count(session, search.terms("tramway")) == 1
        assert search.count(session, search.terms("transport")) == 0
    with catalogue.transaction() as session:
        datasets.update_dataset(session, "bus01", {"tags": ["transport"]}, author=AUTHOR)
    with catalogue.read() as session:
        assert search.count(session, search.terms("tramway")) == 0
        assert search.count(session, search.terms("transport")) == 1


def test_the_desktop_cuts_a_long_query_and_package_search_refuses_it(catalogue: Database) -> None:
    typed = "air " + " ".join(f"w{n}" for n in range(100))  # 100 words in 390 characters
    assert len(search.terms(typed)) == search.MAX_TERMS
    with catalogue.read() as session, pytest.raises(search.QueryTooLong, match="at most 32"):
        package_search.search(session, OWNER, q=typed)
    at_the_limit = " ".join(f"w{n}" for n in range(search.MAX_TERMS))
    repeated = " ".join([at_the_limit] * 3)  # the same words again are not more words
    assert search.query_terms(repeated) == search.terms(at_the_limit)
    with pytest.raises(search.QueryTooLong, match=str(search.MAX_QUERY_LENGTH)):
        search.query_terms("a" * (search.MAX_QUERY_LENGTH + 1))
    with catalogue.read() as session:
        # Words past the cap are not searched: 36 prefixes of air01's words, then one it lacks.
        prefixes = [
            w[:n]
            for w in ("monitoring", "nitrogen", "dioxide", "environment")
            for n in range(1, len(w) + 1)
        ]
        assert len(prefixes) > search.MAX_TERMS
        assert search.count(session, search.terms(" ".join([*prefixes, "nowhere"]))) == 1


def test_sqlite_fts_integrity_after_the_migration(tmp_path: Path) -> None:
    database = Database.open(tmp_path / "c.sqlite")
    _fill(database)
    with database.transaction() as session:
        session.execute(text("INSERT INTO datasets_fts(datasets_fts) VALUES ('integrity-check')"))
        session.execute(text("INSERT INTO datasets_fts(datasets_fts) VALUES ('rebuild')"))
    with database.read() as session:
        assert search.count(session, search.terms("qualite")) == 1
    database.dispose()


# -- the tokenizer ---------------------------------------------------------------------------


def test_terms_are_folded_words_once_each() -> None:
    assert search.terms('Air "qual NEAR(x) *air') == ("air", "qual", "near", "x")
    assert search.terms(" -*^ ") == ()
    assert search.terms("under_score") == ("under", "score")
    assert search.terms("Zürich CAFÉ İstanbul") == ("zurich", "cafe", "istanbul")
    assert fold("Ångström") == "angstrom"
    assert words("a.b/c-d") == ["a", "b", "c", "d"]


def test_query_texts_quote_every_term_as_a_prefix() -> None:
    query = search.terms('air "qual')
    assert search.fts5_query(query) == '"air"* "qual"*'
    assert search.tsquery(query) == "air:* & qual:*"


def test_package_search_runs_the_fts5_match_once(tmp_path: Path) -> None:
    """Not once per dataset row: the plan never probes the FTS5 table by rowid (`=`)."""
    database = Database.open(tmp_path / "c.sqlite")
    _fill(database)
    statements: list[tuple[str, Any]] = []

    def remember(*args: Any) -> None:
        statements.append((args[2], args[3]))  # the SQL and its parameters

    event.listen(database.engine, "before_cursor_execute", remember)
    with database.read() as session:
        for sort in ("score desc, metadata_modified desc", "metadata_modified desc", "name asc"):
            package_search.search(session, ANONYMOUS, q="air qual", sort=sort)
        event.remove(database.engine, "before_cursor_execute", remember)
        searches = [(sql, parameters) for sql, parameters in statements if "MATCH" in sql]
        assert len(searches) == 6  # the count and the page of each
        for sql, parameters in searches:
            plan = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters)
            details = [row[3] for row in plan]
            assert any("datasets_fts" in d for d in details)
            assert not any("VIRTUAL TABLE INDEX 0:=" in d for d in details), details
            # The matches drive: datasets are looked up by pk, never walked whole.
            assert not any(re.match(r"SCAN datasets\b(?!_fts)", d) for d in details), details
            assert any(re.match(r"SEARCH datasets .*(pk|rowid)=", d) for d in details), details
    database.dispose()
