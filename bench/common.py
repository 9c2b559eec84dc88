"""Shared helpers: backends (temp SQLite / fresh PostgreSQL schema), rows of the report, stats."""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PG_ROLES = ("postgres", "root")
PG_HOST = "127.0.0.1:5432"
PG_DB = "test"


def log(msg: str) -> None:
    """Progress goes to stderr; the table goes to stdout."""
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# -- statistics -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def rss_now_mb() -> float:
    """Current resident set size of this process (Linux /proc), in MB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return math.nan


def rss_peak_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# -- the report -----------------------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    section: str
    name: str
    value: str
    target: str = "-"
    verdict: str = ""  # PASS / MISS / "" (no target: information only)


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def info(self, backend: str, section: str, name: str, value: str) -> None:
        self.rows.append(Row(backend, section, name, value, "-", "info"))

    def check(
        self, backend: str, section: str, name: str, value: str, target: str, ok: bool
    ) -> None:
        self.rows.append(Row(backend, section, name, value, target, "PASS" if ok else "MISS"))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def table(self) -> str:
        head = ("backend", "section", "measurement", "value", "target", "result")
        body = [(r.backend, r.section, r.name, r.value, r.target, r.verdict) for r in self.rows]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=False)]
        right = {3}  # values right-aligned

        def fmt(cells: Sequence[Any]) -> str:
            out = []
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
                out.append(str(cell).rjust(w) if i in right else str(cell).ljust(w))
            return " | ".join(out).rstrip()

        lines = [fmt(head), "-+-".join("-" * w for w in widths)]
        previous = None
        for cells in body:
            key = (cells[0], cells[1])
            if previous is not None and key[0] != previous[0]:
                lines.append("-+-".join("-" * w for w in widths))
            previous = key
            lines.append(fmt(cells))
        text = "\n".join(lines)
        if self.notes:
            text += "\n\n" + "\n".join(f"note: {n}" for n in self.notes)
        misses = sum(r.verdict == "MISS" for r in self.rows)
        passes = sum(r.verdict == "PASS" for r in self.rows)
        text += f"\n\n{passes} PASS, {misses} MISS"
        return text


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def sec(seconds: float) -> str:
    return f"{seconds:.2f} s"


# -- backends -------------------------------------------------------------------------------------


class Unavailable(RuntimeError):
    pass


def pg_role() -> str | None:
    import psycopg

    for role in PG_ROLES:
        try:
            with psycopg.connect(f"postgresql://{role}@{PG_HOST}/{PG_DB}", connect_timeout=3):
                return role
        except psycopg.Error:
            continue
    return None


#: Where measurements keep their databases, data directories and logs (removed after):
#: beside Storm's default data directory (~/.storm), on the filesystem an embedded install
#: uses. Every attempt creates its log file, which the floor does not, and the cost of a
#: file creation varies 40x between directories of this VM (~15 µs in ~, 30-170 µs in /tmp,
#: up to 650 µs in the watched /work tree): `--dir` measures elsewhere.
SCRATCH_PARENT = Path.home() / ".storm-bench"


@contextmanager
def scratch_dir(prefix: str = "stormbench-", parent: Path | None = None) -> Iterator[Path]:
    parent = parent or SCRATCH_PARENT
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent)).resolve()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def database(backend: str, work: Path) -> Iterator[str]:
    """A URL of an empty store: a fresh SQLite file under `work`, or a fresh PostgreSQL schema
    (created here, dropped on exit). Raises Unavailable when PostgreSQL is unreachable."""
    if backend == "sqlite":
        db_dir = work / f"db-{uuid.uuid4().hex[:8]}"
        db_dir.mkdir(parents=True)
        yield f"sqlite:///{db_dir / 'storm.db'}"
        return
    import psycopg

    role = pg_role()
    if role is None:
        raise Unavailable(f"PostgreSQL is not reachable at {PG_HOST}/{PG_DB} (roles {PG_ROLES})")
    schema = f"storm_bench_{uuid.uuid4().hex[:12]}"
    admin = f"postgresql://{role}@{PG_HOST}/{PG_DB}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql+psycopg://{role}@{PG_HOST}/{PG_DB}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def cpu_slots() -> int:
    return os.cpu_count() or 1
