"""A fake DataPress portal (seeds 001 and 002) as a real HTTP server on loopback.

How to use it::

    with FakeDataPress(tmp_path / "portal.sqlite") as portal:
        dataset_id = portal.add(title="Bins collected", state="published")
        portal.url, portal.key          # base URL; API key of "editor" (team member: edit+publish)
        portal.reader_key               # a key of a user with no rights beyond public reading
        portal.edit(dataset_id, title="Bins emptied")    # someone edits on the portal
        portal.delete(dataset_id)                        # ... or deletes
        portal.record(dataset_id)                        # the portal's record now
        portal.faults.add(Fault("429", times=3))         # tests.fakes.faults switches
        portal.faults.requests("GET", "/api/dataset/")   # what it was asked

The portal is a Catalogue Desk catalogue of its own (a real SQLite file) served by our own
server (app.services.server.create_app), which answers `GET /api/datasets/export.json` (seed
001: keyed export, private datasets for the key's user, ETag and 304), `GET
/api/dataset/:id` (seed 002: 200/403/404) and `PATCH /api/dataset/:id` (RFC 6902, 401 without a
key, 403/404/409/422) exactly as the seeds describe, behind the fault switches. The portal's
datasets belong to team "tm001", of which "editor" is a member, so `key` may read and edit
them all, drafts and private ones included. It is also the second catalogue of the "two
Catalogue Desk catalogues kept in sync" scenario: nothing here is DataPress-specific code.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.models import Team
from app.models.database import Database
from app.services import access, api_keys, datasets
from app.services.records import Record
from app.services.server import create_app
from tests.fakes.faults import Faults
from tests.fakes.server import FakeServer

TEAM = "tm001"
PORTAL_AUTHOR = "portal-user"


def portal_record(**fields: Any) -> Record:
    """A valid dataset for the portal (owned by its team), with `fields` over the defaults."""
    record: Record = {
        "title": "Freedom of Information Requests",
        "description": "<p>Requests received, <b>by month</b>.</p>",
        "tags": ["FOI"],
        "topics": ["council-and-democracy"],
        "licence": {"url": "https://www.nationalarchives.gov.uk/doc/ogl/3/", "title": "OGL v3"},
        "contact": {"email": "opendata@example.org", "title": "Open Data Team"},
        "custom": {"unit": "Assurance", "geography": ["London", "Barnet"]},
        "resources": {},
        "links": {},
        "sharing": "public",
        "state": "published",
        "team": TEAM,
    }
    record.update(fields)
    return record


class FakeDataPress:
    def __init__(self, path: Path, *, database: Database | None = None) -> None:
        self.database = database if database is not None else Database.open(path)
        self._owns_database = database is None
        with self.database.transaction() as session:
            if session.get(Team, TEAM) is None:
                access.create_team(session, TEAM, "Portal team")
            editor = access.create_user(session, f"editor-{id(self)}")
            access.add_to_team(session, TEAM, editor.id)
            reader = access.create_user(session, f"reader-{id(self)}")
            self.key = api_keys.create_api_key(session, editor.id).key
            self.reader_key = api_keys.create_api_key(session, reader.id).key
        self.server = FakeServer(create_app(self.database))

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def faults(self) -> Faults:
        return self.server.faults

    def start(self) -> FakeDataPress:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        if self._owns_database:
            self.database.dispose()

    def __enter__(self) -> FakeDataPress:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- someone working on the portal -------------------------------------------------------

    def add(self, **fields: Any) -> str:
        with self.database.transaction() as session:
            stored = datasets.create_dataset(session, portal_record(**fields), author=PORTAL_AUTHOR)
        dataset_id: str = stored["id"]
        return dataset_id

    def edit(self, dataset_id: str, **changes: Any) -> Record:
        with self.database.transaction() as session:
            return datasets.update_dataset(session, dataset_id, changes, author=PORTAL_AUTHOR)

    def delete(self, dataset_id: str) -> None:
        with self.database.transaction() as session:
            datasets.delete_dataset(session, dataset_id, author=PORTAL_AUTHOR)

    def record(self, dataset_id: str) -> Record:
        with self.database.read() as session:
            return datasets.get_record(session, dataset_id)

    def ids(self) -> list[str]:
        from sqlalchemy import select

        from app.models import Dataset

        with self.database.read() as session:
            return list(session.scalars(select(Dataset.id).order_by(Dataset.pk)))


class SnapshotDataPress:
    """A read-only DataPress portal answering from memory: a frozen copy of a catalogue.

    How to use it (the sync benchmark does, in a process of its own)::

        snapshot = SnapshotDataPress(database, key)        # renders everything once
        with FakeServer(snapshot.app) as server:
            server.faults.delay = 0.02                      # a portal 20 ms away
            ...

    `GET /api/datasets/export.json` and `GET /api/dataset/:id` are rendered once, by the code
    our server uses (formats.datapress_json over export_query rows; records.dataset_to_record),
    so an answer costs no database work and the delay is the portal's whole latency. With
    `key` (bare, `Apikey` or `Bearer`) every dataset shows; without a key, only published,
    public ones out of embargo (a hidden one is a 403); another key is a 401; an unknown id a
    404; export.json carries an ETag and answers 304 to If-None-Match. PATCH is a 405: use
    FakeDataPress to test writes.
    """

    def __init__(self, database: Database, key: str) -> None:
        from starlette.applications import Starlette
        from starlette.routing import Route

        from app.services import export_query
        from app.services.clock import today_iso
        from app.services.sync.links import load_records
        from app.services.visibility import OWNER

        self.key = key
        rows = list(export_query.iter_datasets(database, OWNER))
        records = load_records(database, [row.id for row in rows])
        today = today_iso()
        self._rows = rows
        self._public: set[str] = set()
        self._records: dict[str, bytes] = {}
        for dataset_id, (record, _version) in records.items():
            self._records[dataset_id] = orjson.dumps(record)
            embargo = record.get("embargoUntil")
            if (
                record["state"] == "published"
                and record["sharing"] == "public"
                and (not embargo or embargo <= today)
            ):
                self._public.add(dataset_id)
        self._exports: dict[tuple[str, bool], tuple[bytes, str]] = {}
        self.app = Starlette(
            routes=[
                Route("/api/datasets/export.json", self._export, methods=["GET"]),
                Route("/api/dataset/{dataset_id}", self._dataset, methods=["GET", "PATCH"]),
            ]
        )

    def _keyed(self, request: Request) -> bool | None:
        """True with the key, False without one, None with another key."""
        header = request.headers.get("authorization", "").strip()
        if not header:
            return False
        parts = header.split(None, 1)
        presented = parts[1] if len(parts) == 2 and parts[0].lower() in _SCHEMES else header
        return True if presented == self.key else None

    def _export_for(self, base: str, keyed: bool) -> tuple[bytes, str]:
        cached = self._exports.get((base, keyed))
        if cached is None:
            from app.services.formats import datapress_json

            rows = [r for r in self._rows if keyed or r.id in self._public]
            body = b"".join(datapress_json.export_json(rows, base_url=base))
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            cached = self._exports[(base, keyed)] = (body, etag)
        return cached

    async def _export(self, request: Request) -> Response:
        keyed = self._keyed(request)
        if keyed is None:
            return _error(401, "unauthorized", "The API key is not valid")
        body, etag = self._export_for(str(request.base_url).rstrip("/"), keyed)
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body, media_type="application/json", headers={"ETag": etag})

    async def _dataset(self, request: Request) -> Response:
        if request.method == "PATCH":
            return _error(405, "method_not_allowed", "This snapshot portal is read-only")
        keyed = self._keyed(request)
        if keyed is None:
            return _error(401, "unauthorized", "The API key is not valid")
        dataset_id = request.path_params["dataset_id"]
        body = self._records.get(dataset_id)
        if body is None:
            return _error(404, "not_found", f"Dataset {dataset_id!r} does not exist")
        if not keyed and dataset_id not in self._public:
            return _error(403, "forbidden", f"You may not read dataset {dataset_id}")
        return Response(body, media_type="application/json")


_SCHEMES = ("apikey", "bearer", "token")


def _error(status: int, code: str, message: str) -> Response:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return Response(body, status_code=status, media_type="application/json")
