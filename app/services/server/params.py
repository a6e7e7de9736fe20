"""Query parameters as every endpoint reads them: one parser, so that one rule holds everywhere.

A whole-number parameter (`start`, `offset`, `limit`, `rows`) is ASCII digits and nothing
else, within its bounds: Python's `int()` also takes `٣` (any Unicode digit), `+3`, ` 3 `
and `1_000`, and an unbounded value reached SQLite's 64-bit OFFSET or `islice`'s C size as a
500. Everything else is an InvalidQuery (400, JSON error). The CKAN actions called by POST
come here too: `api_extras.ckan_post` turns their JSON body into these query parameters.
"""

from __future__ import annotations

from starlette.requests import Request

from app.services.export_query import InvalidQuery

# The largest offset or count a request may name: beyond any catalogue, and far enough below
# 2^63 (SQLite's and PostgreSQL's OFFSET, Python's islice) that offset + limit cannot overflow.
MAX_POSITION = 2**31 - 1
_MAX_DIGITS = len(str(MAX_POSITION))


def int_param(
    request: Request, name: str, default: int, low: int = 0, high: int = MAX_POSITION
) -> int:
    """The whole number `name` (ASCII digits, `low` to `high`); `default` when it is absent
    or empty."""
    value = optional_int_param(request, name, low, high)
    return default if value is None else value


def optional_int_param(
    request: Request, name: str, low: int = 0, high: int = MAX_POSITION
) -> int | None:
    """The whole number `name`, or None when it is absent or empty."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    return parse_int(name, text, low, high)


def parse_int(name: str, text: str, low: int = 0, high: int = MAX_POSITION) -> int:
    if not (text.isascii() and text.isdigit()):
        raise InvalidQuery(f"{name} must be a whole number written in the digits 0-9")
    stripped = text.lstrip("0") or "0"
    if len(stripped) > _MAX_DIGITS or not low <= int(stripped) <= high:
        raise InvalidQuery(f"{name} must be between {low} and {high}")
    return int(stripped)
