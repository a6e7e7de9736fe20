"""Reading many CKAN packages in few requests: `package_search` by id, a hundred at a time.

A pull fetches every changed package. One `package_show` each is one round trip each; a
`package_search` with `fq=id:("a" OR "b" ...)` answers a hundred packages in one, in the same
form (CKAN keeps each package's `package_show` dict in its search index and answers it:
`validated_data_dict`), which is how CKAN's own harvester reads another CKAN. Sent as POST (a
JSON body: a hundred ids do not fit every proxy's URL limit), several batches at once within
the client's concurrency.

What a batch does not bring back (a package deleted meanwhile, a draft the index shows only to
its creator, a batch the portal refused or garbled) is simply not read here: the caller's
`package_show` of it then says what it is, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from app.services.sync.adapter import PortalError

BATCH = 100

Call = Callable[..., Awaitable[Any]]


def id_query(ids: Sequence[str]) -> str:
    """A Solr filter matching these package ids."""
    quoted = ('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in ids)
    return f"id:({' OR '.join(quoted)})"


async def read_packages(call: Call, ids: Sequence[str], *, batch: int = BATCH) -> dict[str, Any]:
    """id -> the package as `package_show` gives it, for those of `ids` the search returns.
    `call(action, body=..., idempotent=True)` is the adapter's action call."""

    async def one(chunk: Sequence[str]) -> Mapping[str, Any]:
        body = {
            "fq": id_query(chunk),
            "rows": len(chunk),
            "include_private": True,
            "include_drafts": True,
        }
        try:
            result = await call("package_search", body=body, idempotent=True)
        except PortalError:
            return {}  # each package is then read by itself
        rows = result.get("results") if isinstance(result, dict) else None
        wanted = set(chunk)
        return {
            row["id"]: row
            for row in rows or []
            if isinstance(row, dict) and isinstance(row.get("id"), str) and row["id"] in wanted
        }

    chunks = [ids[i : i + batch] for i in range(0, len(ids), batch)]
    found: dict[str, Any] = {}
    for part in await asyncio.gather(*(one(chunk) for chunk in chunks)):
        found.update(part)
    return found
