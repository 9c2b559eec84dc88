"""Redis keys shared by the scheduler's CeleryExecutor and the workers, all keyed by token.

`hb:<token>` is both the heartbeat and the run lock: a worker takes it with SET NX before
running a command and refreshes its TTL while the command runs. A terminal value (DONE, LOST,
STOPPED) outlives the attempt for a day, so a late or duplicate delivery finds it and does nothing.
"""

from __future__ import annotations

PREFIX = "storm:"
DAY = 86_400  # how long terminal markers and orphaned result lists are kept

# Terminal values of hb:<token> (a running attempt holds its worker's name instead).
DONE = "=done"  # the worker pushed the result
LOST = "=lost"  # the executor gave up on it: heartbeat lapsed
STOPPED = "=stopped"  # stopped before any worker took it
TERMINAL = (DONE, LOST, STOPPED)

# Renew a heartbeat only if we still hold it (it may have lapsed and been declared lost).
RENEW_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


def hb(token: str) -> str:
    return f"{PREFIX}hb:{token}"


def started(token: str) -> str:
    """Set once a worker took the attempt: a missing heartbeat then means the worker is lost."""
    return f"{PREFIX}started:{token}"


def stop(token: str) -> str:
    return f"{PREFIX}stop:{token}"


def results(owner: str) -> str:
    """One list per scheduler: results and log chunks of its attempts, in the order pushed."""
    return f"{PREFIX}results:{owner}"


def owner(owner: str) -> str:
    """Present while that scheduler lives: workers stop its commands when it lapses."""
    return f"{PREFIX}owner:{owner}"


def seen(owner: str) -> str:
    """Set for a day by a scheduler while it runs: its owner key missing then means it is gone
    (not a scheduler that never used Celery)."""
    return f"{PREFIX}seen:{owner}"


#: Hash of worker id -> "<concurrency> <unix time it lapses>": how many attempts the live
#: workers can run, so a scheduler queues no more than they can start soon.
CAPACITY = f"{PREFIX}capacity"
CAPACITY_EVERY = 5.0  # seconds between a worker's refreshes; it lapses after three missed


def result(token: str) -> str:
    """The attempt's result, kept a day beside its list entry: a scheduler adopting the attempt
    finds it there if the dead one popped it from its list without recording it."""
    return f"{PREFIX}result:{token}"
