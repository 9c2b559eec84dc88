"""PostgreSQL planner statistics: a big submit into empty tables is analyzed at once."""

from __future__ import annotations

import itertools

from sqlalchemy import text

from stormflow.store import Store

from .helpers import submit


def _analyzed(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema()"
                " AND last_analyze IS NOT NULL"
            )
        )
        return {name for (name,) in rows}


def test_a_submit_that_grows_the_tables_refreshes_their_statistics(store: Store) -> None:
    if store.dialect != "postgresql":
        assert store.refresh_statistics({"nodes": 10**6}) == []  # SQLite plans without them
        return
    names = [f"n{i:03d}" for i in range(120)]
    submit(store, names, list(itertools.pairwise(names)))
    assert {"nodes", "edges"} <= _analyzed(store)
    # nothing changed since: nothing to analyze; a small submit into big tables: neither
    assert store.refresh_statistics() == []
    assert store.refresh_statistics({"nodes": 5}) == []
    assert store.refresh_statistics({"nodes": 500}) == ["nodes"]
