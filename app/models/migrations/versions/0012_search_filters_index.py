"""search filters index: the columns a dataset search filters and sorts on, keyed by pk

A search that starts from the full-text index has a list of pks; checking each against who may
see it (state, sharing, embargo) and the search's choices (team, licence, dates) from this
narrow index costs a fraction of reading each dataset's row (services.dataset_search).

Revision ID: 0012_search_filters_index
Revises: 0011_catalogue_version
Create Date: 2026-12-03 17:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0012_search_filters_index"
down_revision = "0011_catalogue_version"
branch_labels = None
depends_on = None

NAME = "ix_datasets_search_filters"
COLUMNS = [
    "pk",
    "state",
    "sharing",
    "embargo_until",
    "team",
    "licence_title",
    "changed_at",
    "created_at",
]


def upgrade() -> None:
    op.create_index(NAME, "datasets", COLUMNS)


def downgrade() -> None:
    op.drop_index(NAME, table_name="datasets")
