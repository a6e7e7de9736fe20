"""`main.py export` and `main.py import`, run in-process through app.cli.main."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from app.cli import main
from app.models.database import Database
from app.services import synthetic
from app.services.clock import today_iso
from app.services.mappings import datapress
from tests.services.importing.helpers import empty_catalogue, fill, records


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    path = tmp_path / "source.sqlite"
    database = Database.open(path)
    fill(database, 5)
    database.dispose()
    return path


@pytest.mark.parametrize("fmt", ["csv", "resources-csv", "xlsx", "json", "jsonld", "ttl"])
def test_export_writes_the_file(
    catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    out = tmp_path / f"out.{fmt}"
    assert main(["export", "--format", fmt, "--out", str(out), "--db", str(catalogue)]) == 0
    assert out.stat().st_size > 0
    assert capsys.readouterr().out == (
        f"exported 7 datasets ({out.stat().st_size:,} bytes) to {out}\n"
    )


def test_export_published_scope_and_db_before_the_command(catalogue: Path, tmp_path: Path) -> None:
    out = tmp_path / "published.csv"
    argv = ["--db", str(catalogue), "export", "--format", "csv", "--out", str(out)]
    assert main([*argv, "--scope", "published"]) == 0
    database = Database.open(catalogue)
    try:
        public = {
            i
            for i, r in records(database).items()
            if r["state"] == "published"
            and r["sharing"] == "public"
            and (r["embargoUntil"] or "") <= today_iso()
        }
    finally:
        database.dispose()
    with out.open(newline="", encoding="utf-8") as handle:
        assert {row["id"] for row in csv.DictReader(handle)} == public


def test_import_prints_the_preview_and_commits(
    catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbook = tmp_path / "all.xlsx"
    main(["export", "--format", "xlsx", "--out", str(workbook), "--db", str(catalogue)])
    target = tmp_path / "target.sqlite"
    empty_catalogue(target).dispose()
    capsys.readouterr()
    assert main(["import", str(workbook), "--db", str(target), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out == (
        f"{workbook} (xlsx): 7 new, 0 changed, 0 unchanged, 0 errors\ndry run: nothing written\n"
    )
    database = Database.open(target)
    try:
        assert records(database) == {}
    finally:
        database.dispose()

    assert main(["import", str(workbook), "--db", str(target), "--author", "cli"]) == 0
    assert capsys.readouterr().out.endswith(
        "imported: 7 created, 0 updated, 0 copied, 0 skipped, 0 unchanged\n"
    )
    assert main(["import", str(workbook), "--db", str(target), "--on-existing", "update"]) == 0
    assert "0 new, 0 changed, 7 unchanged" in capsys.readouterr().out


def test_import_with_errors_prints_each_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "target.sqlite"
    database = Database.open(target)
    synthetic.generate(database, 0)
    database.dispose()
    path = tmp_path / "in.csv"
    path.write_text("title,contactEmail\r\nGood,a@example.org\r\n,nope\r\n", encoding="utf-8")
    assert main(["import", str(path), "--db", str(target)]) == 1
    captured = capsys.readouterr()
    assert "1 new, 0 changed, 0 unchanged, 2 errors" in captured.out
    assert "  row 3, title: a title is required\n" in captured.err
    assert "  row 3, contactEmail: is not an email address\n" in captured.err
    database = Database.open(target)
    try:
        assert records(database) == {}
    finally:
        database.dispose()


def test_import_with_a_column_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "target.sqlite"
    path = tmp_path / "theirs.csv"
    path.write_text("Heading,Where\r\nTrees,Barnet\r\n", encoding="utf-8")
    argv = ["import", str(path), "--db", str(target), "--map", "Heading=title"]
    assert main([*argv, "--map", "Where=custom.place"]) == 0
    database = Database.open(target)
    try:
        (record,) = records(database).values()
    finally:
        database.dispose()
    assert (record["title"], record["custom"]) == ("Trees", {"place": "Barnet"})


def test_a_bad_file_is_an_error_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.pdf"
    path.write_bytes(b"%PDF-1.4")
    assert main(["import", str(path), "--db", str(tmp_path / "t.sqlite")]) == 2
    assert capsys.readouterr().err.startswith("error: Cannot import notes.pdf")
    assert main(["import", str(path), "--db", str(tmp_path / "t.sqlite"), "--map", "x"]) == 2


def test_the_import_preview_says_what_the_format_does_not_carry(
    catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = tmp_path / "export.json"
    main(["export", "--format", "json", "--out", str(exported), "--db", str(catalogue)])
    capsys.readouterr()
    argv = ["import", str(exported), "--db", str(catalogue), "--on-existing", "update"]
    assert main([*argv, "--dry-run"]) == 0
    lines = [
        line.removeprefix("  not carried: ")
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("  not carried: ")
    ]
    # export.json has no publication state: the stored one is kept, and the preview says so.
    assert any(line.startswith("state: not carried by DataPress export.json — ") for line in lines)
    assert {line.split(":")[0] for line in lines} <= set(datapress.EXPORT.not_carried)
