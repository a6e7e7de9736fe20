"""`python main.py serve`: publish the catalogue over HTTP from a workstation with no screen."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from typing import Any

from app.services.server.quotas import (
    DEFAULT_ANONYMOUS_LIMIT,
    DEFAULT_KEY_LIMIT,
    DEFAULT_PERIOD,
    PERIODS,
    QuotaSettings,
    quotas_for,
)
from app.services.server.runner import (
    DEFAULT_HOST,
    ServerStartFailed,
    base_url_setting,
    bind_socket,
    is_loopback,
    make_server,
    url_for,
)


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `serve` sub-command to the CLI's sub-parsers."""
    serve: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="serve the catalogue's bulk exports and APIs over HTTP"
    )
    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: this machine only)",
    )
    serve.add_argument(
        "--port", type=int, default=8080, help="port to listen on, 0 for any (default 8080)"
    )
    serve.add_argument(
        "--base-url",
        "--public-url",
        dest="base_url",
        metavar="URL",
        help="public base of every URL the server writes, e.g. https://data.example.org "
        "when clients reach it through a proxy or a name (default: the catalogue's public URL, "
        "else the address it listens on; the Host header of a request is never used)",
    )
    serve.add_argument(
        "--save-public-url",
        action="store_true",
        help="keep --public-url in the catalogue: the window's server and every export "
        "(their `webpage` links) then use it too",
    )
    serve.add_argument(
        "--admin-email",
        metavar="ADDRESS",
        help="the address OAI-PMH's Identify gives harvesters to write to (default: a "
        "placeholder, admin@example.invalid)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="comma-separated addresses of proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto headers are believed for the request log and the quotas "
        "(default: none)",
    )
    quotas = serve.add_argument_group(
        "quotas",
        "calls each caller may make a period (seed 003): on by default unless --host is "
        "loopback; any --quota-* option turns them on there too. The call past the limit is "
        "a 429 saying when the period ends",
    )
    quotas.add_argument(
        "--quota-anonymous",
        type=_count,
        metavar="N",
        help=f"calls a period for each client address without an API key "
        f"(default {DEFAULT_ANONYMOUS_LIMIT}; 0: API keys only)",
    )
    quotas.add_argument(
        "--quota-key",
        type=_count,
        metavar="N",
        help=f"calls a period for each API key (default {DEFAULT_KEY_LIMIT})",
    )
    quotas.add_argument(
        "--quota-period",
        choices=list(PERIODS),
        help=f"the period, aligned to UTC (default {DEFAULT_PERIOD})",
    )
    quotas.add_argument("--no-quotas", action="store_true", help="count no calls")
    serve.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="serve with N processes on the one port (uvicorn's workers; default 1). Each "
        "opens its own connections; dumps are rendered once for all; SIGHUP restarts them, "
        "and one that dies is replaced",
    )
    serve.add_argument("--quiet", action="store_true", help="do not log each request")
    return serve


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a number of workers: {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"not a number of calls: {text!r}")
    return value


def quota_settings(args: argparse.Namespace) -> QuotaSettings | None:
    """The quotas `serve` was asked for (see its --help)."""
    given = {
        "anonymous_limit": args.quota_anonymous,
        "key_limit": args.quota_key,
        "period": args.quota_period,
    }
    given = {name: value for name, value in given.items() if value is not None}
    if args.no_quotas and given:
        raise ServerStartFailed("--no-quotas and --quota-* options contradict each other")
    enabled = False if args.no_quotas else (True if given else None)
    return quotas_for(args.host, QuotaSettings(**given), enabled=enabled)


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C). Raises CatalogueError (e.g. port in use) to the CLI."""
    from app.services.catalogue_files import catalogue_location, open_database
    from app.services.public_url import set_public_url
    from app.services.server.app import create_app
    from app.services.server.request_log import print_entry

    base_url = base_url_setting(args.base_url) if args.base_url else None
    if args.save_public_url and base_url is None:
        raise ServerStartFailed("--save-public-url needs --public-url URL")
    database = open_database(args.db)
    try:
        # Without --public-url, the app uses the catalogue's own (services.public_url).
        if args.save_public_url:
            with database.transaction() as session:
                set_public_url(session, base_url)
        sock = bind_socket(args.host, args.port)
        url = url_for(sock)
        quotas = quota_settings(args)
        if args.workers > 1:
            server = None
        else:
            app = create_app(
                database,
                base_url=base_url,
                on_request=None if args.quiet else print_entry,
                oai_admin_email=args.admin_email,
                quotas=quotas,
            )
            server = make_server(app, lifespan="on", forwarded_allow_ips=args.forwarded_allow_ips)
        if not is_loopback(args.host):
            print(
                f"warning: listening on {args.host}: other machines can reach this catalogue",
                file=sys.stderr,
            )
        where = catalogue_location(database.url)  # never a password on the terminal
        workers = f" with {args.workers} workers" if server is None else ""
        print(f"serving {where} at {url}{workers} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        if base_url is not None:
            print(f"URLs in the output start with {base_url}", file=sys.stderr)
        if quotas is not None:
            print(
                f"quotas: {quotas.anonymous_limit} calls a {quotas.period} per client address, "
                f"{quotas.key_limit} per API key (--no-quotas to serve without)",
                file=sys.stderr,
            )
        if server is None:
            database.dispose()  # opened to check and migrate it: each worker opens its own
            _serve_workers(args, sock, database.url, base_url, quotas)
            print("stopped", file=sys.stderr)
            return 0
        # uvicorn shuts down on SIGTERM, then raises it again: end as Ctrl-C does, so that the
        # process exits normally and removes its temporary folders.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            # uvicorn shuts down gracefully on Ctrl-C, then re-raises the signal it captured.
            pass
        finally:
            sock.close()
        print("stopped", file=sys.stderr)
    finally:
        database.dispose()
    return 0


def _serve_workers(
    args: argparse.Namespace,
    sock: socket.socket,
    database_url: str,
    base_url: str | None,
    quotas: QuotaSettings | None,
) -> None:
    """`serve --workers N` (server.workers): uvicorn's supervisor until SIGINT or SIGTERM."""
    from app.services.server.workers import WorkerSettings, serve_workers

    settings = WorkerSettings(
        database_url,
        shared_folder="",  # made by serve_workers
        epoch="",
        base_url=base_url,
        admin_email=args.admin_email,
        quotas=None
        if quotas is None
        else {
            "anonymous_limit": quotas.anonymous_limit,
            "key_limit": quotas.key_limit,
            "period": quotas.period,
        },
        log_requests=not args.quiet,
    )
    try:
        serve_workers(sock, args.workers, settings, forwarded_allow_ips=args.forwarded_allow_ips)
    finally:
        sock.close()


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt
