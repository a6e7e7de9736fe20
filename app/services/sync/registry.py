"""Adapters by portal kind: the one place the sync service looks a kind up.

How to use it: an adapter module registers its class at import time::

    from app.services.sync.registry import register
    register(OpendatasoftAdapter)          # keyed by OpendatasoftAdapter.kind

and is listed in `_BUILTIN` below so that `adapter_class("opendatasoft")` imports it on demand
(a kind whose module fails to import is reported as unknown, with the import error).
`open_adapter(remote_name, kind, base_url, key)` builds the adapter over a fresh PortalHttp;
close it with `await adapter.http.aclose()` (or use it as `async with adapter.http:`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from app.services.errors import ValidationFailed

if TYPE_CHECKING:  # httpx and SQLAlchemy are imported when a sync runs, not by `main.py --help`
    from app.services.sync.adapter import PortalAdapter
    from app.services.sync.http import HttpOptions

# kind -> module that registers it when imported
_BUILTIN: dict[str, str] = {
    "datapress": "app.services.sync.datapress",
    "opendatasoft": "app.services.sync.opendatasoft",
    "ckan": "app.services.sync.ckan",
}
_ADAPTERS: dict[str, type[PortalAdapter]] = {}


def register(adapter: type[PortalAdapter]) -> type[PortalAdapter]:
    """Make `adapter` the one for its `kind` (usable as a class decorator)."""
    _ADAPTERS[adapter.kind] = adapter
    return adapter


def kinds() -> tuple[str, ...]:
    """Every kind a remote may have (the `--kind` choices)."""
    return tuple(sorted(set(_BUILTIN) | set(_ADAPTERS)))


def adapter_class(kind: str) -> type[PortalAdapter]:
    if kind not in _ADAPTERS and kind in _BUILTIN:
        try:
            importlib.import_module(_BUILTIN[kind])
        except ImportError as error:
            raise ValidationFailed(
                {"kind": f"the {kind} adapter is not available ({error})"}, subject="remote"
            ) from error
    try:
        return _ADAPTERS[kind]
    except KeyError:
        raise ValidationFailed(
            {"kind": f"unknown portal kind {kind!r}; one of {', '.join(kinds())}"},
            subject="remote",
        ) from None


def open_adapter(
    remote_name: str,
    kind: str,
    base_url: str,
    key: str | None,
    *,
    options: HttpOptions | None = None,
) -> PortalAdapter:
    """The adapter for `kind` talking to `base_url` with `key` (None: anonymous)."""
    from app.services.sync.http import PortalHttp

    cls = adapter_class(kind)
    headers = cls.auth_headers(key) if key else {}
    http = PortalHttp(base_url, remote=remote_name, headers=headers, options=options)
    return cls(remote_name, http)
