"""The facet sidebar's filters as SQL conditions on `Dataset`: one place for what "team X",
"tag Y" or "broken links" means, used by the table's query (services.browse) and by the facet
counts (services.facets), so a count always equals the rows a click then shows.

Facets and their values: team (a team id, "" for none), topic (a topic id), licence (its
title, "" for none), tag, state (a display state: draft, embargoed, private, published) and
links ("broken": at least one link whose last check failed, "ok": none).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TableValuedAlias

from app.models import Dataset, Link
from app.services.policy import broken_link_clause
from app.services.visibility import display_state_expr

FACETS = ("state", "team", "topic", "licence", "tag", "links")
LINK_VALUES = ("broken", "ok")


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def list_elements(session: Session, column: Any) -> TableValuedAlias:
    """The elements of a JSON list column as a table with one `value` column, correlated to
    the outer `Dataset` row (json_each on SQLite, json_array_elements_text on PostgreSQL)."""
    each = func.json_each if is_sqlite(session) else func.json_array_elements_text
    return each(column).table_valued("value")


def team_expr() -> ColumnElement[str]:
    return func.coalesce(Dataset.team, "")


def licence_expr() -> ColumnElement[str]:
    return func.coalesce(Dataset.licence_title, "")


def has_broken_link() -> ColumnElement[bool]:
    return exists().where(Link.dataset_pk == Dataset.pk, broken_link_clause())


def facet_clause(session: Session, facet: str, value: str, today: str) -> ColumnElement[bool]:
    """Condition on `Dataset`: it has `value` for `facet`. ValueError for an unknown facet."""
    if facet == "state":
        return display_state_expr(today) == value
    if facet == "team":
        return team_expr() == value
    if facet == "licence":
        return licence_expr() == value
    if facet in ("tag", "topic"):
        elements = list_elements(session, Dataset.tags if facet == "tag" else Dataset.topics)
        return select(literal(1)).select_from(elements).where(elements.c.value == value).exists()
    if facet == "links":
        if value not in LINK_VALUES:
            raise ValueError(f"unknown links value {value!r}")
        return has_broken_link() if value == "broken" else ~has_broken_link()
    raise ValueError(f"unknown facet {facet!r}")
