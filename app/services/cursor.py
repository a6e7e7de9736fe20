"""The opaque `after` cursor of the JSON-LD feed (docs/ARCHITECTURE.md: cursor).

A feed pages by keyset on `datasets.pk`: AUTOINCREMENT, never reused and never changed by an
edit. Page N+1 holds the visible datasets with a pk greater than the last one of page N, so a
harvest that follows the cursor while records are added, edited and unpublished sees every record
that stayed published exactly once: edits keep their pk, new records get larger ones, and no
offset shifts under the walker's feet.

The token is URL-safe base64 (no padding) of a version byte, the pk (8 bytes, big-endian) and the
first 16 bytes of an HMAC-SHA256 over both. The HMAC key is derived from a random secret stored
once per catalogue in `server_settings`, so tokens survive a restart, differ between catalogues,
and cannot be forged or edited by a client into another position.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.models.database import Database
from app.models.settings import ServerSetting
from app.services.errors import CatalogueError

SECRET_KEY = "cursor_secret"
_VERSION = 1
_PACKED = struct.Struct(">BQ")
_MAC_SIZE = 16
_TOKEN_SIZE = _PACKED.size + _MAC_SIZE
_MAX_TOKEN_CHARS = 64


class InvalidCursor(CatalogueError):
    """A cursor that this catalogue did not issue: malformed, truncated or tampered with."""

    code = "invalid_cursor"


class CursorCodec:
    """Issues and checks `after` tokens with one catalogue's key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a cursor key needs at least 16 bytes")
        self._key = key

    def encode(self, pk: int) -> str:
        if pk < 0 or pk >= 2**63:
            raise ValueError(f"pk out of range: {pk}")
        payload = _PACKED.pack(_VERSION, pk)
        token = payload + self._mac(payload)
        return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")

    def decode(self, token: str) -> int:
        """The pk a token stands for; InvalidCursor if this catalogue did not issue it."""
        if not token or len(token) > _MAX_TOKEN_CHARS or not token.isascii():
            raise InvalidCursor("The cursor is not valid: start again from the first page")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as error:
            raise InvalidCursor("The cursor is not valid: start again from the first page") from (
                error
            )
        if len(raw) != _TOKEN_SIZE:
            raise InvalidCursor("The cursor is not valid: start again from the first page")
        payload, mac = raw[: _PACKED.size], raw[_PACKED.size :]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidCursor("The cursor was not issued by this catalogue or was altered")
        version, pk = _PACKED.unpack(payload)
        if version != _VERSION:
            raise InvalidCursor("The cursor is from another version: start again")
        return int(pk)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_SIZE]


def derive_key(secret: str) -> bytes:
    """The cursor HMAC key, derived (not equal) so the stored secret can serve other uses later."""
    return hmac.new(
        bytes.fromhex(secret), b"catalogue-desk feed cursor v1", hashlib.sha256
    ).digest()


def load_secret(database: Database) -> str:
    """The catalogue's cursor secret, created on first use. Touches the database: not on a GUI
    thread."""
    with database.read() as session:
        stored = session.scalar(select(ServerSetting.value).where(ServerSetting.key == SECRET_KEY))
    if stored is not None:
        return stored
    try:
        with database.transaction() as session:
            # BEGIN IMMEDIATE serialises creators on SQLite; look again inside the transaction.
            stored = session.scalar(
                select(ServerSetting.value).where(ServerSetting.key == SECRET_KEY)
            )
            if stored is not None:
                return stored
            secret = secrets.token_hex(32)
            session.add(ServerSetting(key=SECRET_KEY, value=secret))
            return secret
    except IntegrityError:
        # Another process created it between our read and our insert (a server backend without
        # BEGIN IMMEDIATE): theirs wins.
        with database.read() as session:
            return session.scalars(
                select(ServerSetting.value).where(ServerSetting.key == SECRET_KEY)
            ).one()


def codec_for(database: Database) -> CursorCodec:
    return CursorCodec(derive_key(load_secret(database)))
