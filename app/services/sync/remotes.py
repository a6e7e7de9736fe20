"""Remotes: the portals a catalogue syncs with, and where their API keys live.

A key is kept in the OS keyring (the `keyring` package: Secret Service, macOS Keychain,
Windows Credential Locker), under the service `catalogue-desk` and the user name
`remote:NAME:BASE_URL`; the catalogue file never holds it. When no usable keyring backend
exists (`keyring.backends.fail` or `null`, or a chainer with nothing behind it) storing a key
raises KeyringUnavailable, which says so and names the alternative the caller must opt into: a key
read from an environment variable each run (`key_env`, the CLI's `--key-env VAR`). Nothing is
ever written to a plain-text file.

Session functions (call inside `Database.transaction()` / `read()`): add_remote, list_remotes,
get_remote, remove_remote, set_remote_key. Outside a session: remote_key (the key to use now)
and `test_connection` (async: reach the portal, say what the key may do).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Remote, SyncLink
from app.models.database import Database
from app.services.clock import now_iso
from app.services.errors import CatalogueError, NotFound, ValidationFailed
from app.services.sync import registry
from app.services.sync.adapter import Access, PortalAuthError, PortalError
from app.services.sync.http import HttpOptions

KEYRING_SERVICE = "catalogue-desk"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class KeyringUnavailable(CatalogueError):
    """No OS keyring to keep a key in; the caller may opt into a key from the environment."""

    code = "keyring_unavailable"


class KeyMissing(CatalogueError):
    """The remote's key is not where it should be (keyring entry gone, variable unset)."""

    code = "key_missing"


@dataclass(frozen=True, slots=True)
class RemoteInfo:
    name: str
    kind: str
    base_url: str
    key_source: str  # "keyring", "env" or "none"
    key_env: str | None
    created_at: str
    last_synced_at: str | None
    linked: int  # datasets with a sync link to this remote

    @property
    def key_description(self) -> str:
        if self.key_source == "keyring":
            return "key in the OS keyring"
        if self.key_source == "env":
            return f"key from ${self.key_env}"
        return "no key (anonymous)"


# -- the keyring -------------------------------------------------------------------------------


def keyring_backend() -> KeyringBackend:
    return keyring.get_keyring()


def keyring_usable() -> bool:
    """Whether a real keyring backend is there to keep keys in."""
    from keyring.backends import chainer, fail, null

    backend = keyring_backend()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return False
    return not (isinstance(backend, chainer.ChainerBackend) and not backend.backends)


def _no_keyring() -> KeyringUnavailable:
    backend = keyring_backend()
    return KeyringUnavailable(
        f"No OS keyring is available to keep the API key (keyring backend: "
        f"{type(backend).__module__}.{type(backend).__name__}). Install and unlock one "
        "(e.g. GNOME Keyring / KWallet through Secret Service), or opt into reading the key "
        "from an environment variable on every run: `remote add ... --key-env VAR`. "
        "Catalogue Desk never writes keys to a plain-text file."
    )


def _keyring_user(name: str, base_url: str) -> str:
    return f"remote:{name}:{base_url}"


def _store_key(name: str, base_url: str, key: str) -> None:
    if not keyring_usable():
        raise _no_keyring()
    try:
        keyring.set_password(KEYRING_SERVICE, _keyring_user(name, base_url), key)
    except keyring.errors.KeyringError as error:
        raise KeyringUnavailable(f"The OS keyring refused to keep the key: {error}") from error


def _forget_key(name: str, base_url: str) -> None:
    if not keyring_usable():
        return
    try:
        keyring.delete_password(KEYRING_SERVICE, _keyring_user(name, base_url))
    except keyring.errors.PasswordDeleteError:
        pass  # already gone
    except keyring.errors.KeyringError as error:
        raise KeyringUnavailable(f"The OS keyring refused to forget the key: {error}") from error


# -- remotes -----------------------------------------------------------------------------------


def _info(session: Session, remote: Remote) -> RemoteInfo:
    linked = session.scalar(
        select(func.count()).select_from(SyncLink).where(SyncLink.remote_pk == remote.pk)
    )
    return RemoteInfo(
        name=remote.name,
        kind=remote.kind,
        base_url=remote.base_url,
        key_source=remote.key_source,
        key_env=remote.key_env,
        created_at=remote.created_at,
        last_synced_at=remote.last_synced_at,
        linked=linked or 0,
    )


