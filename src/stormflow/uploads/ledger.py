"""What a transfer remembers between attempts: the files, their parts, their progress.

`Transfer` writes through this interface; `MemoryLedger` keeps it in the process (tests,
one-shot uploads), `StoreLedger` (uploads/storeledger.py) in the store, so a daemon killed
mid-upload resumes from the parts already stored.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from stormflow.uploads.manifest import SourceFile

#: File states: waiting to go, going, there (sent now or earlier), already there, failed.
PENDING, SENDING, DONE, SKIPPED, FAILED = "pending", "sending", "done", "skipped", "failed"


@dataclass
class FileState:
    path: str
    key: str
    size: int
    mtime_ns: int
    state: str = PENDING
    hash: str | None = None
    bytes_done: int = 0
    parts: dict[int, str] = field(default_factory=dict)  # stored parts: number -> hash
    upload_id: str | None = None
    part_size: int = 0
    error: str | None = None


class Ledger(Protocol):
    def plan(self, files: list[SourceFile], part_size: int) -> dict[str, FileState]:
        """Record the files this attempt moves; returns each file's state (kept from an earlier
        attempt when the source did not change since, else fresh)."""
        ...

    def settle(self, states: list[FileState]) -> None:
        """Record files that need no transfer (done or skipped) in one go."""
        ...

    def begin(self, path: str, upload_id: str | None, kept: Mapping[int, str]) -> None: ...
    def part_done(self, path: str, number: int, part_hash: str, bytes_done: int) -> None: ...
    def file_done(self, path: str, file_hash: str, size: int | None = None) -> None: ...
    def file_failed(self, path: str, error: str) -> None: ...
    def progress(self, snapshot: Mapping[str, Any], files: Mapping[str, int]) -> None:
        """The node's figures and the bytes done of the files in flight (throttled by caller)."""
        ...

    def paused(self) -> bool: ...
    def finished(self, snapshot: Mapping[str, Any], error: str | None) -> None: ...


class MemoryLedger:
    """A ledger in this process only: resumes within it, forgets at exit."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files: dict[str, FileState] = {}
        self.snapshot: Mapping[str, Any] = {}
        self.pause = threading.Event()
        self.events: list[Mapping[str, Any]] = []  # every progress snapshot, for tests

    def plan(self, files: list[SourceFile], part_size: int) -> dict[str, FileState]:
        with self.lock:
            states: dict[str, FileState] = {}
            for f in files:
                old = self.files.get(f.path)
                if (
                    old is None
                    or old.size != f.size
                    or old.mtime_ns != f.mtime_ns
                    or old.part_size != part_size
                ):
                    old = FileState(f.path, f.key, f.size, f.mtime_ns, part_size=part_size)
                    self.files[f.path] = old
                states[f.path] = old
            return states

    def settle(self, states: list[FileState]) -> None:
        with self.lock:
            for s in states:
                self.files[s.path] = s

    def begin(self, path: str, upload_id: str | None, kept: Mapping[int, str]) -> None:
        with self.lock:
            s = self.files[path]
            s.state, s.upload_id, s.parts = SENDING, upload_id, dict(kept)

    def part_done(self, path: str, number: int, part_hash: str, bytes_done: int) -> None:
        with self.lock:
            s = self.files[path]
            s.parts[number] = part_hash
            s.bytes_done = bytes_done

    def file_done(self, path: str, file_hash: str, size: int | None = None) -> None:
        with self.lock:
            s = self.files[path]
            s.state, s.hash, s.bytes_done, s.upload_id = DONE, file_hash, s.size, None

    def file_failed(self, path: str, error: str) -> None:
        with self.lock:
            s = self.files[path]
            s.state, s.error = FAILED, error

    def progress(self, snapshot: Mapping[str, Any], files: Mapping[str, int]) -> None:
        with self.lock:
            self.snapshot = snapshot
            self.events.append(snapshot)

    def paused(self) -> bool:
        return self.pause.is_set()

    def finished(self, snapshot: Mapping[str, Any], error: str | None) -> None:
        with self.lock:
            self.snapshot = snapshot
            self.events.append(snapshot)
