"""Pulling 10,000 datasets from a DataPress portal 20 ms away: our sync against one at a time.

`python -m bench --only sync [--sizes 10000] [--repeats 3]` (the size is capped at 10,000; a
smaller `--sizes` gives a quicker run).

The portal is the fake DataPress portal of the tests in its read-only, in-memory form
(tests/fakes/datapress.py, SnapshotDataPress) over a copy of the synthetic catalogue of that
size (bench_table.catalogue, plus a user in every team, so its key sees every dataset: drafts,
private ones), served by uvicorn in a process of its own with the fault switches' delay of
20 ms on every answer: the portal's latency. The client is this process. In each repeat, into
a fresh local catalogue:

* ours — `sync.engine.pull` as `python main.py pull` runs it: the keyed export.json, every
  record fetched with the default concurrency (HttpOptions), the plan, then the datasets
  written with their sync links, a batch per transaction (datasets.create_datasets: one
  flush and one query per lookup for the batch);
  then a second pull with nothing changed (export.json answers 304: no record fetched);
* one at a time — an httpx.Client doing the same work the plain way: export.json, then for
  each dataset GET /api/dataset/:id and create_dataset in a transaction of its own.

Figures (medians over the repeats, ours and the anchor alternating): datasets per second for
the whole pull and for its fetching part alone (our plan phase; the anchor's time in requests),
and the no-change sync's time beside the full pull's. Both clients write the same rows (each
dataset with its history version and its rendered export fragments); the fetch line shows what
concurrency alone buys.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import OUT, Result
from bench.child_portal import serve_in_child

SIZE = 10_000
DELAY = 0.02  # seconds the portal takes to answer anything
KEY_ENV = "BENCH_SYNC_KEY"


def portal_catalogue(size: int) -> tuple[Path, str]:
    """bench/out/sync-portal-SIZE.sqlite (a copy of the synthetic catalogue) and a key that
    sees every dataset in it."""
    from app.models.database import Database
    from app.services import access, api_keys
    from app.services.synthetic import TEAMS
    from bench.bench_table import catalogue

    source = catalogue(size)
    path = OUT / f"sync-portal-{size}.sqlite"
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    database = Database.open(path)
    try:
        with database.transaction() as session:
            user = access.create_user(session, "sync-bench")
            for team_id, _title in TEAMS:
                access.add_to_team(session, team_id, user.id)
            key = api_keys.create_api_key(session, user.id).key
    finally:
        database.dispose()
    return path, key


@contextmanager
def serve_portal(path: Path, key: str, delay: float) -> Iterator[str]:
    """The snapshot portal over `path` in a child process; its URL."""
    args = [str(path), "--delay", str(delay)]
    with serve_in_child("bench.bench_sync", args, {KEY_ENV: key}) as url:
        yield url


def _serve(path: str, delay: float) -> None:
    """Child process: serve the snapshot portal until standard input closes."""
    from app.models.database import Database
    from tests.fakes.datapress import SnapshotDataPress
    from tests.fakes.server import FakeServer

    database = Database.open(path)
    snapshot = SnapshotDataPress(database, os.environ[KEY_ENV])
    database.dispose()
    with FakeServer(snapshot.app) as server:
        server.faults.delay = delay
        print(server.url, flush=True)
        sys.stdin.read()


def ours(url: str, key: str, folder: Path) -> tuple[float, float, float, int]:
    """Full pull, its plan (fetch) phase, the no-change pull (seconds); datasets pulled."""
    from app.models.database import Database
    from app.services.sync import engine, remotes
    from app.services.sync.context import SyncOptions

    database = Database.open(folder / "ours.sqlite")
    try:
        with database.transaction() as session:
            remotes.add_remote(session, "portal", "datapress", url, key_env=KEY_ENV)
        options = SyncOptions(environ={KEY_ENV: key})
        started = time.perf_counter()
        plan = asyncio.run(engine.plan_pull(database, "portal", options=options))
        planned = time.perf_counter()
        result = asyncio.run(engine.apply(database, plan, options=options))
        full = time.perf_counter()
        assert result.ok, result.summary()
        again_plan, again = asyncio.run(engine.pull(database, "portal", options=options))
        second = time.perf_counter()
        assert again.ok and again_plan.fetched == 0, again_plan.summary()
    finally:
        database.dispose()
    return full - started, planned - started, second - full, len(result.local_created)


def one_at_a_time(url: str, key: str, folder: Path) -> tuple[float, float, int]:
    """The anchor: full pull and its time in requests (seconds); datasets pulled."""
    import httpx

    from app.models.database import Database
    from app.services import datasets
    from app.services.sync.datapress import CARRIED

    database = Database.open(folder / "one.sqlite")
    fetching = 0.0
    count = 0
    try:
        started = time.perf_counter()
        with httpx.Client(base_url=url, headers={"Authorization": key}, timeout=30) as http:
            entries = http.get("/api/datasets/export.json").raise_for_status().json()
            fetching += time.perf_counter() - started
            for entry in entries:
                began = time.perf_counter()
                data = http.get(f"/api/dataset/{entry['id']}").raise_for_status().json()
                fetching += time.perf_counter() - began
                record = {k: data[k] for k in (*CARRIED, "id", "createdAt", "updatedAt")}
                with database.transaction() as session:
                    datasets.create_dataset(session, record, author="one-at-a-time")
                count += 1
        total = time.perf_counter() - started
    finally:
        database.dispose()
    return total, fetching, count


def run(sizes: list[int], repeats: int) -> list[Result]:
    size = min(min(sizes), SIZE)
    path, key = portal_catalogue(size)
    full: list[float] = []
    fetch: list[float] = []
    again: list[float] = []
    naive_full: list[float] = []
    naive_fetch: list[float] = []
    with serve_portal(path, key, DELAY) as url:
        for repeat in range(repeats):
            folder = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=OUT))
            try:
                a, b, c, pulled = ours(url, key, folder)
                full.append(a)
                fetch.append(b)
                again.append(c)
                d, e, counted = one_at_a_time(url, key, folder)
                naive_full.append(d)
                naive_fetch.append(e)
                print(
                    f"  sync run {repeat + 1}/{repeats}: ours {a:.1f} s (fetch {b:.1f} s, "
                    f"again {c * 1000:.0f} ms, {pulled} datasets); one at a time {d:.1f} s "
                    f"(fetch {e:.1f} s, {counted} datasets)",
                    file=sys.stderr,
                )
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    median = statistics.median
    return [
        Result(
            "sync",
            size,
            "pull, whole (datasets/s)",
            "/s",
            size / median(full),
            size / median(naive_full),
            ">= 5x the one-at-a-time client",
        ),
        Result(
            "sync",
            size,
            "pull, fetching (datasets/s)",
            "/s",
            size / median(fetch),
            size / median(naive_fetch),
            "",
        ),
        Result(
            "sync",
            size,
            "no-change sync vs full pull",
            "ms",
            median(again) * 1000,
            median(full) * 1000,
            "< 5% of the full pull",
        ),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve" and sys.argv[3] == "--delay":
        _serve(sys.argv[2], float(sys.argv[4]))
    else:
        sys.exit("usage: python -m bench --only sync")
