"""`python main.py remote ... / pull / push` against the fake DataPress portal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from app.cli import main
from app.models.database import Database
from app.services import datasets
from tests.fakes.datapress import FakeDataPress
from tests.services.sync.conftest import assert_same, local_record


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    yield
    keyring.set_keyring(previous)


def cli(db: Path, *argv: str) -> int:
    return main(["--db", str(db), *argv])


def test_headless_remote_pull_conflict_and_push(
    tmp_path: Path,
    portal: FakeDataPress,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_keyring: None,
) -> None:
    db = tmp_path / "local.sqlite"
    first = portal.add(title="Parish registers")
    second = portal.add(title="Tithe maps", sharing="private")
    monkeypatch.setenv("PORTAL_KEY", portal.key)
    assert (
        cli(
            db,
            "remote",
            "add",
            "hub",
            "--kind",
            "datapress",
            "--url",
            portal.url,
            "--key-env",
            "PORTAL_KEY",
        )
        == 0
    )
    assert cli(db, "remote", "list") == 0
    out = capsys.readouterr().out
    assert "hub\tdatapress" in out and "key from $PORTAL_KEY" in out
    assert portal.key not in out
    assert cli(db, "remote", "test", "hub") == 0
    out = capsys.readouterr().out
    assert "read private: yes; edit: yes; create: no" in out

    assert cli(db, "pull", "hub") == 0
    out = capsys.readouterr().out
    assert "2 created" in out

    # The same field edited on both sides: listed, exit 1, neither side's value touched.
    database = Database.open(db)
    try:
        with database.transaction() as session:
            datasets.update_dataset(session, first, {"title": "Ours"}, author="me")
            datasets.update_dataset(session, second, {"tags": ["maps"]}, author="me")
    finally:
        database.dispose()
    portal.edit(first, title="Theirs")
    assert cli(db, "push", "hub", "--dry-run") == 1
    out = capsys.readouterr().out
    assert f"CONFLICT {first} title" in out and '"Ours"' in out and '"Theirs"' in out
    assert portal.record(second)["tags"] == ["FOI"]  # a dry run writes nothing
    assert cli(db, "push", "hub") == 1
    out = capsys.readouterr().out
    assert f"conflict left alone: {first} title" in out
    assert portal.record(first)["title"] == "Theirs"
    assert portal.record(second)["tags"] == ["maps"]  # the rest went through
    assert cli(db, "pull", "hub") == 1
    database = Database.open(db)
    try:
        assert local_record(database, first)["title"] == "Ours"
        # Settled by hand: take theirs.
        assert cli(db, "pull", "hub", "--resolve", "theirs") == 0
        assert local_record(database, first)["title"] == "Theirs"
        assert_same(database, portal)
    finally:
        database.dispose()
    assert cli(db, "remote", "remove", "hub") == 0
    assert cli(db, "pull", "hub") == 2
    assert "no remote named 'hub'" in capsys.readouterr().err


def test_a_key_needs_a_keyring_or_the_environment(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_keyring: None,
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("secret\n"))
    db = tmp_path / "local.sqlite"
    code = cli(
        db, "remote", "add", "hub", "--kind", "ckan", "--url", "https://x.example", "--key-stdin"
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "No OS keyring" in err and "--key-env" in err
    monkeypatch.delenv("HUB_KEY", raising=False)
    assert (
        cli(
            db,
            "remote",
            "add",
            "hub",
            "--kind",
            "ckan",
            "--url",
            "https://x.example",
            "--key-env",
            "HUB_KEY",
        )
        == 0
    )
    assert cli(db, "pull", "hub") == 2
    assert "$HUB_KEY, which is not set" in capsys.readouterr().err
