"""The dataset search and lookup of seed 003 over the catalogue: the datasets a caller may see
(visibility.visible_clause) that the query (services.query_language) and the refine and
exclude values (dataset_search.facets) select, one page in the requested order, with the
requested facets counted over the same set.

The order is total (the dataset's pk breaks ties), so paging by `start` and `rows` returns
every dataset exactly once while the catalogue holds still. Without `sort`, newest change
first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Dataset
from app.services.dataset_search.facets import FacetGroup, Facets
from app.services.dataset_search.request import SearchRequest
from app.services.errors import NotFound
from app.services.export_query import DatasetRow, rows_by_pk
from app.services.query_language.syntax import parse
from app.services.query_language.to_sql import (
    DATE_COLUMNS,
    QueryContext,
    condition,
    records_count,
)
from app.services.visibility import Principal, visible_clause

DEFAULT_SORT = ("modified",)
_SORT_COLUMNS: dict[str, Any] = {
    **DATE_COLUMNS,
    "title": Dataset.title,
    "datasetid": Dataset.id,
}


@dataclass(frozen=True, slots=True)
class SearchResult:
    nhits: int
    rows: list[DatasetRow]
    groups: list[FacetGroup]


def search_datasets(
    session: Session,
    principal: Principal,
    request: SearchRequest,
    context: QueryContext | None = None,
) -> SearchResult:
    """One page of the search `request` and its facets, as `principal` may see them."""
    context = context or QueryContext()
    query = parse(request.q)  # first: a malformed query costs nothing more
    facets = Facets(session, context.language)
    base = [visible_clause(principal), condition(session, query, context)]
    where = [*base, *facets.choices(request)]
    nhits = int(session.scalar(select(func.count()).select_from(Dataset).where(*where)) or 0)
    pks: list[int] = []
    if request.rows and request.start < nhits:
        statement = (
            select(Dataset.pk)
            .where(*where)
            .order_by(*_order(request.sort or DEFAULT_SORT))
            .offset(request.start)
            .limit(request.rows)
        )
        pks = list(session.scalars(statement))
    found = {row.pk: row for row in rows_by_pk(session, principal, pks)}
    groups = [facets.group(facet, request, base) for facet in request.facets]
    return SearchResult(
        nhits,
        [found[pk] for pk in pks if pk in found],
        [group for group in groups if group is not None],
    )


def _order(sort: tuple[str, ...]) -> list[Any]:
    """Seed 003: descending unless the name starts with `-`."""
    order: list[Any] = []
    for item in sort:
        name = item.removeprefix("-")
        column = records_count() if name == "records_count" else _SORT_COLUMNS[name]
        order.append(column.asc() if item.startswith("-") else column.desc())
    order.append(Dataset.pk.asc())
    return order


def lookup(session: Session, principal: Principal, dataset_id: str) -> DatasetRow:
    """The dataset `dataset_id` if `principal` may see it; NotFound otherwise (an unknown id
    and a hidden one are the same answer)."""
    pk = session.scalar(
        select(Dataset.pk).where(Dataset.id == dataset_id, visible_clause(principal))
    )
    rows = rows_by_pk(session, principal, [pk]) if pk is not None else []
    if not rows:
        raise NotFound(f"No dataset {dataset_id!r}")
    return rows[0]
