"""The environment's faults, told apart from bugs (after qutebrowser's misc/sql.py).

A write can fail for reasons that are nobody's bug: another program holds the catalogue's write
lock longer than the busy timeout, the disk is full, the file is not a catalogue (or not one
this version can read), the file cannot be written; on PostgreSQL also a lock not granted
within `lock_timeout` (models.database), a deadlock, the server out of reach or refusing the
user. `explain` turns those into a
CatalogueError whose message says what happened and what to do; anything else is left to the
caller's bug handler (None).
"""

from __future__ import annotations

import errno
import sqlite3

from sqlalchemy.exc import DBAPIError, NoSuchTableError

from app.services.errors import CatalogueError, NotACatalogue

NOTHING_CHANGED = "Nothing was changed."


class CatalogueBusy(CatalogueError):
    code = "catalogue_busy"


class DiskFull(CatalogueError):
    code = "disk_full"


class CatalogueReadOnly(CatalogueError):
    code = "catalogue_read_only"


class CatalogueUnreachable(CatalogueError):
    code = "catalogue_unreachable"


def explain(error: BaseException) -> CatalogueError | None:
    """The environment fault `error` is, in words a person can act on; None for a bug."""
    if isinstance(error, CatalogueError):
        return error
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return DiskFull(f"The disk is full. {NOTHING_CHANGED} Free some space, then try again.")
    if isinstance(error, NoSuchTableError):
        return _not_a_catalogue()
    if isinstance(error, DBAPIError):
        text = str(error.orig).lower()
    elif isinstance(error, sqlite3.Error):  # from a connection of our own (catalogue_watch)
        text = str(error).lower()
    else:
        return None
    if any(sign in text for sign in _BUSY):
        return CatalogueBusy(
            "Another program is writing to the catalogue and did not finish in time. "
            f"{NOTHING_CHANGED} Try again in a moment; if it keeps happening, close the other "
            "programs that use this catalogue (another window, a sync, `catalogue-desk serve`)."
        )
    if "database or disk is full" in text or "no space left" in text:
        return DiskFull(
            "The disk holding the catalogue is full. "
            f"{NOTHING_CHANGED} Free some space, then try again."
        )
    if "file is not a database" in text or "no such table" in text or "malformed" in text:
        return _not_a_catalogue()
    if any(sign in text for sign in _UNREACHABLE):
        return CatalogueUnreachable(
            "The catalogue's database server cannot be reached, or it closed the connection. "
            "Check that it is running and that this computer can reach it, then try again. "
            "A save that was under way may not have been recorded: look at it once the "
            "server is back."
        )
    if "permission denied" in text:
        return CatalogueReadOnly(
            "The catalogue's database does not let this user make that change. "
            f"{NOTHING_CHANGED} Ask its administrator for the rights (README: Sharing a "
            "catalogue), or open another catalogue."
        )
    if "readonly database" in text or "unable to open database" in text:
        return CatalogueReadOnly(
            "The catalogue file cannot be written (it is read-only, or its folder is gone). "
            f"{NOTHING_CHANGED} Check the file's permissions, or open another catalogue."
        )
    return None


# What the error's text says, lowercased: SQLite's, then PostgreSQL's (lock_timeout, a deadlock,
# a serialisation failure: the transaction was rolled back whole).
_BUSY = (
    "database is locked",
    "database table is locked",
    "lock timeout",
    "deadlock detected",
    "could not serialize access",
)
# psycopg's and PostgreSQL's words for a server that is away or went away.
_UNREACHABLE = (
    "connection refused",
    "connection failed",
    "could not connect",
    "server closed the connection",
    "terminating connection",
    "connection is closed",
    "the connection is lost",
    "connection timeout expired",
)


def _not_a_catalogue() -> NotACatalogue:
    return NotACatalogue(
        "This file is not a Catalogue Desk catalogue, or it is damaged. "
        f"{NOTHING_CHANGED} Open another catalogue (File › Open) or make a new one."
    )
