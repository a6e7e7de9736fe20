"""CKAN's `package_search` `q` and `fq` (Solr's standard query syntax, as CKAN clients write
it) read into the query language's node tree (query_language.nodes), so that CKAN's search runs
through the same SQL as seed 003's (query_language.to_sql).

The two syntaxes share words (each the beginning of a word), "phrases", AND, OR, NOT,
parentheses and `field:value` with the same field names (query_language.fields: CKAN's names
are aliases there). What is Solr's own is read here:

    *:*                             everything (as a blank query)
    field:[a TO b], {a TO b}, [a TO b}   ranges: `*` an open end, `{` `}` an end left out;
                                    `NOW` as the upper end is open (nothing changes in the future)
    NOW, NOW-1DAY, NOW/DAY+1DAY     Solr's date math, as a #now() value
    \\:  \\-  (any \\x)               an escaped character, part of the term
    +a  -a  !a  &&  ||              required (every term is: AND is CKAN's default), NOT, AND, OR
    field:(a OR "b c")              a group searched in one field
    field:*                         the field holds a value
    a^2  a~  "a b"~3                boosts and fuzziness: Solr's ranking and slack, ignored
    text:x                          CKAN's catch-all field: the full-text fields
    dataset_type:dataset            what every dataset here is (another type: none)

A query Solr would refuse, or one naming a field we do not have, is a SolrQueryError (what
CKAN answers with its Search Error); one with more words or characters than a search may hold
is search.QueryTooLong, as before.
"""

from __future__ import annotations

import functools
import re

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from app.models.search_index import words as folded_words
from app.services.query_language import dates
from app.services.query_language.fields import FIELDS, Field, Kind, field_named
from app.services.query_language.nodes import (
    And,
    Compare,
    Everything,
    IsNull,
    Node,
    Not,
    NowValue,
    Or,
    Range,
    Text,
)
from app.services.query_language.syntax import (
    QuerySyntaxError,
    check_depth,
    syntax_error,
    texts,
)
from app.services.search import MAX_QUERY_LENGTH, MAX_TERMS, QueryTooLong

GRAMMAR = r"""
start: [or_expr]

?or_expr: and_expr (_or and_expr)*
?and_expr: unary (_and? unary)*
?unary: _not unary              -> negation
      | _MINUS unary            -> negation
      | _PLUS unary
      | primary
?primary: "(" or_expr ")"
        | TERM ":" field_value  -> fielded
        | TERM                  -> term
        | PHRASE                -> phrase
?field_value: TERM              -> term
            | PHRASE            -> phrase
            | OPEN RANGE_END _TO RANGE_END CLOSE -> range
            | "(" or_expr ")"

_or: _OR_WORD | _OR_SIGN
_and: _AND_WORD | _AND_SIGN
_not: _NOT_WORD | _NOT_SIGN
_OR_WORD: "OR"
_OR_SIGN: "||"
_AND_WORD: "AND"
_AND_SIGN: "&&"
_NOT_WORD: "NOT"
_NOT_SIGN: "!"
_TO: "TO"
_PLUS: "+"
_MINUS: "-"
OPEN: "[" | "{"
CLOSE: "]" | "}"
PHRASE: /"(?:[^"\\]|\\.)*"/
TERM: /(?:[^\s()\[\]{}"+\-!:\\^~&|]|\\.)(?:[^\s()\[\]{}":\\^~]|\\.)*/
RANGE_END: /[^\s\[\]{}]+/

%ignore /\s+/
%ignore /[\^~][0-9.]*/   // boosts and fuzziness: ranking and slack only
"""

_ESCAPED = re.compile(r"\\(.)")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_DATE_MATH = re.compile(r"([+-])(\d+)([A-Z]+)|/([A-Z]+)")
# Solr's date-math units -> (relativedelta's plural, the absolute fields a rounding zeroes)
_UNITS: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {
    "YEAR": ("years", (("month", 1), ("day", 1), ("hour", 0), ("minute", 0), ("second", 0))),
    "MONTH": ("months", (("day", 1), ("hour", 0), ("minute", 0), ("second", 0))),
    "DAY": ("days", (("hour", 0), ("minute", 0), ("second", 0))),
    "HOUR": ("hours", (("minute", 0), ("second", 0))),
    "MINUTE": ("minutes", (("second", 0),)),
    "SECOND": ("seconds", ()),
}
_SIZE = {unit: n for n, unit in enumerate(_UNITS)}  # larger units first
# CKAN fields with one value for every dataset here.
_CONSTANT = {"dataset_type": "dataset"}
FULL_TEXT_FIELD = "text"  # CKAN's catch-all field


