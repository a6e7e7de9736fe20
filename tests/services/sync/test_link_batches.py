"""links.read_links: a batch's links read in one query, and save_link trusting what it read."""

from __future__ import annotations

from sqlalchemy import event, select

from app.models import SyncLink
from app.models.database import Database
from app.services.sync import links, remotes


def test_save_link_after_read_links_updates_a_link_it_read_and_adds_the_rest(
    database: Database,
) -> None:
    with database.transaction() as session:
        first = remotes.add_remote(session, "a", "ckan", "https://a.example")
        remotes.add_remote(session, "b", "ckan", "https://b.example")
        pk_a = remotes.get_remote(session, first.name).pk
        pk_b = remotes.get_remote(session, "b").pk
        # A link that outlived its dataset here (kept so a push can carry the deletion).
        links.save_link(session, pk_a, links.LinkUpdate("ab123", remote_id="old"))
    with database.transaction() as session:
        links.read_links(session, ["ab123", "cd456"])
        queries: list[str] = []
        connection = session.connection()

        @event.listens_for(connection, "before_cursor_execute")
        def note(*args: object) -> None:
            queries.append(str(args[2]))

        links.save_link(session, pk_a, links.LinkUpdate("ab123", remote_id="new"))
        links.save_link(session, pk_b, links.LinkUpdate("ab123", remote_id="other"))
        links.save_link(session, pk_a, links.LinkUpdate("cd456", remote_id="x"))
        links.save_link(session, pk_a, links.LinkUpdate("cd456", remote_id="y"))  # twice
        assert [q for q in queries if q.lstrip().upper().startswith("SELECT")] == []
    with database.read() as session:
        rows = session.execute(
            select(SyncLink.remote_pk, SyncLink.dataset_id, SyncLink.remote_id).order_by(
                SyncLink.remote_pk, SyncLink.dataset_id
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (pk_a, "ab123", "new"),
        (pk_a, "cd456", "y"),
        (pk_b, "ab123", "other"),
    ]
