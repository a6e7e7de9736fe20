"""initial schema, with the SQLite FTS5 index over title, description text and tags

Revision ID: 0001
Revises:
Create Date: 2026-11-23 21:57:06.248071
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# External-content FTS5 table kept in step with `datasets` by triggers, so a search never
# scans the table and a write can never leave the index behind.
FTS_STATEMENTS = [
    """CREATE VIRTUAL TABLE datasets_fts USING fts5(
        title, description_text, tags,
        content='datasets', content_rowid='pk', tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER datasets_fts_ai AFTER INSERT ON datasets BEGIN
        INSERT INTO datasets_fts(rowid, title, description_text, tags)
        VALUES (new.pk, new.title, new.description_text, new.tags);
    END""",
    """CREATE TRIGGER datasets_fts_ad AFTER DELETE ON datasets BEGIN
        INSERT INTO datasets_fts(datasets_fts, rowid, title, description_text, tags)
        VALUES ('delete', old.pk, old.title, old.description_text, old.tags);
    END""",
    """CREATE TRIGGER datasets_fts_au AFTER UPDATE OF title, description_text, tags ON datasets
    BEGIN
        INSERT INTO datasets_fts(datasets_fts, rowid, title, description_text, tags)
        VALUES ('delete', old.pk, old.title, old.description_text, old.tags);
        INSERT INTO datasets_fts(rowid, title, description_text, tags)
        VALUES (new.pk, new.title, new.description_text, new.tags);
    END""",
]


def upgrade() -> None:
    op.create_table(
        "dataset_versions",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("dataset_pk", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.String(length=5), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", sa.String(length=24), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_dataset_versions")),
    )
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.create_index("ix_dataset_versions_dataset", ["dataset_pk", "number"], unique=False)

    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("title", name=op.f("uq_groups_title")),
    )
    op.create_table(
        "licences",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_licences")),
        sa.UniqueConstraint("url", name=op.f("uq_licences_url")),
    )
    op.create_table(
        "mastheads",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mastheads")),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=5), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    op.create_table(
        "topics",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topics")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_keys",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=20), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.String(length=24), nullable=False),
        sa.Column("revoked_at", sa.String(length=24), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sa.UniqueConstraint("uid", name=op.f("uq_api_keys_uid")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False)

    op.create_table(
        "datasets",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=5), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("description_text", sa.Text(), nullable=False),
        sa.Column("description_iframe", sa.Text(), nullable=True),
        sa.Column("masthead", sa.String(length=100), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("next_review_date", sa.String(length=10), nullable=True),
        sa.Column("licence_url", sa.Text(), nullable=True),
        sa.Column("licence_title", sa.Text(), nullable=True),
        sa.Column("contact_email", sa.Text(), nullable=True),
        sa.Column("contact_title", sa.Text(), nullable=True),
        sa.Column("custom", sa.JSON(), nullable=False),
        sa.Column("sharing", sa.String(length=10), nullable=False),
        sa.Column("team", sa.String(length=5), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("embargo_until", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.String(length=24), nullable=False),
        sa.Column("updated_at", sa.String(length=24), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team"], ["teams.id"], name=op.f("fk_datasets_team_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_datasets")),
        sa.UniqueConstraint("id", name=op.f("uq_datasets_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.create_index("ix_datasets_state", ["state", "pk"], unique=False)
        batch_op.create_index("ix_datasets_title", ["title", "pk"], unique=False)
        batch_op.create_index("ix_datasets_updated_at", ["updated_at", "pk"], unique=False)

    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_members_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_members")),
    )
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_members_user_id"), ["user_id"], unique=False)

    op.create_table(
        "team_members",
        sa.Column("team_id", sa.String(length=5), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_team_members_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_team_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_team_members")),
    )
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_members_user_id"), ["user_id"], unique=False)

    op.create_table(
        "dataset_collaborators",
        sa.Column("dataset_pk", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_pk"],
            ["datasets.pk"],
            name=op.f("fk_dataset_collaborators_dataset_pk_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_dataset_collaborators_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_pk", "user_id", name=op.f("pk_dataset_collaborators")),
    )
    with op.batch_alter_table("dataset_collaborators", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_collaborators_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "dataset_read_teams",
        sa.Column("dataset_pk", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_pk"],
            ["datasets.pk"],
            name=op.f("fk_dataset_read_teams_dataset_pk_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_dataset_read_teams_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_pk", "team_id", name=op.f("pk_dataset_read_teams")),
    )
    with op.batch_alter_table("dataset_read_teams", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_read_teams_team_id"), ["team_id"], unique=False
        )

    op.create_table(
        "dataset_read_users",
        sa.Column("dataset_pk", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_pk"],
            ["datasets.pk"],
            name=op.f("fk_dataset_read_users_dataset_pk_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_dataset_read_users_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_pk", "user_id", name=op.f("pk_dataset_read_users")),
    )
    with op.batch_alter_table("dataset_read_users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_read_users_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "group_rulesets",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("dataset_pk", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("perms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_pk"],
            ["datasets.pk"],
            name=op.f("fk_group_rulesets_dataset_pk_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_rulesets_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_group_rulesets")),
        sa.UniqueConstraint("dataset_pk", "group_id", name=op.f("uq_group_rulesets_dataset_pk")),
    )
    with op.batch_alter_table("group_rulesets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_rulesets_group_id"), ["group_id"], unique=False)

    op.create_table(
        "links",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("dataset_pk", sa.Integer(), nullable=False),
        sa.Column("lid", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("qa_timestamp", sa.String(length=32), nullable=True),
        sa.Column("qa_hash", sa.Text(), nullable=True),
        sa.Column("qa_size", sa.Integer(), nullable=True),
        sa.Column("qa_mimetype", sa.Text(), nullable=True),
        sa.Column("qa_http_status", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_pk"],
            ["datasets.pk"],
            name=op.f("fk_links_dataset_pk_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_links")),
        sa.UniqueConstraint("dataset_pk", "lid", name=op.f("uq_links_dataset_pk")),
    )
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_links_dataset_pk"), ["dataset_pk"], unique=False)

    op.create_table(
        "resources",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("dataset_pk", sa.Integer(), nullable=False),
        sa.Column("rid", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("time_from", sa.String(length=7), nullable=True),
        sa.Column("time_to", sa.String(length=7), nullable=True),
        sa.Column("format", sa.String(length=40), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("timestamp", sa.String(length=32), nullable=True),
        sa.Column("origin", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_pk"],
            ["datasets.pk"],
            name=op.f("fk_resources_dataset_pk_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_resources")),
        sa.UniqueConstraint("dataset_pk", "rid", name=op.f("uq_resources_dataset_pk")),
    )
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resources_dataset_pk"), ["dataset_pk"], unique=False)

    op.create_table(
        "user_rulesets",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("dataset_pk", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("perms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_pk"],
            ["datasets.pk"],
            name=op.f("fk_user_rulesets_dataset_pk_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_rulesets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_user_rulesets")),
        sa.UniqueConstraint("dataset_pk", "user_id", name=op.f("uq_user_rulesets_dataset_pk")),
    )
    with op.batch_alter_table("user_rulesets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_rulesets_user_id"), ["user_id"], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        for statement in FTS_STATEMENTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS datasets_fts")
    with op.batch_alter_table("user_rulesets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_rulesets_user_id"))

    op.drop_table("user_rulesets")
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resources_dataset_pk"))

    op.drop_table("resources")
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_links_dataset_pk"))

    op.drop_table("links")
    with op.batch_alter_table("group_rulesets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_rulesets_group_id"))

    op.drop_table("group_rulesets")
    with op.batch_alter_table("dataset_read_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_read_users_user_id"))

    op.drop_table("dataset_read_users")
    with op.batch_alter_table("dataset_read_teams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_read_teams_team_id"))

    op.drop_table("dataset_read_teams")
    with op.batch_alter_table("dataset_collaborators", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_collaborators_user_id"))

    op.drop_table("dataset_collaborators")
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_members_user_id"))

    op.drop_table("team_members")
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_members_user_id"))

    op.drop_table("group_members")
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_index("ix_datasets_updated_at")
        batch_op.drop_index("ix_datasets_title")
        batch_op.drop_index("ix_datasets_state")

    op.drop_table("datasets")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))

    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_table("topics")
    op.drop_table("teams")
    op.drop_table("mastheads")
    op.drop_table("licences")
    op.drop_table("groups")
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_dataset_versions_dataset")

    op.drop_table("dataset_versions")