class SolrQueryError(QuerySyntaxError):
    """A `q` or `fq` that cannot be read as Solr's syntax (CKAN's Search Error)."""


_QUOTES = {'"': '"'}  # Solr's only quote


@functools.cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=True)


def parse(text: str) -> Node:
    """The Solr query `text` as a tree (blank, `""` and `*:*`: Everything). SolrQueryError
    for one that cannot be read, QueryTooLong for one beyond a search's bounds."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryTooLong(
            f"A search may be at most {MAX_QUERY_LENGTH} characters long; this one has {len(text)}"
        )
    if text.strip() in ("", '""', "''"):  # blank, and CKAN's own "everything"
        return Everything()
    check_depth(text, quotes=_QUOTES, escapes=True, error=SolrQueryError)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise syntax_error(text, error, quotes=_QUOTES, kind=SolrQueryError) from None
    node = _Builder().build(tree, None)
    count = len({word for part in texts(node) for word in part.words})
    if count > MAX_TERMS:
        raise QueryTooLong(
            f"A search may hold at most {MAX_TERMS} different words; this one has {count}"
        )
    return node


def _unescaped(token: Token) -> str:
    return _ESCAPED.sub(r"\1", str(token))


def _nothing() -> Node:
    return Not(Everything())


def _all(operands: list[Node]) -> Node:
    kept = tuple(o for o in operands if not isinstance(o, Everything))
    if not kept:
        return Everything()
    return kept[0] if len(kept) == 1 else And(kept)


_Scope = Field | str | None  # a field, a constant field's name, FULL_TEXT_FIELD or none


class _Builder:
    """The node of a parse tree, read in the field a `field:(...)` group gives it."""

    def build(self, tree: Tree[Token] | Token | None, scope: _Scope) -> Node:
        if tree is None:
            return Everything()
        if isinstance(tree, Token):  # never: every token is under a rule
            raise SolrQueryError(f"Unexpected {str(tree)!r}", tree.start_pos or 0)
        kind = tree.data
        children = tree.children
        if kind == "start":
            return self.build(children[0], scope)
        if kind == "or_expr":
            operands = [self.build(c, scope) for c in children]
            if any(isinstance(o, Everything) for o in operands):
                return Everything()
            return Or(tuple(operands))
        if kind == "and_expr":
            return _all([self.build(c, scope) for c in children])
        if kind == "negation":
            return Not(self.build(children[0], scope))
        if kind == "unary":  # `+x`: required, as every term already is
            return self.build(children[0], scope)
        if kind == "fielded":
            name, value = children
            assert isinstance(name, Token) and isinstance(value, Tree)
            return self._fielded(name, value, scope)
        if kind == "term":
            (token,) = children
            assert isinstance(token, Token)
            return self._value(scope, _unescaped(token), token, phrase=False)
        if kind == "phrase":
            (token,) = children
            assert isinstance(token, Token)
            return self._value(scope, _unescaped(token)[1:-1], token, phrase=True)
        if kind == "range":
            tokens = [child for child in children if isinstance(child, Token)]
            return self._range(scope, tokens)
        raise AssertionError(kind)

    def _fielded(self, name: Token, value: Tree[Token], scope: _Scope) -> Node:
        field_name = _unescaped(name)
        if field_name == "*":
            if value.data == "term" and str(value.children[0]) == "*":
                return Everything()  # *:*
            raise SolrQueryError("Only *:* may name every field", name.start_pos or 0)
        inner: _Scope
        if field_name == FULL_TEXT_FIELD or field_name in _CONSTANT:
            inner = field_name
        else:
            inner = field_named(field_name)
            if inner is None:
                known = ", ".join(sorted({*FIELDS, FULL_TEXT_FIELD, *_CONSTANT}))
                raise SolrQueryError(
                    f"Unknown field {field_name!r}: the fields are {known} (and CKAN's names "
                    "for them: tags, name, notes, organization, license_id, metadata_modified, "
                    "...)",
                    name.start_pos or 0,
                )
        return self.build(value, inner)

    def _value(self, scope: _Scope, text: str, where: Token, *, phrase: bool) -> Node:
        at = where.start_pos or 0
        if isinstance(scope, str) and scope in _CONSTANT:
            return Everything() if text in ("*", _CONSTANT[scope]) else _nothing()
        field = scope if isinstance(scope, Field) else None
        if text == "*" and not phrase:
            return Everything() if field is None else Not(IsNull(field.name))
        if field is not None and field.kind is Kind.DATE:
            return Compare(field.name, "=", _date(field, text, at, upper=False) or NowValue())
        if field is not None and field.kind is Kind.NUMBER:
            return Compare(field.name, "=", _number(field, text, at))
        found = tuple(folded_words(text))
        if not found:
            return Everything()
        if not phrase:
            found = tuple(dict.fromkeys(found))
        return Text(found, (field.name,) if field is not None else (), exact=phrase)

    def _range(self, scope: _Scope, children: list[Token]) -> Node:
        opening, low_token, high_token, closing = children
        field = scope if isinstance(scope, Field) else None
        at = opening.start_pos or 0
        if field is None or field.kind not in (Kind.DATE, Kind.NUMBER):
            named = field.name if field is not None else str(scope or "a word")
            raise SolrQueryError(
                f"{named} has no range: only dates and numbers (metadata_modified, "
                "metadata_created, num_resources) have",
                at,
            )
        low = self._end(field, low_token, upper=False)
        high = self._end(field, high_token, upper=True)
        if low is not None and high is not None and opening == "[" and closing == "]":
            return Range(field.name, low, high)
        parts: list[Node] = []
        if low is not None:
            parts.append(Compare(field.name, ">=" if opening == "[" else ">", low))
        if high is not None:
            parts.append(Compare(field.name, "<=" if closing == "]" else "<", high))
        return _all(parts) if parts else Not(IsNull(field.name))

    def _end(self, field: Field, token: Token, *, upper: bool) -> str | NowValue | None:
        """A range end: None for an open one."""
        text = _unescaped(token)
        if text == "*":
            return None
        at = token.start_pos or 0
        if field.kind is Kind.NUMBER:
            return _number(field, text, at)
        return _date(field, text, at, upper=upper)


def _number(field: Field, text: str, at: int) -> str:
    if not _NUMBER.fullmatch(text):
        raise SolrQueryError(f"{field.name} takes a number, not {text!r}", at)
    return text


def _date(field: Field, text: str, at: int, *, upper: bool) -> str | NowValue | None:
    """A date value: an ISO time or a period (query_language.dates), or Solr's date math. A
    bare NOW as a range's upper end is None (open)."""
    if text.startswith("NOW"):
        if text == "NOW" and upper:
            return None
        return _now(text, at)
    try:
        dates.period(text)
    except ValueError:
        raise SolrQueryError(
            f"{field.name} takes a time such as 2024-01-31T00:00:00Z (or 2024, 2024-01, "
            f"2024-01-31, NOW, NOW-1DAY), not {text!r}",
            at,
        ) from None
    return text


