"""A Python oracle for seed 003's query language and facets, over plain records.

It reads the same parsed tree (services.query_language.syntax) and the same word rule
(models.search_index.words, whose agreement with both engines' indexes is tested on its own),
and decides everything else by itself, in the most direct way: no SQL, no index, dates as
datetimes. The dataset search is right where it agrees with this on every query.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta, weekday

from app.models.search_index import words
from app.services.query_language.nodes import (
    And,
    Compare,
    Everything,
    Exact,
    IsNull,
    Node,
    Not,
    NowValue,
    Or,
    Range,
    Text,
)

LANGUAGE = "en"


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    description: str  # plain text: the description the index holds
    tags: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()  # topic titles
    publisher: str | None = None  # team title
    licence: str | None = None
    modified: datetime = datetime(2024, 1, 1)
    created: datetime = datetime(2020, 1, 1)
    resources: int = 0
    visible: bool = True  # to an anonymous caller
    extra: dict[str, str] = field(default_factory=dict)

    def text(self, name: str) -> str:
        return {
            "datasetid": self.id,
            "title": self.title,
            "description": self.description,
            "keyword": " ".join(self.tags),  # the index holds the tags as one text
        }[name]

    def values(self, name: str) -> list[str]:
        """The labels of a VALUE field."""
        if name == "theme":
            return list(self.themes)
        if name == "publisher":
            return [self.publisher] if self.publisher else []
        if name == "license":
            return [self.licence] if self.licence else []
        assert name == "language"
        return [LANGUAGE]

    def date(self, name: str) -> datetime:
        return self.modified if name == "modified" else self.created


# -- words ------------------------------------------------------------------------------------


def has_words(text: str, query: tuple[str, ...], *, exact: bool, last: bool) -> bool:
    found = words(text)
    if not exact:
        return all(any(word.startswith(q) for word in found) for q in query)
    n = len(query)
    for i in range(len(found) - n + 1):
        head, tail = found[i : i + n - 1], found[i + n - 1]
        if head == list(query[:-1]) and (tail.startswith(query[-1]) if last else tail == query[-1]):
            return True
    return False


TEXT_FIELDS = ("datasetid", "title", "description", "keyword")


def _text(node: Text, doc: Doc) -> bool:
    if not node.fields:
        if not node.exact:  # each word anywhere in the full-text fields
            every = " ".join(doc.text(name) for name in TEXT_FIELDS)
            return has_words(every, node.words, exact=False, last=False)
        return any(
            has_words(doc.text(name), node.words, exact=True, last=node.last_prefix)
            for name in TEXT_FIELDS
        )
    for name in node.fields:
        texts = [doc.text(name)] if name in TEXT_FIELDS else doc.values(name)
        if any(
            has_words(text, node.words, exact=node.exact, last=node.last_prefix) for text in texts
        ):
            return True
    return False


# -- dates ------------------------------------------------------------------------------------


def period(text: str) -> tuple[datetime, datetime]:
    """[start, end) a date names, written out by hand."""
    simple = text.replace("-", "/") if "T" not in text and "t" not in text else None
    if simple is not None and all(part.isdigit() for part in simple.split("/")):
        parts = [int(part) for part in simple.split("/")]
        if len(parts) == 1:
            return datetime(parts[0], 1, 1), datetime(parts[0] + 1, 1, 1)
        if len(parts) == 2:
            start = datetime(parts[0], parts[1], 1)
            nxt = datetime(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1)
            return start, nxt
        start = datetime(parts[0], parts[1], parts[2])
        return start, start + timedelta(days=1)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is not None:
        moment = (moment - moment.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return moment, moment + timedelta(milliseconds=1)


def moment_of(value: str | NowValue, now: datetime) -> tuple[datetime, datetime]:
    if isinstance(value, NowValue):
        arguments: dict[str, object] = {**dict(value.relative), **dict(value.absolute)}
        if value.weekday is not None:
            arguments["weekday"] = weekday(*value.weekday)
        moment = now + relativedelta(**arguments)  # type: ignore[arg-type]
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        return moment, moment + timedelta(milliseconds=1)
    return period(value)


def _compare(node: Compare | Range, doc: Doc, now: datetime) -> bool:
    if node.field == "records_count":
        count = float(doc.resources)
        if isinstance(node, Range):
            return float(str(node.low)) <= count <= float(str(node.high))
        number = float(str(node.value))
        return {
            "<": count < number,
            "<=": count <= number,
            ">": count > number,
            ">=": count >= number,
            "=": count == number,
        }[node.op]
    moment = doc.date(node.field)
    if isinstance(node, Range):
        return moment_of(node.low, now)[0] <= moment < moment_of(node.high, now)[1]
    start, end = moment_of(node.value, now)
    return {
        ">=": moment >= start,
        ">": moment >= end,
        "<": moment < start,
        "<=": moment < end,
        "=": start <= moment < end,
    }[node.op]


# -- the rest ---------------------------------------------------------------------------------


def _null(name: str, doc: Doc) -> bool:
    if name == "keyword":
        return not doc.tags
    if name == "theme":
        return not doc.themes
    if name == "publisher":
        return doc.publisher is None
    if name == "license":
        return not doc.licence
    if name in ("title", "description"):
        return not doc.text(name)
    return False


def _exact(node: Exact, doc: Doc) -> bool:
    if node.field in ("theme", "publisher", "license", "language"):
        candidates = doc.values(node.field)
    elif node.field == "keyword":
        candidates = list(doc.tags)
    else:
        candidates = [doc.text(node.field)]
    if node.prefix:
        return any(c.startswith(node.value) for c in candidates)
    return node.value in candidates


def evaluate(node: Node, doc: Doc, now: datetime) -> bool:
    if isinstance(node, Everything):
        return True
    if isinstance(node, And):
        return all(evaluate(o, doc, now) for o in node.operands)
    if isinstance(node, Or):
        return any(evaluate(o, doc, now) for o in node.operands)
    if isinstance(node, Not):
        return not evaluate(node.operand, doc, now)
    if isinstance(node, Text):
        return _text(node, doc)
    if isinstance(node, Compare | Range):
        return _compare(node, doc, now)
    if isinstance(node, IsNull):
        return _null(node.field, doc)
    assert isinstance(node, Exact)
    return _exact(node, doc)


def select(node: Node, docs: Iterable[Doc], now: datetime) -> set[str]:
    return {doc.id for doc in docs if evaluate(node, doc, now)}


# -- facets -----------------------------------------------------------------------------------

DATE_FACETS = ("modified", "created", "issued")


def facet_values(doc: Doc, facet: str) -> set[str]:
    """The top-level values `doc` has for `facet` (a date's year)."""
    if facet in DATE_FACETS:
        return {f"{doc.date(facet).year:04d}"}
    if facet == "keyword":
        return set(doc.tags)
    return set(doc.values(facet))


def has_value(doc: Doc, facet: str, value: str) -> bool:
    if facet in DATE_FACETS:
        moment = doc.date(facet)
        path = f"{moment.year:04d}/{moment.month:02d}/{moment.day:02d}"
        parts = value.replace("-", "/").split("/")
        wanted = "/".join(p if i == 0 else p.zfill(2) for i, p in enumerate(parts))
        return path == wanted or path.startswith(wanted + "/")
    return value in facet_values(doc, facet)


@dataclass(frozen=True)
class Choices:
    refine: tuple[tuple[str, str], ...] = ()
    exclude: tuple[tuple[str, str], ...] = ()
    disjunctive: frozenset[str] = frozenset()


def chosen(doc: Doc, choices: Choices, *, leave_out: str | None, excluding: bool) -> bool:
    facets = {name for name, _v in (*choices.refine, *choices.exclude)}
    for facet in facets:
        refined = [v for f, v in choices.refine if f == facet]
        if refined and not (facet == leave_out and facet in choices.disjunctive):
            test = any if facet in choices.disjunctive else all
            if not test(has_value(doc, facet, v) for v in refined):
                return False
        excluded = [v for f, v in choices.exclude if f == facet]
        if (facet != leave_out or excluding) and any(has_value(doc, facet, v) for v in excluded):
            return False
    return True


def facet_counts(docs: list[Doc], facet: str, choices: Choices) -> dict[str, tuple[int, str]]:
    """value -> (count, state) of the top level of `facet` over `docs` (already the query's)."""
    shown = [d for d in docs if chosen(d, choices, leave_out=facet, excluding=True)]
    counts: Counter[str] = Counter(v for d in shown for v in facet_values(d, facet))
    excluded = [v for f, v in choices.exclude if f == facet]
    refined = [v for f, v in choices.refine if f == facet]
    if excluded:
        again = [d for d in docs if chosen(d, choices, leave_out=facet, excluding=False)]
        back: Counter[str] = Counter(v for d in again for v in facet_values(d, facet))
        for value in excluded:
            if back.get(value):
                counts[value] = back[value]
    result: dict[str, tuple[int, str]] = {}
    for value, count in counts.items():
        if not count:
            continue
        if facet in DATE_FACETS:
            is_refined = any(r == value or r.startswith(value + "/") for r in refined)
        else:
            is_refined = value in refined
        state = "refined" if is_refined else "excluded" if value in excluded else "displayed"
        result[value] = (count, state)
    return result
