"""`python -m bench [--sizes 100000 1000000] [--repeats 5] [--only table]`: every benchmark in
bench/, one table."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import bench
from bench import Result

DEFAULT_SIZES = (100_000, 1_000_000)


def _modules(only: str | None) -> list[str]:
    names = sorted(
        info.name for info in pkgutil.iter_modules(bench.__path__) if info.name.startswith("bench_")
    )
    return [n for n in names if only is None or n == f"bench_{only}"]


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("ms", "MB"):
        return f"{value:.1f}"
    return f"{value:.0f}"


def print_table(results: Sequence[Result]) -> None:
    headers = ("bench", "datasets", "metric", "unit", "ours", "naive", "ours/naive", "target")
    lines = [
        (
            r.bench,
            f"{r.size:,}",
            r.metric,
            r.unit,
            _format(r.ours, r.unit),
            _format(r.naive, r.unit),
            f"{r.ours / r.naive:.3f}" if r.naive else "-",
            r.target,
        )
        for r in results
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    numeric = {1, 4, 5, 6}

    def row(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    print(row(headers))
    print(row(["-" * w for w in widths]))
    for line in lines:
        print(row(line))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--only", help="run one benchmark, e.g. 'table'")
    args = parser.parse_args(argv)
    results: list[Result] = []
    for name in _modules(args.only):
        module = importlib.import_module(f"bench.{name}")
        print(f"running {name} …", file=sys.stderr)
        results.extend(module.run(args.sizes, args.repeats))
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
