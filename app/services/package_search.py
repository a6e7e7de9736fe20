"""CKAN's `package_search` over the catalogue: one page of the datasets a caller may see that
match `q` and `fq`, in CKAN's sort. The rows are export_query's.

`q` and `fq` are read as Solr's syntax (query_language.solr) into the query language's tree
and run through its SQL (query_language.to_sql), so CKAN's search and seed 003's are one. Two
parts keep their own, faster, way:

- the plain words of `q` that must all match (`air quality`): the search index, ranked for
  CKAN's `score` (services.search), exactly as before the query language (`fq` never scores);
- `metadata_modified:[T TO *]` (or `{T TO *]`) that every result must meet, CKAN harvesters'
  incremental filter: what changed since T by the catalogue version
  (catalogue_version.since_time), which also counts an embargo that ended since as a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.models import Dataset
from app.services import search as search_module
from app.services.catalogue_version import changed_clause, since_time
from app.services.clock import today_iso
from app.services.export_query import DatasetRow, InvalidQuery, rows_by_pk
from app.services.query_language import dates, solr
from app.services.query_language.nodes import Compare, Node, Text
from app.services.query_language.to_sql import QueryContext, condition
from app.services.visibility import Principal, visible_clause

SORT_FIELDS: dict[str, Any] = {
    # When this catalogue last changed the dataset, as CKAN's own (formats.ckan).
    "metadata_modified": Dataset.changed_at,
    "metadata_created": Dataset.created_at,
    "title_string": Dataset.title,
    "title": Dataset.title,
    "name": Dataset.id,
    "id": Dataset.id,
}
DEFAULT_SORT = "score desc, metadata_modified desc"


@dataclass(frozen=True, slots=True)
class SearchPage:
    count: int
    sort: str
    rows: list[DatasetRow]


def search(
    session: Session,
    principal: Principal,
    *,
    q: str = "",
    fq: str = "",
    sort: str = DEFAULT_SORT,
    start: int = 0,
    rows: int = 10,
    context: QueryContext | None = None,
    plain_words: bool = False,
) -> SearchPage:
    """One page of the datasets visible to `principal` that match `q` and `fq` (Solr's
    syntax: query_language.solr; blank and `*:*` match everything). solr.SolrQueryError for a
    query that cannot be read, search.QueryTooLong for one beyond a search's bounds. `sort`
    is CKAN's "field dir, field dir" over score, metadata_modified, metadata_created,
    title_string and name. `plain_words`: `q` is words to find, never syntax (a person's
    search box: services.search.query_terms).
    """
    if start < 0 or rows < 0:
        raise InvalidQuery("start and rows must not be negative")
    typed = search_module.query_terms(q) if plain_words else ()
    query = ([Text(typed)] if typed else []) if plain_words else solr.conjuncts(solr.parse(q))
    # q's plain words are the ranked search; fq filters and never scores, as in CKAN.
    plain = tuple(dict.fromkeys(w for part in query if _plain(part) for w in _words(part)))
    parts = [part for part in query if not _plain(part)] + solr.conjuncts(solr.parse(fq))
    where = [visible_clause(principal)]
    context = context or QueryContext()
    for part in parts:
        since = _since(part)
        if since is not None:
            moment, inclusive = since
            point = since_time(session, moment, inclusive=inclusive)
            where.append(changed_clause(point, today_iso()))
        else:
            where.append(condition(session, part, context))
    counting = (
        select(func.count())
        .select_from(Dataset)
        .where(*where, search_module.matches(session, plain))
    )
    # The page's pks first, then their rows: the rows skipped by `start` are never built (a
    # deep page of the home page or package_search costs a tenth of selecting whole rows).
    page = select(Dataset.pk).where(*where)
    statement, score = search_module.ranked(session, page, plain)
    statement = statement.order_by(*_order_by(sort, score)).offset(start).limit(rows)
    pks = list(session.scalars(statement))
    found = {row.pk: row for row in rows_by_pk(session, principal, pks)}
    return SearchPage(
        count=session.scalar(counting) or 0,
        sort=sort,
        rows=[found[pk] for pk in pks if pk in found],
    )


def _plain(node: Node) -> bool:
    """Words to find anywhere, each a beginning of a word: the search index's own query."""
    return isinstance(node, Text) and not node.fields and not node.exact


def _words(node: Node) -> tuple[str, ...]:
    return node.words if isinstance(node, Text) else ()


def _since(node: Node) -> tuple[datetime, bool] | None:
    """(moment, inclusive) of `metadata_modified:[T TO *]` (`>= T`) or `{T TO *]` (after T:
    after the time, or after the whole day or year T names), or None for any other
    condition."""
    if not (
        isinstance(node, Compare)
        and node.field == "modified"
        and node.op in (">=", ">")
        and isinstance(node.value, str)
    ):
        return None
    span = dates.period(node.value)
    if node.op == ">=":
        return span.start, True
    if span.end - span.start == dates.MILLISECOND:  # a time: what changed after it
        return span.start, False
    return span.end, True


def _order_by(sort: str, score: ColumnElement[float] | None) -> list[Any]:
    order: list[Any] = []
    for part in sort.split(","):
        words = part.split()
        if not words:
            continue
        field = words[0]
        direction = words[1].lower() if len(words) > 1 else "asc"
        if len(words) > 2 or direction not in ("asc", "desc"):
            raise InvalidQuery(f"Cannot sort by {part.strip()!r}: use 'field asc' or 'field desc'")
        if field == "score":
            if score is not None:
                order.append(score.desc() if direction == "desc" else score.asc())
            continue
        if field not in SORT_FIELDS:
            known = ", ".join(["score", *SORT_FIELDS])
            raise InvalidQuery(f"Unknown sort field {field!r}: use one of {known}")
        column_ = SORT_FIELDS[field]
        order.append(column_.desc() if direction == "desc" else column_.asc())
    order.append(Dataset.pk.asc())
    return order
