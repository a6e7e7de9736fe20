"""Each policy rule gives the same answer in Python and in SQL, on SQLite and PostgreSQL, for
every combination of its inputs, missing values included."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import ColumnElement, Integer, String, case, literal, select

from app.models.database import Database
from app.services import policy
from app.services.policy import PYTHON, SQL
from tests.engines import ENGINES, catalogue_on

TODAY = "2026-06-01"
STATES = ("draft", "published")
SHARINGS = ("public", "private")
EMBARGOES = (None, "2026-05-31", TODAY, "2026-06-02")
STATUSES = (None, -1, 0, 200, 301, 399, 400, 404, 500)
CHECKED = (None, "2026-01-02T03:04:05Z")


@pytest.fixture(scope="module", params=ENGINES)
def engine_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with catalogue_on(request.param, tmp_path_factory.mktemp("policy"), request) as database:
        yield database


def _text(value: str | None) -> ColumnElement[Any]:
    return literal(value, String)


def _in_sql(database: Database, truths: list[ColumnElement[bool]]) -> list[bool]:
    # CASE turns a truth into 1/0 on both engines (and NULL, a leaked unknown, into None).
    columns = [case((truth, 1), (~truth, 0), else_=None) for truth in truths]
    with database.read() as session:
        row = session.execute(select(*columns)).one()
    return [None if v is None else bool(v) for v in row]  # type: ignore[misc]


def test_the_dataset_rules(engine_database: Database) -> None:
    cases = list(itertools.product(STATES, SHARINGS, EMBARGOES))
    python: list[bool] = []
    sql: list[ColumnElement[bool]] = []
    for state, sharing, until in cases:
        python += [
            policy.embargoed(PYTHON, until, TODAY),
            policy.published_out_of_embargo(PYTHON, state, until, TODAY),
            policy.public(PYTHON, state, sharing, until, TODAY),
        ]
        columns = (_text(state), _text(sharing), _text(until))
        sql += [
            policy.embargoed(SQL, columns[2], TODAY),
            policy.published_out_of_embargo(SQL, columns[0], columns[2], TODAY),
            policy.public(SQL, *columns, TODAY),
        ]
    assert _in_sql(engine_database, sql) == python
    assert policy.is_embargoed("2026-06-02", TODAY) and not policy.is_embargoed(TODAY, TODAY)
    assert not policy.is_embargoed(None, TODAY)


def test_the_state_column(engine_database: Database) -> None:
    cases = list(itertools.product(STATES, SHARINGS, EMBARGOES))
    python = [
        [holds for holds, _ in policy.display_states(PYTHON, state, sharing, until, TODAY)]
        for state, sharing, until in cases
    ]
    sql = [
        truth
        for state, sharing, until in cases
        for truth, _ in policy.display_states(
            SQL, _text(state), _text(sharing), _text(until), TODAY
        )
    ]
    assert _in_sql(engine_database, sql) == [holds for row in python for holds in row]


def test_a_broken_link(engine_database: Database) -> None:
    cases = list(itertools.product(STATUSES, CHECKED))
    python = [policy.is_broken_link(status, checked) for status, checked in cases]
    sql = [
        policy.broken_link(SQL, literal(status, Integer), _text(checked))
        for status, checked in cases
    ]
    assert _in_sql(engine_database, sql) == python
    # An error status, checked or not; no positive status once checked; never checked: unknown.
    assert policy.is_broken_link(404, None) and policy.is_broken_link(None, "t")
    assert not policy.is_broken_link(None, None) and not policy.is_broken_link(301, "t")
