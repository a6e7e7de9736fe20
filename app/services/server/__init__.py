"""The embedded HTTP service: the ASGI app and the thread that runs it under uvicorn.

The names below are imported on first use: `main.py --help` reads `runner.DEFAULT_HOST`, and
importing that module must not load Starlette and the whole catalogue with this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.services.server.app import create_app
    from app.services.server.request_log import RequestLogEntry
    from app.services.server.runner import ServerStartFailed, ServerThread, is_loopback

_FROM_APP = frozenset({"create_app"})
_FROM_REQUEST_LOG = frozenset({"RequestLogEntry"})
_FROM_RUNNER = frozenset({"ServerStartFailed", "ServerThread", "is_loopback"})


def __getattr__(name: str) -> Any:
    if name in _FROM_APP:
        from app.services.server import app

        return getattr(app, name)
    if name in _FROM_REQUEST_LOG:
        from app.services.server import request_log

        return getattr(request_log, name)
    if name in _FROM_RUNNER:
        from app.services.server import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RequestLogEntry", "ServerStartFailed", "ServerThread", "create_app", "is_loopback"]
