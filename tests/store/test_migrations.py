"""The migrations build exactly the schema that `store/schema.py` declares, on both backends,
and migrating twice changes nothing."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from stormflow.store import Store
from stormflow.store.migrate import alembic_config
from stormflow.store.schema import metadata


def test_migrated_database_matches_the_declared_schema(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_attempts_node_index_leaves_snapshot_out(store: Store) -> None:
    """Moving 100,000 attempts into their snapshots must not rewrite an index (0003)."""
    indexes = {i["name"]: i["column_names"] for i in inspect(store.engine).get_indexes("attempts")}
    assert indexes["ix_attempts_node"] == ["workflow_id", "node"]
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            options = conn.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE oid = 'attempts'::regclass"
            ).scalar_one()
        assert options == ["fillfactor=70"]


def test_a_database_of_an_earlier_revision_is_brought_to_head(store_url: str) -> None:
    """A store created before 0003 opens, is migrated and matches the declared schema."""
    from alembic import command
    from sqlalchemy import create_engine

    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
    finally:
        engine.dispose()
    store = Store(store_url)
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn)
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert context.get_current_revision() == head
            assert compare_metadata(context, metadata) == []
    finally:
        store.close()
