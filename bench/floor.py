"""The floor: the same DAG run by a plain ThreadPoolExecutor, with the least bookkeeping a durable
orchestrator could get away with.

Each task spawns the same process (`subprocess.run(["true"])`) once its upstream tasks are done,
and makes two SQLite commits (a "started" and a "finished" row; WAL, synchronous=NORMAL).

`run_floor(..., postgres=URL)` makes the same two commits in PostgreSQL instead (a one-table
schema of its own): not the issue's floor, but the least a PostgreSQL-backed orchestrator
could do per task on the same machine, reported beside it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from .dags import Dag

TABLE = "CREATE TABLE log (node TEXT NOT NULL, what TEXT NOT NULL, at REAL NOT NULL)"


def _sqlite(work: Path) -> Callable[[], Any]:
    db = work / f"floor-{time.monotonic_ns()}.db"
    setup = sqlite3.connect(db)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute(TABLE)
    setup.commit()
    setup.close()

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(db, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    return connect


def _postgres(url: str) -> Callable[[], Any]:
    import psycopg

    with psycopg.connect(url) as setup:
        setup.execute(TABLE)

    def connect() -> Any:
        return psycopg.connect(url)

    return connect


def run_floor(
    dag: Dag,
    workers: int,
    work: Path,
    argv: list[str] | None = None,
    *,
    postgres: str | None = None,
) -> float:
    """Seconds to run the DAG; raises if a task failed. `postgres`: a libpq URL whose
    database (and search path) takes the commits instead of a SQLite file."""
    argv = argv or ["true"]
    connect = _sqlite(work) if postgres is None else _postgres(postgres)
    insert = "INSERT INTO log VALUES (?, ?, ?)"
    if postgres is not None:
        insert = insert.replace("?", "%s")
    local = threading.local()
    connections: list[Any] = []
    lock = threading.Lock()

    def connection() -> Any:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connect()
            with lock:
                connections.append(conn)
        return conn

    def task(name: str) -> str:
        conn = connection()
        conn.execute(insert, (name, "started", time.time()))
        conn.commit()
        subprocess.run(argv, check=True)
        conn.execute(insert, (name, "finished", time.time()))
        conn.commit()
        return name

    down: defaultdict[str, list[str]] = defaultdict(list)
    waiting = dict.fromkeys(dag.names, 0)
    for up, dn in dag.edges:
        down[up].append(dn)
        waiting[dn] += 1

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running: set[Future[str]] = {
            pool.submit(task, n) for n, count in waiting.items() if count == 0
        }
        finished = 0
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                name = fut.result()
                finished += 1
                for child in down[name]:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        running.add(pool.submit(task, child))
    seconds = time.perf_counter() - began
    for conn in connections:
        conn.close()
    if finished != len(dag.names):
        raise RuntimeError(f"floor ran {finished} of {len(dag.names)} tasks")
    return seconds
