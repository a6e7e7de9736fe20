"""Remotes: adding, listing, removing, testing; keys in the OS keyring or from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from app.models.database import Database
from app.services import history
from app.services.errors import NotFound, ValidationFailed
from app.services.server.runner import bind_socket, url_for
from app.services.sync import remotes
from app.services.sync.http import HttpOptions
from tests.fakes.datapress import FakeDataPress
from tests.fakes.memory_keyring import MemoryKeyring
from tests.services.sync.conftest import run

QUICK = HttpOptions(timeout=5, retries=1, backoff=0.01)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    yield
    keyring.set_keyring(previous)


def test_a_key_lives_in_the_keyring_not_in_the_catalogue(
    database: Database, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    with database.transaction() as s:
        info = remotes.add_remote(s, "hub", "datapress", "https://data.example/", key="s3cret-key")
    assert info.key_source == "keyring" and info.base_url == "https://data.example"
    assert list(memory_keyring.items.values()) == ["s3cret-key"]
    assert remotes.remote_key(info) == "s3cret-key"
    database.dispose()
    for path in tmp_path.glob("catalogue.sqlite*"):
        assert b"s3cret-key" not in path.read_bytes()
    with database.read() as s:
        [listed] = remotes.list_remotes(s)
    assert (listed.name, listed.kind, listed.linked) == ("hub", "datapress", 0)
    with database.transaction() as s:
        remotes.remove_remote(s, "hub")
    assert memory_keyring.items == {}
    with database.read() as s:
        assert remotes.list_remotes(s) == []
        with pytest.raises(NotFound):
            remotes.get_remote(s, "hub")


def test_without_a_keyring_a_key_is_refused_and_a_key_file_or_the_environment_offered(
    database: Database, no_keyring: None
) -> None:
    assert not remotes.keyring_usable()
    with (
        pytest.raises(remotes.KeyringUnavailable, match="--key-env") as caught,
        database.transaction() as s,
    ):
        remotes.add_remote(s, "hub", "datapress", "https://data.example", key="k")
    assert "--key-file PATH" in caught.value.message and "never writes keys" in caught.value.message
    with database.read() as s:
        assert remotes.list_remotes(s) == []  # nothing half-added
    with database.transaction() as s:
        info = remotes.add_remote(s, "hub", "datapress", "https://data.example", key_env="HUB_KEY")
    assert info.key_source == "env" and info.key_description == "key from $HUB_KEY"
    assert remotes.remote_key(info, {"HUB_KEY": "from-env"}) == "from-env"
    with pytest.raises(remotes.KeyMissing, match="HUB_KEY"):
        remotes.remote_key(info, {})


def test_remote_validation(database: Database, memory_keyring: MemoryKeyring) -> None:
    with database.transaction() as s:
        remotes.add_remote(s, "hub", "ckan", "https://data.example")
    with pytest.raises(ValidationFailed) as caught, database.transaction() as s:
        remotes.add_remote(s, "hub", "socrata", "ftp://x", key_env="1bad")
    assert set(caught.value.errors) == {"name", "kind", "url", "key_env"}


def test_test_connection_says_what_the_key_may_do(
    database: Database, portal: FakeDataPress, memory_keyring: MemoryKeyring
) -> None:
    portal.add(title="Open one")
    private = portal.add(title="Closed one", sharing="private")
    with database.transaction() as s:
        remotes.add_remote(s, "editor", "datapress", portal.url, key=portal.key)
        remotes.add_remote(s, "reader", "datapress", portal.url, key=portal.reader_key)
        remotes.add_remote(s, "wrong", "datapress", portal.url, key="not-a-key")
        remotes.add_remote(s, "anon", "datapress", portal.url)
    editor = run(remotes.test_connection(database, "editor", options=QUICK))
    assert (editor.reachable, editor.authenticated, editor.read) == (True, True, True)
    assert (editor.read_private, editor.edit, editor.create) == (True, True, False)
    assert editor.datasets == 2
    assert any("no endpoint to create" in note for note in editor.notes)
    reader = run(remotes.test_connection(database, "reader", options=QUICK))
    assert (reader.read, reader.read_private, reader.edit) == (True, False, False)
    assert reader.datasets == 1
    wrong = run(remotes.test_connection(database, "wrong", options=QUICK))
    assert (wrong.reachable, wrong.authenticated, wrong.read) == (True, False, False)
    assert "not valid" in wrong.notes[0]
    anon = run(remotes.test_connection(database, "anon", options=QUICK))
    assert (anon.read, anon.authenticated, anon.edit) == (True, False, False)
    # The edit probe changed nothing on the portal.
    with portal.database.read() as s:
        assert [v.action for v in history.list_versions(s, private)] == ["create"]


def test_test_connection_to_nothing(database: Database, memory_keyring: MemoryKeyring) -> None:
    sock = bind_socket()
    url = url_for(sock)
    sock.close()
    with database.transaction() as s:
        remotes.add_remote(s, "gone", "datapress", url)
    access = run(remotes.test_connection(database, "gone", options=QUICK))
    assert not access.reachable and "cannot connect" in access.notes[0]


def test_a_key_can_be_replaced_moved_to_the_environment_or_dropped(
    database: Database, memory_keyring: MemoryKeyring
) -> None:
    with database.transaction() as s:
        remotes.add_remote(s, "hub", "datapress", "https://data.example", key="one")
        info = remotes.set_remote_key(s, "hub", key="two")
    assert remotes.remote_key(info) == "two" and len(memory_keyring.items) == 1
    with database.transaction() as s:
        info = remotes.set_remote_key(s, "hub", key_env="HUB_KEY")
    assert memory_keyring.items == {}  # the old key left the keyring
    assert remotes.remote_key(info, {"HUB_KEY": "three"}) == "three"
    with database.transaction() as s:
        info = remotes.set_remote_key(s, "hub")
    assert info.key_source == "none" and remotes.remote_key(info) is None
