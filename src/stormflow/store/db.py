"""Engines for both backends, and the transaction discipline every write follows.

SQLite: pysqlite's own transaction handling is turned off and writes begin with
`BEGIN IMMEDIATE`, so a writer takes the database lock up front instead of failing
to upgrade a read lock halfway (SQLAlchemy docs, "Serializable isolation /
Savepoints / Transactional DDL"). PostgreSQL: every transaction on a workflow
first locks its row (`SELECT ... FOR UPDATE`), so actions on one workflow are
serialized and each reads what the previous one committed.
"""

from __future__ import annotations

import bisect
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.pool import StaticPool

from stormflow.core import Node
from stormflow.paths import PRIVATE_FILE, tighten
from stormflow.spec.natural import natural_key, natural_sorted

from . import migrate
from .driver import Driver, driver, read
from .fairlock import FairLock
from .records import UnknownWorkflow
from .summary import HEAD_COLUMNS, Head, head_from_row
from .view import CHUNK, Adjacency, load_adjacency, send_nodes

T = TypeVar("T")


#: Tables whose planner statistics the store keeps fresh on PostgreSQL.
STATS = ("workflows", "nodes", "edges", "attempts", "events")

#: Workflows whose adjacency stays cached (edges never change after submit).
ADJACENCY_CACHE = 256


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _seconds(name: str, default: float) -> float:
    """A timeout from the environment (seconds), or its default when unset or unusable."""
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass(frozen=True)
class Timeouts:
    """How long anything waits for the database before giving up: a busy store is an answer
    (HTTP 503 with Retry-After; the scheduler retries), never a hang."""

    pool: float = 10.0  # a free pool connection (STORM_POOL_TIMEOUT)
    lock: float = 10.0  # a row lock (PostgreSQL lock_timeout) / the write lock (SQLite busy)
    statement: float = 120.0  # one statement (PostgreSQL statement_timeout)

    @classmethod
    def from_env(cls) -> Timeouts:
        return cls(
            pool=_seconds("STORM_POOL_TIMEOUT", cls.pool),
            lock=_seconds("STORM_LOCK_TIMEOUT", cls.lock),
            statement=_seconds("STORM_STATEMENT_TIMEOUT", cls.statement),
        )


#: Tests set this (or STORM_CHECKOUT_GUARD=1) to make a pool checkout by a thread that has a
#: write transaction open fail at once: such a nested checkout can wait for ever when
#: every pooled connection belongs to a request waiting for the first one's lock.
CHECKOUT_GUARD = os.environ.get("STORM_CHECKOUT_GUARD") == "1"

_writing = threading.local()


class NestedCheckout(RuntimeError):
    """A connection was checked out inside a write transaction of the same thread."""


