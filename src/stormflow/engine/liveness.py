"""Is that process still the one we mean? Liveness that zombies and reused pids cannot fool.

`os.kill(pid, 0)` succeeds on a zombie (a dead child nobody reaped, common in containers
without an init) and on an unrelated process that got the pid later. A process is identified
here by its pid and its start time (field 22 of /proc/<pid>/stat, in clock ticks since boot),
and a zombie counts as dead.
"""

from __future__ import annotations

import os
import socket


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            text = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot; None when it is gone (or no /proc)."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    return int(fields[19])  # field 22 overall: state is field 3, the first one here


def identity(pid: int | None = None) -> str:
    """ "<pid>.<start time>" of this (or that) process: what `alive` checks later."""
    pid = os.getpid() if pid is None else pid
    started = start_time(pid)
    return f"{pid}" if started is None else f"{pid}.{started}"


def alive(pid: int, started: int | None = None) -> bool:
    """Whether the process runs (not a zombie) and, with `started`, is the same process."""
    fields = _stat_fields(pid)
    if fields is None:
        if os.path.isdir("/proc/self"):
            return False  # no such process
        try:  # no /proc (not Linux): the best this platform offers
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if fields[0] in ("Z", "X"):  # zombie or dead: exited, only waiting to be reaped
        return False
    return started is None or len(fields) < 20 or int(fields[19]) == started


def identity_alive(text: str) -> bool:
    """`alive` for an `identity()` string; an unreadable one counts as alive (never kill
    or take over on a guess)."""
    pid_text, _, started_text = text.partition(".")
    if not pid_text.isdigit() or (started_text and not started_text.isdigit()):
        return True
    return alive(int(pid_text), int(started_text) if started_text else None)


def owner_dead_here(owner: str) -> bool:
    """True when the owner id ("<host>:<pid>[.<start>]:<tag>") names a process of this host
    that is gone (exited, a zombie, or its pid now names another process)."""
    host, _, rest = owner.partition(":")
    process = rest.partition(":")[0]
    pid_text = process.partition(".")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    return not identity_alive(process)
