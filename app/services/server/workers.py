"""`main.py serve --workers N`: the server as N uvicorn worker processes on one socket.

uvicorn's own supervisor (`uvicorn.supervisors.Multiprocess`) runs the workers: it starts them
(spawned, each importing `create_worker_app` by name and calling it), stops them on SIGINT and
SIGTERM, replaces them all on SIGHUP and replaces one that dies. This module only prepares what
they share and hands it over:

- the socket, bound by the caller (runner.bind_socket) before any worker starts, so that a port
  in use is an error the command reports;
- the settings (`WorkerSettings`), written as JSON into the shared folder (private to this user,
  0700) and named by the environment variable SETTINGS_VARIABLE, which the workers inherit;
- the shared folder itself (dump_cache.SharedDumps): made before the workers start, removed when
  the supervisor returns; it holds the dumps rendered once for all workers.

Each worker opens its own connections (SQLite in WAL mode, or PostgreSQL) and keeps its own
fragment store, feed page cache and quota counts (per process: a caller may get a quota's limit
from each worker). The catalogue was opened (and migrated) by the supervisor before they start.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.services import scratch
from app.services.dump_cache import SharedDumps
from app.services.server.runner import SHUTDOWN_GRACE, server_options

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from app.services.server.limits import QueryLimits

SETTINGS_VARIABLE = "CATALOGUE_DESK_WORKER_SETTINGS"
SETTINGS_NAME = "worker-settings.json"
APP_FACTORY = "app.services.server.workers:create_worker_app"
WORKER_HEALTHCHECK_S = 30


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """What each worker needs to make the same app (plain values: they travel as JSON)."""

    database_url: str
    shared_folder: str
    epoch: str  # of the catalogue states, the same in every worker (dump_cache.VersionWatcher)
    base_url: str | None = None
    admin_email: str | None = None
    quotas: dict[str, Any] | None = None  # QuotaSettings' fields
    log_requests: bool = True

    @classmethod
    def read(cls, path: Path) -> WorkerSettings:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def create_worker_app() -> Starlette:
    """The app of one worker, from the settings its supervisor left (uvicorn calls it in each
    worker process: `factory=True`)."""
    from app.models.database import Database
    from app.services.server.app import create_app
    from app.services.server.limits import limits_of
    from app.services.server.quotas import QuotaSettings
    from app.services.server.request_log import print_entry

    settings = WorkerSettings.read(Path(os.environ[SETTINGS_VARIABLE]))
    database = Database(settings.database_url)  # the supervisor migrated it already
    app = create_app(
        database,
        base_url=settings.base_url,
        on_request=print_entry if settings.log_requests else None,
        oai_admin_email=settings.admin_email,
        quotas=QuotaSettings(**settings.quotas) if settings.quotas is not None else None,
        shared_dumps=SharedDumps(Path(settings.shared_folder), settings.epoch),
    )
    limits = limits_of(app)
    if limits is not None:
        _bound_shutdown(limits)
    return app


def _bound_shutdown(limits: QueryLimits) -> None:
    """Interrupt the statements still running SHUTDOWN_GRACE seconds after the worker is asked
    to stop, as runner.make_server's server does for one process. uvicorn calls the factory
    once its own signal handlers are in place: they are chained, not replaced."""
    if threading.current_thread() is not threading.main_thread():
        return
    for number in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(number)
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            timer = threading.Timer(SHUTDOWN_GRACE, limits.stop)
            timer.daemon = True
            timer.start()
            previous(signum, frame)

        signal.signal(number, handler)


def serve_workers(
    sock: socket.socket,
    workers: int,
    settings: WorkerSettings,
    *,
    forwarded_allow_ips: str | None = None,
) -> None:
    """Serve on `sock` with `workers` processes until SIGINT or SIGTERM; `settings`'
    shared_folder and epoch are filled in here. Returns once every worker has stopped."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    folder = scratch.private_folder("catalogue-dumps-")
    try:
        path = folder / SETTINGS_NAME
        shared = {"shared_folder": str(folder), "epoch": secrets.token_hex(4)}
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({**asdict(settings), **shared}, handle)
        os.environ[SETTINGS_VARIABLE] = str(path)  # inherited by the spawned workers
        config = uvicorn.Config(
            APP_FACTORY,
            factory=True,
            workers=workers,
            # A new worker may take longer than uvicorn's 5 s to start on a busy machine: a
            # SIGHUP would then keep the old ones, and a slow ping kill a live one.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
            **server_options(lifespan="on", forwarded_allow_ips=forwarded_allow_ips),
        )
        Multiprocess(config, sockets=[sock]).run()
    finally:
        os.environ.pop(SETTINGS_VARIABLE, None)
        scratch.remove(folder)
