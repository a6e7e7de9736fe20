"""sync: remotes and the sync links of synced datasets

Revision ID: 0005_sync
Revises: 0004_dataset_renders
Create Date: 2026-11-25 00:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_sync"
down_revision = "0004_dataset_renders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "remotes",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("key_source", sa.String(length=10), nullable=False),
        sa.Column("key_env", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.String(length=24), nullable=False),
        sa.Column("last_synced_at", sa.String(length=24), nullable=True),
        sa.Column("listing_token", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_remotes")),
        sa.UniqueConstraint("name", name=op.f("uq_remotes_name")),
    )
    op.create_table(
        "sync_links",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("remote_pk", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.String(length=5), nullable=False),
        sa.Column("remote_id", sa.String(length=200), nullable=True),
        sa.Column("remote_version", sa.Text(), nullable=True),
        sa.Column("local_version", sa.Integer(), nullable=True),
        sa.Column("base", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("synced_at", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["remote_pk"],
            ["remotes.pk"],
            name=op.f("fk_sync_links_remote_pk_remotes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_sync_links")),
    )
    with op.batch_alter_table("sync_links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_links_remote_dataset", ["remote_pk", "dataset_id"], unique=True
        )
        batch_op.create_index(
            "ix_sync_links_remote_remote_id", ["remote_pk", "remote_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_links", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_links_remote_remote_id")
        batch_op.drop_index("ix_sync_links_remote_dataset")
    op.drop_table("sync_links")
    op.drop_table("remotes")
