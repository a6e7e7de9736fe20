"""What Alembic's model-to-database comparison should leave out."""

from __future__ import annotations

from typing import Any


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """The FTS5 index and its shadow tables are made by hand in migration 0001, not by models."""
    return not (type_ == "table" and (name or "").startswith("datasets_fts"))
