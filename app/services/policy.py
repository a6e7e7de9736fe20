"""Catalogue rules, each written once for Python and SQL alike: the embargo, what anybody may
see, the table's state column, and a broken link.

A rule is a function over a `Logic`: `PYTHON` evaluates it on values (a Dataset, a record, a
link's qa), `SQL` turns it into a SQLAlchemy condition on columns, so that a filter and a check
cannot drift apart. A missing value (None, NULL) is "not so" in both: `above(None, x)` is False,
and no rule is ever NULL in SQL, so that NOT of a rule means what Python's `not` means.
services.visibility reads the dataset rules; the link rule is read here.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, case, not_

from app.models import Link
from app.services.clock import today_iso

T = TypeVar("T")  # a truth: bool in Python, ColumnElement[bool] in SQL


class Logic(Protocol[T]):
    """The operations a rule may use. `equals` is for values that are never missing."""

    def is_set(self, value: Any) -> T: ...
    def equals(self, value: Any, constant: str) -> T: ...
    def above(self, value: Any, bound: Any) -> T: ...
    def at_least(self, value: Any, bound: Any) -> T: ...
    def all(self, *truths: T) -> T: ...
    def not_(self, truth: T) -> T: ...
    def when(self, condition: T, then: T, otherwise: T) -> T: ...


class _Python:
    def is_set(self, value: Any) -> bool:
        return value is not None

    def equals(self, value: Any, constant: str) -> bool:
        return bool(value == constant)

    def above(self, value: Any, bound: Any) -> bool:
        return value is not None and bool(value > bound)

    def at_least(self, value: Any, bound: Any) -> bool:
        return value is not None and bool(value >= bound)

    def all(self, *truths: bool) -> bool:
        return all(truths)

    def not_(self, truth: bool) -> bool:
        return not truth

    def when(self, condition: bool, then: bool, otherwise: bool) -> bool:
        return then if condition else otherwise


class _Sql:
    def is_set(self, value: Any) -> ColumnElement[bool]:
        return value.is_not(None)  # type: ignore[no-any-return]

    def equals(self, value: Any, constant: str) -> ColumnElement[bool]:
        return value == constant  # type: ignore[no-any-return]

    def above(self, value: Any, bound: Any) -> ColumnElement[bool]:
        return and_(value.is_not(None), value > bound)

    def at_least(self, value: Any, bound: Any) -> ColumnElement[bool]:
        return and_(value.is_not(None), value >= bound)

    def all(self, *truths: ColumnElement[bool]) -> ColumnElement[bool]:
        return and_(*truths)

    def not_(self, truth: ColumnElement[bool]) -> ColumnElement[bool]:
        return not_(truth)

    def when(
        self,
        condition: ColumnElement[bool],
        then: ColumnElement[bool],
        otherwise: ColumnElement[bool],
    ) -> ColumnElement[bool]:
        return case((condition, then), else_=otherwise)


PYTHON: Logic[bool] = _Python()
SQL: Logic[ColumnElement[bool]] = _Sql()


# -- the rules -------------------------------------------------------------------------------


def embargoed(logic: Logic[T], until: Any, today: str) -> T:
    """Under embargo: its embargo date (ISO, day or later) is still ahead of today."""
    return logic.above(until, today)


def published_out_of_embargo(logic: Logic[T], state: Any, until: Any, today: str) -> T:
    """What the bulk open-data surface (seed 000) carries, whatever else a caller is granted."""
    return logic.all(logic.equals(state, "published"), logic.not_(embargoed(logic, until, today)))


def public(logic: Logic[T], state: Any, sharing: Any, until: Any, today: str) -> T:
    """What anybody may see: published, public and out of embargo."""
    return logic.all(
        published_out_of_embargo(logic, state, until, today), logic.equals(sharing, "public")
    )


def display_states(
    logic: Logic[T], state: Any, sharing: Any, until: Any, today: str
) -> list[tuple[T, str]]:
    """The table's state column, in order: the first case that holds names the state, and
    "published" when none does."""
    return [
        (logic.equals(state, "draft"), "draft"),
        (embargoed(logic, until, today), "embargoed"),
        (logic.equals(sharing, "private"), "private"),
    ]


DEFAULT_DISPLAY_STATE = "published"


def broken_link(logic: Logic[T], http_status: Any, checked_at: Any) -> T:
    """A link whose last check failed: an error status, or checked and no answer (no status, or
    not a positive one). A link never checked is not broken, only unknown."""
    return logic.when(
        logic.above(http_status, 0), logic.at_least(http_status, 400), logic.is_set(checked_at)
    )


# -- the link rule, ready to use -------------------------------------------------------------


def is_broken_link(http_status: int | None, checked_at: str | None) -> bool:
    return broken_link(PYTHON, http_status, checked_at)


def broken_link_clause() -> ColumnElement[bool]:
    """`is_broken_link` on `Link` rows."""
    return broken_link(SQL, Link.qa_http_status, Link.qa_timestamp)


def is_embargoed(until: str | None, today: str | None = None) -> bool:
    return embargoed(PYTHON, until, today or today_iso())
