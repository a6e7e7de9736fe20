"""search: one index on each engine over id, title, description text and tag values

SQLite: the FTS5 table is rebuilt with the id and with the tags' values (0001 indexed the tags'
JSON text, where "é" is "\\u00e9"). PostgreSQL: a folded tsvector column with a GIN index, in
place of 0001's nothing (search used ILIKE there). See app/models/search_index.py.

Revision ID: 0007_search_index
Revises: 0006_history_by_dataset_id
Create Date: 2026-12-02 14:00:00.000000
"""

from __future__ import annotations

from alembic import context, op

from app.models import search_index

revision = "0007_search_index"
down_revision = "0006_history_by_dataset_id"
branch_labels = None
depends_on = None


def _statements(sqlite: list[str], postgresql: list[str]) -> list[str]:
    dialect = op.get_bind().dialect.name
    return {"sqlite": sqlite, "postgresql": postgresql}.get(dialect, [])


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        statements = search_index.postgresql_create()  # made only where it is used
    else:
        statements = _statements(search_index.SQLITE_DROP + search_index.SQLITE_CREATE, [])
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    # Back to 0001's index, as 0001 wrote it.
    initial = context.script.get_revision("0001")
    assert initial is not None
    rebuild = ["INSERT INTO datasets_fts(datasets_fts) VALUES ('rebuild')"]
    for statement in _statements(
        search_index.SQLITE_DROP + initial.module.FTS_STATEMENTS + rebuild,
        search_index.POSTGRESQL_DROP,
    ):
        op.execute(statement)
