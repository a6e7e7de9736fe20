"""A catalogue with every field filled in awkward ways, and the fields each format carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.models import Dataset
from app.models.database import Database
from app.services import datasets, synthetic
from app.services.exporting import EXTENSIONS, ExportFormat, ExportRequest, export_catalogue
from app.services.records import Record

AUTHOR = "tester"

# Access lists name this catalogue's own users: no file format carries them; nor the storage
# path of an uploaded file (`origin`).
NEVER_CARRIED = frozenset({"collaborators", "readusers", "readteams"})
EVERYTHING = frozenset(
    {
        "id",
        "title",
        "description",
        "descriptionText",
        "descriptionIframe",
        "masthead",
        "tags",
        "topics",
        "nextReviewDate",
        "licence",
        "contact",
        "custom",
        "resources",
        "links",
        "team",
        "sharing",
        "createdAt",
        "updatedAt",
        "site",
        "state",
        "embargoUntil",
    }
)
_CSV_FIELDS = EVERYTHING - {
    "resources",
    "links",
    "state",
    "embargoUntil",
    "descriptionIframe",
    "site",
}
# What each export format carries, at the top level of a record.
CARRIED: dict[ExportFormat, frozenset[str]] = {
    ExportFormat.XLSX: EVERYTHING,
    ExportFormat.CSV: _CSV_FIELDS,
    ExportFormat.JSON: EVERYTHING - {"state", "embargoUntil", "descriptionIframe", "site"},
    ExportFormat.JSONLD: frozenset(
        {"id", "title", "descriptionText", "tags", "topics", "contact", "createdAt", "updatedAt"}
    ),
}
CARRIED[ExportFormat.TURTLE] = CARRIED[ExportFormat.JSONLD]


def tricky_record(**overrides: Any) -> Record:
    """Every field set, with text that trips spreadsheets, CSV and XML up."""
    record: Record = {
        "id": "trk01",
        "title": '=HYPERLINK("http://evil") ; “Quotes”, commas\nand a newline',
        "description": "<p>Tab\there &amp; <b>bold</b>, a bell: ok</p>\n<p>  spaced  </p>",
        "descriptionIframe": "https://maps.example.org/embed/1",
        "masthead": "london",
        "tags": ["a;b", "back\\slash", "-minus", " lead", "@at", "Zürich"],
        "topics": ["transport", "health"],
        "nextReviewDate": "2026-02-28",
        "licence": {"url": "https://creativecommons.org/licenses/by/4.0/", "title": "CC BY 4.0"},
        "contact": {"email": "team+data@example.org", "title": "+44 data team"},
        "custom": {"unit": "'quoted", "geography": ["London", "Łódź; east"], "empty": ""},
        "resources": {
            "k93": {
                "url": "https://files.example.org/k93/a.csv",
                "order": 0,
                "title": "@SUM(A1)",
                "description": "",
                "filename": "a.csv",
                "timeFrame": {"gte": "2020-01", "lte": "2024-11"},
                "format": "csv",
                "hash": "2cdf3a47738b93492906e3ad7e415d1a",
                "size": 1337303,
                "timestamp": "2025-01-21T16:10:02",
                "origin": "/uploads/a.csv",
            },
            "b07": {
                "url": "https://files.example.org/b07/b.xlsx",
                "order": 1,
                "title": "Second file",
                "description": "Plain",
                "filename": None,
                "timeFrame": {"lte": "2019-06"},
                "format": None,
                "hash": None,
                "size": None,
                "timestamp": "2024-12-31T23:59:59.999Z",
                "origin": None,
            },
        },
        "links": {
            "el3": {
                "url": "https://tfl.gov.uk/info-for/open-data-users/",
                "order": 0,
                "title": "TfL",
                "description": "-- external",
                "qa": {
                    "timestamp": "2025-01-28T11:17:08.531Z",
                    "hash": '"etag-1"',
                    "size": 1024,
                    "mimetype": "text/html; charset=utf-8",
                    "httpStatus": 200,
                },
            }
        },
        "team": "t2env",
        "sharing": "private",
        "collaborators": [],
        "readusers": [],
        "readteams": [],
        "createdAt": "2019-02-05T16:34:18.000Z",
        "site": "barnet",
        "state": "published",
        "embargoUntil": "2030-01-01",
    }
    record.update(overrides)
    return record


def fill(database: Database, count: int = 40, *, seed: int = 3) -> None:
    """Synthetic datasets (every kind of value) plus the tricky one, in `database`."""
    synthetic.generate(database, count, seed=seed)
    with database.transaction() as session:
        datasets.create_dataset(session, tricky_record(), author=AUTHOR)
        datasets.create_dataset(
            session,
            tricky_record(id="min01", title="Bare", resources={}, links={}, custom={}, tags=[],
                          topics=[], masthead=None, team=None, descriptionIframe=None,
                          nextReviewDate=None, embargoUntil=None, state="draft",
                          licence={"url": None, "title": None},
                          contact={"email": None, "title": None}, description=""),
            author=AUTHOR,
        )  # fmt: skip


def empty_catalogue(path: Path) -> Database:
    """A catalogue with the same teams, users, topics and mastheads, and no dataset."""
    database = Database.open(path)
    synthetic.generate(database, 0)
    return database


def records(database: Database) -> dict[str, Record]:
    with database.read() as session:
        ids = session.scalars(select(Dataset.id).order_by(Dataset.id)).all()
        return {i: datasets.get_record(session, i) for i in ids}


def project(record: Record, fields: frozenset[str]) -> Record:
    """The part of `record` a format carries (resources without their storage path)."""
    kept = {k: v for k, v in record.items() if k in fields}
    for resource in (kept.get("resources") or {}).values():
        resource.pop("origin", None)
    return kept


def export(database: Database, fmt: ExportFormat, folder: Path, **options: Any) -> Path:
    path = folder / f"export{EXTENSIONS[fmt]}"
    export_catalogue(database, ExportRequest(fmt, path, **options))
    return path
