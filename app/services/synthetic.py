"""A synthetic catalogue of any size, for tests and benchmarks (`main.py generate`).

Each dataset is built as a record (services.records, seed 002) and written through the one
batch write path for new datasets (services.new_datasets), 10,000 to a transaction, so the
stored bytes are those of `datasets.create_dataset` (a test compares the two, table by table).
Only the version's ``at`` differs: it is the dataset's ``createdAt`` rather than the moment of
generation, so the history reads like a real catalogue's.

Deterministic for a seed and a starting catalogue: the random generator is seeded from the seed
and the first free primary key, and ids already in the catalogue are never reused.
"""

from __future__ import annotations

import itertools
import random
import string
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, TextIO

from sqlalchemy import Connection, insert, select, text
from sqlalchemy.orm import Session

from app.models import (
    Dataset,
    Licence,
    Masthead,
    Team,
    Topic,
    User,
    team_members,
)
from app.models.database import Database
from app.services.changes import ChangeSet, announce, catalogue_of, notify
from app.services.new_datasets import (
    NewDataset,
    Prepared,
    first_free_pk,
    prepare,
    stored_record,
    write_prepared,
)
from app.services.record.fields import DATASET, Kind
from app.services.records import Record
from app.services.text import slugify
from app.services.worker_ahead import worked_ahead, worker

AUTHOR = "synthetic"
# The record's optional links to elsewhere (the description's iframe).
OPTIONAL_URLS = tuple(f.name for f in DATASET if f.kind is Kind.URL and f.nullable)
CHUNK = 10_000
ID_ALPHABET = string.ascii_lowercase + string.digits
# A bigger page cache while bulk-loading: the title, date and FTS indexes grow in random order.
BULK_CACHE_KIB = 262_144

TEAMS = [
    ("t0gla", "Greater London Authority"),
    ("t1trn", "Transport & Highways"),
    ("t2env", "Environment, Parks and Waste"),
    ("t3hou", "Housing"),
    ("t4edu", "Education and Skills"),
    ("t5hea", "Public Health"),
    ("t6fin", "Finance — Council Tax"),
    ("t7plc", "Planning Policy"),
]
USERS = [
    (1, "ann", "Ann Ødegård", "ann@example.org", ["t0gla", "t1trn"]),
    (2, "bob", "Bob O'Neill", "bob@example.org", ["t1trn"]),
    (3, "chloe", "Chloé Dubois", "chloe@example.org", ["t2env"]),
    (4, "dai", "Dai Llywelyn", "dai@example.org", ["t3hou", "t4edu"]),
    (5, "eun", "Eun-ji Park", "eun@example.org", ["t5hea"]),
    (6, "farah", "Farah Çelik", "farah@example.org", ["t6fin"]),
    (7, "greg", 'Greg "Data" Smith', "greg@example.org", ["t7plc"]),
    (8, "hana", "Hana Nováková", None, []),
]
TOPICS = [
    ("transport", "Transport"),
    ("environment", "Environment"),
    ("housing", "Housing"),
    ("health", "Health & Social Care"),
    ("education", "Education"),
    ("economy", "Economy, Jobs and Business"),
    ("crime", "Crime and Community Safety"),
    ("planning", "Planning"),
    ("demography", "Demography"),
    ("budget", "Council budget"),
]
LICENCES = [
    ("https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/", "OGL v3"),
    ("https://creativecommons.org/licenses/by/4.0/", "CC BY 4.0"),
    ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0 1.0"),
    ("https://opendatacommons.org/licenses/odbl/1-0/", "ODbL 1.0"),
    ("https://example.org/licences/restricted", "Restricted — internal use"),
]
MASTHEADS = [
    ("london", "London Datastore"),
    ("borough", "Borough Data"),
    ("archive", "Archive (read only)"),
]

