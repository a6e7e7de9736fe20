"""The probe of issue 16 as a test (item 6): schemathesis over /api/openapi.json against a real
server on a catalogue with API keys and real dataset ids, every check on, bounded (at most
`MAX_EXAMPLES` cases per operation, a fixed seed, deterministic generation, no example
database): 0 server errors, 0 schema violations.

Schemathesis runs as its command line in a child process (its own event loop and threads, far
from the server's), over a copy of the served document whose `dataset_id` parameter lists the
catalogue's real ids as examples, so the examples phase reaches real datasets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import Catalogue, ServeFactory

pytestmark = pytest.mark.slow  # a few minutes: schemathesis over every operation

MAX_EXAMPLES = 50
SEED = 16
TIMEOUT = 600  # a bound for a run that hangs, not a speed


def _document(url: str, catalogue: Catalogue, folder: Path) -> Path:
    document = httpx.get(f"{url}/api/openapi.json", timeout=20).json()
    ids = [*catalogue.public, catalogue.private, catalogue.team_draft, catalogue.draft]
    parameter = document["components"]["parameters"]["datasetId"]
    parameter["examples"] = {f"d{n}": {"value": i} for n, i in enumerate(ids)}
    path = folder / "openapi.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _run(url: str, document: Path, folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        str(document),
        "--url",
        url,
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--workers",
        "1",
        "--no-color",
        "--request-timeout",
        "30",
        *options,
    ]
    return subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


@pytest.mark.parametrize("who", ["anonymous", "team member"])
def test_schemathesis_finds_nothing_outside_patch(
    serve: ServeFactory, catalogue: Catalogue, tmp_path: Path, who: str
) -> None:
    server = serve()
    document = _document(server.url, catalogue, tmp_path)
    # A query language is more than a JSON Schema can say: a string the schema allows may be
    # a malformed query, whose 400 says where (seed 003's q). Every other check stays on.
    (tmp_path / "schemathesis.toml").write_text(
        "[[operations]]\n"
        'include-path-regex = "^/api/datasets/1\\\\.0/search"\n'
        "[operations.checks.positive_data_acceptance]\n"
        'expected-statuses = ["2XX", "400", "401", "403", "404", "409"]\n',
        encoding="utf-8",
    )
    key = ["-H", f"Authorization: {catalogue.bob}"] if who == "team member" else []
    # The Opendatasoft paths without their final slash are the same handlers as with it
    # (test_opendatasoft_api compares them): fuzzed once, under their slash.
    aliases = ["--exclude-path-regex", r"^/api/datasets/1\.0/[^/]+$"]
    result = _run(server.url, document, tmp_path, "--exclude-method", "PATCH", *aliases, *key)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]


def test_schemathesis_finds_nothing_in_patch(
    serve: ServeFactory, catalogue: Catalogue, tmp_path: Path
) -> None:
    server = serve()
    document = _document(server.url, catalogue, tmp_path)
    # A patch can be valid JSON Patch (all the schema can say) and still be refused by the
    # record: replacing the whole record changes its immutable fields, a pointer names no
    # member. Those are 422s naming the pointer (json_patch, field table), the answer RFC 5789
    # gives for a well-formed patch that cannot be applied; every other check stays on, and a
    # 5xx or a schema violation still fails.
    (tmp_path / "schemathesis.toml").write_text(
        "[checks.positive_data_acceptance]\n"
        'expected-statuses = ["2XX", "401", "403", "404", "409", "412", "422"]\n',
        encoding="utf-8",
    )
    key = ["-H", f"Authorization: {catalogue.bob}"]
    options = ("--include-method", "PATCH", "--continue-on-failure", *key)
    result = _run(server.url, document, tmp_path, *options)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
