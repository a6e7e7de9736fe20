"""history: an index on (dataset_id, number), how each write finds a dataset's last version

Revision ID: 0006_history_by_dataset_id
Revises: 0005_sync
Create Date: 2026-11-24 02:10:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0006_history_by_dataset_id"
down_revision = "0005_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_dataset_versions_dataset_id",
        "dataset_versions",
        ["dataset_id", "number"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_dataset_versions_dataset_id", table_name="dataset_versions")
