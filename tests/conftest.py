"""Shared fixtures: a real SQLite catalogue file per test, migrated by Alembic."""

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
from tests.postgres import fresh_database, postgres_server

AUTHOR = "tester"

# Hypothesis times each example (200 ms) and its data generation by default: on a busy machine
# that fails tests that are right. Nothing here is about speed, so neither is checked.
settings.register_profile("catalogue", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("catalogue")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated catalogue in a real SQLite file."""
    db = Database.open(tmp_path / "catalogue.sqlite")
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A throwaway PostgreSQL server's URL (no database), one for the whole run."""
    with postgres_server() as url:
        if url is None:
            pytest.skip("no PostgreSQL binaries (scripts/system-deps.sh installs them)")
        yield url


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[Database]:
    """An empty, migrated catalogue in its own PostgreSQL database."""
    with fresh_database(pg_server) as db:
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
