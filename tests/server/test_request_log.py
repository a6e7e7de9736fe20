"""Request paths are escaped in every log (issue 16 item 5, finding 7): a `%0a` or `%0d` in a
path is decoded by the ASGI server into a line break, which reached the CLI's and the GUI's live
log raw, so a caller could forge log lines."""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.models.database import Database
from app.services.server import RequestLogEntry, ServerThread, create_app
from app.services.server.request_log import log_safe, print_entry
from app.views.server_panel import format_entry

MAIN = str(Path(__file__).resolve().parents[2] / "main.py")
FORGED = "2026-01-01T00:00:00Z 10.0.0.1:1 GET /api/admin 200 0B 0.1ms"
TARGETS = (
    f"/api/dataset/ab%0a{FORGED.replace(' ', '%20')}",
    "/api/dataset/ab%0d%0aforged",
    "/api/v1/dataset.csv?q=%0aforged&x=%E2%80%A8",
    "/api/dataset/%C2%85next-line%E2%80%A9",
)
ONE_LINE = re.compile(r"[!-~]+")  # printable ASCII, no space


def _connect(url: str) -> socket.socket:
    """A connection to `url`'s server, once it listens (`serve` prints its URL first); the
    bound is only for a server that never does."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    deadline = time.monotonic() + 30
    while True:
        try:
            return socket.create_connection((host, int(port)), timeout=20)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise


def _raw_get(url: str, target: str) -> None:
    """Send `target` byte for byte (httpx would normalise it)."""
    with _connect(url) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        while sock.recv(65536):
            pass


def test_paths_reach_the_log_hook_escaped(database: Database) -> None:
    log: list[RequestLogEntry] = []
    with ServerThread(create_app(database, on_request=log.append)) as server:
        for target in TARGETS:
            _raw_get(server.url, target)
    # As sent: the escapes stay escapes. (The hook runs once a response is finished, which the
    # client may see before it runs: the order is not asserted.)
    assert sorted(e.path for e in log) == sorted(TARGETS)
    for entry in log:
        assert ONE_LINE.fullmatch(entry.path), entry.path
        assert "\n" not in format_entry(entry) and "\r" not in format_entry(entry)


def test_the_cli_log_line_stays_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    entry = RequestLogEntry("2026-01-01T00:00:00Z", "127.0.0.1:9", "GET", TARGETS[0], 404, 1, 2)
    print_entry(entry)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"/a\nb", "/a%0Ab"),
        (b"/a\r\nb", "/a%0D%0Ab"),
        (b"/a b", "/a%20b"),
        (b"/a%0ab", "/a%0ab"),
        (b"/100%", "/100%25"),
        (b"/%zz", "/%25zz"),
        (b"/caf\xc3\xa9", "/caf%C3%A9"),
        (b"/\x1b[31m", "/%1B[31m"),
        (b"/a\\b", "/a%5Cb"),
    ],
)
def test_log_safe(raw: bytes, shown: str) -> None:
    assert log_safe(raw) == shown


def test_the_error_log_escapes_the_path(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    from starlette.routing import Route

    app = create_app(database)

    async def broken(_request: object) -> None:
        raise RuntimeError("boom")

    app.router.routes.insert(0, Route("/boom/{rest}", broken))
    with caplog.at_level(logging.ERROR), ServerThread(app) as server:
        _raw_get(server.url, "/boom/x%0aFORGED")
    messages = [r.getMessage() for r in caplog.records if "error serving" in r.getMessage()]
    assert messages == ["error serving /boom/x%0aFORGED"]


def test_the_serve_command_logs_one_line_per_request(tmp_path: Path) -> None:
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
        match = re.search(r"at (http://127\.0\.0\.1:\d+)", process.stderr.readline())
        assert match
        _raw_get(match.group(1), TARGETS[0])
        httpx.get(f"{match.group(1)}/api/v1/dataset.csv", timeout=10)
        first, second = process.stderr.readline(), process.stderr.readline()
        assert f" GET {TARGETS[0]} 404 " in first
    finally:
        process.kill()
        process.wait()
        assert process.stderr is not None
        process.stderr.close()
    assert "GET /api/v1/dataset.csv 200" in second


def test_a_head_logs_no_bytes_sent(database: Database) -> None:
    log: list[RequestLogEntry] = []
    with ServerThread(create_app(database, on_request=log.append)) as server:
        assert httpx.head(f"{server.url}/api/openapi.json").status_code == 200
        assert httpx.get(f"{server.url}/api/openapi.json").status_code == 200
    ((head,), (get,)) = ([e for e in log if e.method == m] for m in ("HEAD", "GET"))
    assert (head.method, head.bytes_sent) == ("HEAD", 0)
    assert get.bytes_sent > 0
