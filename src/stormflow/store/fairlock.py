"""A first-come, first-served lock for SQLite's one writer, within a process.

SQLite grants its write lock to whichever connection retries at the right moment: a
waiting writer sleeps in its busy handler (up to 100 ms a try) while a writer that just
committed begins its next transaction at once, so a long series of transactions (a big
submit in batches, a scheduler at full speed) starves a person's action for seconds. The
writers of one process queue here instead, in order, and take SQLite's lock uncontended.
"""

from __future__ import annotations

import threading
from collections import deque

from sqlalchemy.exc import TimeoutError as PoolTimeout


class FairLock:
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Event] = deque()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self, timeout: float) -> None:
        """Wait in line at most `timeout` seconds (then a busy error: PoolTimeout)."""
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:  # reentrant: a nested write of the same thread
                self._depth += 1
                return
            if self._owner is None and not self._waiters:
                self._owner, self._depth = me, 1
                return
            turn = threading.Event()
            self._waiters.append(turn)
        if not turn.wait(timeout):
            with self._mutex:
                if turn in self._waiters:  # still in line: give up
                    self._waiters.remove(turn)
                    raise PoolTimeout(f"the store's write lock was not free within {timeout:g} s")
            # handed over just as the wait ran out: ours after all
        with self._mutex:
            self._owner, self._depth = me, 1

    def release(self) -> None:
        with self._mutex:
            self._depth -= 1
            if self._depth > 0:
                return
            if self._waiters:  # hand over to the first in line
                self._owner = -1  # held for it until it wakes and takes it
                self._waiters.popleft().set()
            else:
                self._owner = None
