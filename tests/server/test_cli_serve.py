"""`serve` headless: binds, serves, logs requests, stops on Ctrl-C; a port in use is an error."""

from __future__ import annotations

import argparse
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

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


def test_serve_runs_until_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    Database.open(db).dispose()
    process = subprocess.Popen(
        [sys.executable, MAIN, "serve", "--db", str(db), "--port", "0"],
        cwd=Path(__file__).resolve().parents[2],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        assert httpx.get(f"{match.group(1)}/api/v1/dataset.csv", timeout=10).status_code == 200
        assert "GET /api/v1/dataset.csv 200" in process.stderr.readline()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stderr is not None
        process.stderr.close()


def test_serve_saves_the_public_url_and_names_the_admin(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    Database.open(db).dispose()
    process = subprocess.Popen(
        [
            sys.executable, MAIN, "serve", "--db", str(db), "--port", "0", "--quiet",
            "--public-url", "https://data.example.org/", "--save-public-url",
            "--admin-email", "archivist@example.org",
        ],
        cwd=Path(__file__).resolve().parents[2],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        match = re.search(r"at (http://127\.0\.0\.1:\d+)", process.stderr.readline())
        assert match
        identify = httpx.get(f"{match.group(1)}/oai?verb=Identify", timeout=10).text
        assert "<adminEmail>archivist@example.org</adminEmail>" in identify
        assert "<baseURL>https://data.example.org/oai</baseURL>" in identify
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stderr is not None
        process.stderr.close()
    database = Database.open(db)
    try:
        with database.read() as session:
            assert stored_public_url(session) == "https://data.example.org"
    finally:
        database.dispose()


def test_a_port_in_use_is_reported(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServerStartFailed):
            run_serve(_parse("--db", str(tmp_path / "c.sqlite"), "--port", str(port)))
