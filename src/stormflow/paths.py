"""Where Storm keeps its data: STORM_HOME, else ~/.storm."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("STORM_HOME", "").strip()
    return Path(env).expanduser().resolve() if env else Path.home() / ".storm"


#: Node environments, logs and emails can hold secrets: Storm's own files are its user's.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: str | Path) -> Path:
    """`path` as a directory only its owner may enter: created 0700 (with its missing
    parents), and tightened to 0700 when it exists, belongs to us and others may read it
    (a data directory made by an older Storm)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    tighten(path, PRIVATE_DIR)
    return path


def tighten(path: str | Path, mode: int) -> None:
    """chmod `path` to `mode` if it exists, is ours and allows more; never fails."""
    try:
        st = os.stat(path)
        if st.st_uid == os.getuid() and st.st_mode & 0o777 & ~mode:
            os.chmod(path, mode)
    except OSError:
        pass


def write_private(path: str | Path, data: bytes) -> None:
    """Write a whole file readable by its owner only (0600, whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # an existing file keeps its mode through O_CREAT
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def append_private(path: str | Path, data: bytes) -> None:
    """Append to a file created 0600 (its missing directory 0700): a log."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
