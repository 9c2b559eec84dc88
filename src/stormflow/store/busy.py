"""Which database errors mean "busy, try again" rather than "broken".

A pool with no free connection, a lock not granted within `lock_timeout` or SQLite's busy
timeout, a statement cut by `statement_timeout`, a serialization conflict: the API answers
them 503 with Retry-After, the scheduler logs and retries them. Anything else is a bug or
bad data, and is handled as such.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

#: PostgreSQL SQLSTATEs of a busy store: serialization_failure, deadlock_detected,
#: lock_not_available (lock_timeout), query_canceled (statement_timeout),
#: too_many_connections, cannot_connect_now.
BUSY_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014", "53300", "57P03"})

#: SQLite's messages when its busy timeout ran out.
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def is_busy(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is a busy store: retry later, nothing is broken."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PoolTimeout):
            return True
        if isinstance(current, DBAPIError):
            if _busy_dbapi(current.orig):
                return True
        elif _busy_dbapi(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _busy_dbapi(orig: object) -> bool:
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in BUSY_SQLSTATES:
        return True
    if type(orig).__name__ == "OperationalError" and type(orig).__module__.startswith("sqlite3"):
        return any(text in str(orig).lower() for text in _SQLITE_BUSY)
    return False
