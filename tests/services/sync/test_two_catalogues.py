"""Two Catalogue Desk catalogues kept in sync through the DataPress-compatible API that our own
server offers ("Publish the catalogue from the workstation"): catalogue A serves, B syncs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.models.database import Database
from app.services import access, api_keys, datasets, publication
from app.services.server import ServerThread, create_app
from app.services.sync import engine, remotes
from app.services.sync.datapress import CARRIED
from app.services.sync.merge import canonical
from tests.conftest import make_record
from tests.fakes.memory_keyring import MemoryKeyring
from tests.services.sync.conftest import FAST, local_ids, local_record, run


@pytest.fixture
def catalogue_a(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "a.sqlite")
    yield database
    database.dispose()


def same(a: Database, b: Database) -> None:
    assert sorted(local_ids(a)) == sorted(local_ids(b))
    for dataset_id in local_ids(a):
        ra, rb = local_record(a, dataset_id), local_record(b, dataset_id)
        assert canonical(ra, CARRIED) == canonical(rb, CARRIED), dataset_id
        assert ra["createdAt"] == rb["createdAt"]


def test_two_catalogues_in_sync_through_our_server(
    catalogue_a: Database, database: Database, memory_keyring: MemoryKeyring
) -> None:
    b = database
    with catalogue_a.transaction() as s:
        access.create_team(s, "arch1", "Archives")
        curator = access.create_user(s, "curator")
        access.add_to_team(s, "arch1", curator.id)
        key = api_keys.create_api_key(s, curator.id).key

        def add(**fields: object) -> str:
            stored = datasets.create_dataset(
                s, make_record(team="arch1", **fields), author="curator"
            )
            return str(stored["id"])

        one = add(title="Parish registers")
        two = add(
            title="Tithe maps",
            resources={"r01": {"title": "Map index", "url": "https://a.example/maps.csv"}},
        )
        three = add(title="Council minutes", sharing="private")
        publication.publish(s, one, author="curator")

    def edit(database: Database, dataset_id: str, **changes: object) -> None:
        with database.transaction() as s:
            datasets.update_dataset(s, dataset_id, dict(changes), author="someone")

    with ServerThread(create_app(catalogue_a)) as server:
        with b.transaction() as s:
            remotes.add_remote(s, "a", "datapress", server.url, key=key)

        def pull() -> None:
            plan, result = run(engine.pull(b, "a", options=FAST))
            assert not plan.conflicts and result.ok, result

        def push() -> None:
            plan, result = run(engine.push(b, "a", options=FAST))
            assert not plan.conflicts and result is not None and result.ok, result

        pull()
        same(catalogue_a, b)
        assert local_record(b, one)["state"] == "published"  # our server carries state

        # Both sides work on different fields and files.
        edit(b, one, title="Parish registers, 1538-1900")
        record = local_record(b, two)
        record["resources"]["r02"] = {"title": "Map sheets", "url": "https://b.example/s.zip"}
        edit(b, two, resources=record["resources"])
        edit(catalogue_a, one, tags=["parish", "registers"])
        edit(catalogue_a, three, description="<p>Minutes since 1974</p>")
        pull()
        push()
        same(catalogue_a, b)
        assert local_record(catalogue_a, one)["title"] == "Parish registers, 1538-1900"
        assert local_record(b, one)["tags"] == ["parish", "registers"]
        assert sorted(local_record(catalogue_a, two)["resources"]) == ["r01", "r02"]

        # A deletes one and adds one; B edits another and unpublishes the first.
        with catalogue_a.transaction() as s:
            datasets.delete_dataset(s, two, author="curator")
            four = str(
                datasets.create_dataset(
                    s, make_record(title="Electoral rolls", team="arch1"), author="curator"
                )["id"]
            )
        edit(b, three, sharing="public")
        with b.transaction() as s:
            publication.unpublish(s, one, author="me")
        pull()
        push()
        same(catalogue_a, b)
        assert four in local_ids(b) and two not in local_ids(b)
        assert local_record(catalogue_a, one)["state"] == "draft"
        assert local_record(catalogue_a, three)["sharing"] == "public"
        # Settled: nothing to do either way. The datasets just pushed are read once more (their
        # export entries changed; a PATCH answer does not tell their new listing version) ...
        plan = run(engine.plan_pull(b, "a", options=FAST))
        assert plan.is_empty and plan.fetched == 2
        assert run(engine.plan_push(b, "a", options=FAST)).is_empty
        pull()
        # ... and after that, nothing is fetched to find out that nothing changed.
        plan = run(engine.plan_pull(b, "a", options=FAST))
        assert plan.is_empty and plan.fetched == 0 and plan.listed == 0
