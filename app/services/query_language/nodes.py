"""The parsed query: a tree of these nodes, the one form every surface's query takes.

services.query_language.syntax makes it from the text of seed 003's query language; the SQL
compiler (query_language.to_sql) and the tests' Python oracle read it. Field names are those of
the dataset catalogue (query_language.fields), checked by the parser; values are kept as typed,
and interpreted by the field's kind where the query runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Comparison = Literal["<", "<=", ">", ">=", "="]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a node starts in the query text: 0-based offset, 1-based column."""

    offset: int

    @property
    def column(self) -> int:
        return self.offset + 1


@dataclass(frozen=True, slots=True)
class Text:
    """Words to find: each word the beginning of a word of the fields (`film` finds films), or,
    `exact`, these words in this order as whole words (a quoted phrase; `last_prefix`: the last
    word only its beginning, as #search has it). `fields` empty: the full-text fields."""

    words: tuple[str, ...]
    fields: tuple[str, ...] = ()
    exact: bool = False
    last_prefix: bool = False


@dataclass(frozen=True, slots=True)
class Compare:
    """`field op value` on a date or number field; `value` as typed (a date or a number, or a
    NowValue)."""

    field: str
    op: Comparison
    value: str | NowValue


@dataclass(frozen=True, slots=True)
class Range:
    """`field:[low TO high]`, both ends included (a date end includes its whole period)."""

    field: str
    low: str | NowValue
    high: str | NowValue


@dataclass(frozen=True, slots=True)
class NowValue:
    """`#now(...)`: the moment of the query moved by relative (plural: years=-1) and absolute
    (singular: year=2001, weekday=MO(2)) arguments, dateutil's relativedelta's own."""

    relative: tuple[tuple[str, int], ...] = ()
    absolute: tuple[tuple[str, int], ...] = ()
    weekday: tuple[int, int | None] | None = None  # (0 = Monday, nth or None)


@dataclass(frozen=True, slots=True)
class IsNull:
    """`#null(field)`: the field holds no value."""

    field: str


@dataclass(frozen=True, slots=True)
class Exact:
    """`#exact(field, "value")`: the field's value (one of its values, for a list) is exactly
    `value`; `prefix`: starts with it (`#startswith`, case sensitive)."""

    field: str
    value: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Everything:
    """The empty query: every dataset."""


Node = Text | Compare | Range | IsNull | Exact | Not | And | Or | Everything
