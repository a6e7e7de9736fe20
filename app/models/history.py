"""Every change to a dataset, kept as a version that can be inspected and restored.

A version's `changes` and `snapshot` are stored compressed (`Packed`): a snapshot is the whole
record, about 3 KB of JSON whose keys repeat in every row, so it is deflated against a preset
dictionary of those keys (3.5x smaller than its JSON text). The first byte says how a value is
packed; format 1's dictionary must never change (stored values are read with it), a new one
would be format 2.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.models.base import Base

FORMAT_1 = 1
LEVEL = 6
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


def pack(value: Any) -> bytes:
    """`value` (JSON-compatible) as stored: a format byte, then its JSON deflated."""
    compressor = zlib.compressobj(
        LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY_1
    )
    body = compressor.compress(orjson.dumps(value)) + compressor.flush()
    return bytes((FORMAT_1,)) + body


def unpack(data: bytes) -> Any:
    """The value `pack` was given."""
    if not data or data[0] != FORMAT_1:
        raise ValueError(f"unknown packed format {data[:1]!r}")
    decompressor = zlib.decompressobj(-zlib.MAX_WBITS, DICTIONARY_1)
    return orjson.loads(decompressor.decompress(data[1:]) + decompressor.flush())


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
