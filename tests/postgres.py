"""A throwaway PostgreSQL server for the tests that need one, from Debian's binaries.

`CATALOGUE_TEST_PG_URL` (a server URL without a database) uses an existing server instead.
Without either, the tests that need PostgreSQL are skipped with the reason; scripts/system-deps.sh
installs the binaries, so `make test` and CI run them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import create_engine, text

from app.models.database import Database


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _wait_for_logins(server: subprocess.Popen[bytes], port: int) -> None:
    """Until the server accepts a login (accepting connections comes earlier: "the database
    system is starting up"); the bound is only for a server that never gets there."""
    deadline = time.monotonic() + 120
    while True:
        try:
            psycopg.connect(host="127.0.0.1", port=port, user="postgres", connect_timeout=5).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the test PostgreSQL server did not start") from None
            time.sleep(0.05)


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """Yields a `postgresql+psycopg://...` server URL (no database), or None if none can run."""
    given = os.environ.get("CATALOGUE_TEST_PG_URL")
    if given:
        yield given.rstrip("/")
        return
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        yield None
        return
    bin_dir = os.path.dirname(found[-1])
    data = tempfile.mkdtemp(prefix="catalogue-pg-")
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    port = _free_port()
    subprocess.run(
        _as_postgres([f"{bin_dir}/initdb", "-D", data, "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        _as_postgres(
            [
                f"{bin_dir}/postgres",
                "-D",
                data,
                "-p",
                str(port),
                "-k",
                data,
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_logins(server, port)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def fresh_database(
    server_url: str, *, migrated: bool = True, template: str | None = None
) -> Iterator[Database]:
    """A new catalogue database on the server at `server_url`, dropped afterwards: empty, or
    migrated to the current schema (by copying `template`, a migrated database, if given)."""
    name = "catalogue_" + uuid.uuid4().hex[:12]
    admin = create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    copied = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copied}'))
    url = f"{server_url}/{name}"
    database = Database.open(url) if migrated else Database(url)
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}"'))
        admin.dispose()
