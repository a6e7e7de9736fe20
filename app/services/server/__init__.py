"""The embedded HTTP service: the ASGI app and the thread that runs it under uvicorn."""

from app.services.server.app import RequestLogEntry, create_app
from app.services.server.runner import ServerStartFailed, ServerThread, is_loopback

__all__ = ["RequestLogEntry", "ServerStartFailed", "ServerThread", "create_app", "is_loopback"]
