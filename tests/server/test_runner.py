"""The server thread: binds itself, a port in use is an ordinary error, stops cleanly, logs."""

from __future__ import annotations

import socket

import httpx
import pytest

from app.models.database import Database
from app.services.server import RequestLogEntry, ServerStartFailed, ServerThread, create_app
from app.services.server.runner import is_loopback


def test_it_listens_on_loopback_on_a_free_port_and_stops(database: Database) -> None:
    server = ServerThread(create_app(database))
    url = server.start()
    assert url.startswith("http://127.0.0.1:") and url == server.url
    assert server.is_running
    assert httpx.get(f"{url}/api/v1/dataset.csv").status_code == 200
    server.stop()
    assert not server.is_running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/v1/dataset.csv", timeout=2)


def test_a_port_in_use_is_an_ordinary_error(database: Database) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = ServerThread(create_app(database), port=port)
        with pytest.raises(ServerStartFailed) as caught:
            server.start()
        assert str(port) in caught.value.message
        server.stop()  # harmless after a failed start


def test_an_unresolvable_host_is_an_ordinary_error(database: Database) -> None:
    with pytest.raises(ServerStartFailed):
        ServerThread(create_app(database), host="no-such-host.invalid").start()


def test_the_request_log_hook_sees_each_request(database: Database) -> None:
    entries: list[RequestLogEntry] = []
    with ServerThread(create_app(database, on_request=entries.append)) as server:
        httpx.get(f"{server.url}/api/v1/dataset.csv")
        httpx.get(f"{server.url}/api/dataset/zzzzz")
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("GET", "/api/v1/dataset.csv", 200),
        ("GET", "/api/dataset/zzzzz", 404),
    ]
    assert entries[0].bytes_sent > 0 and entries[0].client.startswith("127.0.0.1:")


def test_a_failing_log_hook_does_not_break_serving(database: Database) -> None:
    def broken(_entry: RequestLogEntry) -> None:
        raise RuntimeError("log view gone")

    with ServerThread(create_app(database, on_request=broken)) as server:
        assert httpx.get(f"{server.url}/api/v1/dataset.csv").status_code == 200


def test_base_url_sets_the_base_of_absolute_urls(database: Database) -> None:
    app = create_app(database, base_url="https://data.example.org/")
    with ServerThread(app) as server:
        response = httpx.get(f"{server.url}/api/v1/dataset.jsonld")
    assert response.links["first"]["url"] == "https://data.example.org/api/v1/dataset.jsonld"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.2", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
