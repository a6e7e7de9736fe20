"""Seed 003's dataset search (issue 14): a search with two facets and a refine, beside CKAN's
`package_search` for the same words, in the same run, over HTTP.

On the synthetic catalogue of bench_table (`synthetic.generate`, seed 0, cached in bench/out/),
served by `python main.py serve` in a subprocess (bench_limits.serve_catalogue). Each request is
made `repeats` times after one to warm the page cache; the medians are quoted, ours beside
package_search's (the "naive" column: the search every CKAN client already uses here).

    python -m bench --only dataset_search --sizes 100000 --repeats 21
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench import Result
from bench.bench_limits import serve_catalogue
from bench.bench_table import catalogue

WORDS = "air"
SEARCH = "/api/datasets/1.0/search/"


def _median(client: httpx.Client, path: str, params: httpx.QueryParams, repeats: int) -> float:
    client.get(path, params=params).raise_for_status()  # warm
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        client.get(path, params=params).raise_for_status()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def run(sizes: list[int], repeats: int) -> list[Result]:
    results: list[Result] = []
    for size in sizes:
        tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
        process, url = serve_catalogue(catalogue(size), tmp)
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                publisher = _a_publisher(client)
                ours = httpx.QueryParams(
                    [
                        ("q", WORDS),
                        ("facet", "theme"),
                        ("facet", "modified"),
                        ("refine.publisher", publisher),
                    ]
                )
                ckan = httpx.QueryParams([("q", WORDS)])
                for label, params in (("two facets and a refine", ours), ("words only", ckan)):
                    mine = _median(client, SEARCH, params, repeats)
                    theirs = _median(client, "/api/action/package_search", ckan, repeats)
                    results.append(
                        Result(
                            "dataset_search",
                            size,
                            f"search '{WORDS}', {label} (vs package_search)",
                            "ms",
                            mine,
                            theirs,
                            "50" if params is ours else "",
                        )
                    )
        finally:
            process.terminate()
            process.wait(timeout=60)
    return results


def _a_publisher(client: httpx.Client) -> str:
    """The most frequent publisher: the refine a person would click first."""
    answer = client.get(SEARCH, params={"rows": "0", "facet": "publisher"}).json()
    (group,) = answer["facet_groups"]
    return str(group["facets"][0]["name"])
