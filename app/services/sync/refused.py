"""Remote datasets a pull could not hold here, remembered so that each is shown once and not
fetched again until it changes there.

A dataset the portal holds but our record cannot (a value validation refuses) is listed in the
pull preview with the reason, and the listing token still advances past it: the pull is not a
failure. Its remote id, version and reason are kept with the listing token (the remote's
`listing_token` column holds both: `stored_token`/`read_token`), so the next pull skips it while
its version is unchanged, and reads it again as soon as it changes.
"""

from __future__ import annotations

from typing import Any

import orjson

# remote id -> (the version refused, why)
Refused = dict[str, tuple[str | None, str]]

_PREFIX = "refused+"


def stored_token(token: str | None, refused: Refused) -> str | None:
    """What to store: the adapter's token alone, or with the refused datasets."""
    if not refused:
        return token
    body = {"token": token, "refused": {k: [v, why] for k, (v, why) in refused.items()}}
    return _PREFIX + orjson.dumps(body).decode()


def read_token(stored: str | None) -> tuple[str | None, Refused]:
    """The adapter's token and the refused datasets, from what `stored_token` stored (a token
    stored before is the adapter's own)."""
    if not stored or not stored.startswith(_PREFIX):
        return stored, {}
    try:
        body: Any = orjson.loads(stored[len(_PREFIX) :])
    except orjson.JSONDecodeError:
        return None, {}
    if not isinstance(body, dict):
        return None, {}
    token = body.get("token")
    refused: Refused = {}
    entries = body.get("refused")
    for remote_id, entry in (entries if isinstance(entries, dict) else {}).items():
        if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], str):
            version = entry[0] if isinstance(entry[0], str) else None
            refused[str(remote_id)] = (version, entry[1])
    return (token if isinstance(token, str) else None), refused
