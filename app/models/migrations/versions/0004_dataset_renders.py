"""dataset renders: each dataset's export fragments, rendered when it is written

Revision ID: 0004_dataset_renders
Revises: 0003_table_sort_indexes
Create Date: 2026-11-24 00:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_dataset_renders"
down_revision = "0003_table_sort_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing datasets get no rows here: readers render a missing fragment on the fly.
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


def downgrade() -> None:
    op.drop_table("dataset_renders")
