"""Bulk statements for big outcomes and submits, below SQLAlchemy's per-row parameter handling.

Rows are plain tuples, produced lazily and sent in chunks, so 100,000 rows never sit in
memory as 100,000 parameter dicts.

- Inserts: PostgreSQL `COPY ... FROM STDIN` on the transaction's own connection (one
  multi-row `INSERT` below `SMALL` rows); SQLite one `executemany` per chunk.
- Updates keyed by name: PostgreSQL one `UPDATE ... FROM unnest(arrays)` per chunk (a
  join the planner cannot turn into a per-row scan of a long `= ANY` list, whatever its
  statistics say); SQLite one `executemany` per chunk.

JSON values go in as text (`json.dumps`, what SQLAlchemy's JSON type writes). Statements are
driver SQL (see `driver`), their text built once per table and column list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Table

from .driver import driver

#: Rows per statement (SQLite) / per unnest update (PostgreSQL).
BULK_CHUNK = 5000


def dumps(value: Any) -> str:
    return json.dumps(value)


def batched(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


#: Fewer rows than this go to PostgreSQL as one pipelined executemany rather than COPY,
#: whose setup costs more round trips than a handful of rows (a task's events, say).
SMALL = 64


@cache
def _insert_sql(dialect: str, table: str, columns: tuple[str, ...], rows: int = 1) -> str:
    quote = _quote
    cols = ", ".join(quote(c) for c in columns)
    marks = ", ".join("?" for _ in columns)
    values = ", ".join(f"({marks})" for _ in range(rows))
    return f"INSERT INTO {quote(table)} ({cols}) VALUES {values}"


@cache
def _copy_sql(table: str, columns: tuple[str, ...]) -> str:
    quote = _quote
    return f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"


def insert_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    *,
    chunk: int = BULK_CHUNK,
) -> int:
    """Insert tuples (values in `columns` order, JSON already as text); returns the count."""
    db = driver(conn)
    dialect = conn.dialect.name
    count = 0
    for part in batched(rows, chunk):
        if db.postgres and len(part) >= SMALL and not db.pipelined:
            db.copy(_copy_sql(table.name, tuple(columns)), part)
        elif db.postgres and len(part) < SMALL:
            # A few rows as one statement: psycopg's cost is per statement, not per row
            # (sqlite3's executemany steps one prepared statement, as cheap). An UPDATE
            # from a VALUES list measured slower than pipelined single-row updates.
            sql = _insert_sql(dialect, table.name, tuple(columns), len(part))
            db.run(sql, [value for row in part for value in row])
        else:
            db.many(_insert_sql(dialect, table.name, tuple(columns)), part)
        count += len(part)
    return count


@cache
def _update_sql(
    dialect: str,
    table: str,
    key: tuple[str, str],
    columns: tuple[tuple[str, str], ...],
    per_row: bool,
) -> str:
    quote = _quote
    key_col, key_type = key
    target = quote(table)
    if dialect != "postgresql" or per_row:
        cast = {"jsonb": "::jsonb"} if dialect == "postgresql" else {}
        sets = ", ".join(f"{quote(c)} = ?{cast.get(t, '')}" for c, t in columns)
        return f"UPDATE {target} SET {sets} WHERE workflow_id = ? AND {quote(key_col)} = ?"
    names = [key_col, *(c for c, _ in columns)]
    types = [key_type, *("text" if t == "jsonb" else t for _, t in columns)]
    arrays = ", ".join(f"?::{t}[]" for t in types)
    sets = ", ".join(
        f"{quote(c)} = v.{quote(c)}" + ("::jsonb" if t == "jsonb" else "") for c, t in columns
    )
    alias = ", ".join(quote(n) for n in names)
    return (
        f"UPDATE {target} SET {sets} FROM unnest({arrays}) AS v({alias})"
        f" WHERE {target}.workflow_id = ? AND {target}.{quote(key_col)} = v.{quote(key_col)}"
    )


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
    db = driver(conn)
    count = 0
    for part in batched(rows, chunk):
        # PostgreSQL: a few rows as pipelined per-row updates (dumping arrays costs more)
        per_row = not db.postgres or len(part) < SMALL
        sql = _update_sql(conn.dialect.name, table.name, key, tuple(columns), per_row)
        if per_row:
            db.many(sql, [(*r[1:], workflow_id, r[0]) for r in part])
        else:
            params = [list(col) for col in zip(*part, strict=True)]
            db.run(sql, (*params, workflow_id))
        count += len(part)
    return count


def _quote(name: str) -> str:
    """Every identifier quoted (`group` is a keyword); ours are lower case, so a quoted name
    is the same name on both backends."""
    return f'"{name}"'
