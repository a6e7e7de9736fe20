"""What a catalogue costs on disk (issue 10, "Derived data that is cheap to keep").

For each size, `synthetic.generate` writes that many datasets into a fresh SQLite file exactly
as the application would (history included), the file is VACUUMed, and its size is printed
beside the anchor measured in the same file: the pages of the datasets, resources and links
tables, the search index and the indexes of all of them (SQLite's `dbstat`). Everything else
(history, derived data, the small lists) is what the ratio charges for. Target: at most 2x.

The file is generated afresh every run (not the cached catalogue of bench_table): the figure is
about what `generate` writes today. Sizes are deterministic, so repeats are not run.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

from bench import OUT, Result

BENCH = "storage"
TARGET_RATIO = 2.0
CORE_TABLES = ("datasets", "resources", "links")
SEARCH_PREFIX = "datasets_fts"  # the FTS5 table and its shadow tables
MB = 1024 * 1024


def core_names(connection: sqlite3.Connection) -> set[str]:
    """The tables and indexes the anchor counts: the core tables, the search index's tables,
    and every index on any of them."""
    rows = connection.execute(
        "select name, tbl_name from sqlite_master where type in ('table', 'index')"
    ).fetchall()

    def core(table: str) -> bool:
        return table in CORE_TABLES or table.startswith(SEARCH_PREFIX)

    return {name for name, table in rows if core(table)}


def page_sizes(connection: sqlite3.Connection) -> dict[str, int]:
    """Bytes of pages per table or index (dbstat)."""
    rows = connection.execute("select name, sum(pgsize) from dbstat group by name").fetchall()
    return {name: int(size) for name, size in rows}


def measure(path: Path) -> dict[str, float]:
    """VACUUM `path`; its file size, the anchor's size and the largest parts, in bytes."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("VACUUM")
        sizes = page_sizes(connection)
        anchor = sum(size for name, size in sizes.items() if name in core_names(connection))
    finally:
        connection.close()
    figures: dict[str, float] = {"file": float(path.stat().st_size), "core": float(anchor)}
    for name, size in sorted(sizes.items(), key=lambda item: -item[1])[:6]:
        figures[f"table {name}"] = float(size)
    return figures


def generated(size: int) -> Path:
    """A fresh catalogue of `size` generated datasets in bench/out/."""
    from app.models.database import Database
    from app.services.synthetic import generate

    OUT.mkdir(exist_ok=True)
    path = OUT / f"storage-{size}.sqlite"
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    database = Database.open(path)
    try:
        generate(database, size, seed=0)
    finally:
        database.dispose()
    print(f"  generated {size:,} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def run(sizes: list[int], repeats: int) -> list[Result]:
    del repeats  # deterministic: one measurement a size
    results: list[Result] = []
    for size in sizes:
        path = generated(size)
        figures = measure(path)
        shown = {k: f"{v / MB:.1f} MB" for k, v in figures.items()}
        print(f"  {size:,}: {shown}", file=sys.stderr)
        ratio = figures["file"] / figures["core"]
        met = "met" if ratio <= TARGET_RATIO else "NOT met"
        results.append(
            Result(
                BENCH,
                size,
                "catalogue file / datasets+resources+links+search+indexes",
                "MB",
                figures["file"] / MB,
                figures["core"] / MB,
                f"≤ {TARGET_RATIO:g}: {met}",
            )
        )
        for path_part in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            path_part.unlink(missing_ok=True)
    return results
