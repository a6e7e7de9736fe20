"""The embedded HTTP server at scale (issue 3, "Speed, measured"): ours beside Datasette and the
sqlite3 command-line dump of the same rows.

For each size, the synthetic catalogue of bench_table (`synthetic.generate`, seed 0, cached in
bench/out/) is served, at the same time, by

* ours: `python main.py serve --db FILE --port 0 --quiet`, a real uvicorn (one process, one
  worker) in a subprocess, exactly as a workstation with no screen runs it;
* Datasette: `datasette serve FILE --port P` in a subprocess, **not** immutable (`-i`): the
  benchmark edits the catalogue between runs, which an immutable database must never see. Its
  CSV limit is lifted (`--setting max_csv_mb 0`) so that the stream is the whole table;
* the sqlite3 CLI: `sqlite3 -csv -header FILE "select * from datasets where ..."`.

"The same rows" are those an anonymous harvester may see (services.visibility: published,
public, out of embargo); Datasette and sqlite3 select them with the same SQL condition, and the
row counts of the three are checked against each other. Every client sends
`Accept-Encoding: identity`: we measure serving, not gzip (our GZip middleware would otherwise
compress, Datasette never does). Rates are datasets per second (the formats differ in bytes:
our CSV has resources and links, Datasette's has the raw columns).

Before the runs, a warm-up reads the file, and our server renders every dataset's CSV line and
JSON-LD node once (services.renders keeps them outside the catalogue, for the life of the
process): that first CSV download after the server started is reported for context.

In each run, in this order:

1. a change: one visible dataset's title is edited through services.datasets (a new version),
   so that what follows is the first download after a change;
2. CSV: our first download, then our repeated download (median of 2), Datasette's
   `datasets.csv?_stream=on`, and the sqlite3 dump, each read to the end;
3. the full JSON-LD harvest following `Link: rel="next"` from the first page to the last,
   beside Datasette's `datasets.json?_shape=objects` walk following `next_url`, both with pages
   of PAGE_SIZE datasets. The rate is datasets over the time spent waiting for pages (request
   sent to body received): the servers' work. Both clients also parse every page (to count it
   and, for Datasette, to find the next one) outside that time; the rate including it is given
   too (issue 10: at least 3 times Datasette's). Our pages are DCAT with distributions, about
   2.9 KB a dataset (compact terms of the context), so the client's own JSON parsing is a
   large share of that figure;
4. the latency of one page at the start and one at 90% depth (cursor URLs collected during the
   walks), LATENCY_SAMPLES alternating sequential requests on a keep-alive connection, medians;
5. requests per second under a bounded loopback load: CLIENTS concurrent connections make
   LOAD_REQUESTS requests in all, cycling over LOAD_PAGES page URLs spread across the feed;
6. (context) our harvest again, accepting gzip as requests and httpx do unless told otherwise:
   the pages come gzipped and the client inflates them within the time waited, beside the same
   Datasette walk (Datasette does not compress). This is what most harvesters see.

Figures are medians over the runs. Datasette's JSON pages skip the count, facets and facet
suggestions (`_nocount=1&_nofacet=1&_nosuggest=1`), its fastest settings for a walk.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import orjson

from bench import OUT, Result
from bench.bench_table import catalogue

ROOT = Path(__file__).resolve().parent.parent
PAGE_SIZE = 100  # our feed's default page; Datasette's _size
CLIENTS = 8
LOAD_REQUESTS = 800
LOAD_PAGES = 50
LATENCY_SAMPLES = 15
START_TIMEOUT = 120.0
DOWNLOAD_LIMIT = 600.0
HTTP_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
HEADERS = {"Accept-Encoding": "identity"}
GZIP_HEADERS = {"Accept-Encoding": "gzip"}  # what requests and httpx send unless told
BENCH = "server"
TOUCH_SUFFIX = " (bench edit)"


@dataclass(frozen=True)
class Target:
    ratio: float
    higher_is_better: bool

    def describe(self, ours: float, anchor: float) -> str:
        ratio = ours / anchor if anchor else float("nan")
        met = ratio >= self.ratio if self.higher_is_better else ratio <= self.ratio
        sign = "≥" if self.higher_is_better else "≤"
        return f"{sign} {self.ratio:g}: {'met' if met else 'NOT met'}"


# (label, ours key, anchor key, unit, target or None for a figure given for context)
METRICS: tuple[tuple[str, str, str, str, Target | None], ...] = (
    (
        "CSV first download after a change / datasette _stream",
        "csv_first",
        "ds_csv",
        "datasets/s",
        Target(2, True),
    ),
    (
        "CSV first download after the server started / datasette _stream",
        "csv_cold",
        "ds_csv",
        "datasets/s",
        None,
    ),
    (
        "CSV repeated download / sqlite3 -csv",
        "csv_repeat",
        "cli_csv",
        "datasets/s",
        Target(1, True),
    ),
    (
        "CSV repeated download / datasette _stream",
        "csv_repeat",
        "ds_csv",
        "datasets/s",
        None,
    ),
    (
        "JSON-LD harvest by cursor / datasette _next walk",
        "harvest",
        "ds_walk",
        "datasets/s",
        Target(5, True),
    ),
    (
        "JSON-LD harvest with client parsing / datasette walk with it",
        "harvest_parsed",
        "ds_walk_parsed",
        "datasets/s",
        Target(3, True),
    ),
    (
        "JSON-LD harvest accepting gzip, client inflating / datasette walk",
        "harvest_gzip",
        "ds_walk",
        "datasets/s",
        None,
    ),
    (
        "JSON-LD page at 90% depth / our first page",
        "page_deep",
        "page_first",
        "ms",
        Target(1.2, False),
    ),
    ("JSON-LD first page / datasette first page", "page_first", "ds_page_first", "ms", None),
    ("JSON-LD page at 90% / datasette page at 90%", "page_deep", "ds_page_deep", "ms", None),
    (
        f"JSON-LD page rps, {CLIENTS} clients / datasette JSON page",
        "rps",
        "ds_rps",
        "req/s",
        Target(5, True),
    ),
)


def run(sizes: list[int], repeats: int) -> list[Result]:
    if shutil.which("sqlite3") is None:
        raise RuntimeError("the sqlite3 CLI is missing: run scripts/system-deps.sh")
    datasette = shutil.which("datasette") or _venv_script("datasette")
    if datasette is None:
        print("  datasette is not installed: its figures are left out", file=sys.stderr)
    # A terminated benchmark still stops the servers it started (the `finally` in _process).
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(1))
    results: list[Result] = []
    for size in sizes:
        path = catalogue(size)
        _checkpoint(path)
        runs: list[dict[str, float]] = []
        with _ours(path) as ours_url, _datasette(datasette, path) as ds_url:
            bench = _Bench(path, ours_url, ds_url)
            bench.warm_up()
            for attempt in range(repeats):
                figures = bench.measure(functools.partial(_step, size, attempt))
                runs.append(figures)
                shown = {k: round(v, 1) for k, v in figures.items()}
                print(f"  {size:,} run {attempt + 1}: {shown}", file=sys.stderr)
        for label, ours_key, anchor_key, unit, target in METRICS:
            ours = statistics.median(r[ours_key] for r in runs)
            anchor_runs = [r[anchor_key] for r in runs if anchor_key in r]
            anchor = statistics.median(anchor_runs) if anchor_runs else None
            if target is None:
                described = "(context)"
            elif anchor is None:
                described = "anchor missing"
            else:
                described = target.describe(ours, anchor)
            results.append(Result(BENCH, size, label, unit, ours, anchor, described))
    return results


# -- the servers -------------------------------------------------------------------------------


def _venv_script(name: str) -> str | None:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else None


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the file, so all three readers start from the same pages."""
    subprocess.run(
        ["sqlite3", str(path), "PRAGMA wal_checkpoint(TRUNCATE);"],
        check=True,
        capture_output=True,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _process(args: list[str], log_name: str, ready: Callable[[str], str | None]) -> Iterator[str]:
    """Run `args`, wait until `ready(log text)` returns the server's URL; stop it at the end."""
    OUT.mkdir(exist_ok=True)
    log_path = OUT / log_name
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            url = ready(log_path.read_text(encoding="utf-8", errors="replace"))
            if url is not None:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} did not start; see {log_path}")
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _ours(path: Path) -> Iterator[str]:
    args = [sys.executable, "main.py", "serve", "--db", str(path), "--port", "0", "--quiet"]

    def ready(log: str) -> str | None:
        found = re.search(r" at (http://\S+) \(Ctrl-C", log)
        if found is None:
            return None
        url = found.group(1)
        return url if _answers(f"{url}/api/v1/dataset.jsonld?limit=1") else None

    with _process(args, "serve-ours.log", ready) as url:
        yield url


