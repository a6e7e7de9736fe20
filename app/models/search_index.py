"""The search index on each engine, and the one tokenizer both agree with.

A dataset is found by its id, title, description text and tags. A word is a run of letters and
digits (`_` and everything else separate), folded: lower case, Latin letters without accents.
`words` is that rule in Python; services.search builds every query from it, and the indexes
store the same words:

* SQLite: an external-content FTS5 table, `datasets_fts`, kept by triggers. Its tokenizer
  (unicode61, remove_diacritics 2) folds as `fold` does (tests/models/test_search_index.py
  compares them character by character). Tags are indexed as their values, not
  as the JSON text (which escapes "é" as "\\u00e9"): the content is the view
  `datasets_fts_content`, so a rebuild and the triggers see the same text.
* PostgreSQL: a stored generated `tsvector` column, `datasets.search_vector`, with a GIN index.
  Its text is folded in SQL by `translate` with a table made from `fold` itself (SQL_FOLD), so
  PostgreSQL needs no `unaccent` extension, and the `simple` configuration then only splits
  words that are already folded.

Changing `fold` or `WORD` changes what the indexes hold: it needs a migration that rebuilds
them (0007 made them).
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[^\W_]+")
# Latin letters whose accents are dropped, as FTS5's remove_diacritics does (Greek and Cyrillic
# keep theirs there, so they keep them here: both engines must hold the same words).
_LATIN_BLOCKS = ((0x00, 0x24F), (0x1E00, 0x1EFF))
_CASED_BLOCKS = ((0x00, 0x24F), (0x370, 0x52F), (0x1E00, 0x1FFF))  # Latin, Greek, Cyrillic
# Latin letters FTS5 keeps whole: a mark on æ, ø or ʒ, or two marks one of which is a dot.
_FTS5_KEEPS = frozenset("ǠǡǢǣǮǯǼǽǾǿ")
# Blocks whose characters SQL_FOLD maps on PostgreSQL: Latin, combining marks, Greek, Cyrillic,
# Latin and Greek extended, punctuation and symbols. Outside them PostgreSQL's own lower() and
# parser apply.
_SQL_BLOCKS = (
    (0x01, 0x24F),
    (0x300, 0x36F),
    (0x370, 0x52F),
    (0x1E00, 0x1FFF),
    (0x2000, 0x2BFF),
)


def _fold_table() -> dict[int, str | None]:
    """str.translate's table after lower(): a Latin letter without its marks, a variant form as
    its plain letter (final sigma, micro sign, long s: casefold where that is one letter, so
    "ß" stays), and the marks those letters carry dropped when they stand alone."""
    table: dict[int, str | None] = {}
    marks: set[str] = set()
    for first, last in _CASED_BLOCKS:
        for code in range(first, last + 1):
            char = chr(code)
            folded = char.casefold() if len(char.casefold()) == 1 else char
            latin = any(low <= code <= high for low, high in _LATIN_BLOCKS)
            if latin and char not in _FTS5_KEEPS:
                decomposed = unicodedata.normalize("NFD", folded)
                marks.update(c for c in decomposed if unicodedata.combining(c))
                folded = "".join(c for c in decomposed if not unicodedata.combining(c))
            if folded != char:
                table[code] = folded
    table.update(dict.fromkeys(map(ord, marks)))
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Lower case, Latin letters without accents: 'Zürich CAFÉ Straße' -> 'zurich cafe straße'."""
    return text.lower().translate(_FOLD)


def words(text: str) -> list[str]:
    """The folded words of `text`, in order, repeats kept."""
    return WORD.findall(fold(text))


def _sql_fold_table() -> tuple[str, str]:
    """(from, to) for SQL's translate(): each character of the blocks as `fold` and `WORD` see
    it: a separator becomes a space, a letter its folded letter, a lone combining mark nothing
    (translate drops the characters of `from` past the end of `to`)."""
    sources: list[str] = []
    targets: list[str] = []
    dropped: list[str] = []
    for first, last in _SQL_BLOCKS:
        for code in range(first, last + 1):
            char = chr(code)
            if unicodedata.category(char) == "Cs":
                continue
            folded = fold(char)
            if not folded:
                dropped.append(char)
            elif not WORD.fullmatch(folded):
                sources.append(char)
                targets.append(" ")
            elif len(folded) == 1 and folded != char:
                sources.append(char)
                targets.append(folded)
    return "".join(sources + dropped), "".join(targets)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


