"""What one sync works with: its options, and the remote opened (its record here, its adapter)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from app.models.database import Database
from app.services.sync.adapter import PortalAdapter
from app.services.sync.http import HttpOptions
from app.services.sync.refused import Refused, read_token
from app.services.sync.registry import open_adapter
from app.services.sync.remotes import RemoteInfo, get_remote, remote_info, remote_key


@dataclass(frozen=True, slots=True)
class SyncOptions:
    http: HttpOptions = field(default_factory=HttpOptions)
    batch_size: int = 200  # local datasets per transaction
    full: bool = False  # ignore versions: fetch every remote dataset
    environ: Mapping[str, str] | None = None  # where `--key-env` variables are read


DEFAULT_OPTIONS = SyncOptions()


@dataclass(slots=True)
class SyncContext:
    """An opened remote: its stored info and listing token, and a ready adapter."""

    database: Database
    info: RemoteInfo
    remote_pk: int
    token: str | None  # the adapter's listing token
    adapter: PortalAdapter
    refused: Refused = field(default_factory=dict)  # datasets a pull could not hold here


@asynccontextmanager
async def open_remote(
    database: Database, name: str, options: SyncOptions
) -> AsyncIterator[SyncContext]:
    def read() -> tuple[RemoteInfo, int, str | None, str | None]:
        with database.read() as session:
            remote = get_remote(session, name)
            info = remote_info(session, name)
            pk, token = remote.pk, remote.listing_token
        # In the thread too: an OS keyring may block (a D-Bus call, an unlock prompt).
        return info, pk, token, remote_key(info, options.environ)

    info, pk, stored, key = await asyncio.to_thread(read)
    token, refused = read_token(stored)
    adapter = open_adapter(info.name, info.kind, info.base_url, key, options=options.http)
    adapter.attach_catalogue(database, pk)
    try:
        yield SyncContext(database, info, pk, token, adapter, refused)
    finally:
        await adapter.http.aclose()
