from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.models.database import Database
from app.services import datasets, files
from app.services.progress import Cancelled, Progress
from app.services.records import resource_to_dict
from tests.conftest import AUTHOR, make_record

MIB = 1024 * 1024


def write(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def test_describe_file_hashes_in_chunks_and_reports_progress(tmp_path: Path) -> None:
    path = tmp_path / "FOI_Requests.CSV"
    data = write(path, 2 * MIB + 7)
    mtime = datetime(2024, 3, 5, 10, 20, 30, tzinfo=UTC).timestamp()
    os.utime(path, (mtime, mtime))
    reports: list[tuple[int, int]] = []

    info = files.describe_file(path, Progress(on_report=lambda d, t: reports.append((d, t))))

    assert info.md5 == hashlib.md5(data).hexdigest()
    assert info.size == len(data)
    assert info.format == "csv"
    assert info.filename == "FOI_Requests.CSV"
    assert info.timestamp == "2024-03-05T10:20:30"
    assert info.path == path.resolve()
    total = len(data)
    assert reports == [(0, total), (MIB, total), (2 * MIB, total), (total, total)]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    info = files.describe_file(path)
    assert (info.size, info.md5, info.format) == (0, hashlib.md5(b"").hexdigest(), "txt")


def test_cancel_stops_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    write(path, 3 * MIB)
    seen: list[int] = []

    def on_report(done: int, _total: int) -> None:
        seen.append(done)
        if done >= MIB:
            progress.cancel()  # as the Cancel button does, from another thread

    progress = Progress(on_report=on_report)
    with pytest.raises(Cancelled):
        files.describe_file(path, progress)
    assert seen == [0, MIB]  # the next chunk's report raised; the rest was never read


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        files.describe_file(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.XLSX", "xlsx"),
        ("minutes.pdf", "pdf"),
        ("archive.tar.gz", "gz"),
        ("README", ""),
    ],
)
def test_file_format(name: str, expected: str) -> None:
    assert files.file_format(Path(name)) == expected


def test_title_from_filename() -> None:
    assert files.title_from_filename("foi_requests_2020-25.csv") == "Foi requests 2020-25"
    assert files.title_from_filename("Budget.xlsx") == "Budget"


def test_resource_from_file_is_a_valid_seed_002_resource(
    tmp_path: Path, database: Database
) -> None:
    path = tmp_path / "spend_2024.csv"
    data = write(path, 1000)
    info = files.describe_file(path)

    resource = files.resource_from_file(info, order=2)

    assert resource == {
        "url": "",
        "order": 2,
        "title": "Spend 2024",
        "description": "",
        "filename": "spend_2024.csv",
        "timeFrame": {},
        "format": "csv",
        "hash": hashlib.md5(data).hexdigest(),
        "size": 1000,
        "timestamp": info.timestamp,
        "origin": str(path.resolve()),
    }
    # It validates and survives the catalogue unchanged: the shape is records.resource_to_dict's.
    with database.transaction() as session:
        created = datasets.create_dataset(
            session, make_record(resources={"r01": resource}), author=AUTHOR
        )
    assert created["resources"]["r01"] == resource
    with database.read() as session:
        stored = datasets.get_dataset(session, created["id"]).resources[0]
        assert set(resource_to_dict(stored)) == set(resource)
