"""SQLite's writers of one process take turns in order, and give up after the lock timeout."""

from __future__ import annotations

import threading
import time

from sqlalchemy.exc import TimeoutError as PoolTimeout

from stormflow.store.busy import is_busy
from stormflow.store.fairlock import FairLock


def test_waiters_are_served_in_order_and_reentrantly() -> None:
    lock = FairLock()
    order: list[int] = []
    lock.acquire(1)
    lock.acquire(1)  # the same thread again
    lock.release()
    threads = []
    for i in range(5):
        thread = threading.Thread(
            target=lambda i=i: (lock.acquire(5), order.append(i), lock.release())
        )
        thread.start()
        threads.append(thread)
        time.sleep(0.02)  # queued in this order
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_a_writer_that_waits_too_long_gets_a_busy_error() -> None:
    lock = FairLock()
    lock.acquire(1)
    failed: list[BaseException] = []

    def late() -> None:
        try:
            lock.acquire(0.1)
        except PoolTimeout as exc:
            failed.append(exc)

    thread = threading.Thread(target=late)
    thread.start()
    thread.join(5)
    assert len(failed) == 1 and is_busy(failed[0])
    lock.release()
    lock.acquire(0.1)  # the one that gave up left the line: free again
    lock.release()
