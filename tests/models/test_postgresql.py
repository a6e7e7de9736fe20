"""The same code on PostgreSQL: migrations, writes with history, visibility, search, browsing."""

from __future__ import annotations

from sqlalchemy import select

from app.models import Dataset
from app.models.database import Database
from app.services import browse, datasets, history, publication
from app.services.visibility import ANONYMOUS, visible_clause
from tests.conftest import AUTHOR, make_record


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
