"""Processes left behind by a scheduler that died: find them and kill them.

Commands run in their own process groups, so killing the process that started them
(a supervisor, a Celery worker, or a scheduler running commands in-process) with
SIGKILL leaves them alive. Their attempts are recovered as lost and run again; the
orphans must not keep writing the same outputs. (A scheduler's commands normally run
under the data directory's supervisor, which outlives it: see supervisor.py.) The local executor
records each running command (process group and attempt token) in a `*.pid` file of
`<run dir>/<owner>/`, one per executor thread (see PidFile); a scheduler starting on
the same host reaps the directories of owners whose process is gone. Before killing,
the group leader's environment must carry `STORM_ATTEMPT=<token>`, so a reused pid is
never hit.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import signal
from collections.abc import Callable, Collection
from pathlib import Path

from stormflow.paths import PRIVATE_DIR, PRIVATE_FILE, write_private

log = logging.getLogger(__name__)

OWNER_FILE = "owner"

_ids = itertools.count(1)


class PidFile:
    """Where one executor thread records the command it runs: `<owner dir>/<name>.pid`.

    While a command runs the file holds its process group and attempt token ("<pgid>\n<token>\n");
    between commands it is empty, which reap_dir skips. It is created once and kept open: creating
    a file per command costs more than a trivial command itself on some filesystems.
    """

    def __init__(self, owner_dir: Path) -> None:
        self.path = owner_dir / f"thread-{os.getpid()}-{next(_ids)}.pid"
        self._fd: int | None = None

    def record(self, token: str, pgid: int) -> None:
        fd = self._fd
        # Reopened if the directory was removed meanwhile (st_nlink 0), like a first record.
        if fd is None or os.fstat(fd).st_nlink == 0:
            fd = self._open()
        os.pwrite(fd, f"{pgid}\n{token}\n".encode(), 0)

    def clear(self) -> None:
        """The recorded command has been reaped: its group id may be reused from now on."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)

    def close(self) -> None:
        """Remove the file (the thread is done running commands)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def _open(self) -> int:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, PRIVATE_FILE)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
            fd = os.open(self.path, flags, PRIVATE_FILE)
        self._fd = fd
        return fd


def _carries(pid: int, token: str) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"STORM_ATTEMPT={token}".encode() in environ.split(b"\0")


def reap_dir(owner_dir: Path, prefixes: Collection[str] | None = None) -> int:
    """Kill the recorded process groups that still run their attempt; remove the directory.

    With `prefixes`, only attempts whose token starts with one of them (a workflow's: "<id>/")
    are killed, and the directory is kept for whoever serves the other workflows.
    """
    killed = 0
    for path in owner_dir.glob("*.pid"):
        try:
            pgid_text, token = path.read_text(encoding="utf-8").split("\n")[:2]
            pgid = int(pgid_text)
        except (OSError, ValueError):
            continue
        if prefixes is not None and not token.startswith(tuple(prefixes)):
            continue
        if _carries(pgid, token):
            try:
                os.killpg(pgid, signal.SIGKILL)
                killed += 1
                log.info("killed orphaned attempt %s (process group %d)", token, pgid)
            except (ProcessLookupError, PermissionError):
                pass
    if prefixes is None:
        shutil.rmtree(owner_dir, ignore_errors=True)
    return killed


def reap_dead_owners(
    run_dir: Path, is_dead: Callable[[str], bool], prefixes: Collection[str] | None = None
) -> int:
    """Reap every owner directory under run_dir whose owner `is_dead(owner)` says is gone."""
    if not run_dir.is_dir():
        return 0
    killed = 0
    for owner_dir in run_dir.iterdir():
        try:
            owner = (owner_dir / OWNER_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if is_dead(owner):
            killed += reap_dir(owner_dir, prefixes)
    return killed


def owner_dir(run_dir: Path, owner: str) -> Path:
    return run_dir / "".join(c if c.isalnum() or c in "._-" else "_" for c in owner)


def claim_dir(run_dir: Path, owner: str) -> Path:
    """The directory where this owner's executor records its running commands."""
    path = owner_dir(run_dir, owner)
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    write_private(path / OWNER_FILE, (owner + "\n").encode())
    return path
