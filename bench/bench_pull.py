"""Pulling 2,000 datasets from a CKAN portal 20 ms away: our pull against one request at a time.

`python -m bench --only pull [--sizes 2000] [--repeats 3]` (the size is capped at 2,000; a
smaller `--sizes` gives a quicker run).

The portal is the fake CKAN of the tests (tests/fakes/ckan.py: the action API, `package_search`
paged by 1,000, `package_show`), holding SIZE packages made up here (a few tags, a group, extras,
two files and a link each; some private, some drafts, in two organizations the key belongs to),
served by uvicorn in a process of its own with the fault switches' delay of 20 ms on every
answer: the portal's latency. The client is this process. In each repeat:

* ours — `sync.engine.pull` into a fresh catalogue, as `python main.py pull` runs it: the
  listing, every package fetched with the default concurrency (HttpOptions), the plan, then the
  datasets written with their sync links through the batch write path;
* one at a time — a plain httpx loop doing the network part only: the same listing, then
  `package_show` for each package, one request after the other, nothing written.

Figures (medians over the repeats, ours and the anchor alternating): datasets per second of our
whole pull and of its fetching part alone (the plan phase) beside the loop's, and the ratio
(target: our whole pull at least 5x the loop). Each repeat also prints where our time went.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import OUT, Result
from bench.child_portal import serve_in_child

SIZE = 2_000
DELAY = 0.02  # seconds the portal takes to answer anything
TOKEN = "bench-token"
KEY_ENV = "BENCH_PULL_KEY"
ORGS = ("council", "transport-authority")
GROUPS = ("environment", "transport", "health", "housing")
WORDS = [
    "bins",
    "roads",
    "trees",
    "schools",
    "parks",
    "budget",
    "buses",
    "cycling",
    "housing",
    "planning",
    "air",
    "noise",
]


def make_portal(size: int) -> Any:
    """A fake CKAN portal holding `size` packages, made up deterministically."""
    from tests.fakes.ckan import CkanPortal

    rng = random.Random(11)
    portal = CkanPortal()
    for org in ORGS:
        portal.add_organization(org, org.replace("-", " ").title())
    for group in GROUPS:
        portal.add_group(group, group.title())
    portal.add_user("bench", token=TOKEN, orgs={org: "editor" for org in ORGS})
    for n in range(size):
        words = rng.sample(WORDS, 3)
        portal.add_package(
            {
                "name": f"{words[0]}-{words[1]}-{n}",
                "title": f"{words[0].title()} and {words[1]} {n}",
                "notes": f"<p>{' '.join(rng.choices(WORDS, k=40))}.</p>",
                "owner_org": ORGS[n % 2],
                "private": n % 7 == 0,
                "state": "draft" if n % 11 == 0 else "active",
                "license_id": "OGL-UK-3.0",
                "maintainer": "Data team",
                "maintainer_email": "data@example.org",
                "tags": [{"name": w} for w in words],
                "groups": [{"name": GROUPS[n % len(GROUPS)]}],
                "extras": [
                    {"key": "frequency", "value": "monthly"},
                    {"key": "coverage", "value": f"ward {n % 20}"},
                ],
                "resources": [
                    {
                        "name": f"{words[2].title()} {year}",
                        "url": f"https://data.example/{n}/{year}.csv",
                        "format": "CSV",
                        "size": 1000 + n,
                    }
                    for year in (2023, 2024)
                ]
                + [
                    {
                        "name": "About",
                        "url": f"https://www.example.org/about/{n}",
                        "resource_type": "link",
                    }
                ],
            }
        )
    return portal


@contextmanager
def serve_portal(size: int, delay: float) -> Iterator[str]:
    """The fake portal in a child process; its URL."""
    with serve_in_child("bench.bench_pull", [str(size), "--delay", str(delay)]) as url:
        yield url


def _serve(size: int, delay: float) -> None:
    """Child process: serve the portal until standard input closes."""
    portal = make_portal(size)
    with portal.serve() as server:
        server.faults.delay = delay
        print(server.url, flush=True)
        sys.stdin.read()


def ours(url: str, folder: Path) -> tuple[float, float, int]:
    """Our whole pull and its plan (fetch) phase, in seconds; datasets pulled."""
    from app.models.database import Database
    from app.services.sync import engine, remotes
    from app.services.sync.context import SyncOptions

    database = Database.open(folder / "ours.sqlite")
    try:
        with database.transaction() as session:
            remotes.add_remote(session, "portal", "ckan", url, key_env=KEY_ENV)
        options = SyncOptions(environ={KEY_ENV: TOKEN})
        started = time.perf_counter()
        plan = asyncio.run(engine.plan_pull(database, "portal", options=options))
        planned = time.perf_counter()
        result = asyncio.run(engine.apply(database, plan, options=options))
        finished = time.perf_counter()
        assert result.ok, result.summary()
    finally:
        database.dispose()
    return finished - started, planned - started, len(result.local_created)


def one_at_a_time(url: str) -> tuple[float, int]:
    """The anchor: the listing, then package_show one after the other (seconds, packages)."""
    import httpx

    count = 0
    started = time.perf_counter()
    with httpx.Client(base_url=url, headers={"Authorization": TOKEN}, timeout=30) as http:
        ids: list[str] = []
        start = 0
        while True:
            params: dict[str, str | int] = {
                "q": "*:*",
                "rows": 1000,
                "start": start,
                "sort": "id asc",
                "fl": "id",
                "include_private": "true",
                "include_drafts": "true",
            }
            page = http.get("/api/3/action/package_search", params=params).raise_for_status()
            results = page.json()["result"]["results"]
            ids += [row["id"] for row in results]
            start += len(results)
            if not results:
                break
        for package_id in ids:
            answer = http.get("/api/3/action/package_show", params={"id": package_id})
            assert answer.raise_for_status().json()["success"] is True
            count += 1
    return time.perf_counter() - started, count


def run(sizes: list[int], repeats: int) -> list[Result]:
    size = min(min(sizes), SIZE)
    full: list[float] = []
    fetch: list[float] = []
    naive: list[float] = []
    OUT.mkdir(exist_ok=True)
    with serve_portal(size, DELAY) as url:
        for repeat in range(repeats):
            folder = Path(tempfile.mkdtemp(prefix="bench-pull-", dir=OUT))
            try:
                whole, planned, pulled = ours(url, folder)
                loop, counted = one_at_a_time(url)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            assert pulled == counted == size, (pulled, counted, size)
            full.append(whole)
            fetch.append(planned)
            naive.append(loop)
            print(
                f"  pull run {repeat + 1}/{repeats}: ours {whole:.1f} s (plan {planned:.1f} s, "
                f"write {whole - planned:.1f} s); one at a time {loop:.1f} s; "
                f"ratio {loop / whole:.1f}x",
                file=sys.stderr,
            )
    median = statistics.median
    return [
        Result(
            "pull",
            size,
            "CKAN pull, whole (datasets/s)",
            "/s",
            size / median(full),
            size / median(naive),
            ">= 5x the one-at-a-time loop",
        ),
        Result(
            "pull",
            size,
            "CKAN pull, fetching (datasets/s)",
            "/s",
            size / median(fetch),
            size / median(naive),
            "",
        ),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve" and sys.argv[3] == "--delay":
        _serve(int(sys.argv[2]), float(sys.argv[4]))
    else:
        sys.exit("usage: python -m bench --only pull")
