"""The cold desktop CSV export: every dataset's line rendered from its export rows.

`services.renders` keeps each dataset's CSV line once rendered, so the first export in a process
builds every row (`export_query`) and renders it, and the next export reads the lines kept. For
each size, on the synthetic catalogue of bench_table (seed 0), each run is a fresh subprocess:

* cold: `exporting.export_catalogue` of the CSV (the datasets table, the owner's whole view),
  the first in the process, in MB/s of the file written (target ≥ 40 MB/s);
* warm: the same export again in the same process (the lines kept);
* anchor: the sqlite3 CLI writing the datasets table as CSV (`sqlite3 -csv FILE "select * from
  datasets"`), measured in the same run, after the export has paged the file into the cache.

Figures are medians over the runs; the ratio of cold to each anchor is printed beside it. On
a busy machine the wall-clock rates follow the load: the rates per CPU second (the process's
own, and the sqlite3 child's) are printed too.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import OUT, Result
from bench.bench_table import catalogue

BENCH = "rows"
BASE_URL = "http://127.0.0.1:8080"
TARGET_MB_PER_S = 40.0


def run(sizes: list[int], repeats: int) -> list[Result]:
    if shutil.which("sqlite3") is None:
        raise RuntimeError("the sqlite3 CLI is missing: run scripts/system-deps.sh")
    results: list[Result] = []
    for size in sizes:
        path = catalogue(size)
        runs = []
        for attempt in range(repeats):
            figures = _in_subprocess(path)
            runs.append(figures)
            print(f"  {size:,} run {attempt + 1}: {figures}", file=sys.stderr)
        cold = statistics.median(run["cold"] for run in runs)
        warm = statistics.median(run["warm"] for run in runs)
        cli = statistics.median(run["sqlite3"] for run in runs)
        met = "met" if cold >= TARGET_MB_PER_S else "NOT met"
        cpu = {k: statistics.median(run[f"{k}_cpu"] for run in runs) for k in ("cold", "sqlite3")}
        results += [
            Result(BENCH, size, "cold CSV export / sqlite3 -csv", "MB/s", cold, cli,
                   f"≥ {TARGET_MB_PER_S:.0f} MB/s: {met}"),
            Result(BENCH, size, "cold CSV export / warm CSV export", "MB/s", cold, warm),
            Result(BENCH, size, "the same per CPU second: cold / sqlite3 -csv", "MB/s",
                   cpu["cold"], cpu["sqlite3"]),
        ]  # fmt: skip
    return results


def _in_subprocess(path: Path) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.bench_rows", str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"bench_rows run failed:\n{completed.stderr}")
    figures: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


# -- inside the measuring subprocess -------------------------------------------------------------


def measure(path: Path) -> dict[str, float]:
    """MB/s of the cold export, the warm one, and the sqlite3 CLI's dump of the datasets."""
    from app.models.database import Database
    from app.services.exporting import ExportFormat, ExportRequest, export_catalogue

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        out = Path(folder) / "datasets.csv"
        database = Database.open(path)
        try:
            for kind in ("cold", "warm"):
                request = ExportRequest(ExportFormat.CSV, out, base_url=BASE_URL)
                started, cpu = time.perf_counter(), time.process_time()
                export_catalogue(database, request)
                megabytes = out.stat().st_size / 1e6
                figures[kind] = megabytes / (time.perf_counter() - started)
                figures[f"{kind}_cpu"] = megabytes / (time.process_time() - cpu)
        finally:
            database.dispose()
        dump = Path(folder) / "sqlite3.csv"
        with dump.open("wb") as sink:
            started, cpu = time.perf_counter(), _children_cpu()
            subprocess.run(
                ["sqlite3", "-csv", str(path), "select * from datasets"], stdout=sink, check=True
            )
            seconds, cpu_seconds = time.perf_counter() - started, _children_cpu() - cpu
        figures["sqlite3"] = dump.stat().st_size / 1e6 / seconds
        figures["sqlite3_cpu"] = dump.stat().st_size / 1e6 / cpu_seconds
    return figures


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    print(json.dumps(measure(Path(sys.argv[1]))))
