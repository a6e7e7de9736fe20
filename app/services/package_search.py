"""CKAN's `package_search` over the catalogue: one page of the datasets a caller may see that
match the desktop's search (services.search), in CKAN's sort, optionally only what changed since
a point (services.catalogue_version: CKAN's `fq=metadata_modified:[T TO *]`). The rows are
export_query's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from app.models import Dataset
from app.services import search as search_module
from app.services.catalogue_version import Since, changed_clause
from app.services.clock import today_iso
from app.services.export_query import DatasetRow, InvalidQuery, rows_by_pk
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
    sort: str = DEFAULT_SORT,
    start: int = 0,
    rows: int = 10,
    since: Since | None = None,
) -> SearchPage:
    """One page of the datasets visible to `principal` that match `q` (services.search: every
    word the beginning of a word of the id, title, description or tags; `*:*` and blank match
    everything; more than search.MAX_TERMS words is refused: QueryTooLong). `sort` is CKAN's
    "field dir, field dir" over score, metadata_modified, metadata_created, title_string and
    name.
    """
    if start < 0 or rows < 0:
        raise InvalidQuery("start and rows must not be negative")
    query = search_module.query_terms(q)
    visible = visible_clause(principal)
    if since is not None:  # CKAN's fq=metadata_modified:[T TO *]
        visible = and_(visible, changed_clause(since, today_iso()))
    counting = (
        select(func.count())
        .select_from(Dataset)
        .where(visible, search_module.matches(session, query))
    )
    # The page's pks first, then their rows: the rows skipped by `start` are never built (a
    # deep page of the home page or package_search costs a tenth of selecting whole rows).
    page = select(Dataset.pk).where(visible)
    statement, score = search_module.ranked(session, page, query)
    statement = statement.order_by(*_order_by(sort, score)).offset(start).limit(rows)
    pks = list(session.scalars(statement))
    found = {row.pk: row for row in rows_by_pk(session, principal, pks)}
    return SearchPage(
        count=session.scalar(counting) or 0,
        sort=sort,
        rows=[found[pk] for pk in pks if pk in found],
    )


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
