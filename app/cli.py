"""Command line: the GUI by default, sub-commands for headless work. A client of the services.

Building the parser imports nothing heavy (no Qt, SQLAlchemy, httpx, Starlette, rdflib,
openpyxl): `--help` answers at once, and each sub-command imports what it needs when it runs.
tests/test_cli_imports.py holds that."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app.cli_check import CHECK_COMMAND, add_check_parser, run_check
from app.cli_copy import COPY_COMMAND, add_copy_parser, run_copy
from app.cli_dataset import DATASET_COMMAND, add_dataset_parser, run_dataset
from app.cli_serve import add_serve_parser, run_serve
from app.cli_sync import SYNC_COMMANDS, add_sync_parsers, run_sync
from app.cli_transfer import add_transfer_parsers, run_transfer
from app.services.errors import CatalogueError


def _add_db(parser: argparse.ArgumentParser, *, top_level: bool = False) -> None:
    """`--db` goes before or after the sub-command; SUPPRESS keeps a sub-command's absent
    `--db` from overwriting one given before it."""
    parser.add_argument(
        "--db",
        metavar="PATH_OR_URL",
        default=None if top_level else argparse.SUPPRESS,
        help="catalogue to open: a SQLite file path or a SQLAlchemy URL "
        "(default: catalogue.sqlite in the user data folder)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="catalogue-desk", description="Catalogue Desk: curate open-data catalogues offline."
    )
    _add_db(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = commands.add_parser("gui", help="open the desktop application (the default)")
    _add_db(gui)

    generate = commands.add_parser("generate", help="build a synthetic catalogue of any size")
    _add_db(generate)
    generate.add_argument("--datasets", type=int, required=True, metavar="N")
    generate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    _add_db(add_serve_parser(commands))
    for transfer in add_transfer_parsers(commands):
        _add_db(transfer)
    for sync in add_sync_parsers(commands):
        _add_db(sync)
    for dataset in add_dataset_parser(commands):
        _add_db(dataset)
    add_check_parser(commands)  # no --db: it checks a server by its URL
    add_copy_parser(commands)  # no --db: it names both catalogues
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in (None, "gui"):
            from app.views.application import run_gui

            return run_gui(args.db)
        if args.command == "generate":
            return _generate(args.db, args.datasets, args.seed)
        if args.command == "serve":
            return run_serve(args)
        if args.command in ("export", "import"):
            return run_transfer(args)
        if args.command in SYNC_COMMANDS:
            return run_sync(args)
        if args.command == DATASET_COMMAND:
            return run_dataset(args)
        if args.command == CHECK_COMMAND:
            return run_check(args)
        if args.command == COPY_COMMAND:
            return run_copy(args)
    except CatalogueError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled command {args.command}")


def _generate(db: str | None, count: int, seed: int) -> int:
    from app.services.catalogue_files import catalogue_location, open_database
    from app.services.synthetic import generate

    database = open_database(db)
    try:
        generate(database, count, seed=seed, progress_stream=sys.stderr)
    finally:
        database.dispose()
    print(f"generated {count} datasets in {catalogue_location(database.url)}")
    return 0
