"""Desktop export and import at scale, beside bare writers and readers of the same cells.

For each size, the synthetic catalogue of bench_table (seed 0, ~3 resources and ~1 link a
dataset) is exported through `exporting.export_catalogue`, the application's own code path:

* XLSX (the desktop workbook: three sheets, typed cells, styled header) beside a bare openpyxl
  write-only workbook and a bare xlsxwriter constant_memory workbook. The bare writers read the
  same rows (export_query.iter_datasets) and write the same typed cells with a bold header, a
  frozen pane and an autofilter; what differs is the writer.
* CSV (the datasets table) beside the csv module writing the same cells row by row from
  iter_datasets (what an exporter without stored fragments does).

Each figure is a fresh subprocess, so one writer's memory never pollutes another's; the runs of
each kind alternate; figures are medians. Peak memory is the RSS high-water mark growth during
the work (reset through /proc/self/clear_refs first, as bench_table does).

Then the files are imported back into an empty catalogue (plan and commit, new datasets
written a chunk at a time by datasets.create_datasets, each with its history version and
rendered fragments), beside the csv module and openpyxl's read-only mode merely reading the same
files. Import runs at most IMPORT_SIZE datasets.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bench import OUT, Result
from bench.bench_table import _peak_memory, _start_memory_watch, catalogue

BENCH = "export"
IMPORT_SIZE = 10_000
BASE_URL = "http://127.0.0.1:8080"
EXPORT_KINDS = ("xlsx", "openpyxl", "xlsxwriter", "csv", "csv-bare")
IMPORT_KINDS = ("import-csv", "read-csv", "import-xlsx", "read-xlsx")


def run(sizes: list[int], repeats: int) -> list[Result]:
    results: list[Result] = []
    for size in sizes:
        path = catalogue(size)
        runs = _alternate({kind: [kind, str(path)] for kind in EXPORT_KINDS}, repeats, size)
        results.extend(_export_results(size, runs))
        imported = min(size, IMPORT_SIZE)
        files = _import_files(imported)
        # Each import kind reads the file of its format: import-csv and read-csv the CSV...
        arguments = {kind: [kind, str(files[kind.split("-")[1]])] for kind in IMPORT_KINDS}
        runs = _alternate(arguments, repeats, imported)
        results.extend(_import_results(imported, runs))
    return results


def _alternate(
    arguments: dict[str, list[str]], repeats: int, size: int
) -> dict[str, list[dict[str, float]]]:
    """Each kind's figures, its runs alternating with the other kinds'."""
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in arguments}
    for attempt in range(repeats):
        for kind, args in arguments.items():
            figures = _in_subprocess(args)
            runs[kind].append(figures)
            print(f"  {size:,} {kind} run {attempt + 1}: {figures}", file=sys.stderr)
    return runs


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _export_results(size: int, runs: dict[str, list[dict[str, float]]]) -> list[Result]:
    ours = _median(runs["xlsx"], "ms")
    bare = {kind: _median(runs[kind], "ms") for kind in ("openpyxl", "xlsxwriter")}
    faster = min(bare, key=lambda kind: bare[kind])
    ratio = ours / bare[faster]
    verdict = "met" if ratio <= 1.2 else "NOT met"
    results = [
        Result(BENCH, size, f"XLSX export / bare {faster} (faster)", "ms", ours, bare[faster],
               f"≤ 1.2: {verdict}"),
    ]  # fmt: skip
    slower = "openpyxl" if faster == "xlsxwriter" else "xlsxwriter"
    results.append(Result(BENCH, size, f"XLSX export / bare {slower}", "ms", ours, bare[slower]))
    memory = _median(runs["xlsx"], "memory")
    for kind in ("openpyxl", "xlsxwriter"):
        target = f"< 100 MB: {'met' if memory < 100 else 'NOT met'}" if kind == faster else ""
        results.append(
            Result(BENCH, size, f"XLSX peak memory / bare {kind}", "MB", memory,
                   _median(runs[kind], "memory"), target)
        )  # fmt: skip
    csv_rate = _median(runs["csv"], "mb_per_s")
    results.append(
        Result(BENCH, size, "CSV export / csv module from rows", "MB/s", csv_rate,
               _median(runs["csv-bare"], "mb_per_s"),
               f"≥ 40 MB/s: {'met' if csv_rate >= 40 else 'NOT met'}")
    )  # fmt: skip
    results.append(
        Result(BENCH, size, "CSV peak memory / csv module from rows", "MB",
               _median(runs["csv"], "memory"), _median(runs["csv-bare"], "memory"))
    )  # fmt: skip
    return results


def _import_results(size: int, runs: dict[str, list[dict[str, float]]]) -> list[Result]:
    results = []
    for fmt in ("csv", "xlsx"):
        ours, bare = runs[f"import-{fmt}"], runs[f"read-{fmt}"]
        reader = "csv module" if fmt == "csv" else "openpyxl read-only"
        results.append(
            Result(BENCH, size, f"{fmt.upper()} import / {reader} reading it", "ms",
                   _median(ours, "ms"), _median(bare, "ms"))
        )  # fmt: skip
        results.append(
            Result(BENCH, size, f"{fmt.upper()} import peak memory / {reader}", "MB",
                   _median(ours, "memory"), _median(bare, "memory"))
        )  # fmt: skip
    return results


def _import_files(size: int) -> dict[str, Path]:
    """Our CSV and XLSX exports of a catalogue of `size`, made once and kept in bench/out."""
    from app.models.database import Database
    from app.services.exporting import ExportFormat, ExportRequest, export_catalogue

    files = {fmt: OUT / f"export-{size}.{fmt}" for fmt in ("csv", "xlsx")}
    source = catalogue(size)
    database = Database.open(source)
    try:
        for fmt, path in files.items():
            if not path.exists() or path.stat().st_mtime < source.stat().st_mtime:
                export_catalogue(database, ExportRequest(ExportFormat(fmt), path))
    finally:
        database.dispose()
    return files


def _in_subprocess(args: list[str]) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.bench_export", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{args[0]} run failed:\n{completed.stderr}")
    figures: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


# -- inside the measuring subprocess -------------------------------------------------------------


def _typed_cells() -> Iterator[tuple[int, list[Any]]]:
    """(sheet index, typed cells) of every row of the three sheets, as our workbook types them:
    timestamps and dates as datetimes and dates, counts and sizes as numbers, text neutralised.
    Read from the same query as our export; what the bare writers get."""
    from app.models.database import Database
    from app.services import export_query
    from app.services.formats import csv_format, xlsx
    from app.services.formats.cells import neutralise
    from app.services.record import columns as table
    from app.services.visibility import OWNER

    database = Database.open(Path(sys.argv[2]))
    columns = (
        table.DATASET_COLUMNS + table.DESKTOP_COLUMNS,
        table.RESOURCE_COLUMNS,
        table.LINK_COLUMNS,
    )
    stamps = {"createdAt", "updatedAt", "timestamp", "qaTimestamp"}
    days = {"nextReviewDate", "embargoUntil"}
    converters = [
        [
            (lambda v: xlsx.parse_timestamp(v) or neutralise(v))
            if c in stamps
            else (lambda v: xlsx.parse_date(v) or neutralise(v))
            if c in days
            else neutralise
            for c in sheet
        ]
        for sheet in columns
    ]
    for index, header in enumerate(columns):
        yield index, list(header)

    def typed(index: int, cells: list[Any]) -> list[Any]:
        return [
            convert(v) if isinstance(v, str) and v else v
            for convert, v in zip(converters[index], cells, strict=True)
        ]

    try:
        for row in export_query.iter_datasets(database, OWNER):
            yield 0, typed(0, csv_format.dataset_cells(row, BASE_URL) + xlsx.desktop_cells(row))
            for cells in csv_format.resource_cells(row, BASE_URL):
                yield 1, typed(1, list(cells))
            for cells in xlsx.link_cells(row, BASE_URL):
                yield 2, typed(2, cells)
    finally:
        database.dispose()


def _bare_openpyxl(out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheets = [book.create_sheet(name) for name in ("datasets", "resources", "links")]
    widths = [0, 0, 0]
    rows = [0, 0, 0]
    for index, cells in _typed_cells():
        sheet = sheets[index]
        if rows[index] == 0:
            sheet.freeze_panes = "A2"
            header = []
            for value in cells:
                cell = WriteOnlyCell(sheet, value=value)
                cell.font = Font(bold=True)
                header.append(cell)
            widths[index] = len(cells)
            cells = header
        sheet.append(cells)
        rows[index] += 1
    for sheet, width, count in zip(sheets, widths, rows, strict=True):
        sheet.auto_filter.ref = f"A1:{_letter(width)}{count}"
    book.save(out)


def _bare_xlsxwriter(out: Path) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(out), {"constant_memory": True})
    bold = book.add_format({"bold": True})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss.000"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheets = [book.add_worksheet(name) for name in ("datasets", "resources", "links")]
    rows = [0, 0, 0]
    widths = [0, 0, 0]
    for index, cells in _typed_cells():
        sheet = sheets[index]
        row = rows[index]
        if row == 0:
            sheet.freeze_panes(1, 0)
            sheet.write_row(0, 0, cells, bold)
            widths[index] = len(cells)
        else:
            for column, value in enumerate(cells):
                if value is None:
                    continue
                if isinstance(value, datetime):
                    sheet.write_datetime(row, column, value, stamp)
                elif isinstance(value, date):
                    sheet.write_datetime(row, column, value, day)
                elif isinstance(value, str):
                    sheet.write_string(row, column, value)
                else:
                    sheet.write_number(row, column, value)
        rows[index] += 1
    for sheet, width, count in zip(sheets, widths, rows, strict=True):
        sheet.autofilter(0, 0, count - 1, width - 1)
    book.close()


def _bare_csv(out: Path) -> None:
    from app.models.database import Database
    from app.services import export_query
    from app.services.formats import csv_format
    from app.services.formats.cells import neutralise
    from app.services.record import columns
    from app.services.visibility import OWNER

    database = Database.open(Path(sys.argv[2]))
    try:
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(columns.DATASET_COLUMNS)
            for row in export_query.iter_datasets(database, OWNER):
                writer.writerow(
                    neutralise(v) if isinstance(v, str) else "" if v is None else v
                    for v in csv_format.dataset_cells(row, BASE_URL)
                )
    finally:
        database.dispose()


def _ours(fmt: str, out: Path) -> None:
    from app.models.database import Database
    from app.services.exporting import ExportFormat, ExportRequest, export_catalogue

    database = Database.open(Path(sys.argv[2]))
    try:
        export_catalogue(database, ExportRequest(ExportFormat(fmt), out, base_url=BASE_URL))
    finally:
        database.dispose()


def _import(source: Path, folder: Path) -> None:
    from app.models.database import Database
    from app.services import synthetic
    from app.services.importing import commit_import, plan_import

    database = Database.open(folder / "empty.sqlite")
    try:
        synthetic.generate(database, 0)  # the teams and users the datasets name
        plan = plan_import(database, source)
        if not plan.ok:
            raise RuntimeError(f"import errors: {plan.errors[:5]}")
        commit_import(database, plan, author="bench")
    finally:
        database.dispose()


def _read_csv(source: Path) -> None:
    with source.open(newline="", encoding="utf-8") as handle:
        for _ in csv.reader(handle):
            pass


def _read_xlsx(source: Path) -> None:
    import openpyxl

    book = openpyxl.load_workbook(source, read_only=True)
    for sheet in book.worksheets:
        for _ in sheet.iter_rows(values_only=True):
            pass
    book.close()


def _letter(index: int) -> str:
    name = ""
    while index:
        index, remainder = divmod(index - 1, 26)
        name = chr(65 + remainder) + name
    return name


def measure(kind: str) -> dict[str, float]:
    # Every kind loads the same modules before the clock starts: no one pays for imports.
    import openpyxl  # noqa: F401
    import xlsxwriter  # noqa: F401

    import app.services.exporting
    import app.services.importing  # noqa: F401

    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        out = Path(folder) / "out"
        work: dict[str, Callable[[], None]] = {
            "xlsx": lambda: _ours("xlsx", out),
            "csv": lambda: _ours("csv", out),
            "openpyxl": lambda: _bare_openpyxl(out),
            "xlsxwriter": lambda: _bare_xlsxwriter(out),
            "csv-bare": lambda: _bare_csv(out),
            "import-csv": lambda: _import(Path(sys.argv[2]), Path(folder)),
            "import-xlsx": lambda: _import(Path(sys.argv[2]), Path(folder)),
            "read-csv": lambda: _read_csv(Path(sys.argv[2])),
            "read-xlsx": lambda: _read_xlsx(Path(sys.argv[2])),
        }
        baseline = _start_memory_watch()
        started = time.perf_counter()
        work[kind]()
        seconds = time.perf_counter() - started
        memory = _peak_memory() - baseline
        size = out.stat().st_size if out.exists() else 0
    return {
        "ms": seconds * 1000,
        "memory": memory,
        "peak_rss": _peak_memory(),
        "mb": size / 1e6,
        "mb_per_s": size / 1e6 / seconds,
    }


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    print(json.dumps(measure(sys.argv[1])))
