"""services.sitemap: the light keyset walk of the sitemap reads what iter_datasets reads."""

from __future__ import annotations

import pytest

from app.models.database import Database
from app.services import export_query, publication, sitemap, synthetic
from app.services.visibility import ANONYMOUS, OWNER
from tests.conftest import AUTHOR


@pytest.fixture
def catalogue(database: Database) -> Database:
    synthetic.generate(database, 40, seed=3)
    return database


def test_page_refs_walk_the_published_rows_iter_datasets_walks(catalogue: Database) -> None:
    with catalogue.transaction() as session:  # some published ones, whatever the seed made
        for row in list(export_query.iter_datasets(catalogue, OWNER))[::3]:
            if row.state != "published":
                publication.publish(session, row.id, author=AUTHOR)
    rows = list(export_query.iter_datasets(catalogue, ANONYMOUS, published_only=True))
    assert len(rows) >= 5
    want = [(row.pk, row.id, row.updated_at) for row in rows]
    assert list(sitemap.iter_page_refs(catalogue, batch_size=3)) == want
    middle = rows[len(rows) // 2].pk
    after = sitemap.iter_page_refs(catalogue, after_pk=middle, batch_size=4)
    assert [ref.pk for ref in after] == [row.pk for row in rows if row.pk > middle]
    with catalogue.read() as session:
        assert sitemap.published_count(session) == len(rows)
        # Part 2 of parts of 3 URLs (the home page is the first URL) starts after 2 datasets.
        assert sitemap.part_start(session, 2, 3) == rows[1].pk
        assert sitemap.part_start(session, 1, 3) == 0
        assert sitemap.part_start(session, len(rows) + 1, 3) == -1  # past the end
