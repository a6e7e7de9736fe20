"""Reading a workbook someone else may have made: safely, and one row at a time.

Before openpyxl opens the file, the zip's directory is checked: the number of parts, each
part's uncompressed size and its compression ratio (a zip bomb expands a few kilobytes into
gigabytes). openpyxl parses its XML through defusedxml (entity expansion and external entities
refused); the reader refuses to run if that protection is off. Rows are streamed (read-only
mode), so a large workbook costs the rows kept, not the whole sheet.

Any failure inside openpyxl on a malformed file becomes ImportRejected with the sheet named.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import openpyxl

from app.services.importing.limits import (
    MAX_XLSX_PART,
    MAX_XLSX_PARTS,
    MAX_XLSX_RATIO,
    MAX_XLSX_UNCOMPRESSED,
)
from app.services.importing.model import ImportRejected

# A part may compress this well before its ratio is suspicious: XML of repeated rows does.
_RATIO_FLOOR_BYTES = 16 * 1024 * 1024
Located = tuple[Any, str | None]


def check_zip(path: Path) -> None:
    """ImportRejected unless `path` is a zip whose parts expand to a sane size."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise ImportRejected(f"{path.name} is not a readable XLSX workbook: {error}") from error
    if len(parts) > MAX_XLSX_PARTS:
        raise ImportRejected(f"{path.name} has {len(parts)} parts; a workbook has a few dozen")
    total = 0
    for part in parts:
        total += part.file_size
        if part.file_size > MAX_XLSX_PART or total > MAX_XLSX_UNCOMPRESSED:
            raise ImportRejected(
                f"{path.name} expands to more than {MAX_XLSX_UNCOMPRESSED // 2**30} GB "
                f"({part.filename}): refused"
            )
        if part.file_size > _RATIO_FLOOR_BYTES and part.file_size > MAX_XLSX_RATIO * max(
            part.compress_size, 1
        ):
            ratio = part.file_size // max(part.compress_size, 1)
            raise ImportRejected(
                f"{path.name}: {part.filename} expands {ratio} times, like a zip bomb: refused"
            )


class Workbook:
    """An open workbook: sheet names, headers, and rows as {column: (value, number format)}."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not openpyxl.DEFUSEDXML:
            raise ImportRejected(
                "XLSX import needs defusedxml (safe XML parsing); it is missing or disabled"
            )
        check_zip(path)
        # Our own handle: openpyxl leaves its zip open when it fails half-way through a file.
        try:
            self.file = path.open("rb")
        except OSError as error:
            raise ImportRejected(f"Cannot read {path}: {error.strerror or error}") from error
        try:
            with warnings.catch_warnings():
                # A workbook from elsewhere may use extensions openpyxl does not know: its
                # warnings say it skips them, which is what the import wants.
                warnings.simplefilter("ignore")
                self.book: Any = openpyxl.load_workbook(
                    self.file, read_only=True, data_only=True, keep_links=False
                )
        # Any failure of the parser on a hostile file (KeyError, ValueError, XML errors,
        # defusedxml's refusals...) is the file's fault, said as such.
        except Exception as error:
            self.file.close()
            raise ImportRejected(f"{path.name} is not a readable XLSX workbook: {error}") from error
        self.names: list[str] = list(self.book.sheetnames)

    def close(self) -> None:
        try:
            self.book.close()
        finally:
            self.file.close()

    def has(self, name: str) -> bool:
        return name in self.names

    def continued(self, name: str) -> list[str]:
        """`name` and the sheets continuing it past Excel's row limit: `name (2)`, ..."""
        sheets = [name] if self.has(name) else []
        while self.has(f"{name} ({len(sheets) + 1})"):
            sheets.append(f"{name} ({len(sheets) + 1})")
        return sheets

    def datasets_sheet(self) -> str:
        if not self.names:
            raise ImportRejected(f"{self.path.name} has no sheet")
        return "datasets" if self.has("datasets") else self.names[0]

    def header(self, sheet: str) -> list[str]:
        for _, values in self._raw(sheet, max_row=1):
            return ["" if v is None else str(v).strip() for v, _ in values]
        return []

    def rows(self, sheet: str, header: Sequence[str]) -> Iterator[tuple[int, dict[str, Located]]]:
        """The data rows under the header, blank rows skipped, with their row numbers."""
        for number, values in self._raw(sheet, min_row=2):
            if all(value is None or value == "" for value, _ in values):
                continue
            yield (
                number,
                {column: cell for column, cell in zip(header, values, strict=False) if column},
            )

    def _raw(
        self, sheet: str, *, min_row: int = 1, max_row: int | None = None
    ) -> Iterator[tuple[int, list[Located]]]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                iterator = self.book[sheet].iter_rows(min_row=min_row, max_row=max_row)
        except Exception as error:  # the parser on a hostile file, as in __init__
            raise self._broken(sheet, error) from error
        number = min_row - 1
        while True:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cells = next(iterator)
                    values = [_located(cell) for cell in cells]
            except StopIteration:
                return
            except Exception as error:  # the parser on a hostile file, as in __init__
                raise self._broken(sheet, error) from error
            row = getattr(cells[0], "row", None) if cells else None
            number = row if isinstance(row, int) else number + 1
            yield number, values

    def _broken(self, sheet: str, error: Exception) -> ImportRejected:
        return ImportRejected(f"{self.path.name}, sheet {sheet!r}, cannot be read: {error}")

    def __enter__(self) -> Workbook:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _located(cell: Any) -> Located:
    """A cell's value, and for a date its number format (which tells how a timestamp was
    written: formats.xlsx.timestamp_text); looking it up for every cell would cost time."""
    value = getattr(cell, "value", None)
    if not isinstance(value, datetime):
        return value, None
    number_format = getattr(cell, "number_format", None)
    return value, number_format if isinstance(number_format, str) else None


def open_workbook(path: Path) -> Workbook:
    return Workbook(path)
