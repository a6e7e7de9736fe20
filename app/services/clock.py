"""Timestamps in the seed's format: ISO 8601, UTC, milliseconds, a trailing Z."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any


def now_iso() -> str:
    return iso(datetime.now(UTC))


def today_iso() -> str:
    return date.today().isoformat()


def iso(moment: datetime) -> str:
    """`moment` (aware, or naive UTC) in the seed's format."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    # isoformat, not strftime: it writes a year before 1000 with its four digits.
    return moment.isoformat(timespec="milliseconds") + "Z"


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


# A time as a harvester gives it (?modified_since=, CKAN's fq range): an ISO 8601 day, or an
# RFC 3339 time (T or a space, fraction, Z or an offset). The fields are bounded here; a day
# past its month's end (2025-02-30) counts on into the next month rather than failing, so that
# every text of this form is a time (the OpenAPI document states this very pattern).
def moment_pattern(colon: str = ":") -> str:
    """The pattern of a time, its colons written `colon` (Solr's queries escape them)."""
    year = r"(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
    day = rf"{year}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    clock = rf"([01][0-9]|2[0-3]){colon}([0-5][0-9]){colon}([0-5][0-9]|60)(\.[0-9]{{1,9}})?"
    zone = rf"([Zz]|[+-](?:[01][0-9]|2[0-3]){colon}[0-5][0-9])"
    return f"{day}(?:[Tt ]{clock}{zone})?"


MOMENT_PATTERN = moment_pattern()


def parse_moment(text: str) -> datetime:
    """`text` (MOMENT_PATTERN, whole) as naive UTC; a day alone is its midnight UTC. ValueError
    for anything else."""
    found = re.fullmatch(MOMENT_PATTERN, text)
    if found is None:
        raise ValueError(f"not a time: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    offset = timedelta(0)
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    try:
        return (
            datetime(int(year), int(month), 1)
            + timedelta(
                days=int(day) - 1,
                hours=int(hour or 0),
                minutes=int(minute or 0),
                seconds=min(int(second or 0), 59),  # a leap second is the second before it
                microseconds=int((fraction or ".0")[1:7].ljust(6, "0")),
            )
            - offset
        )
    except OverflowError:  # past the ends of the calendar Python has: its ends
        return datetime.min if int(year) < 5000 else datetime.max
