"""export_catalogue: every format and scope, progress, and the atomic file."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import orjson
import pytest

from app.models.database import Database
from app.services import datasets, publication
from app.services.exporting import (
    EXTENSIONS,
    ExportFailed,
    ExportFormat,
    ExportRequest,
    ExportScope,
    export_catalogue,
)
from app.services.progress import Cancelled, Progress
from tests.conftest import AUTHOR, make_record


@pytest.fixture
def three(database: Database) -> dict[str, str]:
    """A published dataset, a draft and a private published one, by role."""
    with database.transaction() as session:
        ids = {
            role: datasets.create_dataset(
                session, make_record(title=title, sharing=sharing), author=AUTHOR
            )["id"]
            for role, title, sharing in (
                ("published", "Air quality in Hackney", "public"),
                ("draft", "Library loans", "public"),
                ("private", "Staff sickness", "private"),
            )
        }
        publication.publish(session, ids["published"], author=AUTHOR)
        publication.publish(session, ids["private"], author=AUTHOR)
    return ids


def _ids_in_csv(path: Path) -> set[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["id"] for row in csv.DictReader(handle)}


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (ExportScope.ALL, {"published", "draft", "private"}),
        (ExportScope.PUBLISHED, {"published"}),
    ],
)
def test_scopes_all_and_published(
    database: Database,
    three: dict[str, str],
    tmp_path: Path,
    scope: ExportScope,
    expected: set[str],
) -> None:
    out = tmp_path / "out.csv"
    result = export_catalogue(database, ExportRequest(ExportFormat.CSV, out, scope=scope))
    assert _ids_in_csv(out) == {three[role] for role in expected}
    assert result.datasets == len(expected)
    assert result.bytes_written == out.stat().st_size
    assert result.destination == out


def test_scope_selection_and_search(
    database: Database, three: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    chosen = (three["draft"], three["private"], "zzzzz")
    request = ExportRequest(ExportFormat.CSV, out, scope=ExportScope.SELECTION, dataset_ids=chosen)
    assert export_catalogue(database, request).datasets == 2
    assert _ids_in_csv(out) == {three["draft"], three["private"]}
    # The same search as the table's: every word a prefix.
    request = ExportRequest(ExportFormat.CSV, out, scope=ExportScope.SEARCH, search="air qual")
    assert export_catalogue(database, request).datasets == 1
    assert _ids_in_csv(out) == {three["published"]}


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_every_format_with_a_selection_matches_the_full_export(
    database: Database, three: dict[str, str], tmp_path: Path, fmt: ExportFormat
) -> None:
    # The fragments path (whole catalogue) and the row path (a selection) write the same.
    whole = tmp_path / f"whole{EXTENSIONS[fmt]}"
    export_catalogue(database, ExportRequest(fmt, whole))
    part = tmp_path / f"part{EXTENSIONS[fmt]}"
    everything = tuple(three.values())
    request = ExportRequest(fmt, part, scope=ExportScope.SELECTION, dataset_ids=everything)
    export_catalogue(database, request)
    if fmt is ExportFormat.TURTLE:
        import rdflib
        from rdflib.compare import isomorphic

        assert isomorphic(rdflib.Graph().parse(whole), rdflib.Graph().parse(part))
    else:
        assert part.read_bytes() == whole.read_bytes()


def test_an_empty_selection_is_refused(database: Database, tmp_path: Path) -> None:
    request = ExportRequest(ExportFormat.CSV, tmp_path / "x.csv", scope=ExportScope.SELECTION)
    with pytest.raises(Exception, match="select at least one dataset"):
        export_catalogue(database, request)


def test_progress_is_reported_per_batch(database: Database, tmp_path: Path) -> None:
    from app.services import synthetic

    synthetic.generate(database, 1200)
    seen: list[tuple[int, int]] = []
    export_catalogue(
        database,
        ExportRequest(ExportFormat.JSON, tmp_path / "x.json"),
        Progress(lambda done, total: seen.append((done, total))),
    )
    assert seen == [(0, 1200), (500, 1200), (1000, 1200), (1200, 1200)]
    assert len(orjson.loads((tmp_path / "x.json").read_bytes())) == 1200


@pytest.mark.parametrize("fmt", [ExportFormat.CSV, ExportFormat.XLSX, ExportFormat.TURTLE])
def test_a_cancelled_export_leaves_the_old_file_and_no_temporary_file(
    database: Database, tmp_path: Path, fmt: ExportFormat
) -> None:
    from app.services import synthetic

    synthetic.generate(database, 1200)
    out = tmp_path / "exports" / f"export{EXTENSIONS[fmt]}"
    out.parent.mkdir()
    out.write_bytes(b"the previous export")
    progress = Progress()

    def cancel_after_first_batch(done: int, total: int) -> None:
        if done >= 500:
            progress.cancel()

    progress = Progress(cancel_after_first_batch)
    with pytest.raises(Cancelled):
        export_catalogue(database, ExportRequest(fmt, out), progress)
    assert out.read_bytes() == b"the previous export"
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_a_cancelled_first_export_leaves_nothing(database: Database, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    progress = Progress()
    progress.cancel()
    with pytest.raises(Cancelled):
        export_catalogue(database, ExportRequest(ExportFormat.CSV, folder / "x.csv"), progress)
    assert list(folder.iterdir()) == []


def test_an_unwritable_folder_is_a_clear_error(database: Database, tmp_path: Path) -> None:
    with pytest.raises(ExportFailed, match="Cannot write in"):
        export_catalogue(database, ExportRequest(ExportFormat.CSV, tmp_path / "no" / "x.csv"))


def test_a_destination_that_is_a_folder_keeps_it_and_cleans_up(
    database: Database, three: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    (folder / "taken.csv").mkdir(parents=True)
    with pytest.raises(ExportFailed, match="Cannot write"):
        export_catalogue(database, ExportRequest(ExportFormat.CSV, folder / "taken.csv"))
    assert [p.name for p in folder.iterdir()] == ["taken.csv"]
    assert (folder / "taken.csv").is_dir()


def test_the_file_gets_ordinary_permissions(
    database: Database, three: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "x.json"
    export_catalogue(database, ExportRequest(ExportFormat.JSON, out))
    mask = os.umask(0o022)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
    assert isinstance(orjson.loads(out.read_bytes()), list)
