"""What the desktop's search box holds, read as seed 003's query language
(services.query_language), for the table (services.browse), its facet counts and the export's
"search" scope.

Plain words keep the path they always had: a query that is only words searched everywhere
(`air qual`) is `terms`, which services.search matches with its fast plans (the FTS5 count,
the walk of the sort index). Anything else (`tag:FOI AND modified >= 2024`) is the parsed
tree, compiled by query_language.to_sql. A malformed query never empties the table: its words
are searched as plain words, and `error` says what is wrong and where, for the window to show.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.services import search
from app.services.query_language.nodes import And, Everything, Node, Text
from app.services.query_language.syntax import QuerySyntaxError, parse
from app.services.query_language.to_sql import QueryContext, condition, split_words


@dataclass(frozen=True)
class QueryError:
    """Why a text is not a query: the parser's message, which names the column (1-based)."""

    message: str
    column: int


@dataclass(frozen=True)
class DesktopQuery:
    """`terms` (the plain-word search, () for everything) or `node` (a structured query): one
    of the two is set. `error`: why the text is not a query (None: it is one)."""

    text: str
    terms: tuple[str, ...] | None
    node: Node | None
    error: QueryError | None = None


def _only_words(node: Node) -> bool:
    if isinstance(node, Everything):
        return True
    if isinstance(node, Text):
        return not node.fields and not node.exact
    return isinstance(node, And) and all(_only_words(operand) for operand in node.operands)


# What only the query language gives meaning to: its characters and its operators. Text with
# neither is plain words to the parser too (all its tokens are WORDs), so it is read without it.
_SYNTAX = re.compile(r'[()"\u201c\u201d\[\]{}:<>=#,]|(?:^|\s)(?:AND|OR|NOT|TO)(?=\s|$)')


@functools.lru_cache(maxsize=64)
def read(text: str) -> DesktopQuery:
    """`text` as the table searches it. Cached: the table and its facets ask for every window.

    Plain text skips the parser: the empty box at start-up and plain searches never wait for
    the grammar to be built, and read exactly as `parsed` would (the tests compare them).
    """
    if _SYNTAX.search(text) is None:
        return DesktopQuery(text, search.terms(text), None)
    return parsed(text)


def parsed(text: str) -> DesktopQuery:
    """`text` read by the parser, whatever it holds."""
    try:
        node = parse(text)
    except QuerySyntaxError as error:  # kept as text: the cache holds no traceback
        return DesktopQuery(text, search.terms(text), None, QueryError(str(error), error.column))
    if _only_words(node):
        # The parser's words are the one tokenizer's (search_index.words), less the operators:
        # for plain words, the very terms search.terms has always read.
        return DesktopQuery(text, split_words(node)[0], None)
    return DesktopQuery(text, None, node)


def query_condition(
    session: Session, text: str, *, walk: bool = False, context: QueryContext | None = None
) -> ColumnElement[bool]:
    """Condition on `Dataset`: it matches the box's `text` (every dataset for no text).

    walk: services.search.matches' plan, for plain words (a structured query has one plan).
    """
    query = read(text)
    if query.terms is not None:
        return search.matches(session, query.terms, walk=walk)
    assert query.node is not None
    return condition(session, query.node, context)
