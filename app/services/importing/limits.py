"""Limits on what an import reads, so a hostile file costs bounded memory and time."""

from __future__ import annotations

from pathlib import Path

from app.services.importing.model import ImportRejected

MAX_FILE_BYTES = 512 * 1024 * 1024
# A spreadsheet is a zip: every part's uncompressed size is checked before anything opens it.
MAX_XLSX_UNCOMPRESSED = 2 * 1024 * 1024 * 1024
MAX_XLSX_PART = 1024 * 1024 * 1024
MAX_XLSX_RATIO = 200
MAX_XLSX_PARTS = 1000
# RDF is read into one graph: smaller than the streamed formats.
MAX_RDF_BYTES = 128 * 1024 * 1024
MAX_DATASETS = 2_000_000


def check_file_size(path: Path, limit: int = MAX_FILE_BYTES) -> int:
    """The file's size; ImportRejected if it cannot be read or is over `limit`."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ImportRejected(f"Cannot read {path}: {error.strerror or error}") from error
    if size > limit:
        raise ImportRejected(
            f"{path.name} is {size / 2**20:,.0f} MB; imports are limited to {limit / 2**20:,.0f} MB"
        )
    return size
