"""Timestamps in the seed's format: ISO 8601, UTC, milliseconds, a trailing Z."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def now_iso() -> str:
    return iso(datetime.now(UTC))


def today_iso() -> str:
    return date.today().isoformat()


def iso(moment: datetime) -> str:
    """`moment` (aware, or naive UTC) in the seed's format."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_utc(text: str) -> datetime:
    """An ISO 8601 timestamp (a trailing Z allowed) as naive UTC; a naive one is taken to be
    UTC already. ValueError if it is not a timestamp."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def as_seed_time(value: Any) -> str | None:
    """A portal's ISO 8601 timestamp (any offset, or naive UTC) in the seed's format. None for
    nothing; a string that is not a timestamp is kept as it is."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return iso(parse_utc(value))
    except ValueError:
        return value
