"""history packed: each version's changes and snapshot deflated against a preset dictionary;
the per-dataset render fragments dropped (services.renders keeps them outside the catalogue)

Revision ID: 0008_packed_history
Revises: 0007_search_index
Create Date: 2026-12-02 14:00:00.000000
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.models.history import pack, unpack

revision = "0008_packed_history"
down_revision = "0007_search_index"
branch_labels = None
depends_on = None

BATCH = 2000


def upgrade() -> None:
    op.drop_table("dataset_renders")
    _convert(sa.JSON(none_as_null=True), sa.LargeBinary(), pack)


def downgrade() -> None:
    _convert(sa.LargeBinary(), sa.JSON(none_as_null=True), unpack)
    # Empty: the fragments of 0004 were rendered on the fly when missing.
    op.create_table(
        "dataset_renders",
        sa.Column("dataset_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("datasets_csv", sa.LargeBinary(), nullable=False),
        sa.Column("resources_csv", sa.LargeBinary(), nullable=False),
        sa.Column("jsonld_node", sa.LargeBinary(), nullable=False),
        sa.Column("export_json", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_pk"],
            ["datasets.pk"],
            name=op.f("fk_dataset_renders_dataset_pk_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_pk", name=op.f("pk_dataset_renders")),
    )


def _convert(old: Any, new: Any, convert: Callable[[Any], Any]) -> None:
    """Rewrite `changes` and `snapshot` from type `old` to type `new`, value by value."""
    with op.batch_alter_table("dataset_versions") as batch:
        batch.add_column(sa.Column("changes_new", new, nullable=True))
        batch.add_column(sa.Column("snapshot_new", new, nullable=True))
    versions = sa.table(
        "dataset_versions",
        sa.column("pk", sa.Integer()),
        sa.column("changes", old),
        sa.column("snapshot", old),
        sa.column("changes_new", new),
        sa.column("snapshot_new", new),
    )
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(versions.c.pk, versions.c.changes, versions.c.snapshot)
            .where(versions.c.pk > last)
            .order_by(versions.c.pk)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            versions.update()
            .where(versions.c.pk == sa.bindparam("b_pk"))
            .values(changes_new=sa.bindparam("b_changes"), snapshot_new=sa.bindparam("b_snapshot")),
            [
                {
                    "b_pk": pk,
                    "b_changes": convert(changes),
                    "b_snapshot": None if snapshot is None else convert(snapshot),
                }
                for pk, changes, snapshot in rows
            ],
        )
        last = rows[-1][0]
    with op.batch_alter_table("dataset_versions") as batch:
        batch.drop_column("changes")
        batch.drop_column("snapshot")
        batch.alter_column("changes_new", new_column_name="changes", nullable=False)
        batch.alter_column("snapshot_new", new_column_name="snapshot")
