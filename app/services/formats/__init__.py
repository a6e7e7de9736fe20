"""One streaming serializer per format (docs/ARCHITECTURE.md: formats).

Every serializer is a generator of `bytes` chunks over `export_query.DatasetRow`s, so one writer
serves every sink: `write_to` copies it into a binary file (the GUI's Save As, the CLI's stdout),
and the HTTP server hands the same generator to a streaming response. Chunks are flushed every
`FLUSH_BYTES` or so: memory stays flat however large the catalogue is.

The text formats come in two halves: the fragment of one dataset (a CSV line, a JSON object, a
JSON-LD node, each a function of the row and the base URL alone) and the document around the
fragments. A serializer is the one composed with the other; services.renders stores each
dataset's fragments when it is written, so a dump can be assembled without rendering again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO
from urllib.parse import quote

Chunks = Iterator[bytes]
FLUSH_BYTES = 64 * 1024


def write_to(sink: BinaryIO, chunks: Iterable[bytes]) -> int:
    """Copy a serializer's output into a binary file object; the number of bytes written."""
    total = 0
    for chunk in chunks:
        sink.write(chunk)
        total += len(chunk)
    return total


def concatenated(
    head: bytes, parts: Iterable[bytes], tail: bytes = b"", sep: bytes = b""
) -> Chunks:
    """`head`, the `parts` joined by `sep`, then `tail`, in chunks of about FLUSH_BYTES."""
    buffer: list[bytes] = [head]
    size = len(head)
    first = True
    for part in parts:
        if sep and not first:
            buffer.append(sep)
            size += len(sep)
        buffer.append(part)
        size += len(part)
        first = False
        if size >= FLUSH_BYTES:
            yield b"".join(buffer)
            buffer, size = [], 0
    buffer.append(tail)
    yield b"".join(buffer)


def json_array(head: bytes, items: Iterable[bytes], tail: bytes) -> Chunks:
    """`head`, the JSON `items` joined by commas, then `tail`, in chunks of about FLUSH_BYTES.

    `head` ends where the array's first item goes (e.g. `b'{"result":['`), `tail` closes it.
    """
    return concatenated(head, items, tail, b",")


def dataset_webpage(base_url: str, dataset_id: str) -> str:
    """The public URL of a dataset (seed 001 `webpage`): the server's HTML page of it."""
    # An id of ASCII letters and digits (every generated one) is its own quoting, and cheaper
    # to test than to quote: a cold dump computes one per dataset.
    safe = (
        dataset_id if dataset_id.isalnum() and dataset_id.isascii() else quote(dataset_id, safe="")
    )
    return f"{base_url.rstrip('/')}/dataset/{safe}"
