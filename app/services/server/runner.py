"""Run the ASGI app under uvicorn in its own thread, for the GUI's server panel and the tests.

The socket is bound here, before uvicorn starts, so a port in use (or an address that cannot be
bound) is an ordinary ServerStartFailed raised by `start()` rather than a log line in another
thread. 127.0.0.1 and port 0 (any free port) are the defaults: nothing listens on the network
unless the person asks for it. `stop()` asks uvicorn to exit and joins its thread.

Shutdown (`stop()`, or SIGINT/SIGTERM for `main.py serve`) takes a few seconds whatever is
running: requests in flight get SHUTDOWN_GRACE seconds to finish, then every statement still
running is interrupted (server.limits) and uvicorn cancels what is left a second later; the
app's lifespan then closes its caches and removes their temporary folders. `make_server` builds
that uvicorn server for the thread and for the CLI alike.
"""

from __future__ import annotations

import ipaddress
import math
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Literal, TypedDict
from urllib.parse import urlsplit

from app.services.errors import CatalogueError

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp

DEFAULT_HOST = "127.0.0.1"
SHUTDOWN_GRACE = 2.0  # seconds requests in flight get before their statements are interrupted


class ForwardedOptions(TypedDict):
    proxy_headers: bool
    forwarded_allow_ips: str | None


class ServerStartFailed(CatalogueError):
    code = "server_start_failed"


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine (else the GUI warns)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_setting(text: str) -> str:
    """A public base URL as a server setting: `http(s)://host[:port][/path]`, without a query,
    a fragment or a trailing slash. ServerStartFailed if it is not one."""
    try:
        parts = urlsplit(text.strip())
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as error:
        raise ServerStartFailed(f"Not a base URL: {text!r} ({error})") from error
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username is not None
        or any(c.isspace() or ord(c) < 32 for c in text.strip())
    ):
        raise ServerStartFailed(
            f"Not a base URL: {text!r} (give http:// or https://, a host name, "
            "and optionally a port and a path)"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def bind_socket(host: str = DEFAULT_HOST, port: int = 0) -> socket.socket:
    """A bound TCP socket for uvicorn; ServerStartFailed if the address cannot be bound."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ServerStartFailed(f"Cannot listen on {host}: {error.strerror}") from error
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Lets a restarted server rebind a port still in TIME_WAIT; a port that another
        # process is listening on still fails with EADDRINUSE.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        # Listening from here: a client that connects before uvicorn has started waits in the
        # backlog instead of being refused (uvicorn listens again with its own backlog).
        sock.listen(2048)
    except OSError as error:
        sock.close()
        reason = error.strerror or str(error)
        raise ServerStartFailed(f"Cannot listen on {host} port {port}: {reason}") from error
    sock.set_inheritable(True)
    return sock


def url_for(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def forwarded_options(forwarded_allow_ips: str | None) -> ForwardedOptions:
    """uvicorn's options for X-Forwarded-For and -Proto: ignored unless the person names the
    proxies to trust (uvicorn trusts 127.0.0.1 by default, so any local process could forge
    the client address of the request log)."""
    if not forwarded_allow_ips:
        return {"proxy_headers": False, "forwarded_allow_ips": None}
    return {"proxy_headers": True, "forwarded_allow_ips": forwarded_allow_ips}


def make_server(
    app: ASGIApp,
    *,
    log_level: str = "warning",
    lifespan: Literal["auto", "on"] = "auto",
    forwarded_allow_ips: str | None = None,
) -> uvicorn.Server:
    """A uvicorn server for `app` whose shutdown is bounded (module docstring)."""
    # Imported here: the CLI reads this module for its help, which must not wait for uvicorn.
    import asyncio

    import uvicorn

    from app.services.server.limits import limits_of

    class BoundedServer(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            limits = limits_of(app)
            timer = None
            if limits is not None:
                timer = asyncio.get_running_loop().call_later(SHUTDOWN_GRACE, limits.stop)
            try:
                await super().shutdown(sockets)
            finally:
                if timer is not None:
                    timer.cancel()
                if limits is not None:
                    limits.stop()

    config = uvicorn.Config(
        app,
        **server_options(
            log_level=log_level, lifespan=lifespan, forwarded_allow_ips=forwarded_allow_ips
        ),
    )
    return BoundedServer(config)


def server_options(
    *,
    log_level: str = "warning",
    lifespan: Literal["auto", "on"] = "auto",
    forwarded_allow_ips: str | None = None,
) -> dict[str, Any]:
    """uvicorn's settings for our server, one process or several (server.workers)."""
    return {
        "log_level": log_level,
        "log_config": None,  # leave the application's logging configuration alone
        "access_log": False,  # the app's request-log hook reports requests instead
        "lifespan": lifespan,  # our app closes its caches on shutdown
        "ws": "none",
        # Then what still runs is cancelled: its statements were interrupted a second before.
        "timeout_graceful_shutdown": math.ceil(SHUTDOWN_GRACE) + 1,
        **forwarded_options(forwarded_allow_ips),
    }


class ServerThread:
    """uvicorn serving `app` on a thread of its own.

    `start()` returns once the server accepts connections (or raises ServerStartFailed);
    `url` is then where it listens. Not restartable: make a new one to serve again.
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        log_level: str = "warning",
        start_timeout: float = 10.0,
        forwarded_allow_ips: str | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self._server = make_server(
            app, log_level=log_level, forwarded_allow_ips=forwarded_allow_ips
        )
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.url = ""

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._server.started

    def start(self) -> str:
        """Bind, start serving, wait until ready; the server's URL."""
        if self._thread is not None:
            raise RuntimeError("this ServerThread was already started")
        self._socket = bind_socket(self.host, self.port)
        self.url = url_for(self._socket)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"http-server {self.url}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._close_socket()
                raise ServerStartFailed(f"The server on {self.url} stopped while starting")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartFailed(f"The server on {self.url} did not start in time")
            time.sleep(0.01)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to finish (open requests get a grace period) and join its thread."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._close_socket()

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