SEARCH_VECTOR = "search_vector"
SEARCH_VECTOR_INDEX = "ix_datasets_search_vector"
_FROM, _TO = _sql_fold_table()

POSTGRESQL_CREATE = [
    # The document: id, title, description text and the tags' values, folded. IMMUTABLE, so a
    # generated column may use it; json_typeof guards a tags value that is not a list.
    f"""CREATE FUNCTION catalogue_search_document(
        id text, title text, description_text text, tags json
    ) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT to_tsvector('simple'::regconfig, translate(
            coalesce(id, '') || ' ' || coalesce(title, '') || ' '
            || coalesce(description_text, '') || ' '
            || CASE WHEN json_typeof(tags) = 'array' THEN coalesce(
                (SELECT string_agg(value, ' ') FROM json_array_elements_text(tags)), '')
               ELSE '' END,
            {_sql_string(_FROM)}, {_sql_string(_TO)}))
    $$""",
    f"""ALTER TABLE datasets ADD COLUMN {SEARCH_VECTOR} tsvector GENERATED ALWAYS AS (
        catalogue_search_document(id, title, description_text, tags)) STORED""",
    f"CREATE INDEX {SEARCH_VECTOR_INDEX} ON datasets USING gin ({SEARCH_VECTOR})",
]
POSTGRESQL_DROP = [
    f"DROP INDEX IF EXISTS {SEARCH_VECTOR_INDEX}",
    f"ALTER TABLE datasets DROP COLUMN IF EXISTS {SEARCH_VECTOR}",
    "DROP FUNCTION IF EXISTS catalogue_search_document(text, text, text, json)",
]

FTS5_TOKENIZER = "unicode61 remove_diacritics 2"
# The tags' values, space-separated, as the FTS5 index holds them (`row` is new, old or
# datasets). A counter rather than json_each, which FTS5 cannot read a view through ("SQL logic
# error" on 'rebuild' and 'integrity-check').
_SQLITE_TAGS = """(WITH RECURSIVE n(i) AS (
        SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < json_array_length({row}.tags))
    SELECT group_concat(json_extract({row}.tags, '$[' || i || ']'), ' ') FROM n)"""
_SQLITE_COLUMNS = "rowid, id, title, description_text, tags"


def _sqlite_values(row: str) -> str:
    tags = _SQLITE_TAGS.format(row=row)
    return f"{row}.pk, {row}.id, {row}.title, {row}.description_text, {tags}"


SQLITE_CREATE = [
    f"""CREATE VIEW datasets_fts_content AS
        SELECT pk, id, title, description_text, {_SQLITE_TAGS.format(row="datasets")} AS tags
        FROM datasets""",
    f"""CREATE VIRTUAL TABLE datasets_fts USING fts5(
        id, title, description_text, tags,
        content='datasets_fts_content', content_rowid='pk',
        tokenize='{FTS5_TOKENIZER}')""",
    f"""CREATE TRIGGER datasets_fts_ai AFTER INSERT ON datasets BEGIN
        INSERT INTO datasets_fts({_SQLITE_COLUMNS}) VALUES ({_sqlite_values("new")});
    END""",
    f"""CREATE TRIGGER datasets_fts_ad AFTER DELETE ON datasets BEGIN
        INSERT INTO datasets_fts(datasets_fts, {_SQLITE_COLUMNS})
        VALUES ('delete', {_sqlite_values("old")});
    END""",
    f"""CREATE TRIGGER datasets_fts_au AFTER UPDATE OF id, title, description_text, tags
    ON datasets BEGIN
        INSERT INTO datasets_fts(datasets_fts, {_SQLITE_COLUMNS})
        VALUES ('delete', {_sqlite_values("old")});
        INSERT INTO datasets_fts({_SQLITE_COLUMNS}) VALUES ({_sqlite_values("new")});
    END""",
    "INSERT INTO datasets_fts(datasets_fts) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS datasets_fts_ai",
    "DROP TRIGGER IF EXISTS datasets_fts_ad",
    "DROP TRIGGER IF EXISTS datasets_fts_au",
    "DROP TABLE IF EXISTS datasets_fts",
    "DROP VIEW IF EXISTS datasets_fts_content",
]
