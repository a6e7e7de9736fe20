"""What Alembic's model-to-database comparison should leave out."""

from __future__ import annotations

from typing import Any

from app.models.search_index import SEARCH_VECTOR, SEARCH_VECTOR_INDEX


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """The search index is made by hand in migrations (0001, 0007), not by models: the FTS5
    table, its shadow tables and content view, and PostgreSQL's generated tsvector column."""
    if type_ == "table" and (name or "").startswith("datasets_fts"):
        return False
    return not (
        (type_ == "column" and name == SEARCH_VECTOR)
        or (type_ == "index" and name == SEARCH_VECTOR_INDEX)
    )
