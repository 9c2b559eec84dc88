"""One owner per embedded store: the server or scheduler serving a SQLite data directory.

The owner holds an exclusive flock on `<data dir>/owner.lock` for as long as it runs and writes
who it is into the file (kind, pid, URL). The kernel drops the lock when the process ends, however
it ends (kill -9, a zombie not reaped yet), so "is the owner alive?" is never answered from a
stale pid. A second server or scheduler is refused before it binds anything or starts a
scheduler; `storm run` in an owned directory hands its workflow to the owner.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE = "owner.lock"


@dataclass(frozen=True)
class Holder:
    """Who owns a data directory (as far as its lock file says)."""

    kind: str  # "server" or "scheduler"
    pid: int | None
    url: str | None

    def describe(self) -> str:
        """ "a Storm server (pid 12, http://127.0.0.1:8765)"."""
        details = [f"pid {self.pid}" if self.pid is not None else "pid unknown"]
        if self.url:
            details.append(self.url)
        return f"a Storm {self.kind} ({', '.join(details)})"


class DataDirBusy(Exception):
    def __init__(self, root: Path, holder: Holder) -> None:
        super().__init__(f"{holder.describe()} already uses {root}")
        self.root = root
        self.holder = holder


def _parse(text: str) -> Holder:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):  # being written right now, or damaged
        return Holder("server or scheduler", None, None)
    pid = data.get("pid")
    url = data.get("url")
    return Holder(
        str(data.get("kind") or "server or scheduler"),
        pid if isinstance(pid, int) else None,
        url if isinstance(url, str) else None,
    )


def holder(root: Path) -> Holder | None:
    """The live owner of the data directory, or None when nobody holds it."""
    try:
        fd = os.open(root / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _parse(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class OwnerLock:
    """The exclusive lock of a data directory, held until `release` or the process ends."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, kind: str, url: str | None = None) -> None:
        """Take the lock (raises DataDirBusy naming the holder) and write who we are."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
            os.close(fd)
            raise DataDirBusy(self.root, _parse(text)) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        info = json.dumps({"kind": kind, "pid": os.getpid(), "url": url}) + "\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)

    def release(self) -> None:
        """Drop the lock; the file stays (removing it would race with the next owner)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None