def _check(name: str, kind: str, base_url: str, key_env: str | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not NAME.match(name):
        errors["name"] = "letters, digits, '.', '_' or '-', starting with a letter or digit"
    if kind not in registry.kinds():
        errors["kind"] = f"one of {', '.join(registry.kinds())}"
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in base_url:
        errors["url"] = "must be an http(s) URL"
    if key_env is not None and not ENV_NAME.match(key_env):
        errors["key_env"] = "must be an environment variable name"
    return errors


def add_remote(
    session: Session,
    name: str,
    kind: str,
    base_url: str,
    *,
    key: str | None = None,
    key_env: str | None = None,
) -> RemoteInfo:
    """Add a remote. `key` goes to the OS keyring (KeyringUnavailable if there is none);
    `key_env` instead names the environment variable the key is read from on every run; with
    neither, the remote is used anonymously."""
    base_url = base_url.strip().rstrip("/")
    errors = _check(name, kind, base_url, key_env)
    if key is not None and key_env is not None:
        errors["key"] = "give a key or an environment variable, not both"
    if session.scalar(select(Remote.pk).where(Remote.name == name)) is not None:
        errors["name"] = f"a remote named {name} already exists"
    if errors:
        raise ValidationFailed(errors, subject="remote")
    if key is not None and not keyring_usable():
        raise _no_keyring()
    remote = Remote(
        name=name,
        kind=kind,
        base_url=base_url,
        key_source="keyring" if key else "env" if key_env else "none",
        key_env=key_env,
        created_at=now_iso(),
    )
    session.add(remote)
    session.flush()
    if key:
        _store_key(name, base_url, key)
    return _info(session, remote)


def set_remote_key(
    session: Session, name: str, *, key: str | None = None, key_env: str | None = None
) -> RemoteInfo:
    """Replace how a remote's key is found (both None: anonymous from now on)."""
    remote = get_remote(session, name)
    if key is not None and key_env is not None:
        raise ValidationFailed({"key": "give a key or an environment variable, not both"})
    if key_env is not None and not ENV_NAME.match(key_env):
        raise ValidationFailed({"key_env": "must be an environment variable name"})
    if key:
        _store_key(remote.name, remote.base_url, key)
    elif remote.key_source == "keyring":
        _forget_key(remote.name, remote.base_url)
    remote.key_source = "keyring" if key else "env" if key_env else "none"
    remote.key_env = key_env
    return _info(session, remote)


def get_remote(session: Session, name: str) -> Remote:
    remote = session.scalar(select(Remote).where(Remote.name == name))
    if remote is None:
        raise NotFound(f"There is no remote named {name!r}")
    return remote


def remote_info(session: Session, name: str) -> RemoteInfo:
    return _info(session, get_remote(session, name))


def list_remotes(session: Session) -> list[RemoteInfo]:
    return [_info(session, r) for r in session.scalars(select(Remote).order_by(Remote.name))]


def remove_remote(session: Session, name: str) -> None:
    """Forget a remote, its sync links and its keyring entry (datasets stay as they are)."""
    remote = get_remote(session, name)
    if remote.key_source == "keyring":
        _forget_key(remote.name, remote.base_url)
    session.delete(remote)
    session.flush()


def remote_key(info: RemoteInfo, environ: Mapping[str, str] | None = None) -> str | None:
    """The key to present to the remote now; KeyMissing if it should exist and does not."""
    if info.key_source == "none":
        return None
    if info.key_source == "env":
        env = os.environ if environ is None else environ
        value = env.get(info.key_env or "")
        if not value:
            raise KeyMissing(
                f"Remote {info.name} reads its key from ${info.key_env}, which is not set"
            )
        return value
    if not keyring_usable():
        raise _no_keyring()
    try:
        value = keyring.get_password(KEYRING_SERVICE, _keyring_user(info.name, info.base_url))
    except keyring.errors.KeyringError as error:
        raise KeyringUnavailable(f"The OS keyring refused to give the key: {error}") from error
    if not value:
        raise KeyMissing(f"The OS keyring holds no key for remote {info.name}; set it again")
    return value


async def test_connection(
    database: Database,
    name: str,
    *,
    options: HttpOptions | None = None,
    environ: Mapping[str, str] | None = None,
) -> Access:
    """Reach the remote and find out what its key may do. Never raises for a portal that is
    down or refuses the key: the Access says so (reachable / authenticated False, with the
    reason in `notes`). Changes nothing anywhere."""

    def read() -> tuple[RemoteInfo, str | None]:
        with database.read() as session:
            info = remote_info(session, name)
        # In the thread too: an OS keyring may block (a D-Bus call, an unlock prompt).
        return info, remote_key(info, environ)

    info, key = await asyncio.to_thread(read)
    adapter = registry.open_adapter(info.name, info.kind, info.base_url, key, options=options)
    try:
        return await adapter.check_access()
    except PortalAuthError as error:
        return Access(True, False, False, False, False, False, notes=(error.message,))
    except PortalError as error:
        return Access(False, False, False, False, False, False, notes=(error.message,))
    finally:
        await adapter.http.aclose()
