"""catalogue version: a counter every dataset write moves, its log, each dataset's last
version, and the tombstones of datasets that left the published set

Existing datasets start at version 0, changed when they were last updated.

Revision ID: 0011_catalogue_version
Revises: 0010_resource_hash_algorithms
Create Date: 2026-12-03 13:30:00.000000
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision = "0011_catalogue_version"
down_revision = "0010_resource_hash_algorithms"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_datasets_catalogue_version", ["catalogue_version", "pk"]),
    ("ix_datasets_changed_at", ["changed_at", "pk"]),
    ("ix_datasets_embargo_until", ["embargo_until", "pk"]),
)


def upgrade() -> None:
    op.create_table(
        "catalogue_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", sa.String(length=24), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_catalogue_counter_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO catalogue_counter (id, version, at) VALUES (1, 0, '')")
    op.create_table(
        "catalogue_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=24), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_index("ix_catalogue_versions_at", "catalogue_versions", ["at"])
    # Version 0 is the catalogue as this migration found it: a harvester that read version 0
    # read it after now, so the embargoes that ended by today were public to it already.
    moment = datetime.now(UTC)
    op.execute(
        sa.text(
            "INSERT INTO catalogue_versions (version, at, day) VALUES (0, :at, :day)"
        ).bindparams(
            at=moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            day=date.today().isoformat(),
        )
    )
    op.create_table(
        "dataset_tombstones",
        sa.Column("dataset_id", sa.String(length=5), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", sa.String(length=24), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id"),
    )
    op.create_index(
        "ix_dataset_tombstones_version", "dataset_tombstones", ["version", "dataset_id"]
    )
    op.add_column(
        "datasets",
        sa.Column("catalogue_version", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "datasets",
        sa.Column("changed_at", sa.String(length=24), nullable=False, server_default=""),
    )
    op.execute("UPDATE datasets SET changed_at = updated_at")
    for name, columns in _INDEXES:
        op.create_index(name, "datasets", columns)


def downgrade() -> None:
    for name, _ in _INDEXES:
        op.drop_index(name, table_name="datasets")
    # SQLite (3.35+) drops an unindexed column in place: no rebuild of the table, whose
    # search index view and expression index a rebuild would trip over.
    op.drop_column("datasets", "changed_at")
    op.drop_column("datasets", "catalogue_version")
    op.drop_table("dataset_tombstones")
    op.drop_table("catalogue_versions")
    op.drop_table("catalogue_counter")
