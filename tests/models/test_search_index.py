"""The one tokenizer and the two indexes agree, character by character, and migration 0007
indexes a catalogue that existed before it (and steps back to 0001's index)."""

from __future__ import annotations

import sqlite3
import unicodedata
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from app.models.database import MIGRATIONS_DIR, Database
from app.models.search_index import FTS5_TOKENIZER, fold, words
from app.services import datasets, search
from tests.conftest import AUTHOR, make_record
from tests.postgres import fresh_database

# Latin, Greek, Cyrillic, Latin and Greek extended, punctuation and symbols.
BLOCKS = ((0x20, 0x24F), (0x370, 0x52F), (0x1E00, 0x1FFF), (0x2000, 0x2BFF))
# "a" + each character + "b": the words around it, or the word it belongs to.
SAMPLES = [
    f"a{chr(code)}b"
    for first, last in BLOCKS
    for code in range(first, last + 1)
    if unicodedata.category(chr(code)) not in ("Cn", "Cs")
]
# FTS5's tables are Unicode 6.1's: a character assigned later is a letter to it whatever it is.
# Those assigned by Unicode 3.2 (the oldest table Python keeps) are compared.
SAMPLES_FTS5 = [s for s in SAMPLES if unicodedata.ucd_3_2_0.category(s[1]) != "Cn"]


def test_fts5_reads_every_character_as_words_does() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize='{FTS5_TOKENIZER}')")
    connection.execute("CREATE VIRTUAL TABLE terms USING fts5vocab(t, 'instance')")
    connection.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)", enumerate(SAMPLES_FTS5))
    indexed: dict[int, list[str]] = {}
    for term, row in connection.execute("SELECT term, doc FROM terms ORDER BY doc, offset"):
        indexed.setdefault(row, []).append(term)
    differ = [
        s
        for row, s in enumerate(SAMPLES_FTS5)
        # NFC: FTS5 keeps canonically equal forms apart (Greek oxia and tonos), `fold` does not.
        if words(s) != [unicodedata.normalize("NFC", term) for term in indexed.get(row, [])]
    ]
    # The one Latin letter FTS5 keeps with both its marks, where `fold` takes them off.
    assert differ == ["aǠb", "aǡb"]
    assert len(SAMPLES_FTS5) > 2000


def test_postgresql_reads_every_character_as_words_does(pg_database: Database) -> None:
    with pg_database.read() as session:
        found = session.execute(
            text(
                "SELECT s, tsvector_to_array(catalogue_search_document('', s, '', '[]'::json))"
                " FROM unnest(CAST(:samples AS text[])) AS s"
            ),
            {"samples": SAMPLES},
        ).all()
    differ = [s for s, lexemes in found if sorted(set(words(s))) != sorted(lexemes)]
    # Other numbers (², ½, ①: category No) are letters to FTS5 and Python, separators to
    # PostgreSQL's parser: "co₂" is found by "co" on both, by "co₂" only on SQLite.
    assert [s for s in differ if unicodedata.category(s[1]) != "No"] == []
    assert "a²b" in differ  # the comparison can fail


def test_fold() -> None:
    assert fold("Zürich CAFÉ Straße İzmir") == "zurich cafe straße izmir"
    assert fold("ΑΘΉΝΑ μοσχας") == "αθήνα μοσχασ"  # Greek keeps its accents
    assert words("e\u0301te\u0301 a.b/c_d") == ["ete", "a", "b", "c", "d"]


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _catalogue_before_0007(database: Database) -> None:
    """Written by today's services at head, then stepped back to 0006 (a dataset written
    through the ORM into the 0006 schema would not have 0006's columns)."""
    _migrate(database.engine, "head")
    with database.transaction() as session:
        record = make_record(id="qa001", title="Survey", tags=["Qualité de l'air"])
        datasets.create_dataset(session, record, author=AUTHOR)
    _migrate(database.engine, "0006_history_by_dataset_id", down=True)


def _finds(database: Database, typed: str) -> int:
    with database.read() as session:
        return search.count(session, search.terms(typed))


def test_0007_indexes_an_existing_sqlite_catalogue_and_steps_back(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'old.sqlite'}")
    _catalogue_before_0007(database)
    assert _finds(database, "qualite") == 0  # 0001 indexed the JSON text "Qualit\u00e9"
    _migrate(database.engine, "head")
    assert (_finds(database, "qualite"), _finds(database, "qa001")) == (1, 1)
    _migrate(database.engine, "0006_history_by_dataset_id", down=True)
    assert (_finds(database, "survey"), _finds(database, "qa001")) == (1, 0)
    database.dispose()


def test_0007_indexes_an_existing_postgresql_catalogue(pg_server: str) -> None:
    with fresh_database(pg_server, migrated=False) as database:
        _catalogue_before_0007(database)
        _migrate(database.engine, "head")
        assert (_finds(database, "qualite"), _finds(database, "qa001")) == (1, 1)
        _migrate(database.engine, "0006_history_by_dataset_id", down=True)
        with database.read() as session:
            columns = session.execute(
                text("SELECT column_name FROM information_schema.columns WHERE table_name = :t"),
                {"t": "datasets"},
            ).scalars()
            assert "search_vector" not in set(columns)
