"""A real uvicorn server on loopback over a catalogue mixing every kind of visibility, on both
engines (tests/engines.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.models.database import Database
from app.services import access, api_keys, datasets, managed_lists, publication
from app.services.server import ServerThread, create_app
from tests.conftest import AUTHOR, make_record
from tests.engines import both_engines

__all__ = ["both_engines"]


@dataclass(frozen=True)
class Catalogue:
    public: tuple[str, ...]  # published, public, not embargoed: what anybody sees
    draft: str
    private: str  # published, private, alice on its read list
    embargoed: str  # published, public, embargoed until 2999
    team_draft: str  # draft owned by team tm001, of which bob is a member
    alice: str  # API keys
    bob: str
    carol: str  # a valid key with no grants at all


@pytest.fixture
def catalogue(database: Database) -> Catalogue:
    with database.transaction() as s:
        managed_lists.add_topic(s, "council", "Council & Democracy")
        alice = access.create_user(s, "alice")
        bob = access.create_user(s, "bob")
        carol = access.create_user(s, "carol")
        access.create_team(s, "tm001", "Team One")
        access.add_to_team(s, "tm001", bob.id)

        def add(publish: bool, **overrides: Any) -> str:
            record = datasets.create_dataset(s, make_record(**overrides), author=AUTHOR)
            if publish:
                publication.publish(s, record["id"], author=AUTHOR)
            dataset_id: str = record["id"]
            return dataset_id

        public = (
            add(
                True,
                title="Bins collected",
                topics=["council"],
                resources={
                    "k93": {
                        "title": "Collections, 2024",
                        "url": "https://data.example/bins.csv",
                        "format": "csv",
                        "size": 2048,
                        "hash": "2cdf3a47738b93492906e3ad7e415d1a",
                    }
                },
                links={"el3": {"title": "Council site", "url": "https://council.example/"}},
            ),
            add(True, title="=Potholes reported", tags=["roads"]),
            add(True, title="Library loans", description=""),
        )
        draft = add(False, title="Draft budget")
        private = add(True, title="Staff sickness", sharing="private", readusers=[alice.id])
        embargoed = add(True, title="Election results")
        publication.set_embargo(s, embargoed, "2999-01-01", author=AUTHOR)
        team_draft = add(
            False,
            title="Team draft",
            team="tm001",
            resources={"t01": {"title": "Team file", "url": "https://t.example/t.csv"}},
        )
        keys = [api_keys.create_api_key(s, user.id).key for user in (alice, bob, carol)]
    return Catalogue(public, draft, private, embargoed, team_draft, *keys)


ServeFactory = Callable[..., ServerThread]


@pytest.fixture
def serve(database: Database) -> Iterator[ServeFactory]:
    """Start a ServerThread over the test catalogue with create_app options; stopped after."""
    servers: list[ServerThread] = []

    def start(**options: Any) -> ServerThread:
        server = ServerThread(create_app(database, **options))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(serve: ServeFactory) -> ServerThread:
    return serve()


@pytest.fixture
def client(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=20) as http:
        yield http
