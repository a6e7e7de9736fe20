"""The engine's create path, resumed by a pull rather than a push: a create whose answer was
lost is adopted, never brought here as a second dataset. Against the fake CKAN portal, whose
adapter can create (DataPress cannot)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.models.database import Database
from app.services import datasets
from app.services.sync import engine, remotes
from tests.conftest import AUTHOR, make_record
from tests.fakes.ckan import CkanPortal
from tests.fakes.faults import Fault
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.server import FakeServer
from tests.services.sync.conftest import FAST, local_ids, run

TOKEN = "tok-editor"


@pytest.fixture
def ckan() -> Iterator[tuple[CkanPortal, FakeServer]]:
    portal = CkanPortal()
    portal.add_organization("council", "Borough Council")
    portal.add_user("editor", token=TOKEN, orgs={"council": "editor"})
    with portal.serve() as server:
        yield portal, server


def test_a_pull_adopts_what_an_interrupted_push_created(
    database: Database, ckan: tuple[CkanPortal, FakeServer], memory_keyring: MemoryKeyring
) -> None:
    portal, server = ckan
    with database.transaction() as session:
        remotes.add_remote(session, "ckan", "ckan", server.url, key=TOKEN)
        mine = datasets.create_dataset(session, make_record(title="Potholes"), author=AUTHOR)
    server.faults.add(Fault("drop", method="POST", path="/api/3/action/package_create"))
    _plan, result = run(engine.push(database, "ckan", options=FAST))
    assert result is not None and not result.ok
    assert [p["title"] for p in portal.active()] == ["Potholes"]  # made there, answer lost
    plan, result = run(engine.pull(database, "ckan", options=FAST))
    assert result.ok, result
    assert plan.count("local", "create") == 0
    assert any("adopted" in note for item in plan.items for note in item.notes)
    assert local_ids(database) == [mine["id"]]  # no second copy here
    # ... and the next push has nothing to create either.
    plan, result = run(engine.push(database, "ckan", options=FAST))
    assert result is not None and result.ok, result
    assert plan.count("remote", "create") == 0
    assert [p["title"] for p in portal.active()] == ["Potholes"]
    assert len(server.faults.requests("POST", "/api/3/action/package_create")) == 1
