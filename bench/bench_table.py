"""The dataset table at scale: our windowed model against a model that loads every row.

For each size, a synthetic catalogue is built once with `synthetic.generate` (seed 0) and kept
in bench/out/. Each run is a fresh subprocess, so one model's memory and caches never pollute
the other's; runs of the two models alternate. In each run a real QTableView (1200x800,
offscreen) shows the model, and we time, from the model's construction (the catalogue is
already open), until the first paint event in which every visible row holds data:

* first paint — the table appears;
* jump to last — `scrollToBottom()` until the last rows are painted;
* search — `set_search(SEARCH)` until the first rows of the result are painted.

Peak memory is the process's RSS high-water mark at the end of the run minus its RSS just
before the model is built: Python objects, SQLite caches and Qt alike. The high-water mark is
reset there first (Linux: "5" to /proc/self/clear_refs), otherwise a transient peak from
start-up (migrations, Qt) would hide the model's growth; without /proc it falls back to
getrusage's ru_maxrss. Figures are medians over the runs.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import OUT, Result

SEARCH = "air qual"  # what a person types: two words, the last one unfinished
WINDOWED = "windowed"
NAIVE = "naive"
METRICS = (
    ("first paint", "first_paint", "ms", "< 200 ms at 1M"),
    ("jump to last row", "jump_last", "ms", "< 100 ms at 1M"),
    (f"search {SEARCH!r}", "search", "ms", "< 100 ms at 1M"),
    ("peak memory (RSS growth)", "memory", "MB", "< 15% of naive"),
)


def catalogue(size: int) -> Path:
    """bench/out/catalogue-SIZE.sqlite, generated once and reused while its count is right."""
    from sqlalchemy import func, select

    from app.models import Dataset
    from app.models.database import Database
    from app.services.synthetic import generate

    OUT.mkdir(exist_ok=True)
    path = OUT / f"catalogue-{size}.sqlite"
    if path.exists():
        database = Database.open(path)
        try:
            with database.read() as session:
                if session.scalar(select(func.count()).select_from(Dataset)) == size:
                    return path
        finally:
            database.dispose()
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
    print(f"generating {size:,} datasets in {path} …", file=sys.stderr)
    started = time.perf_counter()
    database = Database.open(path)
    try:
        generate(database, size, seed=0, progress_stream=sys.stderr)
    finally:
        database.dispose()
    print(f"generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def run(sizes: list[int], repeats: int) -> list[Result]:
    results: list[Result] = []
    for size in sizes:
        path = catalogue(size)
        runs: dict[str, list[dict[str, float]]] = {WINDOWED: [], NAIVE: []}
        for attempt in range(repeats):
            for kind in (WINDOWED, NAIVE):
                figures = _measure_in_subprocess(kind, path)
                runs[kind].append(figures)
                print(f"  {size:,} {kind} run {attempt + 1}: {figures}", file=sys.stderr)
        for label, key, unit, target in METRICS:
            ours = statistics.median(r[key] for r in runs[WINDOWED])
            naive = statistics.median(r[key] for r in runs[NAIVE])
            results.append(Result("table", size, label, unit, ours, naive, target))
    return results


def _measure_in_subprocess(kind: str, path: Path) -> dict[str, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.bench_table", kind, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{kind} run failed:\n{completed.stderr}")
    figures: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


# -- inside the measuring subprocess -------------------------------------------------------------


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        return None
    return None


def _start_memory_watch() -> float:
    """Reset the RSS high-water mark to the current RSS, and return that RSS in MB."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass
    current = _status_mb("VmRSS")
    return current if current is not None else _peak_memory()


def _peak_memory() -> float:
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(kind: str, path: Path) -> dict[str, float]:
    from app.models.database import Database
    from app.views.dataset_table_model import DatasetTableModel
    from app.views.qt import QtCore, QtWidgets
    from app.views.tasks import TaskRunner
    from bench.naive_model import NaiveTableModel

    class TimedView(QtWidgets.QTableView):
        """A table view that notes when it has painted a frame satisfying `ready`."""

        def __init__(self) -> None:
            super().__init__()
            self.ready: Callable[[], bool] | None = None
            self.painted_at = 0.0
            self.loop = QtCore.QEventLoop()

        def paintEvent(self, event: Any) -> None:
            super().paintEvent(event)
            if self.ready is not None and self.ready():
                self.painted_at = time.perf_counter()
                self.ready = None
                self.loop.quit()

        def wait_painted(self, ready: Callable[[], bool], timeout_ms: int = 120_000) -> float:
            self.ready = ready
            self.viewport().update()
            QtCore.QTimer.singleShot(timeout_ms, self.loop.quit)
            self.loop.exec()
            if self.ready is not None:
                raise TimeoutError("the table never painted its rows")
            return self.painted_at

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    database = Database.open(path)
    runner = TaskRunner()
    view = TimedView()
    view.verticalHeader().hide()
    view.verticalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
    view.resize(1200, 800)
    searched: list[int] = []

    def visible_rows_loaded() -> bool:
        model = view.model()
        rows = model.rowCount()
        if rows == 0:
            return False
        top = max(view.rowAt(0), 0)
        bottom = view.rowAt(view.viewport().height() - 1)
        bottom = rows - 1 if bottom < 0 else bottom
        loaded: Callable[[int], bool] = model.is_loaded  # type: ignore[attr-defined]
        return all(loaded(row) for row in range(top, bottom + 1))

    baseline = _start_memory_watch()
    started = time.perf_counter()
    model: DatasetTableModel | NaiveTableModel = (
        DatasetTableModel(database, runner) if kind == WINDOWED else NaiveTableModel(database)
    )
    view.setModel(model)
    view.show()
    first_paint = view.wait_painted(visible_rows_loaded) - started

    started = time.perf_counter()
    view.scrollToBottom()
    last = model.rowCount() - 1
    jump = view.wait_painted(lambda: model.is_loaded(last) and visible_rows_loaded()) - started

    model.countChanged.connect(searched.append)
    started = time.perf_counter()
    model.set_search(SEARCH)
    search = view.wait_painted(lambda: bool(searched) and visible_rows_loaded()) - started

    memory = _peak_memory() - baseline
    runner.wait_for_all()
    database.dispose()
    del app
    return {
        "first_paint": first_paint * 1000,
        "jump_last": jump * 1000,
        "search": search * 1000,
        "memory": memory,
        "rows": float(last + 1),
        "matches": float(searched[-1]),
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], Path(sys.argv[2]))))
