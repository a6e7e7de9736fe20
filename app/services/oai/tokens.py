"""OAI-PMH resumptionTokens: the rest of a list, opaque and unforgeable.

A token holds what the list was asked for (verb, metadataPrefix, from, until, set), the
position of its last record as a keyset (datestamp, kind, key: services.oai.selection), how many
records came before the next page (the `cursor` attribute), the size counted on the first page
(`completeListSize`) and when it was issued. It is sealed as services.cursor seals the feed's
`after`: the same catalogue secret (a key derived for this use), an HMAC-SHA256 tag of the
payload that is also the seed of the keystream that hides it (SIV). So a harvester can neither
read nor edit a position, a token of another catalogue does not open here, and a token older
than `LIFETIME` is refused: each is badResumptionToken.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass

import orjson

from app.services.oai.protocol import OaiError

LIFETIME_S = 7 * 86_400  # a harvester may pause for days; positions stay valid that long
_VERSION = 1
_TAG = 16


@dataclass(frozen=True, slots=True)
class Position:
    """The last record a page held: its datestamp (ISO UTC, ms), kind (0 a dataset, 1 a
    deleted record) and key (the dataset's pk, or the deleted record's id)."""

    at: str
    kind: int
    key: int | str


@dataclass(frozen=True, slots=True)
class Resumption:
    verb: str
    prefix: str
    since: str | None
    until: str | None
    set_spec: str | None
    position: Position
    cursor: int  # records sent before the next page
    size: int  # completeListSize, counted on the first page
    issued: int  # Unix seconds


def derive_key(secret: str) -> bytes:
    return hmac.new(bytes.fromhex(secret), b"catalogue-desk oai token v1", hashlib.sha256).digest()


class TokenCodec:
    def __init__(self, key: bytes, lifetime_s: int = LIFETIME_S) -> None:
        self._mac = hmac.new(key, b"mac", hashlib.sha256).digest()
        self._stream_key = hmac.new(key, b"encrypt", hashlib.sha256).digest()
        self.lifetime_s = lifetime_s

    def encode(self, token: Resumption) -> str:
        p = token.position
        plain = orjson.dumps(
            [
                token.verb,
                token.prefix,
                token.since,
                token.until,
                token.set_spec,
                p.at,
                p.kind,
                p.key,
                token.cursor,
                token.size,
                token.issued,
            ]
        )
        tag = self._tag(plain)
        sealed = bytes([_VERSION]) + tag + _xor(plain, self._stream(tag, len(plain)))
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def decode(self, text: str, now: float | None = None) -> Resumption:
        """The token's content; badResumptionToken if it is garbled, forged or expired."""
        bad = OaiError("badResumptionToken", "The resumptionToken is not valid: start again")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raise bad from None
        if len(raw) <= 1 + _TAG or raw[0] != _VERSION or not text.isascii():
            raise bad
        tag, sealed = raw[1 : 1 + _TAG], raw[1 + _TAG :]
        plain = _xor(sealed, self._stream(tag, len(sealed)))
        if not hmac.compare_digest(tag, self._tag(plain)):
            raise bad
        try:
            verb, prefix, since, until, set_spec, at, kind, key, cursor, size, issued = (
                orjson.loads(plain)
            )
        except (orjson.JSONDecodeError, ValueError, TypeError):
            raise bad from None
        if (now if now is not None else time.time()) - issued > self.lifetime_s:
            raise OaiError("badResumptionToken", "The resumptionToken has expired: start again")
        return Resumption(
            verb, prefix, since, until, set_spec, Position(at, kind, key), cursor, size, issued
        )

    def _tag(self, plain: bytes) -> bytes:
        return hmac.new(self._mac, bytes([_VERSION]) + plain, hashlib.sha256).digest()[:_TAG]

    def _stream(self, tag: bytes, size: int) -> bytes:
        blocks = []
        for counter in range(-(-size // 32)):
            blocks.append(
                hmac.new(
                    self._stream_key, tag + counter.to_bytes(4, "big"), hashlib.sha256
                ).digest()
            )
        return b"".join(blocks)[:size]


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")
