"""`python main.py copy SOURCE DEST`: a whole catalogue into a new or empty one, between any
two engines (a SQLite file, a `postgresql+psycopg://` URL), checked before it is said done
(services.catalogue_copy).

Prints each table's rows and whether the SHA-256 of its rows agrees on both sides; exits 0
when every table agrees, 2 with the reason when the copy was refused or did not match (and
then nothing was written). The parser imports nothing heavy: SQLAlchemy loads when it runs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

COPY_COMMAND = "copy"


def add_copy_parser(subparsers: Any) -> argparse.ArgumentParser:
    copy: argparse.ArgumentParser = subparsers.add_parser(
        COPY_COMMAND,
        help="copy a whole catalogue into a new or empty one (SQLite <-> PostgreSQL), checked",
        description="Copy every table of a catalogue (datasets, history, permissions, API key "
        "hashes, sync links, settings, the catalogue version, the trash) into a new SQLite file "
        "or an empty database, then check each table's row count and SHA-256 on both sides "
        "before saying done. Nothing is written unless the whole copy matches.",
    )
    copy.add_argument("source", metavar="SOURCE", help="the catalogue to copy: a path or a URL")
    copy.add_argument(
        "destination",
        metavar="DEST",
        help="where to: a new SQLite file, or an empty database "
        "(e.g. postgresql+psycopg://user@host/catalogue)",
    )
    return copy


def run_copy(args: argparse.Namespace) -> int:
    from app.services.catalogue_copy import copy_catalogue
    from app.services.progress import Progress

    def shown(done: int, total: int) -> None:
        sys.stderr.write(f"\rcopied and checked {done:,}/{total:,} rows")
        sys.stderr.flush()

    # Progress only on a terminal: a log keeps the table below, not a line a batch.
    live = sys.stderr.isatty()
    try:
        report = copy_catalogue(
            args.source, args.destination, progress=Progress(shown if live else None)
        )
    finally:
        if live:
            sys.stderr.write("\n")
    print(f"{report.source} -> {report.destination}")
    width = max(len(check.table) for check in report.tables)
    print(f"{'table':<{width}}  {'rows':>10}  {'sha-256':<16}  agree")
    for check in report.tables:
        agree = "yes" if check.agrees else "NO"
        print(f"{check.table:<{width}}  {check.copy.rows:>10,}  {check.copy.sha256[:16]}  {agree}")
    print(
        f"copied {report.rows:,} rows in {len(report.tables)} tables: every table's row count "
        "and SHA-256 agree with the source"
    )
    return 0
