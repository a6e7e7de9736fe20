"""OAI-PMH at scale (issue 12, "Speed, measured"): a full `ListRecords` harvest in `oai_dc`,
following resumptionTokens, at least 5,000 records/s on 100,000 datasets.

The synthetic catalogue of bench_table (cached in bench/out/) is served by ours (`main.py
serve`, a real uvicorn in a subprocess, as bench_server runs it) and, when it is installed, by
Datasette. In each run, one after the other, with a plain httpx client (`Accept-Encoding:
identity`, one keep-alive connection):

* ours: `GET /oai?verb=ListRecords&metadataPrefix=oai_dc`, then each `resumptionToken` to the
  end (pages of the server's OAI page, 500 records); the client counts `<record>` and finds the
  token with a regular expression, as light a client as can be;
* the anchor, our JSON-LD feed (`/api/v1/dataset.jsonld?limit=500`, following `Link:
  rel="next"`), the same published datasets, the client counting the page's datasets;
* the anchor, Datasette's JSON walk of the same rows (`_size=500`, following `next_url`).

Rates are records per second over the whole walk (requests and the client's reading). A
warm-up walk of each comes first (the file in the OS cache; our feed renders its fragments
once). Figures are medians over the runs; the ratios are OAI's rate over each anchor's.
"""

from __future__ import annotations

import re
import signal
import statistics
import sys
import time
from collections.abc import Callable
from urllib.parse import urlencode

import httpx
import orjson

from bench import Result
from bench.bench_server import HEADERS, HTTP_TIMEOUT, _Bench, _checkpoint, _datasette, _ours
from bench.bench_server import _venv_script as venv_script
from bench.bench_table import catalogue

BENCH = "oai"
PAGE = 500
TARGET_PER_S = 5_000
_TOKEN = re.compile(rb"<resumptionToken[^>]*>([^<]+)</resumptionToken>")

Read = Callable[[httpx.Response], tuple[int, str | None]]


def run(sizes: list[int], repeats: int) -> list[Result]:
    import shutil

    datasette = shutil.which("datasette") or venv_script("datasette")
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(1))
    results: list[Result] = []
    for size in sizes:
        path = catalogue(size)
        _checkpoint(path)
        runs: list[dict[str, float]] = []
        with _ours(path) as ours_url, _datasette(datasette, path) as ds_url:
            walker = _Walker(_Bench(path, ours_url, ds_url), ours_url, ds_url)
            walker.measure()  # warm-up
            for attempt in range(repeats):
                figures = walker.measure()
                runs.append(figures)
                shown = {k: round(v) for k, v in figures.items()}
                print(f"  {size:,} run {attempt + 1}: {shown}", file=sys.stderr)
        oai = statistics.median(r["oai"] for r in runs)
        met = "met" if oai >= TARGET_PER_S else "NOT met"
        results.append(
            Result(BENCH, size, "OAI ListRecords oai_dc", "rec/s", oai, None, f"≥ 5000/s: {met}")
        )
        for anchor, label in (("feed", "JSON-LD feed walk"), ("datasette", "datasette walk")):
            values = [r[anchor] for r in runs if anchor in r]
            figure = statistics.median(values) if values else None
            results.append(
                Result(BENCH, size, f"OAI ListRecords / {label}", "rec/s", oai, figure, "(anchor)")
            )
    return results


class _Walker:
    def __init__(self, bench: _Bench, ours_url: str, ds_url: str | None) -> None:
        self.bench = bench
        self.ours = ours_url
        self.ds_first = None
        if ds_url is not None:
            self.ds_first = bench.ds_first_url.replace("_size=100", f"_size={PAGE}")
        self.client = httpx.Client(headers=HEADERS, timeout=HTTP_TIMEOUT)

    def measure(self) -> dict[str, float]:
        figures = {
            "oai": self._rate(self._walk_oai),
            "feed": self._rate(
                lambda: self._walk(
                    f"{self.ours}/api/v1/dataset.jsonld?" + urlencode({"limit": PAGE}),
                    _feed_page,
                )
            ),
        }
        if self.ds_first is not None:
            first = self.ds_first
            figures["datasette"] = self._rate(lambda: self._walk(first, _datasette_page))
        return figures

    def _rate(self, walk: Callable[[], int]) -> float:
        started = time.perf_counter()
        count = walk()
        seconds = time.perf_counter() - started
        if count != self.bench.expected:
            raise RuntimeError(f"a walk saw {count} records, not {self.bench.expected}")
        return count / seconds

    def _walk_oai(self) -> int:
        base = f"{self.ours}/oai"
        params: dict[str, str] = {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
        count = 0
        for _ in range(self.bench.expected + 2):
            response = self.client.get(base, params=params)
            response.raise_for_status()
            content = response.content
            count += content.count(b"<record>")
            found = _TOKEN.search(content)
            if found is None:
                return count
            params = {"verb": "ListRecords", "resumptionToken": found.group(1).decode()}
        raise RuntimeError("the OAI-PMH walk does not end")

    def _walk(self, url: str | None, read: Read) -> int:
        count = 0
        for _ in range(self.bench.expected + 2):
            if url is None:
                return count
            response = self.client.get(url)
            response.raise_for_status()
            seen, url = read(response)
            count += seen
        raise RuntimeError("the walk does not end")


def _feed_page(response: httpx.Response) -> tuple[int, str | None]:
    count = len(orjson.loads(response.content)["dataset"])
    return count, response.links.get("next", {}).get("url")


def _datasette_page(response: httpx.Response) -> tuple[int, str | None]:
    body = orjson.loads(response.content)
    return len(body["rows"]), body.get("next_url")
