"""Bring a database to the newest schema with Alembic, programmatically (no alembic.ini)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine) -> None:
    """Upgrade to head in one transaction (DDL is transactional on both backends)."""
    cfg = alembic_config()
    with engine.connect() as conn:
        conn.execution_options(storm_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # two processes opening one database at once must not both create tables
                conn.execute(text("SELECT pg_advisory_xact_lock(7301946)"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
