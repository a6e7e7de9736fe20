"""The OAI-PMH lists' walks read indexes in the list's order, a page at a time: the plan of
each statement a page runs (docs/ARCHITECTURE.md: OAI-PMH)."""

from __future__ import annotations

import pytest

from app.models.database import Database
from app.services import datasets, publication
from app.services.clock import today_iso
from app.services.oai import selection
from app.services.oai.protocol import DateRange
from tests.conftest import AUTHOR, make_record


@pytest.mark.sqlite_only("reads SQLite's query plans")
def test_each_walk_reads_its_index_in_order(database: Database) -> None:
    with database.transaction() as s:
        for n in range(6):
            record = datasets.create_dataset(s, make_record(title=f"D {n}"), author=AUTHOR)
            publication.publish(s, record["id"], author=AUTHOR)
        datasets.delete_dataset(s, record["id"], author=AUTHOR)
    today = today_iso()
    wanted = selection.Selection(DateRange("2000-01-01T00:00:00.000Z", None), None)
    selection._COMPILED.clear()
    plans: dict[int, str] = {}
    with database.read() as session:
        first = selection.page(session, wanted, None, 3, today)
        assert len(first) == 3
        after = first[-1].position
        rest = selection.page(session, wanted, after, 10, today)
        assert len(first) + len(rest) == 6  # five datasets and a deleted record
        for (stream, _shape, _day, _dialect), (sql, names, fixed) in selection._COMPILED.items():
            values = {**fixed, **selection._values(wanted, after), "limit": 3}
            rows = session.connection().exec_driver_sql(
                "EXPLAIN QUERY PLAN " + sql, tuple(values[name] for name in names)
            )
            plans[stream] = " | ".join(str(row[-1]) for row in rows)
    assert set(plans) == {0, 1, 2}
    expected = ("ix_datasets_changed_at", "ix_datasets_embargo_until", "ix_dataset_tombstones")
    for stream, index in enumerate(expected):
        assert f"USING INDEX {index}" in plans[stream], plans[stream]
        assert "TEMP B-TREE" not in plans[stream], plans[stream]
