"""A re-harvest after 100 changes beside a full harvest (issue 12, "Speed, measured").

The synthetic catalogue of bench_table (cached in bench/out/) is served by ours, a real
uvicorn in a subprocess (bench_server's `_ours`). In each run:

1. the catalogue version is read (`Last-Modified-Version` of the feed's first page);
2. 100 changes are committed through services.datasets, one transaction each, as people make
   them: 90 titles edited and 10 datasets taken out of (or, in the next run, put back into)
   the published set;
3. the re-harvest: the feed `?since=V` followed to its end, then `deleted.json?since=V`
   (what an aggregator does each day), timed from its first request to its last body;
4. the full harvest of the same catalogue state: the feed from its first page to its last.

Both walks read every page's body to the end and parse it (orjson), on one keep-alive
connection, identity encoding, pages of PAGE_SIZE. The figure is the re-harvest's time over the
full harvest's, measured in the same run; target at most 1%. The counts are checked: the
re-harvest sees the 90 edits (and the 10 when they come back) and deleted.json the 10 when they
leave.
"""

from __future__ import annotations

import statistics
import sys
import time

import httpx
import orjson

from bench import Result
from bench.bench_server import HEADERS, HTTP_TIMEOUT, _ours
from bench.bench_table import catalogue

BENCH = "reharvest"
PAGE_SIZE = 100
EDITS = 90
TOGGLES = 10
SUFFIX = " (reharvest)"


def run(sizes: list[int], repeats: int) -> list[Result]:
    results: list[Result] = []
    for size in sizes:
        path = catalogue(size)
        ratios: list[float] = []
        again: list[float] = []
        full: list[float] = []
        with _ours(path) as url, httpx.Client(timeout=HTTP_TIMEOUT, headers=HEADERS) as client:
            first = f"{url}/api/v1/dataset.jsonld?limit={PAGE_SIZE}"
            _walk(client, first)  # warm: every node rendered once
            for attempt in range(repeats):
                version = int(client.get(first).headers["Last-Modified-Version"])
                edited, toggled, back = _change(path, attempt)
                started = time.perf_counter()
                changed = _walk(client, f"{first}&since={version}")
                gone = orjson.loads(
                    client.get(f"{url}/api/v1/deleted.json?since={version}").content
                )
                reharvest = time.perf_counter() - started
                started = time.perf_counter()
                everything = _walk(client, first)
                whole = time.perf_counter() - started
                expected = edited + (toggled if back else 0)
                if changed != expected or len(gone["datasets"]) != (0 if back else toggled):
                    raise RuntimeError(
                        f"re-harvest saw {changed} changed, {len(gone['datasets'])} deleted"
                    )
                ratios.append(reharvest / whole)
                again.append(reharvest * 1000)
                full.append(whole * 1000)
                print(
                    f"  {size:,} run {attempt + 1}: re-harvest {reharvest * 1000:.1f} ms, "
                    f"full {whole * 1000:.0f} ms ({everything:,} datasets), "
                    f"ratio {reharvest / whole:.4f}",
                    file=sys.stderr,
                )
        ratio = statistics.median(ratios)
        results.append(
            Result(
                BENCH,
                size,
                "re-harvest after 100 changes / full harvest",
                "ms",
                statistics.median(again),
                statistics.median(full),
                f"≤ 0.01: {'met' if ratio <= 0.01 else 'NOT met'}",
            )
        )
    return results


def _walk(client: httpx.Client, url: str | None) -> int:
    """Follow the feed from `url` to its end; the datasets seen."""
    seen = 0
    while url is not None:
        response = client.get(url)
        response.raise_for_status()
        seen += len(orjson.loads(response.content)["dataset"])
        url = response.links.get("next", {}).get("url")
    return seen


def _change(path: object, attempt: int) -> tuple[int, int, bool]:
    """The run's 100 changes; (titles edited, datasets toggled, whether they came back)."""
    from sqlalchemy import select

    from app.models import Dataset
    from app.models.database import Database
    from app.services import datasets, publication
    from app.services.visibility import ANONYMOUS, visible_clause

    database = Database.open(path)  # type: ignore[arg-type]
    try:
        with database.read() as session:
            visible = list(
                session.scalars(
                    select(Dataset.id)
                    .where(visible_clause(ANONYMOUS, published_only=True))
                    .order_by(Dataset.pk)
                    .limit(EDITS + 1000)
                )
            )
            # The same datasets go out in one run and come back in the next.
            toggled = list(
                session.scalars(
                    select(Dataset.id)
                    .where(Dataset.sharing == "public", Dataset.embargo_until.is_(None))
                    .order_by(Dataset.pk.desc())
                    .limit(TOGGLES * 50)
                )
            )[::50]
        edited = visible[attempt * 7 % 1000 :][:EDITS]
        for dataset_id in edited:
            with database.transaction() as session:
                title = datasets.get_dataset(session, dataset_id).title
                title = title.removesuffix(SUFFIX) if title.endswith(SUFFIX) else title + SUFFIX
                datasets.update_dataset(session, dataset_id, {"title": title}, author="bench")
        with database.read() as session:
            states = {i: datasets.get_dataset(session, i).state for i in toggled}
        leaving = [i for i in toggled if states[i] == "published"]
        for dataset_id in leaving or toggled:
            with database.transaction() as session:
                if leaving:
                    publication.unpublish(session, dataset_id, author="bench")
                else:
                    publication.publish(session, dataset_id, author="bench")
        return len(edited), len(leaving or toggled), not leaving
    finally:
        database.dispose()
