"""The table's broken-links count: the SQL agrees with link_check.is_broken, link by link."""

from __future__ import annotations

import itertools
from typing import Any

from app.models.database import Database
from app.services import browse, datasets
from app.services.browse import BrowseSpec
from app.services.link_check import is_broken
from tests.conftest import AUTHOR, make_record

STATUSES = (None, 0, 200, 301, 399, 400, 404, 500)
TIMESTAMPS = (None, "2025-01-02T03:04:05")
CASES = list(itertools.product(STATUSES, TIMESTAMPS))


def links(cases: list[tuple[int | None, str | None]]) -> dict[str, Any]:
    made = {}
    for position, (status, stamp) in enumerate(cases):
        qa = {"timestamp": stamp, "hash": None, "size": None, "mimetype": None,
              "httpStatus": status}  # fmt: skip
        made[f"k{position:02d}"] = {"url": "https://example.org/", "order": position,
                                    "title": "", "description": "", "qa": qa}  # fmt: skip
    return made


def test_the_count_is_the_links_that_is_broken_calls_broken(database: Database) -> None:
    # One dataset a case, and one with every case: the count is per link, summed per dataset.
    groups = [[case] for case in CASES] + [CASES]
    expected: dict[str, int] = {}
    with database.transaction() as session:
        for number, group in enumerate(groups):
            record = make_record(title=f"Dataset {number}", links=links(group))
            dataset_id = datasets.create_dataset(session, record, author=AUTHOR)["id"]
            expected[dataset_id] = sum(
                is_broken({"httpStatus": status, "timestamp": stamp}) for status, stamp in group
            )
    with database.read() as session:
        rows = browse.fetch_after(session, BrowseSpec(), None, 100)
    assert {row.id: row.broken_links for row in rows} == expected
    # 400, 404 and 500, checked or not; no status (None or 0) once checked.
    assert max(expected.values()) == 8
