"""A zip archive written front to back from parts compressed ahead of time (for XLSX).

`zipfile` compresses a member while writing it into the archive, one member at a time, so a
workbook whose sheets fill in parallel would have to be kept uncompressed until the end. Here
each part is raw DEFLATE compressed while it is produced (`DeflatedPart`, into a temporary file
or memory), with its CRC-32 and sizes counted, and `write_zip` lays the parts out with their
local headers, the central directory and, past 4 GiB, the ZIP64 records (APPNOTE 6.3.x). The
sink is written sequentially and never sought: a pipe will do.

A part's first bytes may be known only once the rest is written (a worksheet's `<dimension>`):
`DeflatedPart.prepend` compresses them as a DEFLATE stream of their own, ended by a sync flush
(byte-aligned, no final block), which the body's stream then continues, as pigz joins the
blocks it compresses in parallel; the CRC-32 of the whole is the two joined (`crc32_combine`).
"""

from __future__ import annotations

import io
import shutil
import struct
import tempfile
import zlib
from collections.abc import Sequence
from typing import IO, BinaryIO

_LOCAL = 0x04034B50
_CENTRAL = 0x02014B50
_END = 0x06054B50
_END64 = 0x06064B50
_LOCATOR64 = 0x07064B50
_UTF8_NAMES = 0x0800
_DEFLATE = 8
_LIMIT32 = 0xFFFFFFFF
# Every member is dated 1980-01-01 00:00, the DOS epoch: the same input gives the same bytes.
_DOS_TIME, _DOS_DATE = 0, (0 << 9) | (1 << 5) | 1


class DeflatedPart:
    """One archive member, compressed as it is written; kept in a temporary file."""

    def __init__(self, name: str, level: int = 6, *, in_memory: bool = False) -> None:
        self.name = name
        self.level = level
        self.crc = 0
        self.size = 0
        self.compressed = 0
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        # Closed by discard(), by whoever assembles the archive (a context manager cannot
        # span the writes of a whole export).
        self._file: IO[bytes] = io.BytesIO() if in_memory else tempfile.TemporaryFile()  # noqa: SIM115
        self._closed = False
        self._head = b""  # compressed, goes before the file's bytes

    def prepend(self, data: bytes) -> None:
        """Put `data` before everything written (once, before the archive is laid out)."""
        assert not self._head, "a part has one head"
        deflate = zlib.compressobj(self.level, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._head = deflate.compress(data) + deflate.flush(zlib.Z_SYNC_FLUSH)
        self.crc = crc32_combine(zlib.crc32(data), self.crc, self.size)
        self.size += len(data)
        self.compressed += len(self._head)

    def write(self, data: bytes) -> None:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        out = self._deflate.compress(data)
        if out:
            self._file.write(out)
            self.compressed += len(out)

    def finish(self) -> None:
        if not self._closed:
            out = self._deflate.flush()
            self._file.write(out)
            self.compressed += len(out)
            self._closed = True

    def copy_to(self, sink: BinaryIO) -> None:
        self.finish()
        sink.write(self._head)
        self._file.seek(0)
        shutil.copyfileobj(self._file, sink, 1024 * 1024)

    def discard(self) -> None:
        self._file.close()


def _gf2_times(matrix: list[int], vector: int) -> int:
    total = 0
    for row in matrix:
        if not vector:
            break
        if vector & 1:
            total ^= row
        vector >>= 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B from crc32(A), crc32(B) and len(B), in O(log len(B)) steps: zlib's
    crc32_combine, which Python's zlib does not expose. crc1 is carried through len(B) zero
    bytes by the operator of one zero bit squared up to the length's bits."""
    if length2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four zero bits
    while True:
        even = _gf2_square(odd)  # one zero byte at first, then squared on
        if length2 & 1:
            crc1 = _gf2_times(even, crc1)
        length2 >>= 1
        if not length2:
            break
        odd = _gf2_square(even)
        if length2 & 1:
            crc1 = _gf2_times(odd, crc1)
        length2 >>= 1
        if not length2:
            break
    return crc1 ^ crc2


def part_from_bytes(name: str, data: bytes, level: int = 6) -> DeflatedPart:
    part = DeflatedPart(name, level, in_memory=True)
    part.write(data)
    part.finish()
    return part


def write_zip(sink: BinaryIO, parts: Sequence[DeflatedPart]) -> int:
    """Write the archive of `parts`, in order, to `sink`; its size in bytes."""
    offset = 0
    central: list[bytes] = []
    for part in parts:
        part.finish()
        name = part.name.encode("utf-8")
        zip64 = part.size >= _LIMIT32 or part.compressed >= _LIMIT32
        extra = struct.pack("<HHQQ", 1, 16, part.size, part.compressed) if zip64 else b""
        header = struct.pack(
            "<IHHHHHIIIHH",
            _LOCAL,
            45 if zip64 else 20,
            _UTF8_NAMES,
            _DEFLATE,
            _DOS_TIME,
            _DOS_DATE,
            part.crc,
            _LIMIT32 if zip64 else part.compressed,
            _LIMIT32 if zip64 else part.size,
            len(name),
            len(extra),
        )
        sink.write(header + name + extra)
        part.copy_to(sink)
        central.append(_central_entry(part, name, offset))
        offset += len(header) + len(name) + len(extra) + part.compressed
    directory = b"".join(central)
    sink.write(directory)
    end = _end_records(len(parts), len(directory), offset)
    sink.write(end)
    return offset + len(directory) + len(end)


def _central_entry(part: DeflatedPart, name: bytes, offset: int) -> bytes:
    # ZIP64 extra fields hold, in this order, only the values that overflow 32 bits.
    wide: list[int] = []
    if part.size >= _LIMIT32:
        wide.append(part.size)
    if part.compressed >= _LIMIT32:
        wide.append(part.compressed)
    if offset >= _LIMIT32:
        wide.append(offset)
    extra = struct.pack(f"<HH{len(wide)}Q", 1, 8 * len(wide), *wide) if wide else b""
    return (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            _CENTRAL,
            45 if wide else 20,
            45 if wide else 20,
            _UTF8_NAMES,
            _DEFLATE,
            _DOS_TIME,
            _DOS_DATE,
            part.crc,
            min(part.compressed, _LIMIT32),
            min(part.size, _LIMIT32),
            len(name),
            len(extra),
            0,
            0,
            0,
            0,
            min(offset, _LIMIT32),
        )
        + name
        + extra
    )


def _end_records(count: int, directory_size: int, directory_offset: int) -> bytes:
    records = b""
    if directory_offset >= _LIMIT32 or directory_size >= _LIMIT32 or count >= 0xFFFF:
        end64_offset = directory_offset + directory_size
        records += struct.pack(
            "<IQHHIIQQQQ",
            _END64,
            44,
            45,
            45,
            0,
            0,
            count,
            count,
            directory_size,
            directory_offset,
        )
        records += struct.pack("<IIQI", _LOCATOR64, 0, end64_offset, 1)
    records += struct.pack(
        "<IHHHHIIH",
        _END,
        0,
        0,
        min(count, 0xFFFF),
        min(count, 0xFFFF),
        min(directory_size, _LIMIT32),
        min(directory_offset, _LIMIT32),
        0,
    )
    return records
