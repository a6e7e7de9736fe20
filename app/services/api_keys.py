"""API keys this app issues to its users. Only a SHA-256 of each key is stored.

A key is 256 random bits, so a plain SHA-256 cannot be brute-forced and needs no slow KDF;
looking a key up by its hash stays one indexed query per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import ApiKey, User
from app.services.access import get_user
from app.services.clock import now_iso
from app.services.errors import NotFound, Unauthorized
from app.services.visibility import Principal, principal_for_user

KEY_PREFIX = "cdk_"


@dataclass(frozen=True)
class IssuedKey:
    """The result of creating a key: `key` is the only time the plain key is ever available."""

    uid: str
    label: str
    key: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, user_id: int, label: str = "") -> IssuedKey:
    get_user(session, user_id)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    uid = "ak_" + secrets.token_hex(4)
    session.add(
        ApiKey(
            uid=uid,
            label=label.strip(),
            user_id=user_id,
            key_hash=hash_key(key),
            prefix=key[: len(KEY_PREFIX) + 4],
            created_at=now_iso(),
        )
    )
    session.flush()
    return IssuedKey(uid=uid, label=label.strip(), key=key)


@dataclass(frozen=True)
class ApiKeyInfo:
    """What may be shown about an issued key: never the key, only its first characters."""

    uid: str
    label: str
    user_id: int
    username: str
    prefix: str
    created_at: str
    revoked_at: str | None


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(
        session.scalars(select(ApiKey).options(selectinload(ApiKey.user)).order_by(ApiKey.pk))
    )


def api_key_summaries(session: Session) -> list[ApiKeyInfo]:
    """Every issued key, oldest first, detached from the session."""
    return [
        ApiKeyInfo(k.uid, k.label, k.user_id, k.user.username, k.prefix, k.created_at, k.revoked_at)
        for k in list_api_keys(session)
    ]


def revoke_api_key(session: Session, uid: str) -> None:
    api_key = session.scalar(select(ApiKey).where(ApiKey.uid == uid))
    if api_key is None:
        raise NotFound(f"API key {uid} does not exist")
    if api_key.revoked_at is None:
        api_key.revoked_at = now_iso()


def parse_authorization(header: str) -> str:
    """The key from an Authorization header: `Apikey K` (Opendatasoft), `Bearer K`, or bare K
    (DataPress sends the key alone)."""
    parts = header.strip().split(None, 1)
    if len(parts) == 2 and parts[0].lower() in ("apikey", "bearer", "token"):
        return parts[1].strip()
    return header.strip()


def authenticate(session: Session, header: str) -> Principal:
    """The user a presented key stands for; Unauthorized for an unknown or revoked key."""
    key = parse_authorization(header)
    api_key = session.scalar(
        select(ApiKey)
        .where(ApiKey.key_hash == hash_key(key))
        .options(selectinload(ApiKey.user).selectinload(User.teams))
    )
    if api_key is None or api_key.revoked_at is not None or not api_key.user.is_active:
        raise Unauthorized("The API key is not valid")
    return principal_for_user(api_key.user)
