"""One search for every surface: the desktop table (services.browse), CKAN `package_search`
(services.export_query) and the export's "search" scope.

What the person types becomes `terms`: the folded words of `search_index.words` (the one
tokenizer), each once, at most MAX_TERMS. The desktop box reads the first MAX_TERMS words of
what is typed; a query from outside (CKAN `package_search`) goes through `query_terms`, which
refuses a longer one (QueryTooLong, a 400 naming the limit) rather than answer another question
than was asked, and refuses text over MAX_QUERY_LENGTH before reading it, so that a pasted page
of text cannot tie the server up.

A dataset matches when every term begins one of the words of its id, title, description text or
tags: `air qual` finds "Air Quality", `zur` finds "Zürich", `cafe` finds "café".
Prefixes rather than whole words everywhere: the desktop has always worked so, and Solr's
stemming (CKAN's own search) is closer to a prefix than to an exact word.

Typed text is never query syntax: on SQLite each term is a quoted FTS5 string with a prefix
star; on PostgreSQL a tsquery `term:* & ...` of terms that are letters and digits only. Reads
are not filtered by who may see what: callers add `visibility.visible_clause`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnClause

from app.models import Dataset
from app.models.search_index import SEARCH_VECTOR, words
from app.services.errors import CatalogueError

MAX_TERMS = 32
# Characters of a query from outside: 32 long words and their spaces fit easily.
MAX_QUERY_LENGTH = 1000
AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])

_FTS = table("datasets_fts", column("rowid"), column("rank"))
_FTS_TABLE: ColumnClause[Any] = literal_column("datasets_fts")
_VECTOR: ColumnClause[Any] = literal_column(f"datasets.{SEARCH_VECTOR}")
_SIMPLE: ColumnClause[Any] = literal_column("'simple'::regconfig")


def terms(text: str) -> tuple[str, ...]:
    """The search terms of `text`: its folded words, each once, in order, at most MAX_TERMS.

    'Air "qual* NEAR(x) air' -> ('air', 'qual', 'near', 'x'); nothing to search -> ().
    """
    return tuple(dict.fromkeys(words(text)))[:MAX_TERMS]


class QueryTooLong(CatalogueError):
    """A search with more words or characters than a query may hold."""

    code = "query_too_long"


def query_terms(text: str) -> tuple[str, ...]:
    """`terms(text)` for a query from outside: QueryTooLong, naming the limit, if `text` is
    longer than MAX_QUERY_LENGTH characters or holds more than MAX_TERMS different words."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryTooLong(
            f"A search may be at most {MAX_QUERY_LENGTH} characters long; this one has {len(text)}"
        )
    found = tuple(dict.fromkeys(words(text)))
    if len(found) > MAX_TERMS:
        raise QueryTooLong(
            f"A search may hold at most {MAX_TERMS} different words; this one has {len(found)}"
        )
    return found


def fts5_query(query: tuple[str, ...]) -> str:
    """`query` as an FTS5 expression: every term quoted and a prefix, all required."""
    return " ".join(f'"{term}"*' for term in query)


def tsquery(query: tuple[str, ...]) -> str:
    """`query` as PostgreSQL to_tsquery text: every term a prefix, all required."""
    return " & ".join(f"{term}:*" for term in query)


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _fts_match(query: tuple[str, ...]) -> ColumnElement[bool]:
    return _FTS_TABLE.op("MATCH")(fts5_query(query))


def _ts_query(query: tuple[str, ...]) -> ColumnElement[Any]:
    return func.to_tsquery(_SIMPLE, tsquery(query))


def matches(session: Session, query: tuple[str, ...], *, walk: bool = False) -> ColumnElement[bool]:
    """Condition on `Dataset`: it matches every term (always true for no terms).

    walk (SQLite): hide the pk from the planner (`pk + 0`), so that it walks the caller's sort
    index and probes the matches instead of fetching every match and sorting them.
    """
    if not query:
        return true()
    if _is_sqlite(session):
        found = select(_FTS.c.rowid).where(_fts_match(query))
        return (Dataset.pk + 0 if walk else Dataset.pk).in_(found)
    return _VECTOR.op("@@")(_ts_query(query))


