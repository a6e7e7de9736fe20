"""Private temporary folders that a killed process does not leave behind for long.

The server's rendered dumps (`dump_cache`) and fragments (`renders`) live in folders of the
system's temporary directory, removed when their owner closes them or the process exits. A
process killed with SIGKILL (or a power cut) removes nothing, so each folder holds a lock file
that its process keeps locked for the folder's life: the operating system drops the lock when
the process dies, whatever the way. The first folder a process makes with a prefix sweeps the
folders of that prefix whose lock is free: their owner is gone. A live owner's folder is never
touched (its lock is held), nor a folder without a lock file (made by an older version, whose
owner cannot be told apart from a live one). The owner writes its pid into the lock file once
it holds the lock, so that a folder caught between its creation and its lock (an empty lock
file) is left alone unless it is older than FRESH_SECONDS.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

LOCK_NAME = ".owner.lock"
FRESH_SECONDS = 60.0

_lock = threading.Lock()
_held: dict[Path, IO[bytes]] = {}  # folder -> its open, locked lock file
_swept: set[tuple[str, str]] = set()  # (directory, prefix) swept by this process


def private_folder(prefix: str, directory: Path | None = None) -> Path:
    """A new folder `prefix*` in `directory` (default: the system's temporary directory),
    locked as this process's until `remove`; stale folders of the same prefix go first."""
    parent = Path(directory if directory is not None else tempfile.gettempdir())
    with _lock:
        if (str(parent), prefix) not in _swept:
            _swept.add((str(parent), prefix))
            sweep(prefix, parent)
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        handle = open(folder / LOCK_NAME, "wb")  # noqa: SIM115 (held open for the folder's life)
        if not _try_lock(handle):  # a sweeper is looking at it: it sees an empty, fresh file
            handle.close()
            raise OSError(f"cannot lock {folder}")
        handle.write(str(os.getpid()).encode())
        handle.flush()
        _held[folder] = handle
    return folder


def remove(folder: Path) -> None:
    """Remove a folder made by `private_folder` and release its lock (idempotent)."""
    with _lock:
        handle = _held.pop(folder, None)
    shutil.rmtree(folder, ignore_errors=True)
    if handle is not None:
        handle.close()


def sweep(prefix: str, directory: Path) -> list[Path]:
    """Remove the folders `prefix*` in `directory` whose owner is gone; the ones removed."""
    removed: list[Path] = []
    try:
        candidates = [p for p in directory.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed
    for folder in candidates:
        if folder in _held or not folder.is_dir():
            continue
        try:
            handle = open(folder / LOCK_NAME, "rb+")  # noqa: SIM115
        except OSError:
            continue  # no lock file: not ours to judge
        with handle:
            if not _try_lock(handle):
                continue  # its process is alive
            claimed = bool(handle.read(1))
            if not claimed and time.time() - folder.stat().st_mtime < FRESH_SECONDS:
                continue  # being made: its owner has not locked it yet
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _try_lock(handle: IO[bytes]) -> bool:
    """Take an exclusive lock on `handle` without waiting; whether it was free."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True
