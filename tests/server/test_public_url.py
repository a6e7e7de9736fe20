"""The catalogue's public URL (services.public_url): the server's URLs and every export's
`webpage` start with it."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
import pytest

from app.cli import main
from app.models.database import Database
from app.services import datasets, publication
from app.services.errors import ValidationFailed
from app.services.public_url import set_public_url, stored_public_url
from tests.conftest import AUTHOR, make_record
from tests.server.conftest import ServeFactory


@pytest.fixture
def published(database: Database) -> str:
    with database.transaction() as session:
        record = datasets.create_dataset(session, make_record(), author=AUTHOR)
        publication.publish(session, record["id"], author=AUTHOR)
        set_public_url(session, " https://data.example.org/catalogue/ ")
    dataset_id: str = record["id"]
    return dataset_id


def test_it_is_kept_normalised_and_refused_when_not_a_url(database: Database) -> None:
    with database.transaction() as session:
        assert (
            set_public_url(session, "https://data.example.org/x/") == "https://data.example.org/x"
        )
    with database.read() as session:
        assert stored_public_url(session) == "https://data.example.org/x"
    with database.transaction() as session, pytest.raises(ValidationFailed, match="publicUrl"):
        set_public_url(session, "ftp://nope")
    with database.transaction() as session:
        assert set_public_url(session, "  ") is None
    with database.read() as session:
        assert stored_public_url(session) is None


def test_the_server_writes_it_unless_told_another(
    database: Database, serve: ServeFactory, published: str
) -> None:
    base = "https://data.example.org/catalogue"
    server = serve()
    rows = httpx.get(f"{server.url}/api/v1/dataset.csv").text.splitlines()
    assert f"{base}/dataset/{published}" in rows[1]
    told = serve(base_url="https://other.example")
    rows = httpx.get(f"{told.url}/api/v1/dataset.csv").text.splitlines()
    assert f"https://other.example/dataset/{published}" in rows[1]


def test_an_export_without_a_base_url_links_the_public_pages(
    database: Database, published: str, tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    path = database.url.removeprefix("sqlite:///")
    assert main(["export", "--format", "csv", "--out", str(out), "--db", path]) == 0
    with out.open(newline="", encoding="utf-8") as handle:
        (row,) = csv.DictReader(handle)
    assert row["webpage"] == f"https://data.example.org/catalogue/dataset/{published}"
