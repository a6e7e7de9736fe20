"""Seed 003's query language: what each form parses to, where each mistake is reported, the
bounds on a query's size, and the dates and `#now()` it names."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.services.query_language import dates
from app.services.query_language.nodes import (
    And,
    Compare,
    Everything,
    Exact,
    IsNull,
    Not,
    NowValue,
    Or,
    Range,
    Text,
)
from app.services.query_language.syntax import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_WORDS,
    QuerySyntaxError,
    parse,
)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("", Everything()),
        ("film", Text(("film",))),
        ('"Film"', Text(("film",), exact=True)),
        ("Zürich café", And((Text(("zurich",)), Text(("cafe",))))),
        ("film OR trees", Or((Text(("film",)), Text(("trees",))))),
        (
            "(film OR trees) AND paris",
            And((Or((Text(("film",)), Text(("trees",)))), Text(("paris",)))),
        ),
        ("NOT film", Not(Text(("film",)))),
        ("a OR b c", Or((Text(("a",)), And((Text(("b",)), Text(("c",))))))),  # AND binds first
        ("title:paris", Text(("paris",), ("title",))),
        ('title:"air quality"', Text(("air", "quality"), ("title",), exact=True)),
        ("tag:FOI", Text(("foi",), ("keyword",))),  # the desktop's and CKAN's names too
        ("records_count >= 50", Compare("records_count", ">=", "50")),
        ("modified >= 2013/02/11", Compare("modified", ">=", "2013/02/11")),
        ("modified:2024", Compare("modified", "=", "2024")),
        ("modified: [1950 TO 2000]", Range("modified", "1950", "2000")),
        ("created < 2020-01-01T10:00:00Z", Compare("created", "<", "2020-01-01T10:00:00Z")),
        ("modified <= #now()", Compare("modified", "<=", NowValue())),
        (
            "modified > #now(years=-1, hours=-1)",
            Compare("modified", ">", NowValue((("years", -1), ("hours", -1)))),
        ),
        ("modified > #now(weekday=MO(2))", Compare("modified", ">", NowValue(weekday=(0, 2)))),
        ("#null(theme)", IsNull("theme")),
        ('#exact(keyword, "FOI")', Exact("keyword", "FOI")),
        ('#startswith(title, "Mar")', Exact("title", "Mar", prefix=True)),
        (
            '#search(title, description, "Jean-C")',
            Text(("jean", "c"), ("title", "description"), exact=True, last_prefix=True),
        ),
        (
            '#search(*, "Jean")',
            Text(
                ("jean",),
                ("datasetid", "title", "description", "keyword"),
                exact=True,
                last_prefix=True,
            ),
        ),
        ("*", Everything()),
        ("ANDROID", Text(("android",))),  # an operator is a whole word
    ],
)
def test_what_a_query_means(query: str, tree: object) -> None:
    assert parse(query) == tree


@pytest.mark.parametrize(
    ("query", "column", "words"),
    [
        ('air "quality', 5, "A quote is not closed"),
        ("(air OR water", 14, "ends too early"),
        ("air)", 4, "Unexpected ')'"),
        ("colour:red", 1, "Unknown field 'colour'"),
        ("title > 3", 7, "only dates and numbers"),
        ("modified >= 2024/13", 13, "takes a date"),
        ("records_count > many", 17, "takes a number"),
        ("title:[a TO b]", 1, "has no range"),
        ("#now()", 1, "is a value"),
        ('#distance(location, "48.8, 2.3", 1)', 1, "datasets have none"),
        ("#colour(title)", 1, "Unknown function"),
        ("#exact(keyword, FOI)", 17, "in quotes"),
        ("modified > #now(fortnights=1)", 17, "#now() takes"),
    ],
)
def test_a_mistake_says_where(query: str, column: int, words: str) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        parse(query)
    assert raised.value.column == column
    assert words in raised.value.message
    assert f"(at column {column})" in raised.value.message


def test_a_query_is_bounded_before_it_is_read() -> None:
    with pytest.raises(QuerySyntaxError, match="at most 1000 characters"):
        parse("a" * (MAX_LENGTH + 1))
    with pytest.raises(QuerySyntaxError, match="nest parentheses"):
        parse("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH)
    with pytest.raises(QuerySyntaxError, match=f"at most {MAX_WORDS} words"):
        parse(" OR ".join(f"w{n}" for n in range(MAX_WORDS + 1)))
    parse(" OR ".join(f"w{n}" for n in range(MAX_WORDS)))


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024", datetime(2024, 1, 1), datetime(2025, 1, 1)),
        ("2024/02", datetime(2024, 2, 1), datetime(2024, 3, 1)),
        ("2024/12", datetime(2024, 12, 1), datetime(2025, 1, 1)),
        ("2024/02/29", datetime(2024, 2, 29), datetime(2024, 3, 1)),
        ("2024-02-29", datetime(2024, 2, 29), datetime(2024, 3, 1)),
        ("2024-02-29T10:00:00", datetime(2024, 2, 29, 10), datetime(2024, 2, 29, 10, 0, 0, 1000)),
        (
            "2024-02-29T10:00:00+02:00",
            datetime(2024, 2, 29, 8),
            datetime(2024, 2, 29, 8, 0, 0, 1000),
        ),
        ("9999", datetime(9999, 1, 1), datetime.max),
    ],
)
def test_a_date_is_a_period(text: str, start: datetime, end: datetime) -> None:
    assert dates.period(text) == dates.Period(start, end)


def test_the_seeds_now_arguments() -> None:
    at = datetime(2021, 1, 13, 15, 30)  # a Wednesday
    assert dates.now(NowValue((("years", -1), ("hours", -1))), at) == datetime(2020, 1, 13, 14, 30)
    assert dates.now(NowValue(absolute=(("year", 2001),)), at) == datetime(2001, 1, 13, 15, 30)
    # "#now(weeks=-2, weekday=1) -> Tuesday before last"
    assert dates.now(NowValue((("weeks", -2),), weekday=(1, None)), at) == datetime(
        2021, 1, 5, 15, 30
    )
    # "#now(weekday=MO(2)) -> Monday after next"
    assert dates.now(NowValue(weekday=(0, 2)), at) == datetime(2021, 1, 25, 15, 30)


@pytest.mark.parametrize(("op", "low", "high"), [
    (">=", datetime(2024, 1, 1), None),
    (">", datetime(2025, 1, 1), None),
    ("<", None, datetime(2024, 1, 1)),
    ("<=", None, datetime(2025, 1, 1)),
    ("=", datetime(2024, 1, 1), datetime(2025, 1, 1)),
])  # fmt: skip
def test_a_comparison_reads_the_whole_period(
    op: str, low: datetime | None, high: datetime | None
) -> None:
    assert dates.bounds(op, dates.period("2024")) == (low, high)  # type: ignore[arg-type]
