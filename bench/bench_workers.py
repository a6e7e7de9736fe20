"""`serve --workers N` (app/services/server/workers.py): requests per second from one worker and
from two, on SQLite and on PostgreSQL, under the same bounded loopback load.

The catalogue is bench_table's (SIZE synthetic datasets in SQLite), copied into a throwaway
PostgreSQL database (services.catalogue_copy; the server is tests/postgres.py's, skipped with a
message where there are no PostgreSQL binaries). Each of the four servers is `main.py serve`
in a subprocess. The load: CLIENTS threads, each with its own HTTP connection, share REQUESTS
requests of a fixed mix (seed 0): JSON-LD feed pages at five cursors, one dataset's JSON
(among 50), CKAN package_search and the Opendatasoft search (a word each, among 8). One
unmeasured round first (every worker renders and caches what it serves), then `repeats`
measured rounds; the median is printed with the ratios 2 workers / 1 and PostgreSQL / SQLite.
"""

from __future__ import annotations

import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench import Result
from bench.bench_limits import serve_catalogue
from bench.bench_table import catalogue

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 8
REQUESTS = 400
WORDS = ("water", "health", "school", "transport", "budget", "air", "housing", "crime")


def run(sizes: list[int], repeats: int) -> list[Result]:
    results: list[Result] = []
    for size in sizes:
        path = catalogue(size)
        rates: dict[tuple[str, int], float] = {}
        for workers in (1, 2):
            rates["SQLite", workers] = _rate(str(path), workers, repeats)
        with _postgres_copy(path) as url:
            if url is not None:
                for workers in (1, 2):
                    rates["PostgreSQL", workers] = _rate(url, workers, repeats)
        results += _results(size, rates)
    return results


def _results(size: int, rates: dict[tuple[str, int], float]) -> list[Result]:
    """Each figure beside its anchor: 2 workers beside 1, PostgreSQL beside SQLite."""
    load = f"{CLIENTS} clients, {REQUESTS} req"
    results = [
        Result("workers", size, f"{engine}: 2 workers vs 1 ({load})", "req/s", r2, r1)
        for engine in ("SQLite", "PostgreSQL")
        if (r1 := rates.get((engine, 1))) is not None and (r2 := rates.get((engine, 2)))
    ]
    for n in (1, 2):
        if ("PostgreSQL", n) in rates:
            results.append(
                Result(
                    "workers",
                    size,
                    f"{n} worker{'s' if n > 1 else ''}: PostgreSQL vs SQLite ({load})",
                    "req/s",
                    rates["PostgreSQL", n],
                    rates["SQLite", n],
                )
            )
    return results


@contextmanager
def _postgres_copy(path: Path) -> Iterator[str | None]:
    """The catalogue at `path` copied into a new database of a throwaway PostgreSQL server."""
    from sqlalchemy import create_engine, text

    from app.services.catalogue_copy import copy_catalogue
    from tests.postgres import postgres_server

    with postgres_server() as server:
        if server is None:
            print("  no PostgreSQL binaries: PostgreSQL skipped", file=sys.stderr)
            yield None
            return
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = f"{server}/{name}"
        started = time.perf_counter()
        copy_catalogue(path, url)
        print(f"  copied to PostgreSQL in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        yield url


def _rate(db: str, workers: int, repeats: int) -> float:
    """The median requests per second of `repeats` rounds of the load on `main.py serve`."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    process, url = serve_catalogue(db, tmp, "--workers", str(workers))
    assert process.stderr is not None
    try:
        paths = _mix(url)
        _round(url, paths)  # unmeasured: each worker renders what it serves once
        rates = [_round(url, paths) for _ in range(repeats)]
        engine = "SQLite" if db.endswith(".sqlite") else "PostgreSQL"
        print(
            f"  {engine}, {workers} worker(s): {', '.join(f'{r:.0f}' for r in rates)} req/s",
            file=sys.stderr,
        )
        return statistics.median(rates)
    finally:
        process.terminate()
        process.wait(timeout=60)
        process.stderr.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _mix(url: str) -> list[str]:
    """REQUESTS request targets, the same for every server (seed 0)."""
    with httpx.Client(base_url=url, timeout=300) as client:
        _wait_until_up(client)
        feed = ["/api/v1/dataset.jsonld?limit=100"]
        found = client.get("/api/action/package_search", params={"rows": "50"}).json()
        ids = [package["id"] for package in found["result"]["results"]]
        page = client.get(feed[0])
        for _ in range(4):  # the next pages, by the Link header's cursor
            if "next" not in page.links:  # a small catalogue
                break
            next_url = page.links["next"]["url"]
            feed.append(next_url[next_url.index("/api/") :])
            page = client.get(feed[-1])
    rng = random.Random(0)
    kinds = [
        lambda: rng.choice(feed),
        lambda: f"/api/dataset/{rng.choice(ids)}",
        lambda: f"/api/action/package_search?q={rng.choice(WORDS)}&rows=10",
        lambda: f"/api/datasets/1.0/search/?q={rng.choice(WORDS)}&rows=10",
    ]
    return [kinds[n % len(kinds)]() for n in range(REQUESTS)]


def _wait_until_up(client: httpx.Client) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            client.get("/robots.txt")
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _round(url: str, paths: list[str]) -> float:
    """Requests per second of `paths` fetched by CLIENTS threads, each with its own client.
    Answers other than 200 (a 503 of the server's time limits, a reset connection: 0) are
    counted and printed, not retried."""
    shares = [paths[n::CLIENTS] for n in range(CLIENTS)]

    def fetch(share: list[str]) -> Counter[int]:
        codes: Counter[int] = Counter()
        with httpx.Client(base_url=url, timeout=300) as client:
            for path in share:
                try:
                    codes[client.get(path).status_code] += 1
                except httpx.TransportError:
                    codes[0] += 1
        return codes

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        codes = sum(pool.map(fetch, shares), Counter[int]())
    elapsed = time.perf_counter() - started
    if set(codes) != {200}:
        print(f"  answers: {dict(codes)}", file=sys.stderr)
    return len(paths) / elapsed