def index_matches(query: tuple[str, ...]) -> Select[int]:
    """On SQLite: the pks of the datasets that match every term, read from the full-text index
    and joined to `datasets` (for the caller's conditions on `Dataset`)."""
    return (
        select(Dataset.pk)
        .select_from(_FTS)
        .join(Dataset, Dataset.pk == _FTS.c.rowid)
        .where(_fts_match(query))
    )


def count(session: Session, query: tuple[str, ...]) -> int:
    """How many datasets match `query` (whoever may see them); on SQLite the FTS5 index alone
    answers, without a look-up of the datasets' rows."""
    if query and _is_sqlite(session):
        statement = select(func.count()).select_from(_FTS).where(_fts_match(query))
    else:
        statement = select(func.count()).select_from(Dataset).where(matches(session, query))
    return int(session.scalar(statement) or 0)


def ranked(
    session: Session, statement: AnySelect, query: tuple[str, ...]
) -> tuple[AnySelect, ColumnElement[float] | None]:
    """`statement` (over `Dataset`) narrowed to the matches of `query`, and their score for
    ORDER BY, higher is better (None for no terms: every dataset, no score)."""
    if not query:
        return statement, None
    if _is_sqlite(session):
        # The matches and their rank first, once (SQLite >= 3.35): joined directly, the planner
        # may walk a selective index of `statement` and run the match again for every row.
        found = (
            select(_FTS.c.rowid, _FTS.c.rank)
            .where(_fts_match(query))
            .cte("fts_matches")
            .prefix_with("MATERIALIZED")
        )
        narrowed = statement.join(found, found.c.rowid == Dataset.pk)
        return narrowed, -found.c.rank  # FTS5's bm25 rank: more negative is better
    return statement.where(matches(session, query)), func.ts_rank(_VECTOR, _ts_query(query))


# -- the query language's words (services.query_language) ----------------------------------------

# The index's columns by the query language's field names (query_language.fields.FULL_TEXT).
INDEX_COLUMNS = {
    "datasetid": "id",
    "title": "title",
    "description": "description_text",
    "keyword": "tags",
}


def fts5_text(words_: tuple[str, ...], fields: tuple[str, ...], *, exact: bool, last: bool) -> str:
    """FTS5 expression: every word a prefix (all required), or, `exact`, the phrase (`last`: its
    last word a prefix); `fields` (query-language names) restrict it to their columns."""
    phrase = '"' + " ".join(words_) + '"' + ("*" if last else "")
    body = phrase if exact else fts5_query(words_)
    if not fields:
        return body
    return "{" + " ".join(INDEX_COLUMNS[field] for field in fields) + "} : (" + body + ")"


def _ts_text(words_: tuple[str, ...], *, exact: bool, last: bool) -> str:
    if not exact:
        return tsquery(words_)
    return " <-> ".join(words_) + (":*" if last else "")


def _field_document(field: str) -> ColumnElement[Any]:
    """One field's own tsvector, by the function the index is made with."""
    empty: ColumnClause[Any] = literal_column("''")
    arguments: list[Any] = [empty, empty, empty, literal_column("NULL::json")]
    column_ = {
        "datasetid": Dataset.id,
        "title": Dataset.title,
        "description": Dataset.description_text,
        "keyword": Dataset.tags,
    }[field]
    arguments[list(INDEX_COLUMNS).index(field)] = column_
    return func.catalogue_search_document(*arguments)


def text_matches(
    session: Session,
    words_: tuple[str, ...],
    fields: tuple[str, ...] = (),
    *,
    exact: bool = False,
    last: bool = False,
) -> ColumnElement[bool]:
    """Condition on `Dataset`: `words_` (folded) found as fts5_text says, in `fields` (or any
    full-text field). A phrase never runs from one field into the next, on either engine."""
    if not words_:
        return true()
    if _is_sqlite(session):
        expression = fts5_text(words_, fields, exact=exact, last=last)
        found = select(_FTS.c.rowid).where(_FTS_TABLE.op("MATCH")(expression))
        return Dataset.pk.in_(found)
    query = func.to_tsquery(_SIMPLE, _ts_text(words_, exact=exact, last=last))
    everywhere = _VECTOR.op("@@")(query)  # the index's answer, then each field's own
    if not fields and not exact:
        return everywhere
    per_field = [_field_document(field).op("@@")(query) for field in fields or INDEX_COLUMNS]
    return everywhere & or_(*per_field)
