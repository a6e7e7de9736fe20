"""indexes for the dataset table's keyset windows: created date, and team (NULL as '')

Revision ID: 0003_table_sort_indexes
Revises: 0002_server_settings (chained after it: two 0002 heads would break `upgrade head`)
Create Date: 2026-11-23 22:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_table_sort_indexes"
down_revision = "0002_server_settings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Each sort of the table pages by keyset on (sort key, pk), so each needs an index on it.
    # The team sort key is coalesce(team, ''): a NULL would defeat the row-value comparison.
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.create_index("ix_datasets_created_at", ["created_at", "pk"], unique=False)
    op.create_index(
        "ix_datasets_team_sort", "datasets", [sa.text("coalesce(team, '')"), "pk"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_datasets_team_sort", table_name="datasets")
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_index("ix_datasets_created_at")
