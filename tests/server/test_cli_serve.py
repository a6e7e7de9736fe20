"""`serve` headless: binds, serves, logs requests, stops on Ctrl-C; a port in use is an error."""

from __future__ import annotations

import argparse
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest

from app.cli import build_parser
from app.cli_serve import run_serve
from app.models.database import Database
from app.services.public_url import stored_public_url
from app.services.server.runner import ServerStartFailed

MAIN = str(Path(__file__).resolve().parents[2] / "main.py")


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_defaults_are_loopback_port_8080() -> None:
    args = _parse()
    assert (args.host, args.port, args.db) == ("127.0.0.1", 8080, None)


@contextmanager
def _serving(db: Path, *options: str) -> Iterator[tuple[str, IO[str]]]:
    """`main.py serve` on `db` with `options`: its URL and its stderr; it must end at Ctrl-C
    with status 0."""
    Database.open(db).dispose()
    process = subprocess.Popen(
        [sys.executable, MAIN, "serve", "--db", str(db), "--port", "0", *options],
        cwd=Path(__file__).resolve().parents[2],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    try:
        banner = process.stderr.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        yield match.group(1), process.stderr
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()


def test_serve_runs_until_interrupted(tmp_path: Path) -> None:
    with _serving(tmp_path / "c.sqlite") as (url, log):
        assert httpx.get(f"{url}/api/v1/dataset.csv", timeout=10).status_code == 200
        assert "GET /api/v1/dataset.csv 200" in log.readline()


def test_serve_saves_the_public_url_and_names_the_admin(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    options = ["--quiet", "--public-url", "https://data.example.org/", "--save-public-url"]
    with _serving(db, *options, "--admin-email", "archivist@example.org") as (url, _log):
        identify = httpx.get(f"{url}/oai?verb=Identify", timeout=10).text
        assert "<adminEmail>archivist@example.org</adminEmail>" in identify
        assert "<baseURL>https://data.example.org/oai</baseURL>" in identify
    database = Database.open(db)
    try:
        with database.read() as session:
            assert stored_public_url(session) == "https://data.example.org"
    finally:
        database.dispose()


def test_serve_counts_calls_when_asked_to(tmp_path: Path) -> None:
    # On loopback the quotas are off unless an option sets them (tests/server/test_quotas.py).
    with _serving(tmp_path / "c.sqlite", "--quiet", "--quota-anonymous", "2") as (url, log):
        assert "quotas: 2 calls a day per client address, 10000 per API key" in log.readline()
        answers = [httpx.get(f"{url}/robots.txt", timeout=10) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["1", "0", "0"]
        assert answers[2].json()["errorcode"] == 10005
    with _serving(tmp_path / "c.sqlite", "--quiet") as (url, _log):
        assert "x-ratelimit-limit" not in httpx.get(f"{url}/robots.txt", timeout=10).headers


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_reported(tmp_path: Path, workers: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        db = str(tmp_path / "c.sqlite")
        with pytest.raises(ServerStartFailed):  # before any worker starts
            run_serve(_parse("--db", db, "--port", str(port), "--workers", workers))


@pytest.mark.parametrize("text", ["0", "-1", "two"])
def test_workers_must_be_a_positive_number(text: str) -> None:
    with pytest.raises(SystemExit):
        _parse("--workers", text)
