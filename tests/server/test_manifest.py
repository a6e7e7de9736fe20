"""GET /api/v1/manifest.json: every dump's URL, size and SHA-256 at one catalogue version."""

from __future__ import annotations

import hashlib

import httpx

from app.models.database import Database
from app.services import datasets
from tests.conftest import AUTHOR
from tests.server.conftest import Catalogue


def _check_downloads(client: httpx.Client, manifest: dict[str, object]) -> None:
    dumps = manifest["dumps"]
    assert isinstance(dumps, list)
    for dump in dumps:
        body = client.get(dump["url"], headers={"Accept-Encoding": "identity"}).content
        assert len(body) == dump["bytes"], dump["url"]
        assert hashlib.sha256(body).hexdigest() == dump["sha256"], dump["url"]


def test_the_manifest_describes_each_dump_as_downloaded(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    response = client.get("/api/v1/manifest.json")
    assert response.status_code == 200, response.text
    manifest = response.json()
    assert manifest["datasets"] == len(catalogue.public)
    assert manifest["version"] == int(response.headers["Last-Modified-Version"])
    paths = sorted(httpx.URL(d["url"]).path for d in manifest["dumps"])
    assert paths == sorted(
        [
            "/api/v1/dataset.csv",
            "/api/datasets/export.json",
            "/api/datasets/export.datasets.csv",
            "/api/datasets/export.resources.csv",
            "/api/datasets/export.xlsx",
        ]
    )
    _check_downloads(client, manifest)

    with database.transaction() as session:
        datasets.update_dataset(session, catalogue.public[0], {"title": "Renamed"}, author=AUTHOR)
    changed = client.get("/api/v1/manifest.json").json()
    assert changed["version"] == manifest["version"] + 1
    by_url = {d["url"]: d["sha256"] for d in manifest["dumps"]}
    moved = {httpx.URL(d["url"]).path for d in changed["dumps"] if by_url[d["url"]] != d["sha256"]}
    # The resources' CSV holds no dataset title: it stays as it was.
    assert moved == {
        "/api/v1/dataset.csv",
        "/api/datasets/export.json",
        "/api/datasets/export.datasets.csv",
        "/api/datasets/export.xlsx",
    }
    _check_downloads(client, changed)


def test_a_wrong_key_is_a_401_and_a_right_one_widens_nothing(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    wrong = client.get("/api/v1/manifest.json", headers={"Authorization": "cdk_nope"})
    assert wrong.status_code == 401
    keyed = client.get("/api/v1/manifest.json", headers={"Authorization": catalogue.alice})
    assert keyed.json() == client.get("/api/v1/manifest.json").json()
