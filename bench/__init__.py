"""Benchmarks, run by hand or by `make bench` (`python -m bench`), never by the test suite.

Every module `bench/bench_*.py` has `run(sizes, repeats) -> list[Result]`; `python -m bench`
runs them all and prints one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).with_name("out")  # cached catalogues and logs; git-ignored


@dataclass(frozen=True)
class Result:
    """One line of the table: our figure beside the naive one (None if there is none)."""

    bench: str
    size: int
    metric: str
    unit: str
    ours: float
    naive: float | None = None
    target: str = ""
