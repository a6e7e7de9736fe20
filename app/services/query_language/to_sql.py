"""A parsed query (query_language.nodes) as one SQL condition on `Dataset`, on either engine.

- words and phrases in the full-text fields go to the search index (services.search.text_matches:
  FTS5 on SQLite, the tsvector on PostgreSQL); words of the other text fields (theme, publisher,
  license, language) are matched in Python against the few values those fields hold (topic
  titles, team titles, licence titles: the same word rule, models.search_index.words), and the
  condition is on the values found;
- dates compare as periods (query_language.dates) with the stored ISO times as strings; a
  number is the count of the dataset's resources.

Reads are not filtered by who may see what: callers add `visibility.visible_clause`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from app.models import Dataset, Resource, Team, Topic
from app.models.search_index import words
from app.services import search
from app.services.facet_filters import list_elements
from app.services.query_language import dates
from app.services.query_language.fields import FIELDS, Kind
from app.services.query_language.nodes import (
    And,
    Compare,
    Everything,
    Exact,
    IsNull,
    Node,
    Not,
    Or,
    Range,
    Text,
)

DATE_COLUMNS: dict[str, Any] = {
    "modified": Dataset.changed_at,  # when this catalogue last changed it, as CKAN's own
    "issued": Dataset.created_at,
    "created": Dataset.created_at,
}


@dataclass(frozen=True, slots=True)
class QueryContext:
    """What a query is read against: its moment (`#now()`), the catalogue's language."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    language: str = "en"


def records_count() -> ColumnElement[int]:
    """The number of resources of the outer `Dataset` row (seed 003's records_count)."""
    return (
        select(func.count())
        .select_from(Resource)
        .where(Resource.dataset_pk == Dataset.pk)
        .scalar_subquery()
    )


def matches_words(
    value: str, query: tuple[str, ...], *, exact: bool = False, last: bool = False
) -> bool:
    """Whether the words of `value` hold `query` as the search index would find it: every
    query word the beginning of a word, or (`exact`) the words in a row (`last`: the last a
    beginning)."""
    found = words(value)
    if not exact:
        return all(any(word.startswith(q) for word in found) for q in query)
    size = len(query)
    for start in range(len(found) - size + 1):
        window = found[start : start + size]
        if window[:-1] == list(query[:-1]) and (
            window[-1].startswith(query[-1]) if last else window[-1] == query[-1]
        ):
            return True
    return False


