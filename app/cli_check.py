"""`python main.py check-harvest --url URL`: the harvest self-test of a running server, for
scripts (services.harvest_check; the window's Check harvesters shows the same report).

Prints the plain-text report; exits 1 if any check found an error, 0 otherwise (warnings
included). The parser imports nothing heavy: httpx, rdflib and pyshacl load when it runs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

CHECK_COMMAND = "check-harvest"


def add_check_parser(subparsers: Any) -> argparse.ArgumentParser:
    check: argparse.ArgumentParser = subparsers.add_parser(
        CHECK_COMMAND,
        help="check that harvesters can read a running server (OAI-PMH, DCAT-AP, schema.org, "
        "incremental feeds)",
    )
    check.add_argument(
        "--url", required=True, help="the server's address, e.g. http://127.0.0.1:8080"
    )
    check.add_argument(
        "--max-records",
        type=int,
        default=100_000,
        metavar="N",
        help="stop the OAI-PMH and feed walks after N records (default 100000)",
    )
    check.add_argument(
        "--timeout", type=float, default=20.0, metavar="S", help="seconds a request may take"
    )
    return check


def run_check(args: argparse.Namespace) -> int:
    from app.services.harvest_check.findings import Level
    from app.services.harvest_check.http import Limits
    from app.services.harvest_check.run import run_checks

    limits = Limits(timeout_s=args.timeout, max_records=args.max_records)
    report = run_checks(args.url, limits=limits)
    sys.stdout.write(report.text())
    return 1 if report.level is Level.ERROR else 0