SUBJECTS = [
    "Road traffic collisions",
    "Air quality readings",
    "Library visits",
    "Household waste recycling",
    "Council tax bands",
    "Planning applications",
    "School admissions",
    "Bus punctuality",
    "Street trees",
    "Noise complaints",
    "Housing completions",
    "Freedom of Information requests",
    "Public toilets",
    "Electric vehicle chargers",
    "Parking fines",
    "Population estimates",
    "Rough sleeping counts",
    "Allotment waiting lists",
    "Fly-tipping incidents",
    "Cycle hire journeys",
    "Energy use in public buildings",
    "Childhood obesity",
    "Business rates",
    "Licensed premises",
    "Flood risk zones",
    "Footfall",
    "Pupil attainment",
    "Hate crime",
    "Social housing waiting list",
    "Water quality",
]
PLACES = [
    "London",
    "Barnet",
    "Hackney",
    "Tower Hamlets",
    "Zürich",
    "Łódź",
    "São Paulo",
    "Ynys Môn",
    "Kraków",
    "Reykjavík",
    "Malmö",
    "Île-de-France",
    "Göteborg",
    "Cymru",
    "Αθήνα",
    "Москва",
    "東京",
    "Newcastle upon Tyne",
    "King's Lynn",
    "Stoke-on-Trent",
]
QUALIFIERS = [
    "by ward",
    "by month",
    "by borough",
    "by age and sex",
    "(provisional)",
    "— quarterly",
    "2019–2024",
    ", annual",
    'and "hot spots"',
    "per 1,000 residents",
    "— revised",
    "",
    "",
    "",
]
SENTENCES = [
    "Figures are provisional and may be revised, without notice, when late returns arrive.",
    'Counts below 5 are suppressed and shown as "*".',
    "Data is collected by the {team} team and checked monthly.",
    "See the methodology note for definitions, caveats & known issues.",
    "Totals may not add up because of rounding.",
    "This release replaces the figures published in {year}.",
    "Locations are approximate, to protect people's privacy.",
    "The series was re-based in {year}; earlier years are not comparable.",
    "Contains public sector information licensed under the Open Government Licence v3.0.",
    "Coverage: {place} and neighbouring areas — café, naïve and résumé-safe text.",
]
TAGS = [
    "transport",
    "roads",
    "air",
    "pollution",
    "libraries",
    "waste",
    "recycling",
    "council tax",
    "planning",
    "schools",
    "buses",
    "trees",
    "noise",
    "housing",
    "FOI",
    "toilets",
    "EV",
    "parking",
    "population",
    "homelessness",
    "allotments",
    "cycling",
    "energy",
    "obesity",
    "business",
    "licensing",
    "flooding",
    "footfall",
    "crime",
    "water",
    "données ouvertes",
    "ciudad",
]
FORMATS = [
    ("csv", "text/csv"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("json", "application/json"),
    ("pdf", "application/pdf"),
    ("geojson", "application/geo+json"),
    ("zip", "application/zip"),
]
SUBJECT_SLUGS = {subject: slugify(subject) for subject in SUBJECTS}
RESOURCE_COUNTS = (0, 1, 2, 3, 4, 5, 6)
RESOURCE_WEIGHTS = list(itertools.accumulate((3, 10, 20, 30, 20, 10, 7)))
LINK_COUNTS = (0, 1, 2)
LINK_WEIGHTS = list(itertools.accumulate((25, 50, 25)))
START = datetime(2014, 1, 1)  # naive, UTC
SPAN_SECONDS = 11 * 365 * 86_400


def generate(
    database: Database,
    count: int,
    *,
    seed: int = 0,
    progress_stream: TextIO | None = None,
) -> None:
    """Add `count` synthetic datasets (with resources, links and a version each) to `database`.

    Two processes for a large catalogue: a worker builds and prepares the next chunks (the
    records, their stored form, validation, the packed history: services.new_datasets) while
    this one inserts, which is what needs the database. (A builder thread was slower: the writer
    gives up the GIL on every row SQLite steps, then waits for it.) Each chunk has its own
    seeded generator, so the output does not depend on how the work is split.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    with database.transaction() as session:
        _ensure_reference_data(session)
        connection = session.connection()
        first_pk = first_free_pk(connection)
        taken = set(connection.scalars(select(Dataset.id)))
    starts = range(first_pk, first_pk + count, CHUNK)
    jobs = [(seed, start, min(CHUNK, first_pk + count - start)) for start in starts]
    clash_rng = random.Random(seed * 1_000_003 + first_pk)
    written = 0
    with database.engine.connect() as connection:
        # BEGIN IMMEDIATE, as every writer of the catalogue (Database.transaction).
        connection.execution_options(sqlite_begin="IMMEDIATE")
        previous = _bulk_pragmas(connection, database.is_sqlite)
        try:
            for prepared in _prepared_chunks(jobs):
                make_ids_unique(prepared, taken, clash_rng)
                pks = frozenset(new.pk for new in prepared.batch)
                with connection.begin():
                    write_prepared(connection, prepared)
                    notify(connection, pks)  # PostgreSQL's listeners, on commit
                # What services.datasets announces when its transaction commits.
                announce(ChangeSet(catalogue_of(connection), pks))
                written += len(prepared.batch)
                if progress_stream is not None:
                    progress_stream.write(f"\rgenerated {written:,}/{count:,} datasets")
                    progress_stream.flush()
        finally:
            _restore_pragmas(connection, database.is_sqlite, previous)
    if not database.is_sqlite and count:
        # Explicit primary keys do not move a PostgreSQL sequence; move it past them.
        with database.transaction() as session:
            session.execute(
                text("SELECT setval(pg_get_serial_sequence('datasets', 'pk'), :pk)"),
                {"pk": first_pk + count - 1},
            )
    if progress_stream is not None and count:
        progress_stream.write("\n")
        progress_stream.flush()


def _prepared_chunks(jobs: list[tuple[int, int, int]]) -> Iterator[Prepared]:
    """Each job's chunk prepared, in order: by a worker process a chunk or two ahead when
    there is more than one chunk, else here."""
    with worker() as pool:
        ahead = worked_ahead(prepared_chunk, jobs, pool=pool if len(jobs) > 1 else None)
        for _, prepared in ahead:
            yield prepared


def _bulk_pragmas(connection: Connection, is_sqlite: bool) -> tuple[int, int] | None:
    """A big page cache, and no fsync per chunk: a crash mid-way loses synthetic data only.

    Set on the DBAPI connection, outside any transaction (SQLite refuses `synchronous` inside
    one), and put back before the connection returns to the pool.
    """
    if not is_sqlite:
        return None
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cache = raw.execute("PRAGMA cache_size").fetchone()[0]
    synchronous = raw.execute("PRAGMA synchronous").fetchone()[0]
    raw.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    raw.execute("PRAGMA synchronous=OFF")
    return int(cache), int(synchronous)


def _restore_pragmas(
    connection: Connection, is_sqlite: bool, previous: tuple[int, int] | None
) -> None:
    if is_sqlite and previous is not None:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        raw.execute(f"PRAGMA cache_size={previous[0]}")
        raw.execute(f"PRAGMA synchronous={previous[1]}")


def _ensure_reference_data(session: Session) -> None:
    """The teams, users, topics, licences and mastheads the synthetic datasets refer to."""
    for team_id, title in TEAMS:
        session.merge(Team(id=team_id, title=title))
    for topic_id, title in TOPICS:
        session.merge(Topic(id=topic_id, title=title))
    for masthead_id, title in MASTHEADS:
        session.merge(Masthead(id=masthead_id, title=title))
    known_licences = set(session.scalars(select(Licence.url)))
    for url, title in LICENCES:
        if url not in known_licences:
            session.add(Licence(url=url, title=title))
    session.flush()
    known_users = set(session.scalars(select(User.id)))
    for user_id, username, display_name, email, _teams in USERS:
        if user_id not in known_users:
            session.add(User(id=user_id, username=username, display_name=display_name, email=email))
    session.flush()
    members = set(session.execute(select(team_members.c.team_id, team_members.c.user_id)).all())
    wanted = [
        {"team_id": team_id, "user_id": user_id}
        for user_id, _u, _d, _e, team_ids in USERS
        for team_id in team_ids
        if (team_id, user_id) not in members
    ]
    if wanted:
        session.execute(insert(team_members), wanted)


class _Builder:
    """Builds canonical records from one random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def between(self, low: int, high: int) -> int:
        """random.randint, without its argument checks: the generator spends its time here."""
        return low + int(self.rng.random() * (high - low + 1))

    def new_id(self) -> str:
        """A random id; `make_ids_unique` replaces the rare one already taken."""
        return "".join(self.rng.choices(ID_ALPHABET, k=5))

    def child_ids(self, n: int) -> list[str]:
        ids: list[str] = []
        while len(ids) < n:
            candidate = "".join(self.rng.choices(ID_ALPHABET, k=3))
            if candidate not in ids:
                ids.append(candidate)
        return ids

    def record(self, pk: int) -> Record:
        rng = self.rng
        subject = rng.choice(SUBJECTS)
        place = rng.choice(PLACES)
        year = self.between(2008, 2025)
        qualifier = rng.choice(QUALIFIERS)
        separator = "" if qualifier.startswith(",") else " "
        title = f"{subject} in {place}{separator}{qualifier}".strip()
        if rng.random() < 0.3:
            title = f"{title} {year}"
        team_id, team_title = rng.choice(TEAMS)
        created = START + timedelta(seconds=rng.random() * SPAN_SECONDS)
        updated = created + timedelta(seconds=rng.random() * 400 * 86_400)
        state = "published" if rng.random() < 0.7 else "draft"
        sharing = "private" if rng.random() < 0.15 else "public"
        embargo = None
        if rng.random() < 0.05:
            embargo = (
                f"{self.between(2024, 2030)}-{self.between(1, 12):02d}-{self.between(1, 28):02d}"
            )
        description = self.description(subject, place, team_title, year)
        licence_url, licence_title = rng.choice(LICENCES)
        tags = rng.sample(TAGS, self.between(0, 4))
        topics = [t for t, _ in rng.sample(TOPICS, self.between(0, 2))]
        custom: dict[str, Any] = {}
        if rng.random() < 0.5:
            custom["unit"] = rng.choice(["Assurance", "Insight & Analytics", "GIS, Mapping"])
        if rng.random() < 0.3:
            custom["geography"] = rng.sample(PLACES, 2)
        readteams = sorted(rng.sample([t for t, _ in TEAMS], 1)) if sharing == "private" else []
        collaborators = [rng.choice(USERS)[0]] if rng.random() < 0.1 else []
        dataset_id = self.new_id()
        record: Record = {
            "id": dataset_id,
            "title": title,
            "description": description,
            "masthead": rng.choice(MASTHEADS)[0] if rng.random() < 0.4 else None,
            "tags": tags,
            "topics": topics,
            "nextReviewDate": (
                f"{self.between(2025, 2027)}-{self.between(1, 12):02d}-15"
                if rng.random() < 0.3
                else None
            ),
            "licence": {"url": licence_url, "title": licence_title},
            "contact": {
                "email": f"opendata+{team_id}@example.org",
                "title": f"{team_title} data team",
            },
            "custom": custom,
            "resources": self.resources(subject, created),
            "links": self.links(subject, created),
            "team": team_id,
            "sharing": sharing,
            "collaborators": collaborators,
            "readusers": [],
            "readteams": readteams,
            "createdAt": _iso(created),
            "updatedAt": _iso(updated),
            "site": "",
            "state": state,
            "embargoUntil": embargo,
        }
        for key in OPTIONAL_URLS:  # an embedded map now and then
            record[key] = f"https://maps.example.org/embed/{pk}" if rng.random() < 0.05 else None
        return record

    def description(self, subject: str, place: str, team: str, year: int) -> str:
        rng = self.rng
        sentences = [
            s.format(team=team, year=year, place=place)
            for s in rng.sample(SENTENCES, self.between(1, 4))
        ]
        parts = [f"<p>{subject} in <b>{place}</b>, {year}&ndash;{year + 1}.</p>"]
        if rng.random() < 0.5:
            parts.append("<p>" + " ".join(sentences).replace("&", "&amp;") + "</p>")
        else:
            items = "".join(f"<li>{s.replace('&', '&amp;')}</li>" for s in sentences)
            parts.append(f"<ul>\n{items}\n</ul>")
        if rng.random() < 0.3:
            parts.append('<p>More at <a href="https://data.example.org/notes">the notes</a>.</p>')
        return "\n".join(parts)

    def resources(self, subject: str, created: datetime) -> Record:
        rng = self.rng
        n = rng.choices(RESOURCE_COUNTS, cum_weights=RESOURCE_WEIGHTS)[0]
        resources: Record = {}
        for position, rid in enumerate(self.child_ids(n)):
            extension, _mime = rng.choice(FORMATS)
            year = self.between(2010, 2024)
            filename = f"{SUBJECT_SLUGS[subject]}-{year}.{extension}"
            stamp = created + timedelta(days=self.between(0, 300))
            start = f"{year}-{self.between(1, 6):02d}"
            resources[rid] = {
                "url": f"https://files.example.org/{rid}/{filename}",
                "order": position,
                "title": f"{subject}, {year}" + (" (revised)" if rng.random() < 0.1 else ""),
                "description": rng.choice(
                    ["", "Raw data, one row per record.", 'The "clean" file.']
                ),
                "filename": filename,
                "timeFrame": {"gte": start, "lte": f"{year}-12"},
                "format": extension,
                "hash": f"{rng.getrandbits(128):032x}",
                "size": self.between(500, 50_000_000),
                "timestamp": _iso(stamp),
                "origin": "upload" if rng.random() < 0.8 else None,
            }
        return resources

    def links(self, subject: str, created: datetime) -> Record:
        rng = self.rng
        n = rng.choices(LINK_COUNTS, cum_weights=LINK_WEIGHTS)[0]
        links: Record = {}
        for position, lid in enumerate(self.child_ids(n)):
            checked = rng.random() < 0.7
            _extension, mime = rng.choice(FORMATS)
            links[lid] = {
                "url": f"https://portal.example.org/{SUBJECT_SLUGS[subject]}/{lid}",
                "order": position,
                "title": f"{subject} — external source",
                "description": "Published by a partner organisation, updated irregularly.",
                "qa": {
                    "timestamp": _iso(created + timedelta(days=30)) if checked else None,
                    "hash": f"{rng.getrandbits(128):032x}" if checked else None,
                    "size": self.between(100, 9_000_000) if checked else None,
                    "mimetype": mime if checked else None,
                    "httpStatus": rng.choice((200, 200, 200, 404, 500)) if checked else None,
                },
            }
        return links


def _iso(moment: datetime) -> str:
    """clock.now_iso's format; `moment` is a naive UTC datetime."""
    return moment.isoformat(timespec="milliseconds") + "Z"


def prepared_chunk(seed: int, first_pk: int, size: int) -> Prepared:
    """Datasets `first_pk` .. `first_pk + size - 1`, built and put through the write path's
    preparation (stored form, validation, rows): all that needs no database, so a worker
    process may do it."""
    builder = _Builder(random.Random(seed * 1_000_003 + first_pk))
    batch = [
        NewDataset(pk, 1, stored_record(builder.record(pk)))
        for pk in range(first_pk, first_pk + size)
    ]
    return prepare(batch, author=AUTHOR, action="create", at=None)


def make_ids_unique(prepared: Prepared, taken: set[str], rng: random.Random) -> None:
    """Give the datasets whose ids are in the catalogue (or drawn earlier) fresh ones."""
    for index, new in enumerate(prepared.batch):
        old = new.record["id"]
        if old not in taken:
            taken.add(old)
            continue
        fresh = old
        while fresh in taken:
            fresh = "".join(rng.choices(ID_ALPHABET, k=5))
        taken.add(fresh)
        prepared.rename(index, fresh)
