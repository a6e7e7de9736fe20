"""Every change to a dataset, kept as a version that can be inspected and restored.

A version's `changes` and `snapshot` are stored compressed (`Packed`): a snapshot is the whole
record, about 1 KB of JSON whose keys repeat in every row, so it is compressed against a preset
dictionary of those keys (2.5x smaller than its JSON text). The first byte says how a value is
packed: format 1, raw deflate, as written before; format 2, Zstandard, written now (a
compressor with its dictionary digested once is reused, where deflate set its dictionary up for
every value: 13 µs a snapshot against 35, the most of an import's history). The dictionary is
the same for both and must never change (stored values are read with it); a new one would be
a new format.
"""

from __future__ import annotations

import threading
import zlib
from typing import Any

import orjson
import zstandard
from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.models.base import Base

FORMAT_1 = 1
# What every record repeats: its keys (also the `changes` of a create, sorted), a resource's
# and a link's keys, and the commonest values. Frozen for format 1.
DICTIONARY_1 = (
    b'{"resources":{},"links":{},"url":"https://","order":0,"title":"","description":"",'
    b'"filename":"","timeFrame":{"gte":"","lte":""},"format":"csv","hash":"","size":0,'
    b'"timestamp":"","origin":"upload"},"qa":{"timestamp":null,"hash":null,"size":null,'
    b'"mimetype":null,"httpStatus":null}'
    b'["collaborators","contact","createdAt","custom","description","descriptionIframe",'
    b'"descriptionText","embargoUntil","id","licence","links","masthead","nextReviewDate",'
    b'"readteams","readusers","resources","sharing","site","state","tags","team","title",'
    b'"topics","updatedAt"]'
    b'{"id":"","title":"","description":"<p></p>","descriptionText":"",'
    b'"descriptionIframe":null,"masthead":null,"tags":[],"topics":[],"nextReviewDate":null,'
    b'"licence":{"url":"https://www.nationalarchives.gov.uk/doc/open-government-licence/'
    b'version/3/","title":"OGL v3"},"contact":{"email":"opendata@example.org","title":""},'
    b'"custom":{},"team":null,"sharing":"public","collaborators":[],"readusers":[],'
    b'"readteams":[],"createdAt":"","updatedAt":"","site":"","state":"published",'
    b'"embargoUntil":null}'
)


FORMAT_2 = 2
ZSTD_LEVEL = 3  # level 5 packs 5% smaller and takes half as long again


class _Codecs(threading.local):
    """A thread's Zstandard compressor and decompressor (neither may be shared between
    threads), over the one dictionary, digested once for the process. Frames without the
    magic number (4 bytes a value: the format byte says what it is)."""

    parameters = zstandard.ZstdCompressionParameters.from_level(
        ZSTD_LEVEL,
        format=zstandard.FORMAT_ZSTD1_MAGICLESS,
        write_checksum=0,
        write_content_size=1,
        write_dict_id=0,
    )
    dictionary = zstandard.ZstdCompressionDict(
        DICTIONARY_1, dict_type=zstandard.DICT_TYPE_RAWCONTENT
    )
    dictionary.precompute_compress(compression_params=parameters)

    def __init__(self) -> None:
        self.compressor = zstandard.ZstdCompressor(
            dict_data=self.dictionary, compression_params=self.parameters
        )
        self.decompressor = zstandard.ZstdDecompressor(
            dict_data=self.dictionary, format=zstandard.FORMAT_ZSTD1_MAGICLESS
        )


_codecs = _Codecs()


def pack(value: Any) -> bytes:
    """`value` (JSON-compatible) as stored: a format byte, then its JSON compressed."""
    return _FORMAT_2_BYTE + _codecs.compressor.compress(orjson.dumps(value))


_FORMAT_1_BYTE, _FORMAT_2_BYTE = bytes((FORMAT_1,)), bytes((FORMAT_2,))


def unpack(data: bytes) -> Any:
    """The value `pack` was given (in either format)."""
    if data[:1] == _FORMAT_2_BYTE:
        return orjson.loads(_codecs.decompressor.decompress(data[1:]))
    if data[:1] == _FORMAT_1_BYTE:
        decompressor = zlib.decompressobj(-zlib.MAX_WBITS, DICTIONARY_1)
        return orjson.loads(decompressor.decompress(data[1:]) + decompressor.flush())
    raise ValueError(f"unknown packed format {data[:1]!r}")


class Packed(TypeDecorator[Any]):
    """A JSON value stored packed (`pack`); SQL NULL for None."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else pack(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else unpack(bytes(value))


class DatasetVersion(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (
        Index("ix_dataset_versions_dataset", "dataset_pk", "number"),
        # A dataset's next version number is looked up by its id (which survives a delete and
        # a restore under a new pk): without this index every write scans the whole history.
        Index("ix_dataset_versions_dataset_id", "dataset_id", "number"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key: the history of a deleted dataset stays, so it can be restored.
    dataset_pk: Mapped[int] = mapped_column(Integer)
    dataset_id: Mapped[str] = mapped_column(String(5))
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[str] = mapped_column(String(24))
    author: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(String(20))
    changes: Mapped[list[str]] = mapped_column(Packed, default=list)
    # A deletion has no snapshot (NULL).
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(Packed)
