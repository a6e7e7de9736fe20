"""Seed 003's query language, parsed (Lark, LALR) into query_language.nodes.

    film                      words: each the beginning of a word (films, filmography)
    "air quality"             a phrase: these words, in this order (accent and case insensitive)
    film OR trees, (a OR b) AND c, NOT x, a b (= a AND b)
    title:paris, keyword:FOI  words in one field
    modified >= 2024/01/01, records_count > 5, modified:[2020 TO 2024], modified:2024
    #now(years=-1), #null(theme), #exact(keyword, "FOI"), #search(title, description, "Jean-C"),
    #startswith(title, "Air")

Field names are checked here (query_language.fields, aliases included) and so are the values a
field's kind needs (a date, a number), so every mistake is a QuerySyntaxError that says where it
is. Work is bounded before anything runs: MAX_LENGTH characters, MAX_DEPTH levels of
parentheses, MAX_WORDS words in all (services.search's own limit on what one search holds).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from app.models.search_index import words as folded_words
from app.services.errors import CatalogueError
from app.services.query_language import dates
from app.services.query_language.fields import FIELDS, Field, Kind, field_named
from app.services.query_language.nodes import (
    And,
    Compare,
    Comparison,
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

MAX_LENGTH = 1000
MAX_DEPTH = 16
MAX_WORDS = 32

GRAMMAR = r"""
start: [expr]

?expr: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND? not_expr)*
?not_expr: _NOT not_expr -> negation
         | atom
?atom: "(" expr ")"
     | term

term: WORD                                  -> words
    | DATETIME                              -> words
    | PHRASE                                -> phrase
    | WORD ":" value                        -> field_match
    | WORD "=" value                        -> field_match
    | WORD ":" "[" value _TO value "]"      -> field_range
    | WORD OPERATOR value                   -> compare
    | FUNCTION "(" argument* ")"            -> function

?value: WORD | DATETIME | PHRASE | function_value
function_value: FUNCTION "(" argument* ")"

argument: WORD                              -> positional
        | PHRASE                            -> positional
        | WORD "=" WORD                     -> keyword
        | WORD "=" WORD "(" WORD ")"        -> keyword_nth

