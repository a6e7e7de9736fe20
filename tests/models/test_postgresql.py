"""The same code on PostgreSQL: migrations, writes with history, visibility, search, browsing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, select, text

from app.models import Dataset
from app.models.database import Database
from app.services import browse, datasets, history, publication
from app.services.visibility import ANONYMOUS, visible_clause
from tests.conftest import AUTHOR, make_record
from tests.postgres import postgres_server


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with postgres_server() as url:
        if url is None:
            pytest.skip("no PostgreSQL binaries (scripts/system-deps.sh installs them)")
        yield url


@pytest.fixture
def pg_database(server_url: str) -> Iterator[Database]:
    name = "catalogue_" + uuid.uuid4().hex[:12]
    admin = create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = Database.open(f"{server_url}/{name}")
    yield database
    database.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}"'))
    admin.dispose()


def test_the_catalogue_works_on_postgresql(pg_database: Database) -> None:
    with pg_database.transaction() as session:
        towpath = datasets.create_dataset(
            session, make_record(title="Canal Towpath Survey"), author=AUTHOR
        )
        draft = datasets.create_dataset(session, make_record(title="Canal Locks"), author=AUTHOR)
    with pg_database.transaction() as session:
        publication.publish(session, towpath["id"], author=AUTHOR)
        datasets.update_dataset(session, draft["id"], {"tags": ["locks"]}, author=AUTHOR)

    with pg_database.read() as session:
        visible = session.scalars(select(Dataset.id).where(visible_clause(ANONYMOUS))).all()
        assert visible == [towpath["id"]]
        spec = browse.BrowseSpec(search="canal")
        assert browse.count(session, spec) == 2
        titles = [row.title for row in browse.fetch_after(session, spec, None, 10)]
        assert titles == ["Canal Locks", "Canal Towpath Survey"]
        assert [v.action for v in history.list_versions(session, draft["id"])] == [
            "update",
            "create",
        ]
        assert datasets.get_record(session, draft["id"])["tags"] == ["locks"]
