from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from app.models import Dataset, Resource
from app.models.database import INDEXED_BY, MIGRATIONS_DIR, Database, database_url


def test_open_migrates_to_head_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    database = Database.open(tmp_path / "c.sqlite")
    with database.read() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert revision == ScriptDirectory.from_config(config).get_current_head()
    tables = set(inspect(database.engine).get_table_names())
    assert {"datasets", "resources", "links", "dataset_versions", "datasets_fts"} <= tables
    database.dispose()
    # Opening again is a no-op migration, not an error.
    Database.open(tmp_path / "c.sqlite").dispose()


def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError), database.transaction() as session:
        session.add(Resource(dataset_pk=12345, rid="abc", title="orphan"))


def test_db_argument_takes_a_path_or_a_url(tmp_path: Path) -> None:
    assert database_url(tmp_path / "x.sqlite") == f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert database_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_two_writers_serialise_instead_of_failing(database: Database) -> None:
    """BEGIN IMMEDIATE: concurrent write transactions wait for each other, none gets 'locked'."""
    with database.transaction() as session:
        session.execute(text("CREATE TABLE counter (n INTEGER)"))
        session.execute(text("INSERT INTO counter VALUES (0)"))
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(25):
                with database.transaction() as session:
                    n = session.execute(text("SELECT n FROM counter")).scalar_one()
                    session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with database.read() as session:
        assert session.execute(text("SELECT n FROM counter")).scalar_one() == 100


# SQLite cannot reflect the expression index on coalesce(team, ''); both sides say so.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_models_and_migrations_agree(database: Database) -> None:
    """A model change without its migration fails here, not on a user's catalogue."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app.models import Base
    from app.models.schema_filter import include_object

    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        assert compare_metadata(context, Base.metadata) == []


def test_a_statement_reads_through_the_index_its_option_names(database: Database) -> None:
    sent: list[str] = []
    event.listen(database.engine, "after_cursor_execute", lambda *args: sent.append(args[2]))
    statement = (
        select(Dataset.pk)
        .where(Dataset.pk.in_(select(Dataset.pk).where(Dataset.state == "draft")))
        .order_by(Dataset.changed_at)
    )
    through = {INDEXED_BY: {"datasets": "ix_datasets_search_filters"}}
    with database.read() as session:
        assert session.scalars(statement, execution_options=through).all() == []
        assert session.scalars(statement).all() == []  # and without: as written
        # SQLite is told: an index that does not exist is its error.
        with pytest.raises(OperationalError, match="no such index: ix_none"):
            session.scalars(statement, execution_options={INDEXED_BY: {"datasets": "ix_none"}})
    first, second = [sql for sql in sent if sql.startswith("SELECT")]
    assert first.count("INDEXED BY") == 1  # the outer query's FROM only
    assert "FROM datasets INDEXED BY ix_datasets_search_filters" in first
    assert "INDEXED BY" not in second
