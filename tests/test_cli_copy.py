"""`main.py copy SOURCE DEST`, run in-process through app.cli.main."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from app.models.database import Database
from app.services.sample_catalogue import load_sample
from tests.services.test_catalogue_copy import table_rows


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.sqlite"
    database = Database.open(path)
    load_sample(database)
    database.dispose()
    return path


def test_copy_prints_each_table_and_that_the_hashes_agree(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "copy.sqlite"
    assert main(["copy", str(source), str(target)]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[0] == f"{source} -> {target}"
    assert lines[1].split() == ["table", "rows", "sha-256", "agree"]
    stored = table_rows(source)
    del stored["sqlite_sequence"]  # SQLite's, not a table of ours
    rows = {line.split()[0]: line.split() for line in lines[2:-1]}
    assert {name: int(row[1]) for name, row in rows.items()} == {
        name: len(held) for name, held in stored.items()
    }
    assert all(row[3] == "yes" for row in rows.values())
    total = sum(map(len, stored.values()))
    assert lines[-1].startswith(f"copied {total} rows in {len(stored)} tables: every table's")
    assert out.err == ""  # no progress lines when stderr is not a terminal
    assert table_rows(target) == table_rows(source)


def test_copy_into_a_catalogue_is_refused_with_status_2(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "copy.sqlite"
    assert main(["copy", str(source), str(target)]) == 0
    capsys.readouterr()
    assert main(["copy", str(source), str(target)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("error: copy.sqlite holds a catalogue already (")
    assert out.err.rstrip().endswith("nothing was written.")
