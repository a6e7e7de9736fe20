"""Seed 003's dataset facets: what a value means (refine, exclude) and how many datasets have
each (facet_groups).

The facets are the desktop sidebar's own where they are the same field (services.facet_filters:
keyword is the tag facet, license the licence facet); theme and publisher are counted by topic
and team and shown by their titles. Dates are hierarchical: years, then `YYYY/MM` under a
refined year, then `YYYY/MM/DD` under a refined month.

Counts and states (seed 003, "Using facets"): a facet's values are counted over the search's
result, except that a disjunctive facet leaves its own refinements out (so its other values
can be added), and a value the search excludes is shown as `excluded` with the count it would
bring back. A refined value (and every level above a refined date) is `refined`, the others
`displayed`. A group's count is the sum of its top level's counts, excluded values left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from app.models import Dataset
from app.services import facet_filters
from app.services.dataset_search.request import SearchRequest
from app.services.query_language import dates
from app.services.query_language.fields import EMPTY_FACETS
from app.services.query_language.to_sql import DATE_COLUMNS, Labels, negation

LIMIT = 100  # values of one level of a facet, the most frequent first
DATE_LEVELS = (4, 7, 10)  # characters of the stored time: YYYY, YYYY-MM, YYYY-MM-DD


@dataclass(frozen=True, slots=True)
class FacetValue:
    name: str
    path: str
    count: int
    state: str  # displayed, refined, excluded
    facets: tuple[FacetValue, ...] = ()


@dataclass(frozen=True, slots=True)
class FacetGroup:
    name: str
    count: int
    facets: tuple[FacetValue, ...]


class Facets:
    """The facets of one search, over one session (topic and team titles read once)."""

    def __init__(self, session: Session, language: str) -> None:
        self.session = session
        self.language = language
        self.labels = Labels(session)

    # -- what a value means --------------------------------------------------------------------

    def clause(self, facet: str, value: str) -> ColumnElement[bool]:
        """Condition on `Dataset`: it has `value` for `facet`."""
        if facet in DATE_COLUMNS:
            span = _date_path(value)
            if span is None:
                return false()
            column = DATE_COLUMNS[facet]
            return and_(column >= dates.stored(span.start), column < dates.stored(span.end))
        if facet == "keyword":
            return facet_filters.facet_clause(self.session, "tag", value, "")
        if facet == "license":
            return facet_filters.licence_expr() == value if value else false()
        if facet == "theme":
            ids = [topic for topic, title in self.labels.topics().items() if title == value]
            topics = (facet_filters.facet_clause(self.session, "topic", i, "") for i in ids)
            return or_(false(), *topics)
        if facet == "publisher":
            ids = [team for team, title in self.labels.teams().items() if title == value]
            return Dataset.team.in_(ids) if ids else false()
        if facet == "language":
            return true() if value == self.language else false()
        assert facet in EMPTY_FACETS
        return false()

    def choices(
        self, request: SearchRequest, *, leave_out: str | None = None, excluding: bool = True
    ) -> list[Any]:
        """The conditions of the request's refine and exclude values. `leave_out`: a facet
        whose refinements are left out if it is disjunctive, and whose exclusions are left out
        unless `excluding`."""
        conditions: list[Any] = []
        facets = dict.fromkeys(name for name, _value in (*request.refine, *request.exclude))
        for facet in facets:
            refined = [self.clause(facet, value) for value in request.refined(facet)]
            if refined and not (facet == leave_out and facet in request.disjunctive):
                conditions.append(or_(*refined) if facet in request.disjunctive else and_(*refined))
            if facet != leave_out or excluding:
                conditions.extend(negation(self.clause(facet, v)) for v in request.excluded(facet))
        return conditions

    # -- counts --------------------------------------------------------------------------------

    @staticmethod
    def same_set(facet: str, request: SearchRequest) -> bool:
        """Whether `facet` is counted over the search's own hits (it is neither disjunctive
        nor excluding values)."""
        return facet not in request.disjunctive and not request.excluded(facet)

    def group(
        self,
        facet: str,
        request: SearchRequest,
        base: Sequence[Any],
        *,
        hits: ColumnElement[bool] | None = None,
    ) -> FacetGroup | None:
        """`facet`'s values over the datasets `base` (visibility and the query) and the
        request's choices select (`hits`, the condition of that set when it is the search's
        own: same_set); None when no dataset has a value for it."""
        where = hits if hits is not None else and_(*base, *self.choices(request, leave_out=facet))
        excluded = request.excluded(facet)
        refined = request.refined(facet)
        # What an excluded value would bring back: the same without the facet's exclusions.
        unexcluded = and_(*base, *self.choices(request, leave_out=facet, excluding=False))
        values: list[FacetValue]
        if facet in DATE_COLUMNS:
            values = self._date_level(facet, where, unexcluded, request, prefix="")
        elif facet in EMPTY_FACETS:
            values = []
        else:
            if facet == "language":
                counted = {self.language: self._count(where)}
            else:
                counted = self._counted(facet, where)
            if excluded:
                again = (
                    {self.language: self._count(unexcluded)}
                    if facet == "language"
                    else self._counted(facet, unexcluded)
                )
                counted.update({value: again[value] for value in excluded if value in again})
            values = [
                FacetValue(value, value, count, _state(value, refined, excluded))
                for value, count in _top(counted)
                if count
            ]
        if not values:
            return None
        total = sum(value.count for value in values if value.state != "excluded")
        return FacetGroup(facet, total, tuple(values))

    def _count(self, where: ColumnElement[bool]) -> int:
        return int(self.session.scalar(select(func.count()).select_from(Dataset).where(where)) or 0)

    def _counted(self, facet: str, where: ColumnElement[bool]) -> dict[str, int]:
        total = func.count().label("n")
        if facet in ("keyword", "theme"):
            column = Dataset.tags if facet == "keyword" else Dataset.topics
            elements = facet_filters.list_elements(self.session, column)
            value = elements.c.value
            statement = (
                select(value, total)
                .select_from(Dataset)
                .join(elements, value.is_not(None))
                .where(where)
                .group_by(value)
            )
        else:
            key = Dataset.team if facet == "publisher" else Dataset.licence_title
            statement = select(key, total).where(where, key.is_not(None), key != "").group_by(key)
        counted: dict[str, int] = {}
        names = (
            self.labels.topics()
            if facet == "theme"
            else self.labels.teams()
            if facet == "publisher"
            else {}
        )
        for key_value, count in self.session.execute(statement):
            name = names.get(str(key_value), str(key_value))
            counted[name] = counted.get(name, 0) + int(count)
        return counted

    def _date_level(
        self,
        facet: str,
        where: ColumnElement[bool],
        unexcluded: ColumnElement[bool],
        request: SearchRequest,
        *,
        prefix: str,
    ) -> list[FacetValue]:
        """One level of a date facet under `prefix` (a path, "" for the years), with an
        excluded value of this level and the level under each refined value."""
        depth = prefix.count("/") + 1 if prefix else 0
        refined = [_normal_path(value) for value in request.refined(facet)]
        excluded = [_normal_path(value) for value in request.excluded(facet)]
        found = self._date_counts(facet, where, prefix, depth)
        for path in excluded:
            if path.count("/") == depth and path.startswith(prefix) and path not in found:
                again = self._date_counts(
                    facet, and_(unexcluded, self.clause(facet, path)), "", depth
                )
                if again.get(path):
                    found[path] = again[path]
        values: list[FacetValue] = []
        for path, count in sorted(found.items())[:LIMIT]:
            state = _date_state(path, refined, excluded)
            children: tuple[FacetValue, ...] = ()
            if state == "refined" and depth + 1 < len(DATE_LEVELS):
                children = tuple(self._date_level(facet, where, unexcluded, request, prefix=path))
            values.append(FacetValue(path.rsplit("/", 1)[-1], path, count, state, children))
        return values

    def _date_counts(
        self, facet: str, where: ColumnElement[bool], prefix: str, depth: int
    ) -> dict[str, int]:
        column = DATE_COLUMNS[facet]
        key = func.substr(column, 1, DATE_LEVELS[depth])
        condition = and_(where, column.is_not(None), column != "")
        if prefix:
            condition = and_(condition, self.clause(facet, prefix))
        statement = select(key, func.count()).where(condition).group_by(key)
        return {
            str(value).replace("-", "/"): int(count)
            for value, count in self.session.execute(statement)
        }


def _top(counted: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:LIMIT]


def _state(value: str, refined: list[str], excluded: list[str]) -> str:
    if value in refined:
        return "refined"
    return "excluded" if value in excluded else "displayed"


def _date_state(path: str, refined: list[str], excluded: list[str]) -> str:
    if any(value == path or value.startswith(path + "/") for value in refined):
        return "refined"
    return "excluded" if path in excluded else "displayed"


def _normal_path(value: str) -> str:
    """A date facet's path as the facet writes it: `2024-3` -> `2024/03`."""
    parts = value.replace("-", "/").split("/")
    return "/".join(part if i == 0 else part.zfill(2) for i, part in enumerate(parts))


def _date_path(value: str) -> dates.Period | None:
    """The period a date facet's path names (`2024`, `2024/03`, `2024/03/05`); None if it
    names none (then no dataset has it)."""
    try:
        if dates.SIMPLE.fullmatch(value) is None:
            return None
        return dates.period(value)
    except ValueError:
        return None
