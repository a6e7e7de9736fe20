"""The write path at scale (issue 10, "A fast write path"): importing our own CSV export.

For each size, a generated catalogue is exported to a datasets CSV (our own `main.py export`),
then imported by `main.py import` into a fresh catalogue that holds the same teams, topics and
licences but no datasets: plan, validation, the write, history and the search index, the whole
command as a person runs it. The anchor, timed in the same run on the same file, is
`sqlite-utils insert --csv` of that CSV into a bare table of a fresh SQLite file: a well-kept
tool that loads the rows with none of our work. Runs alternate, and medians are printed.

`generate --datasets N` is timed too, for context (the target at a million is 5 minutes).

    python -m bench --only write --sizes 100000 --repeats 3
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import OUT, Result

BENCH = "write"
TARGET_RATE = 5000  # datasets/s
MAIN = Path(__file__).resolve().parent.parent / "main.py"


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def _main(database: Path, *arguments: str) -> list[str]:
    return [sys.executable, str(MAIN), "--db", str(database), *arguments]


def _sqlite_utils() -> str:
    found = shutil.which("sqlite-utils") or str(Path(sys.executable).with_name("sqlite-utils"))
    if not Path(found).exists():
        raise SystemExit("sqlite-utils is the anchor: pip install -e '.[bench]'")
    return found


def run(sizes: list[int], repeats: int) -> list[Result]:
    OUT.mkdir(exist_ok=True)
    anchor_tool = _sqlite_utils()
    results: list[Result] = []
    for size in sizes:
        folder = OUT / f"write-{size}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        source, empty, csv_file = (
            folder / "source.sqlite",
            folder / "empty.sqlite",
            folder / "ds.csv",
        )
        generate_seconds = _timed(_main(source, "generate", "--datasets", str(size)))
        print(f"  generated {size:,} in {generate_seconds:.1f} s", file=sys.stderr)
        subprocess.run(
            _main(source, "export", "--format", "csv", "--out", str(csv_file)),
            check=True,
            capture_output=True,
        )
        subprocess.run(_main(empty, "generate", "--datasets", "0"), check=True, capture_output=True)
        ours: list[float] = []
        anchor: list[float] = []
        for repeat in range(repeats):
            target = folder / f"import-{repeat}.sqlite"
            shutil.copy(empty, target)
            ours.append(_timed(_main(target, "import", str(csv_file))))
            bare = folder / f"bare-{repeat}.sqlite"
            anchor.append(
                _timed([anchor_tool, "insert", str(bare), "datasets", str(csv_file), "--csv"])
            )
            print(
                f"  repeat {repeat + 1}: import {ours[-1]:.1f} s, sqlite-utils {anchor[-1]:.1f} s",
                file=sys.stderr,
            )
        mine, theirs = statistics.median(ours), statistics.median(anchor)
        results.append(
            Result(
                BENCH,
                size,
                "main.py import of our CSV / sqlite-utils insert (datasets/s)",
                "n/s",
                size / mine,
                size / theirs,
                f">= {TARGET_RATE:,}/s",
            )
        )
        results.append(
            Result(
                BENCH,
                size,
                "main.py generate (datasets/s, context)",
                "n/s",
                size / generate_seconds,
            )
        )
    return results
