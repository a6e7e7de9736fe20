"""The zip writer behind the XLSX export: zipfile reads what it writes, ZIP64 records included."""

from __future__ import annotations

import io
import zipfile

from app.services.formats.zipstream import DeflatedPart, part_from_bytes, write_zip


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
