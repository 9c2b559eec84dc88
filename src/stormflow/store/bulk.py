"""Bulk statements for big outcomes and submits, below SQLAlchemy's per-row parameter handling.

Rows are plain tuples, produced lazily and sent in chunks, so 100,000 rows never sit in
memory as 100,000 parameter dicts.

- Inserts: PostgreSQL `COPY ... FROM STDIN` on the transaction's own connection;
  SQLite one `executemany` per chunk.
- Updates keyed by name: PostgreSQL one `UPDATE ... FROM unnest(arrays)` per chunk (a
  join the planner cannot turn into a per-row scan of a long `= ANY` list, whatever its
  statistics say); SQLite one `executemany` per chunk.

JSON values go in as text (`json.dumps`, what SQLAlchemy's JSON type writes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Table

#: Rows per statement (SQLite) / per unnest update (PostgreSQL).
BULK_CHUNK = 5000


def dumps(value: Any) -> str:
    return json.dumps(value)


def batched(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def insert_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    *,
    chunk: int = BULK_CHUNK,
) -> int:
    """Insert tuples (values in `columns` order, JSON already as text); returns the count."""
    cols = ", ".join(_quote(conn, c) for c in columns)
    target = _quote(conn, table.name)
    count = 0
    if conn.dialect.name == "postgresql":
        dbapi = conn.connection.driver_connection
        assert dbapi is not None
        with dbapi.cursor() as cur, cur.copy(f"COPY {target} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {target} ({cols}) VALUES ({marks})"
    for part in batched(rows, chunk):
        conn.exec_driver_sql(sql, part)
        count += len(part)
    return count


def update_rows(
    conn: Connection,
    table: Table,
    key: tuple[str, str],
    workflow_id: str,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[tuple[Any, ...]],
    *,
    chunk: int = BULK_CHUNK,
) -> int:
    """`UPDATE table SET col = value ... WHERE workflow_id = ? AND <key column> = ?` per row.

    `key` is (column, PostgreSQL array type) of the row key; `columns` are (column,
    PostgreSQL array element type) to set; each row is (key, *values). JSON values go
    as text with element type `jsonb` (cast from text).
    """
    key_col, key_type = key
    target = _quote(conn, table.name)
    count = 0
    if conn.dialect.name == "postgresql":
        names = [key_col, *(c for c, _ in columns)]
        types = [key_type, *("text" if t == "jsonb" else t for _, t in columns)]
        arrays = ", ".join(f"%s::{t}[]" for t in types)
        sets = ", ".join(
            f"{_quote(conn, c)} = v.{_quote(conn, c)}" + ("::jsonb" if t == "jsonb" else "")
            for c, t in columns
        )
        alias = ", ".join(_quote(conn, n) for n in names)
        sql = (
            f"UPDATE {target} SET {sets} FROM unnest({arrays}) AS v({alias})"
            f" WHERE {target}.workflow_id = %s AND {target}.{_quote(conn, key_col)}"
            f" = v.{_quote(conn, key_col)}"
        )
        for part in batched(rows, chunk):
            params = [list(col) for col in zip(*part, strict=True)]
            conn.exec_driver_sql(sql, (*params, workflow_id))
            count += len(part)
        return count
    sets = ", ".join(f"{_quote(conn, c)} = ?" for c, _ in columns)
    sql = f"UPDATE {target} SET {sets} WHERE workflow_id = ? AND {_quote(conn, key_col)} = ?"
    for part in batched(rows, chunk):
        conn.exec_driver_sql(sql, [(*r[1:], workflow_id, r[0]) for r in part])
        count += len(part)
    return count
