"""Harvesters that keep a mirror of the published catalogue, as aggregators do: one full walk,
then rounds of what changed since and what was deleted since. Each may be handed a callback run
between its pages, to change the catalogue during its walks."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx
from rdflib.namespace import DCAT, DCTERMS
from sqlalchemy import select

from app.models import Dataset
from app.models.database import Database
from app.services import datasets, export_query, publication
from app.services.visibility import ANONYMOUS
from tests.conftest import AUTHOR, make_record
from tests.dcat_helpers import parse_jsonld
from tests.server.harvest import next_link

Between = Callable[[], None]


def _nothing() -> None:
    pass


def published(database: Database) -> dict[str, str]:
    """The published catalogue as an anonymous caller sees it: id -> title."""
    return {
        row.id: row.title
        for row in export_query.iter_datasets(database, ANONYMOUS, published_only=True)
    }


class FeedMirror:
    """A mirror kept by the JSON-LD feed: `since` and `deleted.json` by catalogue version."""

    def __init__(self, client: httpx.Client, *, limit: int = 5) -> None:
        self.client = client
        self.limit = limit
        self.records: dict[str, str] = {}
        self.version: int | None = None

    def _walk(self, start: str, between: Between) -> int:
        url: str | None = start
        first: int | None = None
        while url is not None:
            response = self.client.get(url)
            assert response.status_code == 200, response.text
            version = int(response.headers["Last-Modified-Version"])
            first = version if first is None else first
            graph = parse_jsonld(response.content)
            for node in graph.subjects(predicate=None, object=DCAT.Dataset):
                self.records[str(graph.value(node, DCTERMS.identifier))] = str(
                    graph.value(node, DCTERMS.title)
                )
            url = next_link(response)
            between()
        assert first is not None
        return first

    def full(self, between: Between = _nothing) -> None:
        self.records.clear()
        self.version = self._walk(f"/api/v1/dataset.jsonld?limit={self.limit}", between)

    def round(self, between: Between = _nothing) -> None:
        assert self.version is not None, "walk it whole first"
        since = self.version
        version = self._walk(f"/api/v1/dataset.jsonld?since={since}&limit={self.limit}", between)
        gone = self.client.get(f"/api/v1/deleted.json?since={since}")
        assert gone.status_code == 200, gone.text
        assert gone.json()["version"] >= version
        for dataset_id in gone.json()["datasets"]:
            self.records.pop(dataset_id, None)
        self.version = version


class CkanMirror:
    """A mirror kept through CKAN's package_search as CKAN harvesters do: what was modified
    since the newest `metadata_modified` it holds (`fq=metadata_modified:[T TO *]`, newest
    first), walked again when the count moves during a walk, and deletions by the list of
    ids."""

    def __init__(self, client: httpx.Client, *, rows: int = 5) -> None:
        self.client = client
        self.rows = rows
        self.records: dict[str, str] = {}
        self.newest = ""

    def _search(self, between: Between, **params: Any) -> list[dict[str, Any]]:
        while True:
            found: list[dict[str, Any]] = []
            counts: set[int] = set()
            start = 0
            while True:
                response = self.client.get(
                    "/api/action/package_search",
                    params={
                        **params,
                        "sort": "metadata_modified desc",
                        "rows": self.rows,
                        "start": start,
                    },
                )
                assert response.status_code == 200, response.text
                result = response.json()["result"]
                counts.add(result["count"])
                found += result["results"]
                start += self.rows
                between()
                if start >= result["count"]:
                    break
            if len(counts) == 1:
                return found

    def _take(self, packages: list[dict[str, Any]]) -> None:
        for package in packages:
            self.records[package["id"]] = package["title"]
            self.newest = max(self.newest, package["metadata_modified"])

    def full(self, between: Between = _nothing) -> None:
        self.records.clear()
        self._take(self._search(between))

    def round(self, between: Between = _nothing) -> None:
        fq = f"metadata_modified:[{self.newest} TO *]" if self.newest else ""
        self._take(self._search(between, fq=fq))
        listed = {package["id"] for package in self._search(_nothing)}
        for dataset_id in set(self.records) - listed:
            del self.records[dataset_id]


class Churn:
    """Random edits, publications, withdrawals, deletions and embargoes of a catalogue."""

    def __init__(self, database: Database, seed: int) -> None:
        self.database = database
        self.rng = random.Random(seed)
        self.serial = 0

    def seed_catalogue(self, count: int) -> None:
        with self.database.transaction() as session:
            for n in range(count):
                record = datasets.create_dataset(
                    session, make_record(title=f"Dataset {n}"), author=AUTHOR
                )
                if n % 4:
                    publication.publish(session, record["id"], author=AUTHOR)

    def step(self) -> None:
        """One random change, in a transaction of its own."""
        self.serial += 1
        with self.database.transaction() as session:
            ids = sorted(session.scalars(select(Dataset.id)))
            dataset_id = self.rng.choice(ids)
            record = datasets.get_record(session, dataset_id)
            action = self.rng.choice(
                ["edit", "edit", "publish", "unpublish", "delete", "embargo", "private", "create"]
            )
            if action == "edit":
                datasets.update_dataset(
                    session, dataset_id, {"title": f"Edit {self.serial}"}, author=AUTHOR
                )
            elif action == "publish" and record["state"] != "published":
                publication.publish(session, dataset_id, author=AUTHOR)
            elif action == "unpublish" and record["state"] == "published":
                publication.unpublish(session, dataset_id, author=AUTHOR)
            elif action == "delete":
                datasets.delete_dataset(session, dataset_id, author=AUTHOR)
            elif action == "embargo":
                publication.set_embargo(session, dataset_id, "2999-01-01", author=AUTHOR)
            elif action == "private":
                sharing = "public" if record["sharing"] == "private" else "private"
                datasets.update_dataset(session, dataset_id, {"sharing": sharing}, author=AUTHOR)
            else:
                new = datasets.create_dataset(
                    session, make_record(title=f"New {self.serial}"), author=AUTHOR
                )
                publication.publish(session, new["id"], author=AUTHOR)

    def during(self, steps: int) -> Between:
        """A callback making one change per call, `steps` times."""
        left = [steps]

        def change() -> None:
            if left[0] > 0:
                left[0] -= 1
                self.step()

        return change