_OR: "OR"
_AND: "AND"
_NOT: "NOT"
_TO: "TO"
OPERATOR: ">=" | "<=" | ">" | "<"
FUNCTION: /#[A-Za-z_]+/
DATETIME.2: /DATETIME_PATTERN/
PHRASE: /"[^"]*"/ | /\u201c[^\u201d]*\u201d/
WORD: /[^\s()"\u201c\u201d\[\]{}:<>=#,]+/

%ignore /\s+/
%ignore ","  // a separator: between words, and between a function's arguments
""".replace("DATETIME_PATTERN", dates.ISO_TIME.pattern)


class QuerySyntaxError(CatalogueError):
    """A query that cannot be read; `offset` is where (0-based), `column` 1-based."""

    code = "invalid_query"

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at column {offset + 1})")
        self.offset = offset

    @property
    def column(self) -> int:
        return self.offset + 1


@functools.cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=True)


def parse(text: str) -> Node:
    """The query `text` as a tree; QuerySyntaxError (with where) if it is not one."""
    if len(text) > MAX_LENGTH:
        raise QuerySyntaxError(
            f"A query may be at most {MAX_LENGTH} characters long; this one has {len(text)}",
            MAX_LENGTH,
        )
    check_depth(text)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise syntax_error(text, error) from None
    try:
        node: Node = _Build().transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, QuerySyntaxError):
            raise error.orig_exc from None
        raise
    _check_words(node, text)
    return node


QUOTES = {'"': '"', "\u201c": "\u201d"}  # opening quote -> its closing one


def check_depth(
    text: str,
    *,
    quotes: dict[str, str] = QUOTES,
    escapes: bool = False,
    error: type[QuerySyntaxError] = QuerySyntaxError,
) -> None:
    """`error` if `text` nests parentheses (outside quotes; after a backslash, a character is
    itself where `escapes`) more than MAX_DEPTH deep: before any parser recurses into it."""
    depth = 0
    closing: str | None = None
    escaped = False
    for offset, char in enumerate(text):
        if escaped:
            escaped = False
        elif escapes and char == "\\":
            escaped = True
        elif closing is not None:
            closing = None if char == closing else closing
        elif char in quotes:
            closing = quotes[char]
        elif char == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise error(f"A query may nest parentheses at most {MAX_DEPTH} deep", offset)
        elif char == ")":
            depth -= 1


def _check_words(node: Node, text: str) -> None:
    count = sum(len(part.words) for part in texts(node))
    if count > MAX_WORDS:
        raise QuerySyntaxError(
            f"A query may hold at most {MAX_WORDS} words; this one has {count}", len(text)
        )


def texts(node: Node) -> list[Text]:
    """The word lookups of `node`, wherever they stand in it."""
    if isinstance(node, Text):
        return [node]
    if isinstance(node, Not):
        return texts(node.operand)
    if isinstance(node, And | Or):
        return [found for operand in node.operands for found in texts(operand)]
    return []


def syntax_error(
    text: str,
    error: UnexpectedInput,
    *,
    quotes: dict[str, str] = QUOTES,
    kind: type[QuerySyntaxError] = QuerySyntaxError,
) -> QuerySyntaxError:
    """What Lark's `error` means to the person who wrote `text`, and where."""
    offset = error.pos_in_stream if error.pos_in_stream is not None else len(text)
    token = getattr(error, "token", None)
    at_end = token is not None and token.type == "$END"
    if isinstance(error, UnexpectedEOF) or at_end or offset >= len(text):
        return kind("The query ends too early", len(text))
    char = text[offset]
    if char in quotes:
        return kind("A quote is not closed", offset)
    if isinstance(error, UnexpectedCharacters):
        return kind(f"Unexpected {char!r}", offset)
    shown = str(token) if token is not None else char
    return kind(f"Unexpected {shown!r}", offset)


def _unquoted(token: Token) -> str:
    return str(token)[1:-1]


def _field(token: Token) -> Field:
    found = field_named(str(token))
    if found is None:
        known = ", ".join(FIELDS)
        raise QuerySyntaxError(f"Unknown field {str(token)!r}: the fields are {known}", _at(token))
    return found


def _at(token: Token) -> int:
    return token.start_pos or 0


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def _checked(field: Field, value: Any, where: Token) -> str | NowValue:
    """`value` (a token or a NowValue) checked for `field`'s kind."""
    if isinstance(value, NowValue):
        if field.kind is not Kind.DATE:
            raise QuerySyntaxError(f"#now() is a date; {field.name} is not", _at(where))
        return value
    text = _unquoted(value) if value.type == "PHRASE" else str(value)
    if field.kind is Kind.DATE:
        try:
            dates.period(text)
        except ValueError:
            raise QuerySyntaxError(
                f"{field.name} takes a date (YYYY, YYYY/MM, YYYY/MM/DD or an ISO 8601 time), "
                f"not {text!r}",
                _at(value),
            ) from None
    elif field.kind is Kind.NUMBER and not _NUMBER.fullmatch(text):
        raise QuerySyntaxError(f"{field.name} takes a number, not {text!r}", _at(value))
    return text


def _text(value: str, fields: tuple[str, ...], *, exact: bool, last_prefix: bool = False) -> Node:
    found = tuple(folded_words(value))
    if not found:
        return Everything()
    if not exact:
        found = tuple(dict.fromkeys(found))
    return Text(found, fields, exact=exact, last_prefix=last_prefix)


class _Function:
    """A parsed `#name(arguments)`, before it is known whether it is a term or a value."""

    def __init__(self, name: Token, arguments: list[Any]) -> None:
        self.name = name
        self.arguments = [argument for argument in arguments if argument is not None]


@v_args(inline=True)
class _Build(Transformer[Token, Node]):
    def start(self, expr: Node | None) -> Node:
        return Everything() if expr is None else expr

    def or_expr(self, *operands: Node) -> Node:
        return Or(tuple(operands))

    def and_expr(self, *operands: Node) -> Node:
        kept = tuple(operand for operand in operands if not isinstance(operand, Everything))
        if not kept:
            return Everything()
        return kept[0] if len(kept) == 1 else And(kept)

    def negation(self, operand: Node) -> Node:
        return Not(operand)

    def words(self, token: Token) -> Node:
        return _text(str(token), (), exact=False)

    def phrase(self, token: Token) -> Node:
        return _text(_unquoted(token), (), exact=True)

    def field_match(self, name: Token, value: Any) -> Node:
        field = _field(name)
        if isinstance(value, _Function):
            value = self._now(value)
        checked = _checked(field, value, name)
        if field.kind in (Kind.DATE, Kind.NUMBER):
            return Compare(field.name, "=", checked)
        assert isinstance(checked, str)
        exact = isinstance(value, Token) and value.type == "PHRASE"
        return _text(checked, (field.name,), exact=exact)

    def field_range(self, name: Token, low: Any, high: Any) -> Node:
        field = _field(name)
        if field.kind not in (Kind.DATE, Kind.NUMBER):
            raise QuerySyntaxError(
                f"{field.name} has no range: it is not a date or a number", _at(name)
            )
        low = self._now(low) if isinstance(low, _Function) else low
        high = self._now(high) if isinstance(high, _Function) else high
        return Range(field.name, _checked(field, low, name), _checked(field, high, name))

    def compare(self, name: Token, operator: Token, value: Any) -> Node:
        field = _field(name)
        if field.kind not in (Kind.DATE, Kind.NUMBER):
            raise QuerySyntaxError(
                f"{field.name} cannot be compared with {operator}: only dates and numbers can",
                _at(operator),
            )
        value = self._now(value) if isinstance(value, _Function) else value
        op: Comparison = str(operator)  # type: ignore[assignment]
        return Compare(field.name, op, _checked(field, value, name))

    def function_value(self, name: Token, *arguments: Any) -> _Function:
        return _Function(name, list(arguments))

    def function(self, name: Token, *arguments: Any) -> Node:
        call = _Function(name, list(arguments))
        kind = str(name)[1:].lower()
        if kind == "now":
            raise QuerySyntaxError("#now() is a value: compare a date with it", _at(name))
        if kind in ("distance", "polygon", "geometry"):
            raise QuerySyntaxError(f"#{kind}() needs a geometry; datasets have none", _at(name))
        if kind == "null":
            (field,) = self._fields(call, 1, 1, values=0)
            return IsNull(field.name)
        if kind in ("exact", "startswith"):
            (field,) = self._fields(call, 1, 1, values=1)
            return Exact(field.name, self._value(call), prefix=kind == "startswith")
        if kind == "search":
            fields = self._fields(call, 1, None, values=1, star=True)
            names = tuple(field.name for field in fields)
            return _text(self._value(call), names, exact=True, last_prefix=True)
        raise QuerySyntaxError(
            f"Unknown function #{kind}: the functions are #now, #null, #exact, #search and "
            "#startswith",
            _at(name),
        )

    def positional(self, token: Token) -> Token:
        return token

    def keyword(self, name: Token, value: Token) -> tuple[Token, Token, Token | None]:
        return (name, value, None)

    def keyword_nth(self, name: Token, value: Token, nth: Token) -> tuple[Token, Token, Token]:
        return (name, value, nth)

    # -- functions -----------------------------------------------------------------------------

    def _fields(
        self, call: _Function, least: int, most: int | None, *, values: int, star: bool = False
    ) -> list[Field]:
        kind = str(call.name)[1:].lower()
        positional = [a for a in call.arguments if isinstance(a, Token)]
        if len(positional) != len(call.arguments):
            raise QuerySyntaxError(f"#{kind}() takes no name=value arguments", _at(call.name))
        names = positional[: len(positional) - values]
        if len(names) < least or (most is not None and len(names) > most):
            raise QuerySyntaxError(f"#{kind}() is missing a field or a value", _at(call.name))
        if values and positional[-1].type != "PHRASE":
            raise QuerySyntaxError(
                f'#{kind}() takes its value in quotes: #{kind}(field, "value")',
                _at(positional[-1]),
            )
        if star and [str(n) for n in names] == ["*"]:
            return [FIELDS[name] for name in ("datasetid", "title", "description", "keyword")]
        found = []
        for name in names:
            if name.type != "WORD":
                raise QuerySyntaxError(f"#{kind}() takes field names first", _at(name))
            field = _field(name)
            if kind != "null" and field.kind not in (Kind.TEXT, Kind.VALUE):
                raise QuerySyntaxError(f"#{kind}() searches text; {field.name} is not", _at(name))
            found.append(field)
        return found

    def _value(self, call: _Function) -> str:
        return _unquoted(call.arguments[-1])

    def _now(self, call: _Function) -> NowValue:
        if str(call.name)[1:].lower() != "now":
            raise QuerySyntaxError(f"{call.name}() is not a value; #now() is", _at(call.name))
        relative: list[tuple[str, int]] = []
        absolute: list[tuple[str, int]] = []
        weekday: tuple[int, int | None] | None = None
        for argument in call.arguments:
            if not isinstance(argument, tuple):
                raise QuerySyntaxError("#now() takes name=value arguments", _at(argument))
            name, value, nth = argument
            key = str(name)
            try:
                if key == "weekday":
                    weekday = dates.weekday_of(str(value), int(nth) if nth is not None else None)
                elif key in dates.RELATIVE and nth is None:
                    relative.append((key, int(str(value))))
                elif key in dates.ABSOLUTE and nth is None:
                    absolute.append((key, int(str(value))))
                else:
                    raise ValueError(
                        f"#now() takes {', '.join(dates.RELATIVE + dates.ABSOLUTE)} and weekday"
                    )
            except ValueError as error:
                raise QuerySyntaxError(f"{key}={value}: {error}", _at(name)) from None
        value = NowValue(tuple(relative), tuple(absolute), weekday)
        try:
            dates.now(value)
        except (ValueError, OverflowError) as error:
            raise QuerySyntaxError(f"#now(): {error}", _at(call.name)) from None
        return value
