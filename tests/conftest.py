"""Shared fixtures: a real catalogue per test (tests/engines.py), and a valid record."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# Set before anything imports Qt: tests never need a screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from hypothesis import HealthCheck, settings

from app.models.database import Database
from app.services import datasets
from app.services.records import Record
from tests.engines import ENGINES, Catalogues

AUTHOR = "tester"

# Hypothesis times each example (200 ms) and its data generation by default: on a busy machine
# that fails tests that are right. Nothing here is about speed, so neither is checked.
settings.register_profile("catalogue", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("catalogue")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engines",
        default=",".join(ENGINES),
        help="the catalogue engines to run the two-engine tests on, comma-separated "
        f"(default: {','.join(ENGINES)})",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the two-engine tests' runs on an engine not chosen by --engines, and the PostgreSQL
    runs of tests marked sqlite_only."""
    chosen = set(config.getoption("--engines").split(","))
    if unknown := chosen - set(ENGINES):
        raise pytest.UsageError(f"--engines: unknown {', '.join(sorted(unknown))}")
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        engine = callspec.params.get("engine") if callspec else None
        unwanted = engine not in chosen or (
            engine != "sqlite" and item.get_closest_marker("sqlite_only") is not None
        )
        (dropped if engine is not None and unwanted else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def catalogues(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalogues]:
    maker = Catalogues(tmp_path_factory.mktemp("templates"))
    yield maker
    maker.close()


@pytest.fixture
def engine() -> str:
    """The engine of `database`: SQLite here; both where a conftest parametrises it."""
    return "sqlite"


@pytest.fixture
def database(engine: str, catalogues: Catalogues, tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated catalogue: a real SQLite file, or a real PostgreSQL database."""
    with catalogues.fresh(engine, tmp_path) as db:
        yield db


@pytest.fixture(scope="session")
def pg_server(catalogues: Catalogues) -> str:
    """The run's throwaway PostgreSQL server's URL (no database)."""
    return catalogues.pg_server()


@pytest.fixture
def pg_database(catalogues: Catalogues, tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated catalogue in its own PostgreSQL database."""
    with catalogues.fresh("postgresql", tmp_path) as db:
        yield db


def make_record(**overrides: object) -> Record:
    """A valid record for a new dataset (id chosen by the service unless given)."""
    record: Record = {
        "id": "",
        "title": "Freedom of Information Requests",
        "description": "<p>Requests received, <b>by month</b>.</p>",
        "tags": ["FOI", "Freedom of Information"],
        "topics": [],
        "licence": {"url": "https://www.nationalarchives.gov.uk/doc/ogl/3/", "title": "OGL v3"},
        "contact": {"email": "opendata@example.org", "title": "Open Data Team"},
        "custom": {"unit": "Assurance", "geography": ["London", "Barnet"]},
        "resources": {},
        "links": {},
        "sharing": "public",
        "state": "draft",
    }
    record.update(overrides)
    return record


@pytest.fixture
def new_dataset(database: Database) -> Record:
    with database.transaction() as session:
        return datasets.create_dataset(session, make_record(), author=AUTHOR)
