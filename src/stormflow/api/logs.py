"""Attempt logs: the tail of a file, or a stream that follows it until the attempt ends.

Log paths come from attempt rows, which any process with database access can
write; a path that resolves outside the data directory is refused, so the API can
never be made to serve an arbitrary file.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from .errors import ApiError

BLOCK = 64 * 1024
POLL = 0.2


def checked_path(log: str, data_dir: Path) -> Path:
    path = Path(log).resolve()
    if not path.is_relative_to(Path(data_dir).resolve()):
        raise ApiError(
            403,
            "log-outside-data-dir",
            "the attempt's log is outside the server's data directory; refusing to read it",
            where=log,
        )
    return path


def tail(path: Path, lines: int) -> tuple[bytes, int]:
    """The last `lines` lines (0: all) and the file size they end at; b"" if there is no file."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            if lines == 0:
                f.seek(0)
                return f.read(size), size
            pos, data = size, b""
            # read backwards until the block holds more line ends than lines wanted
            while pos > 0 and data.count(b"\n") <= lines:
                step = min(BLOCK, pos)
                pos -= step
                f.seek(pos)
                data = f.read(step) + data
    except FileNotFoundError:
        return b"", 0
    keep = lines + 1 if data.endswith(b"\n") else lines  # the part after the last \n is b""
    data = b"\n".join(data.split(b"\n")[-keep:])
    return data, size


def read_from(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read()
    except FileNotFoundError:
        return b""


async def follow(
    log: Callable[[], tuple[str | None, bool]],
    data_dir: Path,
    lines: int,
    disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[bytes]:
    """The tail, then what is appended, until the attempt has ended and its log is read.

    `log()` gives the attempt's current (log path, ended); it is polled because the
    path is only known once the attempt has started.
    """
    offset: int | None = None
    while True:
        path_text, ended = await run_in_threadpool(log)
        if path_text is not None:
            path = checked_path(path_text, data_dir)
            if offset is None:
                chunk, offset = await run_in_threadpool(tail, path, lines)
            else:
                chunk = await run_in_threadpool(read_from, path, offset)
                offset += len(chunk)
            if chunk:
                yield chunk
        if ended:
            return
        if await disconnected():
            return
        await asyncio.sleep(POLL)
