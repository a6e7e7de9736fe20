"""A small catalogue for the query language's tests, built through the services, and the same
datasets as the oracle's plain records (tests/query_oracle.Doc)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import update

from app.models import Dataset
from app.models.database import Database
from app.services import access, datasets
from app.services.clock import iso
from app.services.managed_lists import add_topic
from tests.conftest import AUTHOR, make_record
from tests.query_oracle import Doc

TITLE_WORDS = (
    "Paris film festival", "Trees of Paris", "Film archive", "Filmography", "Marie Curie",
    "Jean-Claude letters", "Jean Moulin papers", "Café Zürich receipts", "Air quality",
    "Budget", "Street trees", "Mariners", "Council minutes", "Planning applications",
    "Émile Zola", "Parish records", "Traffic counts", "Marché prices",
)  # fmt: skip
DESCRIPTION_WORDS = (
    "records", "of", "the", "city", "paris", "films", "trees", "jean", "collected", "monthly",
    "annual", "café", "summary", "letters", "filmed", "airport", "budgetary",
)  # fmt: skip
TAGS = ("FOI", "Freedom of Information", "Environment", "Film", "Heritage", "Open Data", "Zürich")
TOPICS = {
    "environment": "Environment",
    "heritage": "Heritage and Archives",
    "council": "Council and Democracy",
    "film": "Film and Media",
}
TEAMS = {"odt01": "Open Data Team", "arc01": "Archives", "fin01": "Finance and Paris"}
LICENCES = ("UK Open Government Licence (OGL v3)", "CC BY 4.0", "Public Domain")
COUNT = 48


def build(database: Database, seed: int = 14) -> list[Doc]:
    """COUNT published public datasets with varied fields; their Docs."""
    rng = random.Random(seed)
    docs: list[Doc] = []
    with database.transaction() as session:
        for topic, title in TOPICS.items():
            add_topic(session, topic, title)
        for team_id, team_title in TEAMS.items():
            access.create_team(session, team_id, team_title)
        for n in range(COUNT):
            title = " ".join(rng.sample(TITLE_WORDS, rng.randint(1, 3)))
            description = " ".join(rng.choices(DESCRIPTION_WORDS, k=rng.randint(0, 8)))
            tags = tuple(rng.sample(TAGS, rng.randint(0, 3)))
            topics = tuple(rng.sample(sorted(TOPICS), rng.randint(0, 2)))
            team: str | None = rng.choice([None, *TEAMS])
            licence: str | None = rng.choice([None, *LICENCES])
            resources = rng.randint(0, 3)
            record = make_record(
                title=title,
                description=description,
                tags=list(tags),
                topics=list(topics),
                team=team,
                licence={"url": None, "title": licence},
                resources={
                    f"{chr(97 + i)}{n:02d}": {
                        "title": f"File {i}",
                        "url": f"https://x.example/{n}/{i}.csv",
                    }
                    for i in range(resources)
                },
                state="published",
            )
            made = datasets.create_dataset(session, record, author=AUTHOR)
            modified = datetime(2019, 1, 1) + timedelta(hours=rng.randint(0, 8 * 365 * 24))
            created = datetime(1995, 1, 1) + timedelta(hours=rng.randint(0, 30 * 365 * 24))
            session.execute(
                update(Dataset)
                .where(Dataset.id == made["id"])
                .values(changed_at=iso(modified), created_at=iso(created))
            )
            docs.append(
                Doc(
                    id=made["id"],
                    title=title,
                    description=description,
                    tags=tags,
                    themes=tuple(TOPICS[t] for t in topics),
                    publisher=TEAMS[team] if team else None,
                    licence=licence,
                    modified=modified,
                    created=created,
                    resources=resources,
                )
            )
    return docs
