"""Where a remote's key lives: the keyring (`--key-stdin`), a key file of the user's alone
(`--key-file`), the environment (`--key-env`); and the warning for a key over plain http."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from app.cli import main
from app.models.database import Database
from app.services.sync import remotes
from tests.fakes.datapress import FakeDataPress
from tests.fakes.memory_keyring import MemoryKeyring
from tests.services.sync.conftest import assert_same


def cli(db: Path, *argv: str) -> int:
    return main(["--db", str(db), *argv])


def add(db: Path, url: str, *key: str) -> int:
    return cli(db, "remote", "add", "hub", "--kind", "datapress", "--url", url, *key)


def test_key_stdin_keeps_the_key_in_the_keyring_only(
    tmp_path: Path,
    portal: FakeDataPress,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    portal.add(title="Parish registers")
    monkeypatch.setattr("sys.stdin", io.StringIO(portal.key + "\n"))
    db = tmp_path / "local.sqlite"
    assert add(db, portal.url, "--key-stdin") == 0
    assert "key in the OS keyring" in capsys.readouterr().out
    assert list(memory_keyring.items.values()) == [portal.key]
    assert portal.key not in os.environ.values()
    assert portal.key.encode() not in db.read_bytes()
    assert cli(db, "pull", "hub") == 0
    database = Database.open(db)
    try:
        assert_same(database, portal)
    finally:
        database.dispose()


def test_a_key_file_must_be_the_users_alone(
    tmp_path: Path,
    portal: FakeDataPress,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    portal.add(title="Tithe maps", sharing="private")
    key_file = tmp_path / "portal.key"
    key_file.write_text(portal.key + "\n")
    key_file.chmod(0o644)
    db = tmp_path / "local.sqlite"
    assert add(db, portal.url, "--key-file", str(key_file)) == 2
    err = capsys.readouterr().err
    assert "may be read or written by others (mode 644)" in err and "chmod 600" in err
    key_file.chmod(0o600)
    assert add(db, portal.url, "--key-file", str(key_file)) == 0
    assert f"key from the file {key_file}" in capsys.readouterr().out
    assert portal.key not in os.environ.values()
    assert cli(db, "pull", "hub") == 0  # the private dataset came: the key was sent
    assert "1 created" in capsys.readouterr().out
    # Opened up later: refused on the next run, not sent.
    key_file.chmod(0o640)
    portal.faults.clear_log()
    assert cli(db, "pull", "hub") == 2
    assert "(mode 640)" in capsys.readouterr().err
    assert portal.faults.log == []
    key_file.unlink()
    assert cli(db, "pull", "hub") == 2
    assert "does not exist" in capsys.readouterr().err


def test_plain_http_to_another_machine_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_KEY", "secret")
    db = tmp_path / "local.sqlite"
    assert add(db, "http://portal.example", "--key-env", "HUB_KEY") == 0
    assert "plain http://" in capsys.readouterr().err
    cli(db, "remote", "test", "hub")  # unreachable: only the warning matters here
    assert "plain http://: the API key is sent unencrypted" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "source", "warned"),
    [
        ("http://portal.example", "keyring", True),
        ("http://10.1.2.3:8080/", "env", True),
        ("http://portal.example", "none", False),  # no key to read
        ("https://portal.example", "file", False),
        ("http://127.0.0.1:5000", "keyring", False),
        ("http://127.8.0.1", "keyring", False),
        ("http://[::1]:8000", "keyring", False),
        ("http://localhost:8000", "keyring", False),
    ],
)
def test_plain_http_warning(url: str, source: str, warned: bool) -> None:
    assert (remotes.plain_http_warning(url, source) is not None) is warned
