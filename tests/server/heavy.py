"""A catalogue on which a search is slow for real: few datasets, each with thousands of
different words, so that a one-letter prefix reaches hundreds of thousands of index terms (the
shape of the probe's slow search, at a size a test can build in seconds)."""

from __future__ import annotations

import random
import string
from pathlib import Path

from app.models.database import Database

# 32 one-letter prefixes: every letter and a few digits, the most a query may hold.
SLOW_QUERY = " ".join([*string.ascii_lowercase, *"012345"])


def build_heavy_catalogue(path: Path, datasets: int = 150, words: int = 5000) -> Path:
    """A migrated SQLite catalogue at `path` of `datasets` published, public datasets."""
    database = Database.open(path)
    rng = random.Random(16)
    letters = string.ascii_lowercase
    rows = []
    for n in range(datasets):
        text = " ".join(
            rng.choice(letters) + "".join(rng.choices(letters, k=7)) for _ in range(words)
        )
        rows.append((f"h{n:04d}", f"Heavy {n}", f"heavy-{n}", text, text))
    with database.transaction() as session:
        session.connection().exec_driver_sql(
            "INSERT INTO datasets (id, title, slug, description, description_text, tags, topics,"
            " custom, sharing, state, created_at, updated_at, site, version) VALUES"
            " (?, ?, ?, ?, ?, '[]', '[]', '{}', 'public', 'published',"
            " '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', '', 1)",
            rows,
        )
    database.dispose()
    return path
