"""remotes: a key read from a file named by path (readable only by its owner), each run

Revision ID: 0009_remote_key_file
Revises: 0008_packed_history
Create Date: 2026-12-02 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_remote_key_file"
down_revision = "0008_packed_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("remotes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_file", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("remotes", schema=None) as batch_op:
        batch_op.drop_column("key_file")
