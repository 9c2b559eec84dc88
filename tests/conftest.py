"""Shared store fixtures: `store_url` and `store`, each over SQLite and PostgreSQL.

PostgreSQL runs at 127.0.0.1:5432 (database `test`, trust auth, role `postgres`
or `root`); every test gets a fresh schema, dropped afterwards. Without a server
the postgres params are skipped, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache

import psycopg
import pytest

from stormflow.store import Store, db

PG_ROLES = ("postgres", "root")
PG_HOST = "127.0.0.1:5432"
PG_DB = "test"


@cache
def _pg_role() -> str | None:
    for role in PG_ROLES:
        try:
            with psycopg.connect(f"postgresql://{role}@{PG_HOST}/{PG_DB}", connect_timeout=3):
                return role
        except psycopg.Error:
            continue
    return None


def _pg_or_skip() -> str:
    role = _pg_role()
    if role is None:
        message = f"PostgreSQL is not reachable at {PG_HOST}/{PG_DB} (roles tried: {PG_ROLES})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        pytest.skip(message)
    return role


@pytest.fixture(autouse=True)
def checkout_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with nested checkouts failing loudly (issue 11, finding 6): code that
    checks out a second connection inside its write transaction can hang for good once the
    pool is full of requests waiting for that transaction's lock."""
    monkeypatch.setattr(db, "CHECKOUT_GUARD", True)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database URL for an empty store: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store')}/storm.db"
        return
    role = _pg_or_skip()
    schema = f"storm_test_{uuid.uuid4().hex[:12]}"
    admin = f"postgresql://{role}@{PG_HOST}/{PG_DB}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql+psycopg://{role}@{PG_HOST}/{PG_DB}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store(store_url)
    try:
        yield opened
    finally:
        opened.close()
