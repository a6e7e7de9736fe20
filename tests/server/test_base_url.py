"""A fixed public base URL (issue 16 item 3, finding 5): every URL the server writes starts with
the setting (default: the address it listens on); the `Host` header enters neither the output
nor the dump cache's keys; forwarded headers are believed only from the proxies named."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.routing import Route

from app.models.database import Database
from app.services.server import RequestLogEntry, ServerThread, create_app
from app.services.server.runner import ServerStartFailed, base_url_setting
from tests.server.conftest import Catalogue, ServeFactory

# Every GET endpoint that writes URLs, with a parameter that makes it write some.
WRITERS = (
    "/api/v1/dataset.jsonld?limit=1",
    "/api/v1/dataset.csv",
    "/api/v1/context.jsonld",
    "/api/datasets/export.json",
    "/api/datasets/export.datasets.csv",
    "/api/datasets/export.resources.csv",
    "/api/action/current_package_list_with_resources",
    "/api/action/package_search",
    "/api/openapi.json",
    "/",
    "/sitemap.xml",
    "/robots.txt",
)
FORGED = {
    "Host": "evil.example",
    "X-Forwarded-Host": "forwarded.example",
    "X-Forwarded-Proto": "gopher",
    "Forwarded": "host=fwd.example;proto=gopher",
}


def _service(app: Any) -> Any:
    route = next(r for r in app.routes if isinstance(r, Route) and r.path == "/api/v1/dataset.csv")
    endpoint: Any = route.endpoint
    return endpoint.__self__.service


def _written(client: httpx.Client, headers: dict[str, str], public: str) -> dict[str, str]:
    texts = {path: client.get(path, headers=headers).text for path in WRITERS}
    texts["/dataset/{id}"] = client.get(f"/dataset/{public}", headers=headers).text
    texts["/dataset/unknown"] = client.get(f"/dataset/{'x' * 5}", headers=headers).text
    return texts


def test_the_host_header_enters_no_output(serve: ServeFactory, catalogue: Catalogue) -> None:
    server = serve()
    with httpx.Client(base_url=server.url, timeout=20) as client:
        plain = _written(client, {}, catalogue.public[0])
        forged = _written(client, FORGED, catalogue.public[0])
    for path, text in forged.items():
        assert server.url in text, path
        for name in ("evil.example", "forwarded.example", "fwd.example", "gopher"):
            assert name not in text, (path, name)
        assert text == plain[path], path


def test_the_host_header_enters_no_cache_key(database: Database, catalogue: Catalogue) -> None:
    app = create_app(database)
    service = _service(app)
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=20) as client:

        def etag(host: str) -> str:
            return client.get("/api/datasets/export.json", headers={"Host": host}).headers["etag"]

        first = etag("h0.example")
        renders = service.dumps.renders
        assert renders > 0
        etags = {etag(f"h{n}.example") for n in range(1, 12)}
    assert etags == {first}
    assert service.dumps.renders == renders


def test_the_base_url_setting_starts_every_url(serve: ServeFactory, catalogue: Catalogue) -> None:
    base = "https://data.example.org/catalogue"
    server = serve(base_url=base + "/")
    with httpx.Client(base_url=server.url, timeout=20) as client:
        written = _written(client, FORGED, catalogue.public[0])
    for path, text in written.items():
        assert base in text, path
        assert server.url not in text, path
    page = written["/dataset/{id}"]
    assert f'<link rel="canonical" href="{base}/dataset/{catalogue.public[0]}">' in page
    assert f"Sitemap: {base}/sitemap.xml" in written["/robots.txt"]
    assert f"<loc>{base}/dataset/{catalogue.public[0]}</loc>" in written["/sitemap.xml"]
    feed = httpx.get(f"{server.url}/api/v1/dataset.jsonld?limit=1")
    assert feed.links["next"]["url"].startswith(f"{base}/api/v1/dataset.jsonld?after=")


@pytest.mark.parametrize(
    "text",
    [
        "ftp://data.example.org",
        "data.example.org",
        "http://",
        "http://x.example/?q=1",
        "http://x.example/#top",
        "http://x.example:port",
        "http://user@x.example",
        "http://x.example/a\nb",
    ],
)
def test_a_base_url_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ServerStartFailed):
        base_url_setting(text)


def test_a_base_url_is_kept_without_its_trailing_slash() -> None:
    assert base_url_setting(" https://d.example:8443/a/ ") == "https://d.example:8443/a"


def _logged_client(database: Database, **options: Any) -> list[RequestLogEntry]:
    log: list[RequestLogEntry] = []
    app = create_app(database, on_request=log.append)
    with ServerThread(app, **options) as server:
        response = httpx.get(
            f"{server.url}/api/v1/context.jsonld",
            headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
        )
        assert response.status_code == 200
        assert f'"{server.url}/' in response.text  # the scheme stays the listener's
    return log


def test_forwarded_headers_are_ignored_unless_configured(database: Database) -> None:
    (entry,) = _logged_client(database)
    assert entry.client.startswith("127.0.0.1:")


def test_forwarded_headers_are_believed_from_a_configured_proxy(database: Database) -> None:
    (entry,) = _logged_client(database, forwarded_allow_ips="127.0.0.1")
    assert entry.client.startswith("203.0.113.9")
