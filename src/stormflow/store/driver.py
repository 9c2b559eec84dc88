"""Driver SQL: the statements of the per-task path, sent straight to the DBAPI connection.

The scheduler's transaction for one finished task runs about ten statements. Built as
SQLAlchemy expressions each costs ~100 µs of Python before the database sees it (statement
construction, cache key, execution context); as a fixed string on the transaction's own
DBAPI connection it costs ~10 µs, and both drivers cache the prepared statement (sqlite3's
statement cache; psycopg prepares a query after a few executions). The text is written
once with `?` placeholders and turned into psycopg's `%s` for PostgreSQL, so it must not
contain a literal `?` or `%`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from sqlalchemy import Connection


@cache
def _pyformat(sql: str) -> str:
    return sql.replace("?", "%s")


class Driver:
    """The DBAPI connection under a SQLAlchemy `Connection`, inside its transaction."""

    __slots__ = ("_raw", "pipelined", "postgres")

    def __init__(self, conn: Connection) -> None:
        raw = conn.connection.driver_connection
        assert raw is not None
        self._raw: Any = raw
        self.postgres = conn.dialect.name == "postgresql"
        self.pipelined = False

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """PostgreSQL: send the statements inside without waiting for each answer (psycopg's
        pipeline mode; a read inside still gets its rows). SQLite: nothing to save."""
        if not self.postgres or self.pipelined:
            yield
            return
        with self._raw.pipeline():
            self.pipelined = True
            try:
                yield
            finally:
                self.pipelined = False

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, Sequence[Any]]:
        """(`column` is one of `values`, its parameters): one array on PostgreSQL."""
        if self.postgres:
            return f"{column} = ANY(?)", [list(values)]
        return f"{column} IN ({', '.join('?' * len(values))})", values

    def sql(self, text: str) -> str:
        return _pyformat(text) if self.postgres else text

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return read(self.send(text, params))

    def send(self, text: str, params: Sequence[Any] = ()) -> Any:
        """Execute and return the cursor, rows unread: inside a pipeline several statements
        go before the first read waits (read them in order, then close the cursors)."""
        return self._raw.execute(self.sql(text), params)

    def run(self, text: str, params: Sequence[Any] = ()) -> None:
        self._raw.execute(self.sql(text), params).close()

    def many(self, text: str, params: Sequence[Sequence[Any]]) -> None:
        if len(params) == 1:  # the common case on the per-task path: less driver machinery
            self.run(text, params[0])
            return
        cur = self._raw.cursor()
        try:
            cur.executemany(self.sql(text), params)
        finally:
            cur.close()

    def copy(self, text: str, rows: Iterable[Sequence[Any]]) -> None:
        """PostgreSQL `COPY ... FROM STDIN` of tuples (not inside a pipeline)."""
        with self._raw.cursor() as cur, cur.copy(text) as copy:
            for row in rows:
                copy.write_row(row)


def read(cursor: Any) -> list[tuple[Any, ...]]:
    """A sent statement's rows; the cursor is closed."""
    try:
        return list(cursor.fetchall())
    finally:
        cursor.close()


def driver(conn: Connection) -> Driver:
    """The connection's `Driver`, made once per connection checkout."""
    info = conn.info  # lives with the pooled DBAPI connection
    found: Driver | None = info.get("storm_driver")
    if found is None or found._raw is not conn.connection.driver_connection:  # reconnected
        found = info["storm_driver"] = Driver(conn)
    return found
