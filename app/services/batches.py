"""Work in slices: the ids of one `IN (...)` query, the datasets of one transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# Ids per `IN (...)` query: far below the bound-parameter limits of SQLite (32,766) and
# PostgreSQL (65,535), and large enough that the queries' own cost is spread thin.
IN_CHUNK = 500


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of `size` (the last one may be shorter)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
