"""resources: a hash of any algorithm (`sha512:` and 128 hex digits at most), not MD5 only

Revision ID: 0010_resource_hash_algorithms
Revises: 0009_remote_key_file
Create Date: 2026-12-02 19:00:00.000000
"""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0010_resource_hash_algorithms"
down_revision = "0009_remote_key_file"
branch_labels = None
depends_on = None


def _hash_type(old: int, new: int) -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("resources", "hash", existing_type=sa.String(old), type_=sa.String(new))
        return
    # SQLite rebuilds the table; reflecting it also reflects `datasets`, whose expression index
    # (ix_datasets_team_sort) SQLAlchemy cannot reflect and says so. It is not touched.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        with op.batch_alter_table("resources", schema=None) as batch_op:
            batch_op.alter_column(
                "hash", existing_type=sa.String(old), type_=sa.String(new), existing_nullable=True
            )


def upgrade() -> None:
    _hash_type(64, 135)


def downgrade() -> None:
    _hash_type(135, 64)
