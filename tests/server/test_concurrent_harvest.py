"""A harvest by cursor while another thread adds, edits and unpublishes records (mechanism 3)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import httpx

from app.models.database import Database
from app.services import datasets, publication
from app.services.server import ServerThread
from tests.conftest import AUTHOR, make_record
from tests.server.harvest import next_link, page_ids

INITIAL = 60
PAGE = 7


def _create(database: Database, title: str) -> str:
    with database.transaction() as session:
        record = datasets.create_dataset(session, make_record(title=title), author=AUTHOR)
        publication.publish(session, record["id"], author=AUTHOR)
    dataset_id: str = record["id"]
    return dataset_id


class Writer(threading.Thread):
    """Adds, edits and unpublishes records until told to stop; counts its writes."""

    def __init__(self, database: Database, stable: list[str], doomed: list[str]) -> None:
        super().__init__(name="catalogue-writer", daemon=True)
        self.database = database
        self.stable = stable
        self.doomed = list(doomed)
        self.added: list[str] = []
        self.unpublished: list[str] = []
        self.writes = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.random = random.Random(3)

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                step = self.writes % 3
                if step == 0:
                    self.added.append(_create(self.database, f"Added {self.writes}"))
                elif step == 1:
                    target = self.random.choice(self.stable)
                    with self.database.transaction() as session:
                        datasets.update_dataset(
                            session, target, {"title": f"Edited {self.writes}"}, author=AUTHOR
                        )
                elif self.doomed:
                    target = self.doomed.pop()
                    with self.database.transaction() as session:
                        publication.unpublish(session, target, author=AUTHOR)
                    self.unpublished.append(target)
                self.writes += 1
                time.sleep(0.001)
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error


def test_a_harvest_during_writes_sees_every_stable_record_exactly_once(
    database: Database, server: ServerThread
) -> None:
    initial = [_create(database, f"Initial {i}") for i in range(INITIAL)]
    doomed = initial[5::6]  # spread over the whole walk, ahead of and behind the cursor
    stable = [i for i in initial if i not in doomed]
    writer = Writer(database, stable, doomed)
    seen: list[str] = []
    pages = 0
    writer.start()
    try:
        with httpx.Client(base_url=server.url, timeout=20) as client:
            url: str | None = f"/api/v1/dataset.jsonld?limit={PAGE}"
            while url is not None:
                # Let the writer change the catalogue between every two pages.
                target = writer.writes + 2
                deadline = time.monotonic() + 60  # only for a writer that stopped
                while writer.writes < target and writer.error is None:
                    assert time.monotonic() < deadline, "the writer stalled"
                    time.sleep(0.002)
                response = client.get(url)
                assert response.status_code == 200, response.text
                seen.extend(page_ids(response.content))
                url = next_link(response)
                pages += 1
    finally:
        writer.stop.set()
        writer.join(10)
    assert writer.error is None, writer.error
    assert pages >= INITIAL // PAGE
    counts = Counter(seen)
    assert [i for i, n in counts.items() if n > 1] == [], "no record twice"
    assert set(stable) <= set(seen), "every record that stayed published, once"
    assert set(seen) <= set(initial) | set(writer.added), "nothing that never was published"
    assert writer.unpublished and writer.added, "the writer did all three kinds of change"