def _now(text: str, at: int) -> NowValue:
    """Solr's `NOW[+-N UNIT | /UNIT]...` as a NowValue. A rounding applies before the offsets
    (dateutil's order), so one that follows an offset of a smaller unit is refused."""
    relative: dict[str, int] = {}
    absolute: dict[str, int] = {}
    finest = -1  # the smallest unit an offset has moved so far
    rest = text[3:]
    position = 0
    for found in _DATE_MATH.finditer(rest):
        if found.start() != position:
            break
        position = found.end()
        sign, amount, unit, rounding = found.groups()
        name = _unit(rounding or unit, at)
        if rounding:
            if finest > _SIZE[name]:
                raise SolrQueryError(
                    f"{text}: round before adding a smaller unit (NOW/DAY+6HOURS)", at
                )
            absolute.update(dict(_UNITS[name][1]))
            absolute["microsecond"] = 0
        else:
            plural = _UNITS[name][0]
            relative[plural] = relative.get(plural, 0) + int(amount) * (-1 if sign == "-" else 1)
            finest = max(finest, _SIZE[name])
    if position != len(rest):
        raise SolrQueryError(f"Not Solr date math: {text!r} (NOW, NOW-1DAY, NOW/DAY)", at)
    value = NowValue(tuple(relative.items()), tuple(absolute.items()))
    try:
        dates.now(value)
    except (ValueError, OverflowError) as error:
        raise SolrQueryError(f"{text}: {error}", at) from None
    return value


def _unit(word: str, at: int) -> str:
    name = "DAY" if word == "DATE" else word
    name = name[:-1] if name.endswith("S") and name[:-1] in _UNITS else name
    if name not in _UNITS:
        raise SolrQueryError(
            f"Unknown date unit {word}: YEAR, MONTH, DAY, HOUR, MINUTE or SECOND", at
        )
    return name


def conjuncts(node: Node) -> list[Node]:
    """The parts of `node` that must all hold (itself, unless it is an And)."""
    if isinstance(node, And):
        return list(node.operands)
    if isinstance(node, Everything):
        return []
    return [node]
