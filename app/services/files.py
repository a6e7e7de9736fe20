"""Local files attached to a dataset: their MD5, size, format and timestamp, read in chunks.

Hashing a large file takes seconds, so callers run `describe_file` off the GUI thread (the form
does it through TaskRunner); it reports progress per chunk and stops when cancelled.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.services.progress import NO_PROGRESS, Progress

CHUNK_SIZE = 1024 * 1024  # 1 MiB


@dataclass(frozen=True)
class FileInfo:
    path: Path
    filename: str
    md5: str
    size: int
    format: str
    timestamp: str  # the file's mtime, UTC, "YYYY-MM-DDTHH:MM:SS"


def file_format(path: Path) -> str:
    """The format a catalogue shows for a file: its extension, lower-case ("csv", "xlsx").

    A name without a usable extension falls back on the MIME type's subtype, where the mimetypes
    table knows one; otherwise "".
    """
    suffix = path.suffix.lower().lstrip(".")
    if suffix and suffix.isalnum():
        return suffix
    mime, _encoding = mimetypes.guess_type(path.name, strict=False)
    if mime:
        return mime.split("/")[-1].lower()
    return ""


def describe_file(path: Path, progress: Progress = NO_PROGRESS) -> FileInfo:
    """Hash and measure a local file. Raises OSError if it cannot be read, Cancelled on cancel."""
    path = Path(path)
    stat = path.stat()
    total = stat.st_size
    digest = hashlib.md5(usedforsecurity=False)
    done = 0
    progress.report(0, total)
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_SIZE):
            digest.update(chunk)
            done += len(chunk)
            progress.report(done, total)
    modified = datetime.fromtimestamp(stat.st_mtime, UTC)
    return FileInfo(
        path=path.resolve(),
        filename=path.name,
        md5=digest.hexdigest(),
        # What was hashed, should the file have grown or shrunk since stat().
        size=done,
        format=file_format(path),
        timestamp=modified.strftime("%Y-%m-%dT%H:%M:%S"),
    )


def title_from_filename(filename: str) -> str:
    """A readable first title: "foi_requests_2020-25.csv" -> "Foi requests 2020-25"."""
    stem = Path(filename).stem.replace("_", " ")
    stem = " ".join(stem.split())
    return (stem[:1].upper() + stem[1:]) if stem else filename


def resource_from_file(info: FileInfo, order: int) -> dict[str, Any]:
    """The seed-002 resource for a local file, before it is uploaded anywhere.

    `url` is left empty: in seed 002 it is the download URL the portal assigns on upload
    ([immutable]), which a local file does not have yet. A file:// URL would be refused by
    validation (resource URLs must be http(s)) and would leak a workstation path into every public
    export. The local path goes in `origin`, which seed 002 defines as the path used internally
    to fetch the file from storage.
    """
    return {
        "url": "",
        "order": order,
        "title": title_from_filename(info.filename),
        "description": "",
        "filename": info.filename,
        "timeFrame": {},
        "format": info.format or None,
        "hash": info.md5,
        "size": info.size,
        "timestamp": info.timestamp,
        "origin": str(info.path),
    }
