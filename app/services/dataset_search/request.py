"""A dataset search as seed 003's Search API v1 takes it: the parameters read and checked once,
for the server (GET query or POST form) and for anything else that searches this way.

    q                      the query language (services.query_language)
    facet=F                count F's values (repeatable)
    refine.F=V             only datasets with V for F (repeatable: all of them, or any of them
                           with disjunctive.F=true)
    exclude.F=V            no dataset with V for F (repeatable)
    sort=F                 descending; sort=-F ascending (dates, numbers, title, datasetid)
    rows, start            a page: rows at most MAX_ROWS (default 10), start from 0

Work is bounded by the request's size: at most MAX_CHOICES refine and exclude values together,
each at most MAX_VALUE characters; the query is bounded by its parser.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from app.services.export_query import InvalidQuery
from app.services.query_language.fields import EMPTY_FACETS, FACETS, FIELDS, field_named

MAX_ROWS = 10_000
DEFAULT_ROWS = 10
MAX_START = 1_000_000
MAX_CHOICES = 64
MAX_VALUE = 500
ALL_FACETS = (*FACETS, *sorted(EMPTY_FACETS))
SORTABLE = tuple(name for name, f in FIELDS.items() if f.sortable)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    q: str = ""
    facets: tuple[str, ...] = ()
    refine: tuple[tuple[str, str], ...] = ()  # (facet, value), in the order given
    exclude: tuple[tuple[str, str], ...] = ()
    disjunctive: frozenset[str] = field(default_factory=frozenset)
    sort: tuple[str, ...] = ()  # field names, "-" first for ascending
    rows: int = DEFAULT_ROWS
    start: int = 0

    def refined(self, facet: str) -> list[str]:
        return [value for name, value in self.refine if name == facet]

    def excluded(self, facet: str) -> list[str]:
        return [value for name, value in self.exclude if name == facet]


def facet_name(name: str) -> str:
    """A facet's name (seed 003's list; CKAN's and the desktop's names for the same fields
    too); InvalidQuery naming the facets for any other."""
    known = field_named(name)
    if known is not None and known.facet:
        return known.name
    if name in EMPTY_FACETS:
        return name
    raise InvalidQuery(f"Unknown facet {name!r}: the facets are {', '.join(ALL_FACETS)}")


def _number(name: str, text: str, least: int, most: int) -> int:
    if not text.isascii() or not text.isdigit() or not least <= int(text) <= most:
        raise InvalidQuery(f"{name} must be a whole number from {least} to {most}")
    return int(text)


def read_request(params: Iterable[tuple[str, str]]) -> SearchRequest:
    """The search the parameters ask for; InvalidQuery (400) for one that cannot be served.
    Parameters the search does not read (format, callback, apikey...) are left to the caller."""
    q: list[str] = []
    facets: list[str] = []
    refine: list[tuple[str, str]] = []
    exclude: list[tuple[str, str]] = []
    disjunctive: set[str] = set()
    sort: list[str] = []
    rows, start = DEFAULT_ROWS, 0
    for name, value in params:
        if name == "q":
            q.append(value)
        elif name == "facet":
            facets.append(facet_name(value))
        elif name.startswith(("refine.", "exclude.")):
            kind, _dot, facet = name.partition(".")
            if len(value) > MAX_VALUE:
                raise InvalidQuery(f"A {kind} value may be at most {MAX_VALUE} characters long")
            (refine if kind == "refine" else exclude).append((facet_name(facet), value))
            if len(refine) + len(exclude) > MAX_CHOICES:
                raise InvalidQuery(f"At most {MAX_CHOICES} refine and exclude values in all")
        elif name.startswith("disjunctive."):
            facet = facet_name(name.partition(".")[2])
            if value.lower() not in ("true", "false"):
                raise InvalidQuery(f"{name} is true or false")
            if value.lower() == "true":
                disjunctive.add(facet)
        elif name == "sort":
            sort.extend(_sort(part) for part in value.split(",") if part.strip())
        elif name == "rows":
            rows = _number("rows", value, 0, MAX_ROWS)
        elif name == "start":
            start = _number("start", value, 0, MAX_START)
    if len(sort) > len(SORTABLE):
        raise InvalidQuery(f"At most {len(SORTABLE)} sort fields")
    return SearchRequest(
        q=" ".join(f"({part})" if len(q) > 1 else part for part in q),
        facets=tuple(dict.fromkeys(facets)),
        refine=tuple(refine),
        exclude=tuple(exclude),
        disjunctive=frozenset(disjunctive),
        sort=tuple(sort),
        rows=rows,
        start=start,
    )


def _sort(text: str) -> str:
    text = text.strip()
    name = text.removeprefix("-")
    found = field_named(name)
    if found is None or not found.sortable:
        raise InvalidQuery(f"Cannot sort by {name!r}: sort by one of {', '.join(SORTABLE)}")
    return ("-" if text.startswith("-") else "") + found.name
