"""`main.py dataset publish|unpublish|delete ID...`, run in-process through app.cli.main on a
real SQLite file: all or nothing, one line per dataset, the history written as the form's."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from app.cli import main
from app.models.database import Database
from app.services import datasets, history, trash
from app.services.errors import NotFound

AUTHOR = "script"


@pytest.fixture
def catalogue(tmp_path: Path) -> Iterator[Path]:
    """Two drafts (dft01, dft02) and a published dataset (pub01)."""
    path = tmp_path / "catalogue.sqlite"
    database = Database.open(path)
    try:
        with database.transaction() as session:
            for dataset_id, state in (
                ("dft01", "draft"),
                ("dft02", "draft"),
                ("pub01", "published"),
            ):
                record = datasets.new_record(session)
                record.update(id=dataset_id, title=f"Dataset {dataset_id}", state=state)
                datasets.create_dataset(session, record, author="setup")
    finally:
        database.dispose()
    yield path


def _state(path: Path) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """Each dataset id in the history: its state (or "" if deleted) and its versions, oldest
    first, as (action, author)."""
    database = Database.open(path)
    try:
        with database.read() as session:
            ids = session.scalars(text("SELECT DISTINCT dataset_id FROM dataset_versions")).all()
            found = {}
            for dataset_id in ids:
                versions = history.list_versions(session, dataset_id)
                try:
                    state = datasets.get_dataset(session, dataset_id).state
                except NotFound:
                    state = ""
                found[dataset_id] = (state, [(v.action, v.author) for v in reversed(versions)])
            return found
    finally:
        database.dispose()


def _deleted(path: Path) -> list[tuple[str, str]]:
    database = Database.open(path)
    try:
        with database.read() as session:
            return [(d.dataset_id, d.deleted_by) for d in trash.list_deleted(session)]
    finally:
        database.dispose()


def _run(path: Path, *argv: str) -> int:
    return main(["dataset", *argv, "--db", str(path), "--author", AUTHOR])


def test_publish_writes_a_publish_version_and_reports_each_dataset(
    catalogue: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(catalogue, "publish", "dft01", "pub01", "dft02", "dft01") == 0
    assert capsys.readouterr().out == (
        "published dft01\nalready published pub01\npublished dft02\n"
    )
    state = _state(catalogue)
    assert state["dft01"] == ("published", [("create", "setup"), ("publish", AUTHOR)])
    assert state["dft02"] == ("published", [("create", "setup"), ("publish", AUTHOR)])
    assert state["pub01"] == ("published", [("create", "setup")])  # not rewritten


def test_unpublish_and_the_db_before_the_command(
    catalogue: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--db", str(catalogue), "dataset", "unpublish", "pub01", "dft01", "--author", AUTHOR]
    assert main(argv) == 0
    assert capsys.readouterr().out == "unpublished pub01\nalready a draft dft01\n"
    state = _state(catalogue)
    assert state["pub01"] == ("draft", [("create", "setup"), ("unpublish", AUTHOR)])
    assert state["dft01"] == ("draft", [("create", "setup")])


def test_delete_goes_to_the_trash_with_a_delete_version(
    catalogue: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(catalogue, "delete", "dft01", "pub01") == 0
    assert capsys.readouterr().out == "deleted dft01\ndeleted pub01\n"
    assert sorted(_deleted(catalogue)) == [("dft01", AUTHOR), ("pub01", AUTHOR)]
    state = _state(catalogue)
    assert state["dft01"] == ("", [("create", "setup"), ("delete", AUTHOR)])
    assert state["dft02"] == ("draft", [("create", "setup")])

    # Deleted already: said so, and no second delete version.
    assert _run(catalogue, "delete", "dft01", "dft02") == 0
    assert capsys.readouterr().out == "already deleted dft01\ndeleted dft02\n"
    assert _state(catalogue)["dft01"] == state["dft01"]
    # A deleted dataset cannot be published: named, nothing written.
    assert _run(catalogue, "publish", "dft01") == 2
    assert "dft01" in capsys.readouterr().err


def test_an_unknown_id_is_named_and_nothing_is_written(
    catalogue: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _state(catalogue)
    for action in ("publish", "unpublish", "delete"):
        assert _run(catalogue, action, "dft01", "nope1", "pub01", "nope2") == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == "error: no dataset with id nope1, nope2; nothing written\n"
    assert _state(catalogue) == before
    assert _deleted(catalogue) == []


def test_a_refused_publish_gives_the_reason_and_writes_nothing(
    catalogue: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A draft that no longer validates (written by an older version, say): no title.
    database = Database.open(catalogue)
    try:
        with database.transaction() as session:
            session.execute(text("UPDATE datasets SET title = '' WHERE id = 'dft02'"))
    finally:
        database.dispose()
    before = _state(catalogue)
    assert _run(catalogue, "publish", "dft01", "dft02") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    first, last = captured.err.splitlines()
    assert first.startswith("error: cannot publish dft02: ") and "title" in first
    assert last == "nothing published: no dataset was changed"
    assert _state(catalogue) == before  # dft01, valid, was not published either


def test_the_author_defaults_to_the_login_name(catalogue: Path) -> None:
    assert main(["dataset", "publish", "dft01", "--db", str(catalogue)]) == 0
    assert _state(catalogue)["dft01"][1][-1] == ("publish", getpass.getuser())
