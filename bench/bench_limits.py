"""Bounded work per request (issue 16): what the probe's slow requests cost now.

On the synthetic catalogue of bench_table (`synthetic.generate`, seed 0, cached in bench/out/),
served by `python main.py serve --db FILE --port 0 --quiet` in a subprocess, as a workstation
with no screen runs it:

1. anonymous `package_search` with 500 words (the probe's 2.5 KB URL: refused, 400), with one
   word, with 32 common words, and with the costliest query allowed (32 one-letter prefixes:
   answered, or refused by the statement time limit with a 503);
2. 20 concurrent costliest searches from one client, and meanwhile the latency of feed pages
   (`/api/v1/dataset.jsonld?limit=100`, sequential, median and worst) and how the 20 were
   answered (200, 429 for the one caller's excess, 503 busy or time limit);
3. SIGTERM while those 20 run: the time until the process has exited, and whether a
   `catalogue-dumps-*` folder is left in its temporary directory.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench import Result
from bench.bench_table import catalogue

ROOT = Path(__file__).resolve().parent.parent
WORST = " ".join([*string.ascii_lowercase, *"012345"])
COMMON = (  # 32 words
    "air quality bus stops council budget library school waste water road traffic energy "
    "housing health crime population census transport park data london monthly annual report "
    "list map figures spending planning licence open"
)


def serve_catalogue(
    path: Path | str, tmp: Path, *options: str
) -> tuple[subprocess.Popen[str], str]:
    """`main.py serve` of the catalogue at `path` (a file or a URL) in a subprocess, with
    `options` (e.g. --workers 2), temporary files in `tmp`; and its URL."""
    process = subprocess.Popen(
        [sys.executable, "main.py", "serve", "--db", str(path), "--port", "0", "--quiet", *options],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert process.stderr is not None
    banner = process.stderr.readline()
    match = re.search(r"at (http://\S+)", banner)
    if not match:
        process.kill()
        raise RuntimeError(f"the server did not start: {banner}")
    return process, match.group(1)


def _timed(client: httpx.Client, path: str, **params: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(path, params=params)
    return (time.perf_counter() - started) * 1000, response.status_code


def run(sizes: list[int], repeats: int) -> list[Result]:
    results: list[Result] = []
    for size in sizes:
        path = catalogue(size)
        tmp = Path(tempfile.mkdtemp(prefix="bench-limits-"))
        process, url = serve_catalogue(path, tmp)
        try:
            results += _measure(size, url, repeats)
            results.append(_shutdown(size, url, process, tmp))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


def _measure(size: int, url: str, repeats: int) -> list[Result]:
    results: list[Result] = []
    search = "/api/action/package_search"
    with httpx.Client(base_url=url, timeout=120) as client:
        for name, q in (
            ("500 words", " ".join(f"{w}{n}" for n, w in enumerate(COMMON.split() * 17))[:2500]),
            ("1 word", "air"),
            ("32 common words", COMMON),
            ("32 one-letter prefixes", WORST),
        ):
            timings = [_timed(client, search, q=q) for _ in range(repeats)]
            status = Counter(code for _, code in timings).most_common(1)[0][0]
            median = statistics.median(ms for ms, _ in timings)
            results.append(
                Result(
                    "limits", size, f"package_search {name} ({status})", "ms", median, None, "1000"
                )
            )
    with (
        httpx.Client(base_url=url, timeout=120, limits=httpx.Limits(max_connections=40)) as client,
        ThreadPoolExecutor(20) as pool,
    ):
        cold, _ = _timed(client, "/api/v1/dataset.jsonld", limit="100")  # renders the page
        print(f"  {size:,}: first feed page (rendered) {cold:.0f} ms", file=sys.stderr)
        futures = [pool.submit(client.get, search, params={"q": WORST}) for _ in range(20)]
        feed = [_timed(client, "/api/v1/dataset.jsonld", limit="100") for _ in range(10)]
        answers = Counter(future.result().status_code for future in futures)
    print(f"  {size:,}: the 20 searches were answered {dict(answers)}", file=sys.stderr)
    latencies = [ms for ms, _ in feed]
    assert all(code == 200 for _, code in feed)
    results.append(
        Result(
            "limits",
            size,
            "feed page under 20 searches, median",
            "ms",
            statistics.median(latencies),
            None,
            "1000",
        )
    )
    results.append(
        Result(
            "limits", size, "feed page under 20 searches, worst", "ms", max(latencies), None, "1000"
        )
    )
    return results


def _shutdown(size: int, url: str, process: subprocess.Popen[str], tmp: Path) -> Result:
    client = httpx.Client(base_url=url, timeout=120, limits=httpx.Limits(max_connections=40))
    pool = ThreadPoolExecutor(20)
    for _ in range(20):
        pool.submit(client.get, "/api/action/package_search", params={"q": WORST})
    time.sleep(0.5)  # a benchmark, not a test: let the searches reach the server
    started = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    elapsed = (time.perf_counter() - started) * 1000
    pool.shutdown(wait=True, cancel_futures=True)
    client.close()
    left = sorted(p.name for p in tmp.iterdir() if p.name.startswith("catalogue-"))
    print(f"  {size:,}: after SIGTERM, left in its temporary directory: {left}", file=sys.stderr)
    return Result("limits", size, "SIGTERM under 20 searches to exit", "ms", elapsed, None, "3000")