class Labels:
    """The titles of the topics and teams, by id (a label field shows them), read at most once
    by whoever holds this: one search."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._topics: dict[str, str] | None = None
        self._teams: dict[str, str] | None = None

    def topics(self) -> dict[str, str]:
        if self._topics is None:
            rows = self.session.execute(select(Topic.id, Topic.title))
            self._topics = {topic: title or topic for topic, title in rows}
        return self._topics

    def teams(self) -> dict[str, str]:
        if self._teams is None:
            rows = self.session.execute(select(Team.id, Team.title))
            self._teams = {team: title or team for team, title in rows}
        return self._teams


class _Compiler:
    def __init__(self, session: Session, context: QueryContext, labels: Labels) -> None:
        self.session = session
        self.context = context
        self.labels = labels

    def compile(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, Everything):
            return true()
        if isinstance(node, And):
            return and_(*self._merged(node.operands))
        if isinstance(node, Or):
            return or_(*(self.compile(operand) for operand in node.operands))
        if isinstance(node, Not):
            return negation(self.compile(node.operand))
        if isinstance(node, Text):
            return self._text(node)
        if isinstance(node, Compare | Range):
            return self._compare(node)
        if isinstance(node, IsNull):
            return self._null(node.field)
        return self._exact(node)

    def _merged(self, operands: tuple[Node, ...]) -> list[ColumnElement[bool]]:
        """Plain words together go to the index as one search (as the desktop's box always
        has), the rest one by one."""
        plain = [w for o in operands if isinstance(o, Text) and _plain(o) for w in o.words]
        rest = [o for o in operands if not (isinstance(o, Text) and _plain(o))]
        conditions = [self.compile(operand) for operand in rest]
        if plain:
            terms = tuple(dict.fromkeys(plain))
            conditions.insert(0, search.text_matches(self.session, terms))
        return conditions

    # -- words ---------------------------------------------------------------------------------

    def _text(self, node: Text) -> ColumnElement[bool]:
        indexed = tuple(f for f in node.fields if FIELDS[f].kind is Kind.TEXT)
        others = [f for f in node.fields if FIELDS[f].kind is not Kind.TEXT]
        conditions: list[ColumnElement[bool]] = []
        if indexed or not node.fields:
            conditions.append(
                search.text_matches(
                    self.session,
                    node.words,
                    indexed,
                    exact=node.exact,
                    last=node.last_prefix,
                )
            )
        for name in others:
            conditions.append(
                self._values(
                    name,
                    lambda value: matches_words(
                        value, node.words, exact=node.exact, last=node.last_prefix
                    ),
                )
            )
        return or_(*conditions)

    def _values(self, name: str, keep: Callable[[str], bool]) -> ColumnElement[bool]:
        """Condition: the dataset's value of a VALUE field is one `keep` accepts."""
        if name == "theme":
            ids = [topic for topic, title in self.labels.topics().items() if keep(title)]
            return self._listed(Dataset.topics, lambda value: value.in_(ids)) if ids else false()
        if name == "publisher":
            ids = [team for team, title in self.labels.teams().items() if keep(title)]
            return Dataset.team.in_(ids) if ids else false()
        if name == "license":
            titles = self.session.scalars(
                select(Dataset.licence_title).where(Dataset.licence_title.is_not(None)).distinct()
            )
            kept = [title for title in titles if title is not None and keep(title)]
            return Dataset.licence_title.in_(kept) if kept else false()
        assert name == "language"
        return true() if keep(self.context.language) else false()

    def _listed(
        self, column: Any, test: Callable[[Any], ColumnElement[bool]]
    ) -> ColumnElement[bool]:
        elements = list_elements(self.session, column)
        return select(literal(1)).select_from(elements).where(test(elements.c.value)).exists()

    # -- dates and numbers ---------------------------------------------------------------------

    def _compare(self, node: Compare | Range) -> ColumnElement[bool]:
        kind = FIELDS[node.field].kind
        if kind is Kind.NUMBER:
            count = cast(records_count(), Float)
            if isinstance(node, Range):
                return and_(count >= float(str(node.low)), count <= float(str(node.high)))
            number = float(str(node.value))
            return {
                "<": count < number,
                "<=": count <= number,
                ">": count > number,
                ">=": count >= number,
                "=": count == number,
            }[node.op]
        column = DATE_COLUMNS[node.field]
        low: datetime | None
        high: datetime | None
        if isinstance(node, Range):
            low = dates.resolve(node.low, self.context.now).start
            high = dates.resolve(node.high, self.context.now).end
        else:
            low, high = dates.bounds(node.op, dates.resolve(node.value, self.context.now))
        conditions = [column.is_not(None), column != ""]
        if low is not None:
            conditions.append(column >= dates.stored(low))
        if high is not None:
            conditions.append(column < dates.stored(high))
        return and_(*conditions)

    # -- functions -----------------------------------------------------------------------------

    def _null(self, name: str) -> ColumnElement[bool]:
        if name in ("keyword", "theme"):
            column = Dataset.tags if name == "keyword" else Dataset.topics
            return ~self._listed(column, lambda value: value.is_not(None))
        if name == "publisher":
            return Dataset.team.is_(None)
        if name in ("language", "records_count", "datasetid"):
            return false()
        column = {
            "title": Dataset.title,
            "description": Dataset.description_text,
            "license": Dataset.licence_title,
            **DATE_COLUMNS,
        }[name]
        return or_(column.is_(None), column == "")

    def _exact(self, node: Exact) -> ColumnElement[bool]:
        value = node.value

        def test(column: Any) -> ColumnElement[bool]:
            if node.prefix:  # case sensitive on both engines (SQLite's LIKE is not)
                return func.substr(column, 1, len(value)) == value
            equal: ColumnElement[bool] = column == value
            return equal

        def keep(text: str) -> bool:
            return text.startswith(value) if node.prefix else text == value

        if node.field in ("theme", "publisher", "license", "language"):
            return self._values(node.field, keep)
        if node.field == "keyword":
            return self._listed(Dataset.tags, test)
        column = {
            "datasetid": Dataset.id,
            "title": Dataset.title,
            "description": Dataset.description_text,
        }[node.field]
        return test(column)


def negation(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """NOT `condition`, where an unknown (a NULL team, licence...) counts as false, so that
    `NOT publisher:x` keeps the datasets without a publisher."""
    return not_(func.coalesce(condition, false()))


def _plain(node: Text) -> bool:
    return not node.fields and not node.exact


def condition(
    session: Session,
    node: Node,
    context: QueryContext | None = None,
    labels: Labels | None = None,
) -> ColumnElement[bool]:
    """The SQL condition on `Dataset` for `node` (`labels`: the titles the caller has read, if
    it holds them already: a search's facets)."""
    compiler = _Compiler(session, context or QueryContext(), labels or Labels(session))
    return compiler.compile(node)


def split_words(node: Node) -> tuple[tuple[str, ...], Node]:
    """The plain words `node` requires of every dataset (outside any NOT and OR), and the
    rest of the query: a search can start from the index's matches for the words."""
    if isinstance(node, Text) and _plain(node):
        return node.words, Everything()
    if isinstance(node, And):
        plain = [o for o in node.operands if isinstance(o, Text) and _plain(o)]
        rest = tuple(o for o in node.operands if not (isinstance(o, Text) and _plain(o)))
        found = tuple(dict.fromkeys(w for o in plain for w in o.words))
        if len(rest) > 1:
            return found, And(rest)
        return found, rest[0] if rest else Everything()
    return (), node
