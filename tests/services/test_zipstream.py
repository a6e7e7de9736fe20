"""The zip writer behind the XLSX export: zipfile reads what it writes, ZIP64 records included."""

from __future__ import annotations

import io
import os
import zipfile
import zlib

import pytest

from app.services.formats.zipstream import DeflatedPart, crc32_combine, part_from_bytes, write_zip


def test_zipfile_reads_every_part_back() -> None:
    big = DeflatedPart("xl/worksheets/sheet.xml")
    for n in range(2000):
        big.write(f"<row r='{n}'>ünïcode {n}</row>".encode())
    parts = [part_from_bytes("[Content_Types].xml", b"<Types/>"), big, part_from_bytes("e", b"")]
    sink = io.BytesIO()
    size = write_zip(sink, parts)
    assert size == len(sink.getvalue())
    with zipfile.ZipFile(sink) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["[Content_Types].xml", "xl/worksheets/sheet.xml", "e"]
        text = archive.read("xl/worksheets/sheet.xml").decode()
        assert text.startswith("<row r='0'>ünïcode 0</row>") and text.endswith("1999</row>")
        assert archive.read("e") == b""
    for part in parts:
        part.discard()


def test_sizes_past_four_gibibytes_get_zip64_records() -> None:
    # The sizes a 5 GiB sheet would have; zipfile reads them from the ZIP64 extra fields.
    part = part_from_bytes("huge.xml", b"x")
    part.size = part.compressed = 5 * 2**32
    sink = io.BytesIO()
    write_zip(sink, [part])
    data = sink.getvalue()
    central = data.index(b"PK\x01\x02")
    assert data[central + 20 : central + 28] == b"\xff" * 8  # both sizes deferred to ZIP64
    (info,) = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert (info.file_size, info.compress_size) == (5 * 2**32, 5 * 2**32)
    part.discard()


@pytest.mark.parametrize("body_size", [0, 1, 3, 255, 256, 70_000, 1_000_003])
def test_crc32_combine_is_zlibs(body_size: int) -> None:
    head, body = os.urandom(37), os.urandom(body_size)
    assert crc32_combine(zlib.crc32(head), zlib.crc32(body), len(body)) == zlib.crc32(head + body)


@pytest.mark.parametrize("rows", [0, 1, 5000])
def test_a_head_put_before_the_body_reads_back_in_order(rows: int) -> None:
    part = DeflatedPart("xl/worksheets/sheet.xml")
    body = b"".join(f"<row r='{n}'>ünïcode {n}</row>".encode() for n in range(rows))
    for start in range(0, len(body), 4096):
        part.write(body[start : start + 4096])
    part.finish()
    head = f'<worksheet><dimension ref="A1:A{rows}"/>'.encode()
    part.prepend(head)
    sink = io.BytesIO()
    write_zip(sink, [part])
    part.discard()
    with zipfile.ZipFile(sink) as archive:
        assert archive.testzip() is None  # the CRC-32 and sizes of head and body together
        assert archive.read("xl/worksheets/sheet.xml") == head + body
