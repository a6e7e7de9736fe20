"""The opaque `after` cursor of the JSON-LD feed (docs/ARCHITECTURE.md: cursor).

A feed pages by keyset on `datasets.pk`: AUTOINCREMENT, never reused and never changed by an
edit. Page N+1 holds the visible datasets with a pk greater than the last one of page N, so a
harvest that follows the cursor while records are added, edited and unpublished sees every record
that stayed published exactly once: edits keep their pk, new records get larger ones, and no
offset shifts under the walker's feet.

The token is URL-safe base64 (no padding) of a version byte, a 16-byte tag and the pk encrypted
(8 bytes), by the SIV construction with HMAC-SHA256: the tag is a MAC of the pk, and the pk is
XORed with a keystream drawn from the tag. So the token is opaque as well as unforgeable: a
signed but readable pk told an anonymous harvester how many rows (hidden ones included) lie
before its position, and the order of any two cursors. Equal positions still give equal tokens
(deterministic), which shows nothing a harvester does not already know. Both keys are derived
from a random secret stored once per catalogue in `server_settings`, so tokens survive a
restart, differ between catalogues, and cannot be forged or edited into another position.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.models.database import Database
from app.models.settings import ServerSetting
from app.services.errors import CatalogueError

SECRET_KEY = "cursor_secret"
_VERSION = 2  # 1: the pk in clear with an HMAC
_PK = struct.Struct(">Q")
_MAC_SIZE = 16
_TOKEN_SIZE = 1 + _MAC_SIZE + _PK.size
_INVALID = "The cursor is not valid: start again from the first page"
# The form of every token: base64url, without padding, of _TOKEN_SIZE bytes.
TOKEN_PATTERN = "^[A-Za-z0-9_-]{" + str(-(-_TOKEN_SIZE * 4 // 3)) + "}$"


class InvalidCursor(CatalogueError):
    """A cursor that this catalogue did not issue: malformed, truncated or tampered with."""

    code = "invalid_cursor"


class UnknownCursor(InvalidCursor):
    """A cursor of the right form that this catalogue did not issue (tampered with, from
    another catalogue or version): no page is at it, so a 404. The form itself
    (`TOKEN_PATTERN`, which the OpenAPI document states) is all a client can check."""

    code = "unknown_cursor"


class CursorCodec:
    """Issues and checks `after` tokens with one catalogue's key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a cursor key needs at least 16 bytes")
        self._mac_key = hmac.new(key, b"mac", hashlib.sha256).digest()
        self._stream_key = hmac.new(key, b"encrypt", hashlib.sha256).digest()

    def encode(self, pk: int) -> str:
        if pk < 0 or pk >= 2**63:
            raise ValueError(f"pk out of range: {pk}")
        plain = _PK.pack(pk)
        tag = self._tag(plain)
        token = bytes([_VERSION]) + tag + _xor(plain, self._stream(tag))
        return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")

    def decode(self, token: str) -> int:
        """The pk a token stands for; InvalidCursor if this catalogue did not issue it."""
        if not re.fullmatch(TOKEN_PATTERN[1:-1], token):
            raise InvalidCursor(_INVALID)
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as error:
            raise InvalidCursor(_INVALID) from error
        if len(raw) != _TOKEN_SIZE:
            raise InvalidCursor(_INVALID)
        if raw[0] != _VERSION:
            raise UnknownCursor("The cursor is from another version: start again")
        tag, sealed = raw[1 : 1 + _MAC_SIZE], raw[1 + _MAC_SIZE :]
        plain = _xor(sealed, self._stream(tag))
        if not hmac.compare_digest(tag, self._tag(plain)):
            raise UnknownCursor("The cursor was not issued by this catalogue or was altered")
        (pk,) = _PK.unpack(plain)
        if pk >= 2**63:
            raise UnknownCursor(_INVALID)
        return int(pk)

    def _tag(self, plain: bytes) -> bytes:
        return hmac.new(self._mac_key, bytes([_VERSION]) + plain, hashlib.sha256).digest()[
            :_MAC_SIZE
        ]

    def _stream(self, tag: bytes) -> bytes:
        return hmac.new(self._stream_key, tag, hashlib.sha256).digest()[: _PK.size]


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


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
