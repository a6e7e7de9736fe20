"""Remotes: the portals a catalogue syncs with, and where their API keys live.

A key is kept in the OS keyring (the `keyring` package: Secret Service, macOS Keychain,
Windows Credential Locker), under the service `catalogue-desk` and the user name
`remote:NAME:BASE_URL`; the catalogue file never holds it. When no usable keyring backend
exists (`keyring.backends.fail` or `null`, or a chainer with nothing behind it) storing a key
raises KeyringUnavailable, which says so and names the alternatives the caller must opt into,
each read again on every run and never copied anywhere:

- a key file (`key_file`, the CLI's `--key-file PATH`): a file of the person's own that only
  its owner may read or write (mode 600, as ssh asks of a private key); a file that group or
  others may read is refused (KeyFileExposed) when the remote is added and whenever it is read;
- an environment variable (`key_env`, the CLI's `--key-env VAR`): simple for a scheduled job,
  but the key then sits in the process environment, which the user's other processes (and,
  through `/proc`, sometimes others) can read; prefer the keyring or a key file.

A key sent over plain `http://` to anything but this machine (loopback) can be read on the way:
`plain_http_warning` says so, and the CLI prints it when such a remote is added or used.

Session functions (call inside `Database.transaction()` / `read()`): add_remote, list_remotes,
get_remote, remove_remote, set_remote_key. Outside a session: remote_key (the key to use now)
and `test_connection` (async: reach the portal, say what the key may do).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import shlex
import stat
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


class KeyFileExposed(CatalogueError):
    """A key file that someone other than its owner may read (or that is not the user's)."""

    code = "key_file_exposed"


class KeyMissing(CatalogueError):
    """The remote's key is not where it should be (keyring entry gone, variable unset)."""

    code = "key_missing"


@dataclass(frozen=True, slots=True)
class RemoteInfo:
    name: str
    kind: str
    base_url: str
    key_source: str  # "keyring", "env", "file" or "none"
    key_env: str | None
    created_at: str
    last_synced_at: str | None
    linked: int  # datasets with a sync link to this remote
    key_file: str | None = None

    @property
    def key_description(self) -> str:
        if self.key_source == "keyring":
            return "key in the OS keyring"
        if self.key_source == "env":
            return f"key from ${self.key_env}"
        if self.key_source == "file":
            return f"key from the file {self.key_file}"
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
        "on every run from a file only you may read (`remote add ... --key-file PATH`, mode "
        "600) or from an environment variable (`remote add ... --key-env VAR`). "
        "Catalogue Desk never writes keys to a file itself."
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
        key_file=remote.key_file,
    )


# -- key files and plain http ------------------------------------------------------------------


def read_key_file(path: str) -> str:
    """The key in the file at `path`: its first line, stripped. KeyFileExposed if group or
    others may read or write the file, or it is not the user's (POSIX; Windows keeps no such
    bits, so there the file's folder is what protects it); KeyMissing if it is not there or
    empty."""
    try:
        with open(path, "rb") as handle:
            status = os.fstat(handle.fileno())
            if os.name == "posix":
                if status.st_uid != os.getuid():
                    raise KeyFileExposed(
                        f"The key file {path} belongs to someone else; use a file of your own"
                    )
                if status.st_mode & 0o077:
                    mode = stat.S_IMODE(status.st_mode)
                    raise KeyFileExposed(
                        f"The key file {path} may be read or written by others (mode "
                        f"{mode:03o}); make it yours alone: chmod 600 {shlex.quote(path)}"
                    )
            text = handle.read(64 * 1024).decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise KeyMissing(f"The key file {path} does not exist") from None
    except IsADirectoryError:
        raise KeyMissing(f"The key file {path} is a folder") from None
    except PermissionError:
        raise KeyMissing(f"The key file {path} cannot be read") from None
    lines = text.strip().splitlines()
    if not lines or not lines[0].strip():
        raise KeyMissing(f"The key file {path} is empty")
    return lines[0].strip()


def is_loopback(base_url: str) -> bool:
    """Whether `base_url` names this machine (127.0.0.0/8, ::1, localhost)."""
    host = (urlsplit(base_url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_warning(base_url: str, key_source: str) -> str | None:
    """A warning when a key would travel unencrypted to another machine, else None."""
    if key_source == "none" or urlsplit(base_url).scheme != "http" or is_loopback(base_url):
        return None
    return (
        f"warning: {base_url} is plain http://: the API key is sent unencrypted and anyone on "
        "the way can read it; use the portal's https:// address"
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
    key_file: str | None = None,
) -> RemoteInfo:
    """Add a remote. `key` goes to the OS keyring (KeyringUnavailable if there is none);
    `key_env` instead names the environment variable, `key_file` the file (read now, to check
    it is the user's alone: KeyFileExposed), the key is read from on every run; with none, the
    remote is used anonymously."""
    base_url = base_url.strip().rstrip("/")
    errors = _check(name, kind, base_url, key_env)
    if sum(v is not None for v in (key, key_env, key_file)) > 1:
        errors["key"] = "give a key, an environment variable or a key file, not more than one"
    if session.scalar(select(Remote.pk).where(Remote.name == name)) is not None:
        errors["name"] = f"a remote named {name} already exists"
    if errors:
        raise ValidationFailed(errors, subject="remote")
    if key is not None and not keyring_usable():
        raise _no_keyring()
    if key_file is not None:
        key_file = os.path.abspath(os.path.expanduser(key_file))
        read_key_file(key_file)
    remote = Remote(
        name=name,
        kind=kind,
        base_url=base_url,
        key_source=_source(key, key_env, key_file),
        key_env=key_env,
        key_file=key_file,
        created_at=now_iso(),
    )
    session.add(remote)
    session.flush()
    if key:
        _store_key(name, base_url, key)
    return _info(session, remote)


def _source(key: str | None, key_env: str | None, key_file: str | None) -> str:
    return "keyring" if key else "env" if key_env else "file" if key_file else "none"


def set_remote_key(
    session: Session,
    name: str,
    *,
    key: str | None = None,
    key_env: str | None = None,
    key_file: str | None = None,
) -> RemoteInfo:
    """Replace how a remote's key is found (all None: anonymous from now on)."""
    remote = get_remote(session, name)
    if sum(v is not None for v in (key, key_env, key_file)) > 1:
        raise ValidationFailed(
            {"key": "give a key, an environment variable or a key file, not more than one"}
        )
    if key_env is not None and not ENV_NAME.match(key_env):
        raise ValidationFailed({"key_env": "must be an environment variable name"})
    if key_file is not None:
        key_file = os.path.abspath(os.path.expanduser(key_file))
        read_key_file(key_file)
    if key:
        _store_key(remote.name, remote.base_url, key)
    elif remote.key_source == "keyring":
        _forget_key(remote.name, remote.base_url)
    remote.key_source = _source(key, key_env, key_file)
    remote.key_env = key_env
    remote.key_file = key_file
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
    if info.key_source == "file":
        return read_key_file(info.key_file or "")
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
