"""Engines for both backends, and the transaction discipline every write follows.

SQLite: pysqlite's own transaction handling is turned off and writes begin with
`BEGIN IMMEDIATE`, so a writer takes the database lock up front instead of failing
to upgrade a read lock halfway (SQLAlchemy docs, "Serializable isolation /
Savepoints / Transactional DDL"). PostgreSQL: every transaction on a workflow
first locks its row (`SELECT ... FOR UPDATE`), so actions on one workflow are
serialized and each reads what the previous one committed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from . import migrate
from .records import UnknownWorkflow
from .schema import workflows
from .view import CHUNK, Adjacency, load_adjacency

T = TypeVar("T")


#: Workflows whose adjacency stays cached (edges never change after submit).
ADJACENCY_CACHE = 256


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    memory = parsed.database in (None, "", ":memory:")
    engine = create_engine(
        parsed,
        connect_args={"timeout": 30, "check_same_thread": False},
        poolclass=StaticPool if memory else None,
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA case_sensitive_like=ON")  # globs behave as on PostgreSQL
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("storm_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Database:
    """Engine, transactions and the process-wide adjacency cache shared by the store's parts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        migrate.upgrade(self.engine)
        self._adjacency: OrderedDict[str, Adjacency] = OrderedDict()
        self._adjacency_lock = threading.Lock()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction that sees one snapshot, however many statements it runs.

        SQLite's WAL gives that by itself; PostgreSQL's default READ COMMITTED takes a new
        snapshot per statement (status() could count a node open and then not find it
        runnable), so reads use REPEATABLE READ, which never fails for read-only work.
        """
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(storm_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def on_workflow(self, workflow_id: str) -> Iterator[tuple[Connection, int]]:
        """A write transaction holding the workflow's lock; yields (conn, last event seq)."""
        with self.write() as conn:
            row = conn.execute(
                select(workflows.c.last_seq).where(workflows.c.id == workflow_id).with_for_update()
            ).first()
            if row is None:
                raise UnknownWorkflow(workflow_id)
            yield conn, row.last_seq

    def adjacency(self, conn: Connection, workflow_id: str) -> Adjacency:
        with self._adjacency_lock:
            adj = self._adjacency.get(workflow_id)
            if adj is not None:
                self._adjacency.move_to_end(workflow_id)
                return adj
        adj = load_adjacency(conn, workflow_id)  # outside the lock: may be large
        with self._adjacency_lock:
            self._adjacency[workflow_id] = adj
            while len(self._adjacency) > ADJACENCY_CACHE:
                self._adjacency.popitem(last=False)
        return adj
