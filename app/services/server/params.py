"""Query parameters as every endpoint reads them: one parser, so that one rule holds everywhere.

A whole-number parameter (`start`, `offset`, `limit`, `rows`) is ASCII digits and nothing
else, within its bounds: Python's `int()` also takes `٣` (any Unicode digit), `+3`, ` 3 `
and `1_000`, and an unbounded value reached SQLite's 64-bit OFFSET or `islice`'s C size as a
500. Everything else is an InvalidQuery (400, JSON error). `sort` is checked here against the
pattern the OpenAPI document states, so both say the same. The CKAN actions called by POST
come here too: `api_extras.ckan_post` turns their JSON body into these query parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from app.services.clock import MOMENT_PATTERN
from app.services.cursor import TOKEN_PATTERN
from app.services.export_query import InvalidQuery
from app.services.package_search import DEFAULT_SORT
from app.services.package_search import SORT_FIELDS as SORT_FIELD_COLUMNS

# The largest offset or count a request may name: beyond any catalogue, and far below 2^63
# (SQLite's and PostgreSQL's OFFSET, Python's islice), so offset + limit cannot overflow.
# Nine digits, so that the OpenAPI document can say it as a pattern for the string form of a
# CKAN action's JSON parameters (`WHOLE_NUMBER_PATTERN`).
MAX_POSITION = 999_999_999
WHOLE_NUMBER_PATTERN = "^0*[0-9]{1,9}$"


def int_param(
    request: Request, name: str, default: int, low: int = 0, high: int = MAX_POSITION
) -> int:
    """The whole number `name` (ASCII digits, `low` to `high`); `default` when it is absent."""
    value = optional_int_param(request, name, low, high)
    return default if value is None else value


def optional_int_param(
    request: Request, name: str, low: int = 0, high: int = MAX_POSITION
) -> int | None:
    """The whole number `name`, or None when it is absent. An empty value is refused: the
    OpenAPI document says an integer, and a client that sends `limit=` meant something."""
    text = request.query_params.get(name)
    if text is None:
        return None
    return parse_int(name, text, low, high)


def parse_int(name: str, text: str, low: int = 0, high: int = MAX_POSITION) -> int:
    if not (text.isascii() and text.isdigit()):
        raise InvalidQuery(f"{name} must be a whole number written in the digits 0-9")
    stripped = text.lstrip("0") or "0"
    if len(stripped) > len(str(high)) or not low <= int(stripped) <= high:
        raise InvalidQuery(f"{name} must be between {low} and {high}")
    return int(stripped)


# CKAN's sort, `field [asc|desc][, field [asc|desc]]...`, as export_query reads it, written as
# a pattern the OpenAPI document states too (ECMA 262 and Python `re` read it alike; spaces
# only, no other whitespace). Empty: the default order.
SORT_FIELDS = ("score", *SORT_FIELD_COLUMNS)
_FIELD = "(?:" + "|".join(sorted(SORT_FIELDS, key=len, reverse=True)) + ")"
_DIRECTION = "(?:[Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])"
_KEY = f" *{_FIELD}(?: +{_DIRECTION})? *"
SORT_PATTERN = f"^(?:{_KEY}(?:,{_KEY})*)?$"
MAX_SORT_CHARS = 200


def sort_param(request: Request) -> str:
    """The `sort` parameter, checked against SORT_PATTERN; the default order when absent or
    empty."""
    text = request.query_params.get("sort", "")
    if len(text) > MAX_SORT_CHARS or not re.fullmatch(SORT_PATTERN[1:-1], text):
        known = ", ".join(SORT_FIELDS)
        raise InvalidQuery(
            f"sort must be 'field asc' or 'field desc', comma-separated, over {known}"
        )
    return text.strip() or DEFAULT_SORT


# -- the parameters of each endpoint, as the OpenAPI document states them ------------------------


@dataclass(frozen=True, slots=True)
class Param:
    """One query parameter (or CKAN action parameter) as the server reads it."""

    name: str
    kind: str  # "integer" or "string"
    low: int = 0
    high: int = MAX_POSITION
    pattern: str | None = None
    max_length: int | None = None

    def query_schema(self) -> dict[str, Any]:
        """Its schema as a query parameter (a value, never empty for an integer)."""
        if self.kind == "integer":
            return {"type": "integer", "minimum": self.low, "maximum": self.high}
        schema: dict[str, Any] = {"type": "string"}
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema

    def body_schema(self) -> dict[str, Any]:
        """Its schema in a CKAN action's JSON (or form) body: null stands for absent, and a
        whole number may also come as its digits (as query parameters always do)."""
        if self.kind == "integer":
            digits: dict[str, Any] = {"type": "string", "pattern": _digits_pattern(self.high)}
            number = self.query_schema()
            if self.low > 0:
                digits["not"] = {"pattern": "^0*$"}
            return {"anyOf": [number, digits, {"type": "null"}]}
        return {"anyOf": [self.query_schema(), {"type": "null"}]}

    def form_schema(self) -> dict[str, Any]:
        """Its schema in a form body, where every value is text."""
        if self.kind == "integer":
            return {"type": "string", "pattern": _digits_pattern(self.high)}
        return self.query_schema()

    def text(self, request: Request) -> str | None:
        """A string parameter's value (None when absent), InvalidQuery if it is not of the
        form `query_schema` states."""
        value = request.query_params.get(self.name)
        if value is None:
            return None
        if self.max_length is not None and len(value) > self.max_length:
            raise InvalidQuery(f"{self.name} may be at most {self.max_length} characters")
        if self.pattern is not None and not re.fullmatch(self.pattern[1:-1], value):
            raise InvalidQuery(f"{self.name} is not of the form {self.pattern}")
        return value

    def from_body(self, value: Any) -> str | None:
        """A JSON body's value as the query text the GET handler parses; None for absent.
        InvalidQuery for a value of another type."""
        if value is None:
            return None
        if self.kind == "integer":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
            if isinstance(value, str):
                return value
            raise InvalidQuery(f"{self.name} must be a whole number")
        if isinstance(value, str):
            return value
        raise InvalidQuery(f"{self.name} must be a string")


def _digits_pattern(high: int) -> str:
    if high == MAX_POSITION:
        return WHOLE_NUMBER_PATTERN
    if high == 1000:
        return "^0*(?:[0-9]{1,3}|1000)$"
    raise ValueError(f"no digit pattern for a maximum of {high}")


MAX_PAGE_SIZE = 1000
MAX_SEARCH_ROWS = 1000
PAGE_LIMIT = Param("limit", "integer", 1, MAX_PAGE_SIZE)
AFTER = Param("after", "string", pattern=TOKEN_PATTERN)
Q = Param("q", "string")
ROWS = Param("rows", "integer", 0, MAX_SEARCH_ROWS)
START = Param("start", "integer")
SORT = Param("sort", "string", pattern=SORT_PATTERN, max_length=MAX_SORT_CHARS)
OFFSET = Param("offset", "integer")
LIST_LIMIT = Param("limit", "integer")
ID = Param("id", "string", max_length=200)
# The incremental harvest (server.incremental): a catalogue version, or a time.
SINCE = Param("since", "integer")
MODIFIED_SINCE = Param("modified_since", "string", pattern=f"^{MOMENT_PATTERN}$", max_length=40)
# CKAN's filter query, Solr's syntax as `q` (query_language.solr): harvesters send
# `metadata_modified:[T TO *]`.
FQ = Param("fq", "string")
NAME_OR_ID = Param("name_or_id", "string", max_length=200)
# The CKAN actions' parameters, by action (api_extras.ckan_post checks a POST body by them).
ACTION_PARAMS: dict[str, tuple[Param, ...]] = {
    "package_search": (Q, FQ, ROWS, START, SORT),
    "current_package_list_with_resources": (OFFSET, LIST_LIMIT),
    "package_show": (ID, NAME_OR_ID),
}

# components.parameters of resources/openapi.json, by their names there.
QUERY_PARAMETERS: dict[str, Param] = {
    "after": AFTER,
    "limit": PAGE_LIMIT,
    "q": Q,
    "rows": ROWS,
    "start": START,
    "sort": SORT,
    "offset": OFFSET,
    "listLimit": LIST_LIMIT,
    "packageId": ID,
    "nameOrId": NAME_OR_ID,
    "since": SINCE,
    "modifiedSince": MODIFIED_SINCE,
    "fq": FQ,
}
# components.schemas of the CKAN actions' POST bodies.
BODY_SCHEMAS = {
    "PackageSearchParams": "package_search",
    "PackageListParams": "current_package_list_with_resources",
    "PackageShowParams": "package_show",
}


def openapi_parameters(shipped: dict[str, Any]) -> dict[str, Any]:
    """components.parameters with each one's schema as the server reads it (scripts/
    update_openapi.py writes them; the rest of each entry, its description, is kept)."""
    out = dict(shipped)
    for key, param in QUERY_PARAMETERS.items():
        entry = dict(out.get(key) or {"name": param.name, "in": "query", "required": False})
        entry["schema"] = param.query_schema()
        out[key] = entry
    return out


def openapi_body_schemas() -> dict[str, Any]:
    """The CKAN actions' POST bodies: `<Name>Params` as JSON, `<Name>Form` as a form."""
    schemas: dict[str, Any] = {}
    for name, action in BODY_SCHEMAS.items():
        params = ACTION_PARAMS[action]
        schemas[name] = {
            "type": "object",
            "properties": {p.name: p.body_schema() for p in params},
            "required": [],
        }
        schemas[name.removesuffix("Params") + "Form"] = {
            "type": "object",
            "properties": {p.name: p.form_schema() for p in params},
            "required": [],
        }
    return schemas
