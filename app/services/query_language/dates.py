"""Dates in a query (seed 003: "simple (YYYY[[/mm]/dd]) or ISO 8601 (YYYY-mm-DDTHH:MM:SS)")
and `#now(...)`, as periods of time.

A date names a period: `2024` the year, `2024/03` the month, `2024/03/05` (or `2024-03-05`) the
day, a time its millisecond (what the catalogue stores). Comparisons read the period as a whole:
`modified >= 2024` from the year's first moment, `modified > 2024` after its last,
`modified:2024` within it. Every time is UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta, weekday

from app.services.clock import iso, parse_utc
from app.services.query_language.nodes import Comparison, NowValue

SIMPLE = re.compile(r"(\d{4})(?:[/-](\d{1,2})(?:[/-](\d{1,2}))?)?")
# The query language's ISO 8601 time (syntax's DATETIME token): seconds, fraction and offset
# optional.
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?")
MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end): naive UTC datetimes."""

    start: datetime
    end: datetime


def period(text: str) -> Period:
    """The period `text` names; ValueError if it names none."""
    found = SIMPLE.fullmatch(text)
    if found is not None:
        year, month, day = (int(part) if part else None for part in found.groups())
        assert year is not None
        if year < 1:
            raise ValueError(f"not a date: {text!r}")
        if month is None:
            start, step = datetime(year, 1, 1), relativedelta(years=1)
        elif day is None:
            start, step = datetime(year, month, 1), relativedelta(months=1)
        else:
            start, step = datetime(year, month, day), relativedelta(days=1)
        return Period(start, _plus(start, step))
    if ISO_TIME.fullmatch(text) is None:
        raise ValueError(f"not a date: {text!r}")
    return instant(parse_utc(text.upper()))  # without an offset: UTC


def _plus(start: datetime, step: relativedelta | timedelta) -> datetime:
    try:
        return start + step
    except (OverflowError, ValueError):  # the end of year 9999
        return datetime.max


def instant(moment: datetime) -> Period:
    """The millisecond of `moment` (naive UTC)."""
    start = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return Period(start, _plus(start, MILLISECOND))


_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
RELATIVE = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
ABSOLUTE = ("year", "month", "day", "hour", "minute", "second")


def weekday_of(text: str, nth: int | None) -> tuple[int, int | None]:
    """(0 = Monday, nth) of `MO`, `TU`..., or of a number 0-6."""
    if text.upper() in _WEEKDAYS:
        return _WEEKDAYS.index(text.upper()), nth
    number = int(text)
    if not 0 <= number <= 6:
        raise ValueError("a weekday is 0 (Monday) to 6 (Sunday), or MO to SU")
    return number, nth


def now(value: NowValue, at: datetime | None = None) -> datetime:
    """The moment `#now(...)` names, from `at` (the query's moment; naive UTC)."""
    moment = at or datetime.now(UTC).replace(tzinfo=None)
    arguments: dict[str, Any] = {**dict(value.relative), **dict(value.absolute)}
    if value.weekday is not None:
        arguments["weekday"] = weekday(*value.weekday)
    delta = relativedelta(**arguments)
    moved: datetime = moment + delta
    return moved


def resolve(value: str | NowValue, at: datetime | None = None) -> Period:
    """The period a date value names (a NowValue is its millisecond)."""
    if isinstance(value, NowValue):
        return instant(now(value, at))
    return period(value)


def bounds(op: Comparison, span: Period) -> tuple[datetime | None, datetime | None]:
    """[low, high) of the moments for which `moment op span` holds (None: unbounded)."""
    if op == ">=":
        return span.start, None
    if op == ">":
        return span.end, None
    if op == "<":
        return None, span.start
    if op == "<=":
        return None, span.end
    return span.start, span.end


def stored(moment: datetime) -> str:
    """`moment` as the catalogue stores times (clock.iso), so strings compare as times."""
    return iso(moment)
