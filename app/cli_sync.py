"""`python main.py remote ...`, `pull NAME`, `push NAME`: sync with hosted portals, headless.

    remote add NAME --kind datapress|opendatasoft|ckan --url URL
               [--key-stdin | --key-file PATH | --key-env VAR]
    remote list
    remote remove NAME
    remote test NAME
    pull NAME [--dry-run] [--full] [--resolve mine|theirs]
    push NAME [--dry-run] [--resolve mine|theirs]

A key is never taken on the command line (it would land in the shell's history):
`--key-stdin` reads it once from standard input and keeps it in the OS keyring; where there is
no keyring, `--key-file PATH` names a file only you may read (mode 600; refused otherwise), read
on every run; `--key-env VAR` names an environment variable read on every run (the key then sits
in the process environment). Without any the remote is used anonymously. A key that would go
over plain http:// to another machine is warned about (on standard error) whenever it is used.

Every sync prints its preview first. A conflict is listed (base, here, remote) and the command
exits 1, having applied everything else and touched neither side's conflicting fields; so does
a dataset that failed. `--resolve mine|theirs` settles every conflict one way. Errors (a
portal down, a key refused, a malformed answer) exit 2 with the message, naming the dataset.
A client of services.sync, like the GUI.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from app.services.sync import registry

if TYPE_CHECKING:  # SQLAlchemy and httpx load when a command runs, not for --help
    from app.models.database import Database
    from app.services.sync.plan import SyncPlan, SyncResult

SYNC_COMMANDS = ("remote", "pull", "push")
MAX_LINES = 100  # datasets listed in a preview without --verbose


def add_sync_parsers(commands: Any) -> list[argparse.ArgumentParser]:
    """Add `remote`, `pull` and `push` to the CLI's sub-parsers; the parsers that take `--db`."""
    remote: argparse.ArgumentParser = commands.add_parser(
        "remote", help="manage the portals this catalogue syncs with"
    )
    actions = remote.add_subparsers(dest="remote_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a remote portal")
    add.add_argument("name")
    add.add_argument("--kind", required=True, choices=registry.kinds())
    add.add_argument("--url", required=True, help="the portal's base URL")
    key = add.add_mutually_exclusive_group()
    key.add_argument(
        "--key-env",
        metavar="VAR",
        help="read the API key from this environment variable on every run "
        "(nothing is stored; for scheduled jobs, or where there is no OS keyring)",
    )
    key.add_argument(
        "--key-stdin",
        action="store_true",
        help="read the API key from standard input once and keep it in the OS keyring",
    )
    key.add_argument(
        "--key-file",
        metavar="PATH",
        help="read the API key from this file on every run (the first line; the file must be "
        "yours and readable by you alone: chmod 600)",
    )
    listing = actions.add_parser("list", help="list the remotes")
    remove = actions.add_parser("remove", help="forget a remote (its datasets stay here)")
    remove.add_argument("name")
    test = actions.add_parser("test", help="reach a remote and say what its key may do")
    test.add_argument("name")

    pull = commands.add_parser("pull", help="bring a remote's changes into this catalogue")
    push = commands.add_parser("push", help="send this catalogue's changes to a remote")
    for parser in (pull, push):
        parser.add_argument("name", help="the remote")
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would happen, write nothing"
        )
        parser.add_argument(
            "--verbose", action="store_true", help="list every dataset and every field not carried"
        )
        parser.add_argument(
            "--resolve",
            choices=("mine", "theirs"),
            help="settle every conflict by keeping this catalogue's value or the remote's",
        )
    pull.add_argument(
        "--full", action="store_true", help="read every remote dataset, not just changed ones"
    )
    return [remote, add, listing, remove, test, pull, push]


def run_sync(args: argparse.Namespace) -> int:
    """Run a sync command; CatalogueError (a portal error included) goes up to the CLI."""
    from app.services.catalogue_files import open_database

    database = open_database(args.db)
    try:
        name = None if args.command == "remote" else args.name
        if args.command == "remote" and args.remote_command == "test":
            name = args.name
        if name is not None:
            _warn_plain_http(database, name)
        if args.command == "remote":
            return _remote(database, args)
        return _sync(database, args)
    finally:
        database.dispose()


