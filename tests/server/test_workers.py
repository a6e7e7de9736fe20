"""`serve --workers N` (server.workers): uvicorn worker processes on one socket, sharing the
rendered dumps on disk, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from app.models.database import Database
from app.services import datasets, publication
from app.services.dump_cache import DumpCache, SharedDumps
from tests.conftest import AUTHOR, make_record
from tests.server.test_limits import wait_until

ROOT = Path(__file__).resolve().parents[2]
EXPORT_JSON = "/api/datasets/export.json"
TIMEOUT = 60  # seconds: a worker still starting (imports, its app) on a busy machine


@pytest.fixture
def catalogue(database: Database) -> Database:
    """A catalogue of three published datasets (on each engine: tests/server/conftest.py)."""
    add_published(database, "Item", 3)
    return database


def add_published(database: Database, prefix: str, count: int = 1) -> list[str]:
    ids = []
    with database.transaction() as session:
        for n in range(count):
            record = datasets.create_dataset(
                session, make_record(title=f"{prefix} {n}"), author=AUTHOR
            )
            publication.publish(session, record["id"], author=AUTHOR)
            ids.append(record["id"])
    return ids


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    tmp: Path  # the TMPDIR of the server: its shared folder is made there

    @property
    def shared(self) -> Path:
        found = [p.parent for p in self.tmp.glob("catalogue-dumps-*/worker-settings.json")]
        assert len(found) == 1, found
        return found[0]

    def renders(self) -> int:
        return SharedDumps(self.shared, "").renders()

    def workers(self) -> set[int]:
        """The pids of the worker processes (the supervisor's spawned children)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {
            int(child)
            for child in children
            if "spawn_main" in _cmdline(int(child)) and _alive(int(child))
        }


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] not in "ZX"
    except OSError:
        return False


@contextmanager
def serving(database: Database, tmp_path: Path, workers: int = 2) -> Iterator[Served]:
    """`main.py serve --workers N` on `database`; it must stop at SIGTERM with status 0."""
    tmp = tmp_path / "server-tmp"
    tmp.mkdir()
    command = [sys.executable, "main.py", "serve", "--db", database.url, "--port", "0"]
    process = subprocess.Popen(
        [*command, "--quiet", "--workers", str(workers)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert process.stderr is not None
    try:
        banner = process.stderr.readline()
        match = re.search(rf"at (http://127\.0\.0\.1:\d+) with {workers} workers", banner)
        assert match, banner
        served = Served(match.group(1), process, tmp)
        wait_until(lambda: len(served.workers()) == workers, f"{workers} workers run")
        yield served
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()


@pytest.mark.slow  # 10-20 s: two worker processes start and stop
def test_two_workers_answer_and_render_a_dump_once_per_change(
    catalogue: Database, tmp_path: Path
) -> None:
    with (
        serving(catalogue, tmp_path) as served,
        httpx.Client(base_url=served.url, timeout=TIMEOUT) as client,
    ):
        assert len(client.get("/api/v1/dataset.jsonld").json()["dataset"]) == 3
        assert client.get("/api/v1/dataset.csv").text.count("Item ") == 3
        search = client.get("/api/datasets/1.0/search/", params={"q": "Item"}).json()
        assert search["nhits"] == 3
        assert client.get(EXPORT_JSON).status_code == 200

        # An edit through the services, then many requests at once for the dump, which
        # both workers serve: one rendering in all, and every answer has the edit.
        (new,) = add_published(catalogue, "Fresh")
        before = served.renders()
        plain = {"Accept-Encoding": "identity"}
        with ThreadPoolExecutor(16) as pool:
            answers = list(
                pool.map(
                    lambda _: httpx.get(served.url + EXPORT_JSON, headers=plain, timeout=TIMEOUT),
                    range(32),
                )
            )
        assert {answer.status_code for answer in answers} == {200}
        assert all(new in {d["id"] for d in answer.json()} for answer in answers)
        assert served.renders() == before + 1

        # The shared folder holds one rendering of the dump: the older one is gone.
        shared = served.shared
        name = (shared / "renders.log").read_text().splitlines()[-1].split()[1]
        assert len(list(shared.glob(f"{name}-*"))) == 1
    assert not shared.exists()  # removed by the supervisor at SIGTERM


@pytest.mark.slow  # 10-20 s: two worker processes start and stop
def test_a_killed_worker_is_replaced_and_sighup_replaces_all(
    catalogue: Database, tmp_path: Path
) -> None:
    with serving(catalogue, tmp_path) as served:
        first = served.workers()
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: len(served.workers()) == 2 and victim not in served.workers(),
            "a new worker replaces the killed one",
        )
        assert len(served.workers() - first) == 1
        for _ in range(4):
            assert httpx.get(served.url + "/api/v1/dataset.csv", timeout=TIMEOUT).status_code == 200

        # SIGHUP: every worker replaced, one at a time, the port open all along.
        before = served.workers()
        served.process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: len(served.workers()) == 2 and not served.workers() & before,
            "SIGHUP replaces both workers",
        )
        assert httpx.get(served.url + "/api/v1/dataset.csv", timeout=TIMEOUT).status_code == 200


def test_workers_share_one_rendering_and_its_lock(database: Database, tmp_path: Path) -> None:
    """Two caches on one shared folder (as two workers' are): the lock file is taken per open
    file, so they exclude each other as two processes would. Many opens at once render once."""
    folder = tmp_path / "shared"
    folder.mkdir()
    shared = SharedDumps(folder, "epoch")
    caches = [DumpCache(database, shared=shared) for _ in range(2)]
    rendered = threading.Event()

    def render(sink: BinaryIO) -> None:
        rendered.set()
        sink.write(b"the dump")

    def fetch(n: int) -> bytes:
        cache = caches[n % 2]
        state = cache.state()
        assert state is not None
        with cache.open("export.json", state, render) as handle:
            return handle.read()

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(fetch, range(16))) == {b"the dump"}
    assert rendered.is_set()
    assert shared.renders() == 1
    assert sum(cache.renders for cache in caches) == 1

    add_published(database, "Later")  # the catalogue version moves: one new rendering
    assert fetch(0) == fetch(1) == b"the dump"
    assert shared.renders() == 2
    assert len(list(folder.glob("*-*"))) == 1  # the older rendering is gone
    for cache in caches:
        cache.close()
    assert (folder / "renders.log").exists()  # the supervisor's folder outlives the caches


def test_on_postgresql_the_state_is_the_catalogue_version(pg_database: Database) -> None:
    """One process on PostgreSQL caches its dumps too: the state moves with each dataset
    write, and only then."""
    cache = DumpCache(pg_database)
    try:
        first = cache.state()
        assert first is not None
        assert cache.state() == first
        add_published(pg_database, "Moved")
        moved = cache.state()
        assert moved is not None and moved.tag != first.tag
        assert cache.state() == moved
    finally:
        cache.close()