@contextmanager
def _datasette(executable: str | None, path: Path) -> Iterator[str | None]:
    if executable is None:
        yield None
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        executable, "serve", str(path), "--host", "127.0.0.1", "--port", str(port),
        "--setting", "max_csv_mb", "0",
        "--setting", "sql_time_limit_ms", "60000",
    ]  # fmt: skip

    def ready(_log: str) -> str | None:
        return url if _answers(f"{url}/-/versions.json") else None

    with _process(args, "serve-datasette.log", ready) as answered:
        yield answered


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


# -- the measurements --------------------------------------------------------------------------


class _Bench:
    def __init__(self, path: Path, ours_url: str, ds_url: str | None) -> None:
        from app.services.clock import today_iso

        self.path = path
        self.ours = ours_url
        self.ds = ds_url
        today = today_iso()
        # services.visibility.public_clause, in SQL.
        # Parenthesised: Datasette pastes `_where` into its own SQL as it is, and without them
        # the `or` escapes its keyset condition and a stream never ends.
        self.where = f"(embargo_until is null or embargo_until <= '{today}')"
        self.sql = (
            "select * from datasets where state = 'published' and sharing = 'public' "
            f"and {self.where} order by pk"
        )
        self.expected = int(
            subprocess.run(
                ["sqlite3", str(path), self.sql.replace("select *", "select count(*)", 1)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        )
        table = f"{ds_url}/{path.stem}/datasets"
        filters = {"state": "published", "sharing": "public", "_where": self.where}
        self.ds_csv_url = f"{table}.csv?" + urlencode({**filters, "_stream": "on", "_size": "max"})
        self.ds_first_url = f"{table}.json?" + urlencode(
            {
                **filters,
                "_shape": "objects",
                "_size": PAGE_SIZE,
                "_nocount": 1,
                "_nofacet": 1,
                "_nosuggest": 1,
            }
        )
        self.ours_first_url = f"{ours_url}/api/v1/dataset.jsonld"
        self.client = httpx.Client(headers=HEADERS, timeout=HTTP_TIMEOUT)
        self.csv_cold = 0.0  # set by warm_up

    def warm_up(self) -> None:
        """Page the whole file into the OS cache (not only the datasets table the sqlite3 dump
        reads: a cold first run measured the disk), open each server's connections once, and
        have our server render each dataset's CSV line and JSON-LD node once (services.renders
        keeps them outside the catalogue, for the life of the process): the first CSV download
        after the server started is timed here and reported for context."""
        with self.path.open("rb") as handle:
            while handle.read(1 << 22):
                pass
        self._sqlite3_dump()
        self.client.get(self.ours_first_url).raise_for_status()
        if self.ds is not None:
            self.client.get(self.ds_first_url).raise_for_status()
        self.csv_cold = self.expected / self._download(f"{self.ours}/api/v1/dataset.csv")
        self._walk_ours()

    def measure(self, step: Callable[[str], None]) -> dict[str, float]:
        figures: dict[str, float] = {"csv_cold": self.csv_cold}
        step("edit and CSV")
        self._touch()
        figures["csv_first"] = self.expected / self._download(f"{self.ours}/api/v1/dataset.csv")
        repeated = [self._download(f"{self.ours}/api/v1/dataset.csv") for _ in range(2)]
        figures["csv_repeat"] = self.expected / statistics.median(repeated)
        figures["cli_csv"] = self.expected / self._sqlite3_dump()
        step("JSON-LD harvest")
        ours_pages, ours_count, ours_waiting, ours_seconds = self._walk_ours()
        self._check("our harvest", ours_count)
        figures["harvest"] = ours_count / ours_waiting
        figures["harvest_parsed"] = ours_count / ours_seconds
        deep = ours_pages[int(len(ours_pages) * 0.9)]
        figures["page_first"], figures["page_deep"] = self._latency(ours_pages[0], deep)
        figures["rps"] = self._load(_spread(ours_pages, LOAD_PAGES))
        _pages, gzip_count, gzip_waiting, _seconds = self._walk_ours(GZIP_HEADERS)
        self._check("our harvest accepting gzip", gzip_count)
        figures["harvest_gzip"] = gzip_count / gzip_waiting
        if self.ds is not None:
            step("Datasette")
            figures["ds_csv"] = self.expected / self._download(self.ds_csv_url)
            ds_pages, ds_count, ds_waiting, ds_seconds = self._walk_datasette()
            self._check("the Datasette walk", ds_count)
            figures["ds_walk"] = ds_count / ds_waiting
            figures["ds_walk_parsed"] = ds_count / ds_seconds
            ds_deep = ds_pages[int(len(ds_pages) * 0.9)]
            figures["ds_page_first"], figures["ds_page_deep"] = self._latency(ds_pages[0], ds_deep)
            figures["ds_rps"] = self._load(_spread(ds_pages, LOAD_PAGES))
        return figures

    def _check(self, what: str, count: int) -> None:
        if count != self.expected:
            raise RuntimeError(f"{what} saw {count} datasets, sqlite3 counts {self.expected}")

    def _touch(self) -> None:
        """Edit one visible dataset's title through the services: a change, as the GUI makes."""
        from sqlalchemy import select

        from app.models import Dataset
        from app.models.database import Database
        from app.services import datasets
        from app.services.visibility import ANONYMOUS, visible_clause

        database = Database.open(self.path)
        try:
            with database.transaction() as session:
                dataset_id = session.scalar(
                    select(Dataset.id)
                    .where(visible_clause(ANONYMOUS, published_only=True))
                    .order_by(Dataset.pk)
                    .limit(1)
                )
                assert dataset_id is not None
                title = datasets.get_dataset(session, dataset_id).title
                if title.endswith(TOUCH_SUFFIX):
                    title = title.removesuffix(TOUCH_SUFFIX)
                else:
                    title += TOUCH_SUFFIX
                datasets.update_dataset(session, dataset_id, {"title": title}, author="bench")
        finally:
            database.dispose()

    def _download(self, url: str) -> float:
        """Seconds to read `url`'s whole body."""
        started = time.perf_counter()
        received = 0
        with self.client.stream("GET", url) as response:
            response.raise_for_status()
            for chunk in response.iter_raw(1 << 16):
                received += len(chunk)
                if time.perf_counter() - started > DOWNLOAD_LIMIT:
                    raise RuntimeError(f"{url} is still sending after {DOWNLOAD_LIMIT} s")
        elapsed = time.perf_counter() - started
        if received == 0:
            raise RuntimeError(f"{url} sent nothing")
        return elapsed

    def _sqlite3_dump(self) -> float:
        started = time.perf_counter()
        process = subprocess.Popen(
            ["sqlite3", "-csv", "-header", str(self.path), self.sql], stdout=subprocess.PIPE
        )
        assert process.stdout is not None
        with process.stdout:
            while process.stdout.read(1 << 16):
                pass
        if process.wait() != 0:
            raise RuntimeError("the sqlite3 dump failed")
        return time.perf_counter() - started

    def _walk_ours(
        self, headers: dict[str, str] | None = None
    ) -> tuple[list[str], int, float, float]:
        """Our feed: the datasets in `dataset` (dcat:dataset), the next page in the Link header."""

        def read(response: httpx.Response) -> tuple[int, str | None]:
            count = len(orjson.loads(response.content)["dataset"])
            return count, response.links.get("next", {}).get("url")

        return self._walk(self.ours_first_url, read, headers)

    def _walk_datasette(self) -> tuple[list[str], int, float, float]:
        """Datasette: the rows in `rows`, the next page in `next_url`."""

        def read(response: httpx.Response) -> tuple[int, str | None]:
            body = orjson.loads(response.content)
            return len(body["rows"]), body.get("next_url")

        return self._walk(self.ds_first_url, read)

    def _walk(
        self,
        first: str,
        read: Callable[[httpx.Response], tuple[int, str | None]],
        headers: dict[str, str] | None = None,
    ) -> tuple[list[str], int, float, float]:
        """Follow a paged feed to its end: the page URLs, the records seen, the seconds spent
        waiting for pages (request sent to body received) and the seconds in all (with the
        client parsing each page to count its records and find the next one)."""
        pages: list[str] = []
        count = 0
        waiting = 0.0
        url: str | None = first
        started = time.perf_counter()
        while url is not None:
            if len(pages) > self.expected + 1:
                raise RuntimeError(f"the walk from {pages[0]} does not end")
            pages.append(url)
            asked = time.perf_counter()
            response = self.client.get(url, headers=headers)
            waiting += time.perf_counter() - asked
            response.raise_for_status()
            seen, url = read(response)
            count += seen
        return pages, count, waiting, time.perf_counter() - started

    def _latency(self, first: str, deep: str) -> tuple[float, float]:
        """Median ms of `first` and of `deep`, requested alternately on one connection."""
        timings: dict[str, list[float]] = {first: [], deep: []}
        for _ in range(LATENCY_SAMPLES):
            for url in (first, deep):
                started = time.perf_counter()
                response = self.client.get(url)
                elapsed = time.perf_counter() - started
                response.raise_for_status()
                timings[url].append(elapsed * 1000)
        return statistics.median(timings[first]), statistics.median(timings[deep])

    def _load(self, urls: list[str]) -> float:
        return asyncio.run(_load(urls))


def _step(size: int, attempt: int, step: str) -> None:
    print(f"  {size:,} run {attempt + 1}: {step} …", file=sys.stderr, flush=True)


def _spread(pages: list[str], count: int) -> list[str]:
    step = max(len(pages) // count, 1)
    return pages[::step][:count]


async def _load(urls: list[str]) -> float:
    """Requests per second: CLIENTS connections make LOAD_REQUESTS requests in all."""
    remaining = iter(range(LOAD_REQUESTS))
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(headers=HEADERS, timeout=HTTP_TIMEOUT, limits=limits) as client:

        async def worker() -> None:
            for n in remaining:
                response = await client.get(urls[n % len(urls)])
                response.raise_for_status()

        await asyncio.gather(*(client.get(urls[0]) for _ in range(CLIENTS)))  # open connections
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        return LOAD_REQUESTS / (time.perf_counter() - started)


if __name__ == "__main__":  # `python -m bench.bench_server` = `python -m bench --only server`
    from bench.__main__ import main

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.exit(main(["--only", "server", *sys.argv[1:]]))
