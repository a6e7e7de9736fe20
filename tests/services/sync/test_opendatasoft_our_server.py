"""Our Opendatasoft remote pointed at another Catalogue Desk: catalogue A serves the Search API
v1 (server.opendatasoft_api) from a real uvicorn server, catalogue B pulls it with the
Opendatasoft adapter, which finds no Automation API there (a 404) and reads the resources from
the datasets' `attachments`. The round trip of both halves of seed 003."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.models import SyncLink
from app.models.database import Database
from app.services import access, api_keys, datasets, managed_lists, publication
from app.services.records import Record
from app.services.server import ServerThread, create_app
from app.services.sync import engine, remotes
from tests.conftest import make_record
from tests.fakes.memory_keyring import MemoryKeyring
from tests.services.sync.conftest import FAST, local_ids, local_record, run

SEARCH = "/api/datasets/1.0/search"
OGL = {"url": "https://www.nationalarchives.gov.uk/doc/ogl/3/", "title": "OGL v3"}


@pytest.fixture
def catalogue_a(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "a.sqlite")
    yield database
    database.dispose()


def linked(database: Database) -> dict[str, str]:
    """remote id (A's dataset id) -> B's dataset id."""
    with database.read() as session:
        rows = session.execute(select(SyncLink.remote_id, SyncLink.dataset_id)).all()
    return {str(remote): local for remote, local in rows if remote}


def pulled(b: Database, remote_id: str) -> Record:
    return local_record(b, linked(b)[remote_id])


def test_our_opendatasoft_remote_pulls_another_catalogue_desk(
    catalogue_a: Database, database: Database, memory_keyring: MemoryKeyring
) -> None:
    a, b = catalogue_a, database
    with a.transaction() as s:
        access.create_team(s, "arch1", "Archives")
        managed_lists.add_topic(s, "hist1", "Local history")
        alice = access.create_user(s, "alice")
        key = api_keys.create_api_key(s, alice.id).key

        def add(publish: bool = True, **fields: object) -> str:
            stored = datasets.create_dataset(s, make_record(**fields), author="curator")
            if publish:
                publication.publish(s, stored["id"], author="curator")
            return str(stored["id"])

        registers = add(
            title="Parish registers",
            description="<p>Baptisms, <b>marriages</b> and burials.</p>",
            tags=["parish", "registers"],
            topics=["hist1"],
            team="arch1",
            licence=OGL,
            resources={
                "r01": {"title": "Index", "url": "https://a.example/index.csv", "format": "csv"},
                "r02": {"title": "Scans", "url": "https://a.example/scans.pdf", "format": "pdf"},
            },
        )
        maps = add(title="Tithe maps", tags=["maps"], resources={})
        # Published, private, and alice may read it: the key shows it, as restricted.
        minutes = add(title="Council minutes", sharing="private", readusers=[alice.id])
        budget = add(publish=False, title="Draft budget")  # nobody but its team sees it

    with ServerThread(create_app(a)) as server:
        # The server has no Automation API: a 404 in its JSON, which the adapter takes for
        # "read only", not for a failure.
        assert httpx.get(f"{server.url}/api/automation/v1.0/datasets/").status_code == 404
        with b.transaction() as s:
            remotes.add_remote(s, "a", "opendatasoft", server.url, key=key)
        found = run(remotes.test_connection(b, "a"))
        assert found.read and found.datasets == 3
        assert not (found.edit or found.create or found.delete)
        assert "no Automation API" in " ".join(found.notes)

        def pull() -> tuple[int, int, int]:
            plan, result = run(engine.pull(b, "a", options=FAST))
            assert not plan.conflicts and result.ok, result
            return (
                plan.count("local", "create"),
                plan.count("local", "update"),
                plan.count("local", "delete"),
            )

        assert pull() == (3, 0, 0)
        assert sorted(linked(b)) == sorted([registers, maps, minutes])
        assert budget not in linked(b)
        mine = pulled(b, registers)
        assert mine["title"] == "Parish registers"
        assert mine["description"] == "<p>Baptisms, <b>marriages</b> and burials.</p>"
        assert mine["tags"] == ["parish", "registers"]
        assert mine["licence"] == OGL
        assert mine["topics"] == ["Local history"]  # themes are the topics' titles
        assert mine["state"] == "published" and mine["sharing"] == "public"
        resources = sorted(mine["resources"].items())
        assert [(rid, r["title"], r["url"], r["format"], r["order"]) for rid, r in resources] == [
            ("r01", "Index", "https://a.example/index.csv", "csv", 0),
            ("r02", "Scans", "https://a.example/scans.pdf", "pdf", 1),
        ]
        assert pulled(b, maps)["resources"] == {}
        assert pulled(b, minutes)["sharing"] == "private"

        # Nothing changed: two counts (modified since, and all), nothing listed or read.
        plan = run(engine.plan_pull(b, "a", options=FAST))
        assert plan.is_empty and plan.fetched == 0 and plan.listed == 0

        # At A: an edit, a new dataset, and one unpublished.
        with a.transaction() as s:
            datasets.update_dataset(
                s, registers, {"title": "Parish registers, 1538-1900"}, author="curator"
            )
            rolls = add(title="Electoral rolls", tags=["elections"])
            publication.unpublish(s, maps, author="curator")
        assert pull() == (1, 1, 1)
        assert pulled(b, registers)["title"] == "Parish registers, 1538-1900"
        assert pulled(b, rolls)["tags"] == ["elections"]
        assert maps not in linked(b) and len(local_ids(b)) == 3

        # Settled: the next pull lists nothing.
        plan = run(engine.plan_pull(b, "a", options=FAST))
        assert plan.is_empty and plan.fetched == 0 and plan.listed == 0

        # Read only: an edit here is not pushed, and the push says why; A is untouched.
        with b.transaction() as s:
            datasets.update_dataset(s, linked(b)[rolls], {"title": "Rolls"}, author="me")
        _plan, result = run(engine.push(b, "a", options=FAST))
        assert result is not None and not result.ok and not result.remote_updated
        assert "no Automation API" in " ".join(f.message for f in result.failures)
        assert local_record(a, rolls)["title"] == "Electoral rolls"
