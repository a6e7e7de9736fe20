"""A fake portal as a real HTTP server: an ASGI app on a loopback port, in its own thread.

How to use it::

    from tests.fakes.server import FakeServer

    with FakeServer(my_starlette_app) as server:      # binds 127.0.0.1, port 0
        server.url                                     # "http://127.0.0.1:PORT"
        server.faults.add(Fault("429", times=3))       # tests.fakes.faults switches
        ...                                            # talk to it with any HTTP client
        server.faults.requests("GET", "/api/dataset/") # what it was asked

or `server = FakeServer(app).start()` / `server.stop()` (e.g. in a pytest fixture). Built on
app.services.server.runner (the socket is bound before uvicorn starts, a ready wait, a clean
stop), so a fake is served exactly as the real server is. Each fake portal module
(tests/fakes/datapress.py, opendatasoft.py, ckan.py) builds its app and hands it to this class.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from app.services.server.runner import ServerThread
from tests.fakes.faults import FaultMiddleware, Faults


class FakeServer:
    """`app` behind `faults`, served by uvicorn on 127.0.0.1 in a thread."""

    def __init__(self, app: ASGIApp, faults: Faults | None = None) -> None:
        self.faults = faults if faults is not None else Faults()
        self.app = app
        self._thread = ServerThread(FaultMiddleware(app, self.faults))
        self.url = ""

    def start(self) -> FakeServer:
        self.url = self._thread.start()
        return self

    def stop(self) -> None:
        self.faults.release()  # a held answer must not keep the server from stopping
        self._thread.stop()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