def _remote(database: Database, args: argparse.Namespace) -> int:
    import asyncio

    from app.services.sync import remotes

    out = sys.stdout
    if args.remote_command == "add":
        key = _read_key() if args.key_stdin else None
        with database.transaction() as session:
            info = remotes.add_remote(
                session,
                args.name,
                args.kind,
                args.url,
                key=key,
                key_env=args.key_env,
                key_file=args.key_file,
            )
        print(f"added {info.name} ({info.kind}, {info.base_url}; {info.key_description})", file=out)
        warning = remotes.plain_http_warning(info.base_url, info.key_source)
        if warning:
            print(warning, file=sys.stderr)
        return 0
    if args.remote_command == "list":
        with database.read() as session:
            infos = remotes.list_remotes(session)
        for info in infos:
            synced = info.last_synced_at or "never"
            print(
                f"{info.name}\t{info.kind}\t{info.base_url}\t{info.key_description}\t"
                f"{info.linked} linked\tlast synced {synced}",
                file=out,
            )
        return 0
    if args.remote_command == "remove":
        with database.transaction() as session:
            remotes.remove_remote(session, args.name)
        print(f"removed {args.name}", file=out)
        return 0
    access = asyncio.run(remotes.test_connection(database, args.name))
    print(access.summary(), file=out)
    for note in access.notes:
        print(f"  {note}", file=out)
    return 0 if access.reachable and access.read else 1


def _warn_plain_http(database: Database, name: str) -> None:
    from app.services.errors import NotFound
    from app.services.sync import remotes

    try:
        with database.read() as session:
            info = remotes.remote_info(session, name)
    except NotFound:
        return  # the command itself says so
    warning = remotes.plain_http_warning(info.base_url, info.key_source)
    if warning:
        print(warning, file=sys.stderr)


def _read_key() -> str:
    key = getpass.getpass("API key: ") if sys.stdin.isatty() else sys.stdin.readline()
    key = key.strip()
    if not key:
        raise SystemExit("error: no key on standard input")
    return key


def _sync(database: Database, args: argparse.Namespace) -> int:
    import asyncio

    from app.services.progress import Progress
    from app.services.sync import engine
    from app.services.sync.context import SyncOptions
    from app.services.sync.plan import KEEP_MINE, TAKE_THEIRS, Resolution

    out = sys.stdout
    progress = Progress(_progress_printer(sys.stderr))
    options = SyncOptions(full=getattr(args, "full", False))
    planner = engine.plan_pull if args.command == "pull" else engine.plan_push
    plan = asyncio.run(planner(database, args.name, progress=progress, options=options))
    print_plan(plan, out, verbose=args.verbose)
    if args.dry_run:
        return 1 if plan.conflicts else 0
    resolutions: dict[tuple[str, str], Resolution] = {}
    if args.resolve:
        choice = KEEP_MINE if args.resolve == "mine" else TAKE_THEIRS
        resolutions = {(item.key, c.unit): choice for item, c in plan.conflicts}
    result = asyncio.run(
        engine.apply(database, plan, resolutions, progress=progress, options=options)
    )
    print_result(result, out, verbose=args.verbose)
    return 0 if result.ok else 1


def _progress_printer(stream: TextIO) -> Any:
    if not stream.isatty():
        return None

    def report(done: int, total: int) -> None:
        if total:
            print(f"\r{done}/{total}", end="", file=stream, flush=True)

    return report


def _value(value: Any) -> str:
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= 200 else text[:197] + "..."


def print_plan(plan: SyncPlan, out: TextIO, *, verbose: bool = False) -> None:
    print(plan.summary(), file=out)
    shown = [item for item in plan.items if item.local or item.remote or item.notes]
    for item in shown if verbose else shown[:MAX_LINES]:
        print(f"  {item.describe()}", file=out)
    if not verbose and len(shown) > MAX_LINES:
        print(f"  ... and {len(shown) - MAX_LINES} more (--verbose lists them all)", file=out)
    if plan.pending:
        other = "push" if plan.direction == "pull" else "pull"
        print(f"  {plan.pending} dataset(s) have changes for a {other}", file=out)
    for item, conflict in plan.conflicts:
        print(f"CONFLICT {item.dataset_id or item.remote_id} {conflict.unit}", file=out)
        print(f"  base:   {_value(conflict.base)}", file=out)
        print(f"  here:   {_value(conflict.local)}", file=out)
        print(f"  remote: {_value(conflict.remote)}", file=out)
    for line in plan.report.lines() if verbose else plan.report.grouped():
        print(f"  not carried: {line}", file=out)


def print_result(result: SyncResult, out: TextIO, *, verbose: bool = False) -> None:
    print(result.summary(), file=out)
    for line in result.report.lines() if verbose else result.report.grouped():
        print(f"  not carried: {line}", file=out)
    for key, unit in result.unresolved:
        print(f"  conflict left alone: {key} {unit}", file=out)
    for failure in result.failures:
        print(f"  failed: {failure.key}: {failure.message}", file=out)
