"""Facet counts for the sidebar: for each facet (team, topic, licence, tag, state, broken
links), its values and how many of the datasets the table shows have each.

The counts are over the table's own visible set (services.browse: visibility, the search, the
state filter and the other facets chosen), by SQL GROUP BY. A facet's own choice is left out
of its counts, so the other values of a chosen facet stay visible and a click switches to one
(a team's count is what choosing that team instead would show). The conditions themselves are
services.facet_filters, the ones the table's query uses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from app.models import Dataset, Team, Topic
from app.services.browse import BrowseSpec, filter_clause
from app.services.clock import today_iso
from app.services.facet_filters import (
    FACETS,
    has_broken_link,
    licence_expr,
    list_elements,
    team_expr,
)
from app.services.visibility import display_state_expr

LIMIT = 50  # values listed per facet, the most frequent first
TITLES = {
    "state": "State",
    "team": "Team",
    "topic": "Topic",
    "licence": "Licence",
    "tag": "Tag",
    "links": "Links",
}


@dataclass(frozen=True)
class FacetValue:
    value: str
    title: str  # what the sidebar shows: a team's or topic's title, "(none)"...
    count: int


@dataclass(frozen=True)
class Facet:
    key: str
    title: str
    values: tuple[FacetValue, ...]
    more: bool = False  # more values than LIMIT


def _grouped(session: Session, where: ColumnElement[bool], key: Any) -> list[tuple[str, int]]:
    total = func.count().label("n")
    stmt: Select[Any] = (
        select(key.label("v"), total).where(where).group_by(key).order_by(total.desc(), key)
    )
    return [(str(row.v), int(row.n)) for row in session.execute(stmt.limit(LIMIT + 1))]


def _listed(session: Session, where: ColumnElement[bool], column: Any) -> list[tuple[str, int]]:
    elements = list_elements(session, column)
    value = elements.c.value
    total = func.count().label("n")
    stmt: Select[Any] = (
        select(value.label("v"), total)
        .select_from(Dataset)
        .join(elements, value.is_not(None))
        .where(where)
        .group_by(value)
        .order_by(total.desc(), value)
    )
    return [(str(row.v), int(row.n)) for row in session.execute(stmt.limit(LIMIT + 1))]


def _titles(session: Session, facet: str, values: list[str]) -> dict[str, str]:
    if facet == "team":
        rows = session.execute(select(Team.id, Team.title).where(Team.id.in_(values)))
    elif facet == "topic":
        rows = session.execute(select(Topic.id, Topic.title).where(Topic.id.in_(values)))
    else:
        return {}
    return {str(key): str(title or key) for key, title in rows}


def facet_counts(session: Session, spec: BrowseSpec, facet: str, *, today: str) -> Facet:
    """One facet's values and counts for `spec`, without `spec`'s own choice for that facet."""
    others = replace(spec, facets=tuple(pair for pair in spec.facets if pair[0] != facet))
    where = filter_clause(session, others, today)
    if facet == "state":
        pairs = _grouped(session, where, display_state_expr(today))
    elif facet == "team":
        pairs = _grouped(session, where, team_expr())
    elif facet == "licence":
        pairs = _grouped(session, where, licence_expr())
    elif facet in ("tag", "topic"):
        pairs = _listed(session, where, Dataset.tags if facet == "tag" else Dataset.topics)
    elif facet == "links":
        broken = select(func.count()).select_from(Dataset).where(and_(where, has_broken_link()))
        everything = select(func.count()).select_from(Dataset).where(where)
        count_broken = int(session.scalar(broken) or 0)
        pairs = [
            ("broken", count_broken),
            ("ok", int(session.scalar(everything) or 0) - count_broken),
        ]
        pairs = [pair for pair in pairs if pair[1]]
    else:
        raise ValueError(f"unknown facet {facet!r}")
    titles = _titles(session, facet, [value for value, _n in pairs])
    named = {"links": {"broken": "Broken links", "ok": "No broken link"}}.get(facet, {})
    values = tuple(
        FacetValue(value, named.get(value) or titles.get(value) or value or "(none)", count)
        for value, count in pairs[:LIMIT]
    )
    return Facet(facet, TITLES[facet], values, more=len(pairs) > LIMIT)


def all_facets(session: Session, spec: BrowseSpec, *, today: str | None = None) -> list[Facet]:
    """Every facet's counts for what the table shows with `spec`."""
    today = today or today_iso()
    return [facet_counts(session, spec, facet, today=today) for facet in FACETS]
