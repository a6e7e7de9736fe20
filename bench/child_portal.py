"""A fake portal served by a child process for the sync benchmarks (bench_pull, bench_sync).

The child runs `python -m MODULE --serve ARGS…`, prints its URL on a line of its own and serves
until its standard input closes; the benchmark's client is the parent, so the portal's work does
not share the client's interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serve_in_child(
    module: str, args: list[str], env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """`python -m module --serve args…` in a child process; its URL while it runs."""
    child = subprocess.Popen(
        [sys.executable, "-m", module, "--serve", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        text=True,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the portal did not start (said {url!r})")
        yield url
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
