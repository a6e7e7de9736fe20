"""Alembic environment: runs against the connection that Database.open hands over."""

from __future__ import annotations

from alembic import context

from app.models import Base
from app.models.schema_filter import include_object

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` on the command line: open the URL given in the config.
    from app.models.database import create_catalogue_engine

    engine = create_catalogue_engine(config.get_main_option("sqlalchemy.url") or "")
    connection = engine.connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds the table.
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
