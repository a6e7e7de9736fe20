"""directory notify: on PostgreSQL, a commit that writes the directory tells the listeners

Dataset writes NOTIFY the catalogue's channel from the writer (services.changes). Users, teams,
groups, rulesets, API keys, the managed lists, settings and remotes write no version and have
many writers; a statement trigger on each table sends `directory` on the same channel, so
another desktop's window hears of them when they commit (services.catalogue_watch), whoever
wrote them. PostgreSQL folds a transaction's identical notifications into one. SQLite needs
none of it: its watch reads `PRAGMA data_version`.

Revision ID: 0013_directory_notify
Revises: 0012_search_filters_index
Create Date: 2026-12-03 19:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0013_directory_notify"
down_revision = "0012_search_filters_index"
branch_labels = None
depends_on = None

FUNCTION = "catalogue_desk_directory_changed"
TRIGGER = "directory_changed"
# A frozen copy of services.changes.CHANNEL and DIRECTORY (a migration does not follow the code).
CHANNEL, PAYLOAD = "catalogue_desk", "directory"
TABLES = [
    "users",
    "teams",
    "team_members",
    "groups",
    "group_members",
    "user_rulesets",
    "group_rulesets",
    "api_keys",
    "topics",
    "licences",
    "mastheads",
    "server_settings",
    "remotes",
]


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(
        f"CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN PERFORM pg_notify('{CHANNEL}', '{PAYLOAD}'); RETURN NULL; END $$"
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
            f" ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER {TRIGGER} ON {table}")
    op.execute(f"DROP FUNCTION {FUNCTION}()")
