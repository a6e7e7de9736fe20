"""`python main.py export` and `python main.py import`: the desktop's File > Export and Import,
headless. Clients of services.exporting and services.importing, like the GUI."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.services.errors import CatalogueError
from app.services.export_choices import DEFAULT_BASE_URL, ExportFormat, ExportScope
from app.services.importing.model import OnExisting
from app.services.mappings import grouped

if TYPE_CHECKING:  # SQLAlchemy and the serializers load when a command runs, not for --help
    from app.models.database import Database
    from app.services.importing.plan import ImportPlan

# The CLI offers the scopes that need no selection or search box.
_CLI_SCOPES = (ExportScope.ALL.value, ExportScope.PUBLISHED.value)


def add_transfer_parsers(commands: Any) -> list[argparse.ArgumentParser]:
    """Add `export` and `import` to the CLI's sub-parsers; the parsers, for `--db`."""
    export: argparse.ArgumentParser = commands.add_parser(
        "export", help="export the catalogue to a file (CSV, XLSX, JSON, JSON-LD, Turtle)"
    )
    export.add_argument(
        "--format", required=True, choices=[f.value for f in ExportFormat], help="file format"
    )
    export.add_argument("--out", required=True, metavar="FILE", type=Path, help="file to write")
    export.add_argument(
        "--scope",
        choices=_CLI_SCOPES,
        default=ExportScope.ALL.value,
        help="all datasets (default), or only what the public sees",
    )
    export.add_argument(
        "--base-url",
        help="base of the dataset URLs written in the file (default: the catalogue's public "
        f"URL, see `serve --public-url`, else {DEFAULT_BASE_URL})",
    )

    import_ = commands.add_parser(
        "import",
        help="import datasets from a file (CSV, XLSX, DataPress/CKAN JSON, JSON-LD, Turtle, "
        "RDF/XML)",
    )
    import_.add_argument("file", type=Path, metavar="FILE")
    import_.add_argument(
        "--on-existing",
        choices=[o.value for o in OnExisting],
        default=OnExisting.SKIP.value,
        help="what to do with a dataset whose id is already in the catalogue (default skip)",
    )
    import_.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=FIELD",
        help="map a spreadsheet column to a field (repeat; FIELD empty to ignore the column); "
        "the other columns map by name",
    )
    import_.add_argument(
        "--dry-run", action="store_true", help="show what would be imported, write nothing"
    )
    import_.add_argument("--author", default=None, help="name recorded in the history")
    return [export, import_]


def run_transfer(args: argparse.Namespace) -> int:
    """Run `export` or `import`; the exit status. CatalogueError goes up to the CLI."""
    from app.services.catalogue_files import open_database

    database = open_database(args.db)
    try:
        if args.command == "export":
            return _export(database, args)
        return _import(database, args)
    finally:
        database.dispose()


def _export(database: Database, args: argparse.Namespace) -> int:
    from app.services.exporting import ExportRequest, export_catalogue

    request = ExportRequest(
        format=ExportFormat(args.format),
        destination=args.out,
        scope=ExportScope(args.scope),
        base_url=args.base_url,
    )
    result = export_catalogue(database, request)
    print(f"exported {result.datasets} datasets ({result.bytes_written:,} bytes) to {args.out}")
    return 0


def _mapping(pairs: list[str], path: Path) -> dict[str, str] | None:
    if not pairs:
        return None
    from app.services.importing.tables import table_columns

    mapping = dict(table_columns(path).suggested)
    for pair in pairs:
        column, separator, field = pair.partition("=")
        if not separator:
            raise CatalogueError(f"--map {pair!r}: write COLUMN=FIELD")
        mapping[column] = field
    return mapping


def _import(database: Database, args: argparse.Namespace) -> int:
    mapping = _mapping(args.map, args.file)
    on_existing = OnExisting(args.on_existing)
    if args.dry_run:
        from app.services.importing.plan import plan_import

        plan = plan_import(database, args.file, mapping=mapping, on_existing=on_existing)
        _print_plan(plan)
        if not plan.ok:
            return _refused()
        print("dry run: nothing written")
        return 0
    from app.services.importing.streamed import import_file

    plan, summary = import_file(
        database,
        args.file,
        author=args.author or login_name("import"),
        mapping=mapping,
        on_existing=on_existing,
    )
    _print_plan(plan)
    if summary is None:
        return _refused()
    print(
        f"imported: {summary.created} created, {summary.updated} updated, {summary.copied} "
        f"copied, {summary.skipped} skipped, {summary.unchanged} unchanged"
    )
    return 0


def _refused() -> int:
    print("nothing imported: fix the errors above and import again", file=sys.stderr)
    return 1


def _print_plan(plan: ImportPlan) -> None:
    from app.services.importing.plan import describe

    print(f"{plan.source} ({plan.format.value}): {describe(plan)}")
    for error in plan.errors:
        where = f"row {error.row}" + (f", {error.column}" if error.column else "")
        print(f"  {where}: {error.message}", file=sys.stderr)
    losses = ((item.dataset_id, loss) for item in plan.items for loss in item.losses)
    for line in grouped(losses):
        print(f"  not carried: {line}")


def login_name(fallback: str) -> str:
    """Who a headless write is recorded as when no --author is given: the login name, as the
    window records (`fallback` where there is none)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return fallback
