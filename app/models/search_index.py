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
  Its text is folded in SQL by the steps of `fold` (`_sql_fold`: normalize, regexp_replace and
  translate, with the tables made here), so PostgreSQL needs no `unaccent` extension; the
  `simple` configuration then lowers and splits words that are already folded.

PostgreSQL needs a UTF-8 database (for normalize()); its `simple` configuration lowers letters
by the database's LC_CTYPE, so a "C" ctype lowers ASCII letters only (initdb's usual UTF-8
locales lower all).

Changing `fold` or `WORD` changes what the indexes hold: it needs a migration that rebuilds
them (0007 made them).
"""

from __future__ import annotations

import functools
import re
import unicodedata

WORD = re.compile(r"[^\W_]+")
# Variant letter forms as their plain letter, as FTS5 folds them: final sigma, micro sign, long
# s... (casefold, where it gives one letter other than lower(): "ß" stays).
_VARIANTS = {
    char: char.casefold()
    for first, last in ((0x00, 0x24F), (0x370, 0x52F), (0x1E00, 0x1FFF))
    for char in map(chr, range(first, last + 1))
    if char == char.lower() and len(char.casefold()) == 1 and char.casefold() != char
}
_VARIANT_TABLE = str.maketrans(_VARIANTS)
# Accents of Latin letters: the marks that follow an ASCII letter once decomposed (Vietnamese
# letters carry two). Other scripts keep theirs, as FTS5's remove_diacritics keeps them.
_LATIN_ACCENTS = re.compile("([A-Za-z])[\u0300-\u036f]+")
_SQL_LATIN_ACCENTS = r"'([A-Za-z])[\u0300-\u036F]+'"


def _sql_separators() -> str:
    """A PostgreSQL regex bracket of every character WORD does not take for a letter or digit
    (PostgreSQL's parser would read ASCII punctuation as part of a URL, a host or a version
    number, and combining marks or circled letters as letters)."""
    ranges: list[tuple[int, int]] = []
    for code in range(1, 0x110000):
        if 0xD800 <= code <= 0xDFFF or WORD.match(chr(code)):
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))

    def escaped(code: int) -> str:
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"

    return "[" + "".join(f"{escaped(a)}-{escaped(b)}" for a, b in ranges) + "]+"


def fold(text: str) -> str:
    """Lower case, Latin letters without accents: 'Zürich CAFÉ Straße' -> 'zurich cafe straße'.

    `_sql_fold` takes the same steps in PostgreSQL: keep them in step."""
    plain = text.lower().translate(_VARIANT_TABLE)
    decomposed = unicodedata.normalize("NFD", plain)
    return unicodedata.normalize("NFC", _LATIN_ACCENTS.sub(r"\1", decomposed))


def words(text: str) -> list[str]:
    """The folded words of `text`, in order, repeats kept."""
    return WORD.findall(fold(text))


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_fold(document: str) -> str:
    """`fold` of `document` (SQL text) in PostgreSQL, and what WORD separates made spaces; the
    `simple` configuration then lowers the words."""
    variant, plain = _sql_string("".join(_VARIANTS)), _sql_string("".join(_VARIANTS.values()))
    variants = f"translate({document}, {variant}, {plain})"
    accents = f"regexp_replace(normalize({variants}, NFD), {_SQL_LATIN_ACCENTS}, '\\1', 'g')"
    separators = _sql_string(_sql_separators())
    return f"regexp_replace(normalize({accents}, NFC), {separators}, ' ', 'g')"


SEARCH_VECTOR = "search_vector"
SEARCH_VECTOR_INDEX = "ix_datasets_search_vector"
_DOCUMENT = """coalesce(id, '') || ' ' || coalesce(title, '') || ' '
    || coalesce(description_text, '') || ' '
    || CASE WHEN json_typeof(tags) = 'array' THEN coalesce(
        (SELECT string_agg(value, ' ') FROM json_array_elements_text(tags)), '') ELSE '' END"""


@functools.cache
def postgresql_create() -> list[str]:
    """The PostgreSQL index's statements. Made on first use: the folding tables cover every
    code point, about half a second to build, which no SQLite catalogue should pay."""
    return [
        # The document: id, title, description text and the tags' values, folded. IMMUTABLE, so a
        # generated column may use it; json_typeof guards a tags value that is not a list.
        f"""CREATE FUNCTION catalogue_search_document(
            id text, title text, description_text text, tags json
        ) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT to_tsvector('simple'::regconfig, {_sql_fold(_DOCUMENT)})
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


# The whole index made again from the content view.
SQLITE_REBUILD = "INSERT INTO datasets_fts(datasets_fts) VALUES ('rebuild')"
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
    SQLITE_REBUILD,
]
# A bulk write's way round the insert trigger: FTS5 flushes its pending terms at the end of
# every statement, so one trigger-fed row per statement leaves one tiny index segment per
# dataset to be merged later (four times the cost of the rows themselves). The batch write
# path (services.new_datasets) drops the trigger inside its transaction, inserts a batch, then
# indexes the batch's rows in one statement from the same view a rebuild reads, and puts the
# trigger back before the transaction ends. The `?` is a JSON list of the batch's pks.
SQLITE_INSERT_TRIGGER = "datasets_fts_ai"
SQLITE_INDEX_ROWS = f"""INSERT INTO datasets_fts({_SQLITE_COLUMNS})
    SELECT pk, id, title, description_text, tags FROM datasets_fts_content
    WHERE pk IN (SELECT value FROM json_each(?))"""
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS datasets_fts_ai",
    "DROP TRIGGER IF EXISTS datasets_fts_ad",
    "DROP TRIGGER IF EXISTS datasets_fts_au",
    "DROP TABLE IF EXISTS datasets_fts",
    "DROP VIEW IF EXISTS datasets_fts_content",
]