def _guard_checkouts(engine: Engine) -> None:
    @event.listens_for(engine, "checkout")
    def _checkout(_dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if CHECKOUT_GUARD and getattr(_writing, "depth", 0) > 0:
            raise NestedCheckout(
                "a second pool connection was checked out inside a write transaction "
                "(read through the transaction's own connection)"
            )


def make_engine(url: str, timeouts: Timeouts | None = None) -> Engine:
    timeouts = timeouts or Timeouts.from_env()
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(parsed, pool_timeout=timeouts.pool)
        lock_ms, statement_ms = int(timeouts.lock * 1000), int(timeouts.statement * 1000)

        @event.listens_for(engine, "connect")
        def _pg_connect(dbapi_conn: Any, _record: Any) -> None:
            # session defaults: every transaction of this connection waits this long at most
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET lock_timeout = {lock_ms}")
                cur.execute(f"SET statement_timeout = {statement_ms}")
            dbapi_conn.commit()

        _guard_checkouts(engine)
        return _ping_when_idle(engine)
    memory = parsed.database in (None, "", ":memory:")
    engine = create_engine(
        parsed,
        connect_args={"timeout": timeouts.lock, "check_same_thread": False},
        poolclass=StaticPool if memory else None,
        # the connection used last goes out first: its page cache is warm (one that sat
        # idle while others wrote re-reads the pages they changed)
        **({} if memory else {"pool_use_lifo": True, "pool_timeout": timeouts.pool}),
    )
    _guard_checkouts(engine)
    busy_ms = int(timeouts.lock * 1000)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA case_sensitive_like=ON")  # globs behave as on PostgreSQL
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("storm_write", False)
        # Straight to the DBAPI connection: through exec_driver_sql this BEGIN cost as much
        # Python as the rest of a small transaction's statements together.
        raw = conn.connection.driver_connection
        assert raw is not None
        statement = "BEGIN IMMEDIATE" if write else "BEGIN"
        try:
            raw.execute(statement).close()
        except sqlite3.OperationalError as exc:  # "database is locked": as SQLAlchemy wraps it
            raise OperationalError(statement, None, exc) from exc

    return engine


#: A pooled PostgreSQL connection idle longer than this is pinged before use.
IDLE_PING = 2.0

#: Workflows whose natural name order stays cached (a dict per node: fewer than adjacency).
ORDER_CACHE = 32

#: Write connections kept checked out between transactions (see Database.write). They
#: count against the pool (SQLAlchemy's default: 5 + 10 overflow), so only a few: the
#: scheduler's per-task writes on one workflow are serialized by its lock anyway.
KEPT_WRITERS = 4


def _ping_when_idle(engine: Engine) -> Engine:
    """Ping a pooled connection before use only when it sat idle for a while.

    `pool_pre_ping` costs a round trip on every checkout: on the scheduler's per-task
    transaction that is one in eight. A connection in steady use has just proved itself;
    one idle for seconds may have been cut (a server restart) and is pinged, replaced at
    once if dead (SQLAlchemy's "pessimistic disconnect handling" through the checkout event).
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["storm_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("storm_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(str(exc)) from exc
        if not alive:
            raise DisconnectionError("the connection did not answer a ping")

    return engine


def is_timeout(exc: BaseException) -> bool:
    """A statement cancelled by its statement timeout, or a lock not granted in time
    (PostgreSQL; raised by psycopg directly, or wrapped by SQLAlchemy): worth retrying."""
    import psycopg

    cause = getattr(exc, "orig", None) or exc
    return isinstance(cause, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable)


def _private_sqlite(url: str) -> None:
    """A SQLite file is created 0600 before SQLite opens it (its -wal and -shm files take
    the database file's mode); an existing one of ours is tightened to 0600 with them."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = str(parsed.database)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE))
    except OSError:
        return  # SQLite says what is wrong when it opens it
    for suffix in ("", "-wal", "-shm"):
        tighten(path + suffix, PRIVATE_FILE)


class Database:
    """Engine, transactions and the process-wide adjacency cache shared by the store's parts."""

    def __init__(self, url: str) -> None:
        self.url = url
        _private_sqlite(url)
        self.timeouts = Timeouts.from_env()
        self.engine = make_engine(url, self.timeouts)
        self.dialect = self.engine.dialect.name
        # SQLite has one writer: this process's writers take turns in order (see fairlock)
        self._turns = FairLock() if self.dialect == "sqlite" else None
        migrate.upgrade(self.engine)
        self._adjacency: OrderedDict[str, Adjacency] = OrderedDict()
        self._orders: OrderedDict[str, NameOrder] = OrderedDict()
        self._adjacency_lock = threading.Lock()
        self._local = threading.local()  # per thread: the statement timeout (statement_timeout)
        # (connection, when it was given back), the last one given back taken first
        self._writers: list[tuple[Connection, float]] = []

    def close(self) -> None:
        while self._writers:
            self._writers.pop()[0].close()
        self.engine.dispose()

    def limit_memory(self, size: int) -> None:
        """SQLite: a soft limit on the memory of every connection of this process together
        (page caches: 2 MB each by default, filled by a store that grew). Past it, a
        connection's cache reuses its own pages instead of growing: the scheduler waiting for
        10,000 external jobs holds a few MB, not every connection's full cache. The pages are
        read again from the operating system's cache when needed. PostgreSQL: nothing."""
        if self.dialect != "sqlite":
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"PRAGMA soft_heap_limit={int(size)}")

    def refresh_statistics(
        self, grown: dict[str, int] | None = None, conn: Connection | None = None
    ) -> list[str]:
        """PostgreSQL: ANALYZE the store's tables that changed by more than autovacuum's
        default threshold (50 rows + 10%) since their last analyze; returns their names.

        A workflow of 100,000 nodes submitted into near-empty tables is otherwise planned
        as if they were still empty (nested loops over every row of the workflow) until
        autovacuum comes round: up to a minute, or never where it is off. `grown`: rows
        just written per table, for a caller that knows (the statistics views lag ~1 s).
        Without the right to analyze a table PostgreSQL skips it with a warning.

        `conn`: inside that transaction, before it commits (a submit): ANALYZE counts the
        transaction's own rows, and the statistics become visible with them, so no reader
        ever plans the new rows with the old statistics (issue 19: a rescan in that window
        planned a nested loop that never ended).
        """
        if self.dialect != "postgresql":
            return []
        if conn is not None:
            return self._analyze(conn, grown or {})
        with self.engine.connect() as own:
            stale = self._analyze(own, grown or {})
            own.commit()
        return stale

    @staticmethod
    def _analyze(conn: Connection, grown: dict[str, int]) -> list[str]:
        db = driver(conn)
        ours, params = db.among("s.relname", STATS)
        rows = db.rows(
            "SELECT s.relname, s.n_mod_since_analyze, greatest(c.reltuples, 0)"
            " FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
            f" WHERE s.schemaname = current_schema() AND {ours}",
            params,
        )
        stale = sorted(  # one order for every caller: two analyzing transactions never deadlock
            name
            for name, changed, tuples in rows
            if max(changed, grown.get(name, 0)) > 50 + 0.1 * tuples
        )
        for name in stale:
            conn.exec_driver_sql(f'ANALYZE "{name}"')
        return stale

    @contextmanager
    def statement_timeout(self, seconds: float | None) -> Iterator[None]:
        """PostgreSQL: every statement of this thread's transactions inside is cancelled after
        `seconds` (`SET LOCAL`, so it ends with each transaction; the scheduler's loop runs
        inside one). The cancel raises `psycopg.errors.QueryCanceled`: see `is_timeout`."""
        before = getattr(self._local, "timeout_ms", None)
        self._local.timeout_ms = None if seconds is None else max(1, int(seconds * 1000))
        try:
            yield
        finally:
            self._local.timeout_ms = before

    def _limit_statements(self, db: Driver) -> None:
        """Set the thread's statement timeout for this transaction (sent; pipelined or not)."""
        ms = getattr(self._local, "timeout_ms", None)
        if ms is not None and db.postgres:
            db.run("SELECT set_config('statement_timeout', ?, true)", (f"{ms}ms",))

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
                self._limit_statements(driver(conn))
                yield conn

    @contextmanager
    def write(self, *, limited: bool = True) -> Iterator[Connection]:
        """A write transaction (SQLite: BEGIN IMMEDIATE).

        Its connection stays checked out afterwards for the next write: a pool checkout
        and check-in cost ~25% of the scheduler's per-task transaction. At most
        KEPT_WRITERS wait; a PostgreSQL one idle past IDLE_PING is pinged first, as the
        pool would. `limited=False`: the caller sets the statement timeout itself (`locked`
        sends it in its first round trip).
        """
        if CHECKOUT_GUARD and getattr(_writing, "depth", 0) > 0:
            raise NestedCheckout("a write transaction was opened inside another one")
        turns = self._turns
        if turns is not None:
            turns.acquire(self.timeouts.lock)
        try:
            conn = self._writer()
        except BaseException:
            if turns is not None:
                turns.release()
            raise
        _writing.depth = getattr(_writing, "depth", 0) + 1
        try:
            with conn.begin():
                if limited:
                    self._limit_statements(driver(conn))
                yield conn
        finally:
            _writing.depth -= 1
            if turns is not None:
                turns.release()
            if conn.invalidated or conn.closed or conn.in_transaction():
                conn.close()
            elif len(self._writers) < KEPT_WRITERS:
                self._writers.append((conn, time.monotonic()))
            else:
                conn.close()

    def _writer(self) -> Connection:
        while self._writers:
            try:
                conn, since = self._writers.pop()
            except IndexError:  # another thread took the last one meanwhile
                break
            if self.dialect != "postgresql" or time.monotonic() - since < IDLE_PING:
                return conn
            raw = conn.connection.dbapi_connection
            try:
                if raw is not None and self.engine.dialect.do_ping(raw):
                    return conn
            except Exception:  # a dead connection: let the pool replace it
                pass
            conn.invalidate()
            conn.close()
        conn = self.engine.connect()
        conn.execution_options(storm_write=True)
        return conn

    @contextmanager
    def on_workflow(self, workflow_id: str) -> Iterator[tuple[Connection, int]]:
        """A write transaction holding the workflow's lock; yields (conn, last event seq)."""
        with self.locked(workflow_id) as (conn, head, _nodes):
            yield conn, head.last_seq

    @contextmanager
    def locked(
        self, workflow_id: str, prefetch: Sequence[str] = ()
    ) -> Iterator[tuple[Connection, Head, dict[str, Node]]]:
        """`on_workflow`, yielding the workflow's row as locked (`Head`: last event seq,
        archived, summary) and the nodes named in `prefetch` (whole, with their current
        run). On PostgreSQL BEGIN, the lock and those reads go in one round trip (a
        pipeline; the server runs them in order, so the reads see the locked state)."""
        with self.write(limited=False) as conn:
            db = driver(conn)
            lock = " FOR UPDATE" if db.postgres else ""  # SQLite: BEGIN IMMEDIATE locked already
            with db.pipeline():
                self._limit_statements(db)
                cursor = db.send(
                    f"SELECT {', '.join(HEAD_COLUMNS)} FROM workflows WHERE id = ?{lock}",
                    (workflow_id,),
                )
                read_nodes = send_nodes(db, workflow_id, prefetch) if prefetch else None
                rows = read(cursor)
                found = read_nodes() if read_nodes is not None else {}
            if not rows or rows[0][0] < 0:  # < 0: its batched submit is under way
                raise UnknownWorkflow(workflow_id)
            yield conn, head_from_row(rows[0]), found

    def cached_adjacency(self, workflow_id: str) -> Adjacency | None:
        """The workflow's adjacency if a transaction loaded it already (edges never change)."""
        with self._adjacency_lock:
            return self._adjacency.get(workflow_id)

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

    def cached_name_order(self, workflow_id: str) -> NameOrder | None:
        with self._adjacency_lock:
            return self._orders.get(workflow_id)

    def name_order(self, conn: Connection, workflow_id: str) -> NameOrder:
        """The workflow's node names in natural order (render.2 before render.10), cached:
        names never change after submit, and sorting 100,000 of them costs ~0.3 s."""
        with self._adjacency_lock:
            order = self._orders.get(workflow_id)
            if order is not None:
                self._orders.move_to_end(workflow_id)
                return order
        return self.remember_order(
            workflow_id, NameOrder.of(self.adjacency(conn, workflow_id).names)
        )

    def remember_order(self, workflow_id: str, order: NameOrder) -> NameOrder:
        """Cache a workflow's name order (made from all of its names)."""
        if order.names:  # an unknown workflow (no names) is not remembered
            with self._adjacency_lock:
                self._orders[workflow_id] = order
                while len(self._orders) > ORDER_CACHE:
                    self._orders.popitem(last=False)
        return order


@dataclass(frozen=True, slots=True)
class NameOrder:
    """Node names in natural order, and each name's place in it."""

    names: tuple[str, ...]
    rank: dict[str, int]

    def after(self, name: str) -> int:
        """The place of the first name after `name` (which need not be one of them)."""
        found = self.rank.get(name)
        if found is not None:
            return found + 1
        return bisect.bisect_right([natural_key(n) for n in self.names], natural_key(name))

    @classmethod
    def of(cls, names: Iterable[str]) -> NameOrder:
        ordered = tuple(natural_sorted(names))
        return cls(ordered, {n: i for i, n in enumerate(ordered)})
