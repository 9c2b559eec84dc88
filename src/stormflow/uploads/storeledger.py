"""The ledger in the store: a transfer killed mid-way resumes from the parts stored.

Every stored part is one small write (a part is 8 MiB by default: 128 writes per GB); the
node's figures and the bytes of files in flight are written at most every half second.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from typing import Any

from stormflow.store import Store
from stormflow.uploads.ledger import DONE, FAILED, SENDING, FileState
from stormflow.uploads.manifest import SourceFile

PARTS_EVERY = 0.25  # seconds between writes of stored parts


class StoreLedger:
    def __init__(
        self,
        store: Store,
        workflow_id: str,
        node: str,
        *,
        token: str,
        destination: str,
        host: str | None = None,
    ) -> None:
        self.store = store
        self.workflow_id = workflow_id
        self.node = node
        self.token = token
        self.destination = destination
        self.host = host
        self._lock = threading.Lock()
        self._parts: dict[str, dict[int, str]] = {}
        self._unsaved: dict[str, int] = {}  # path -> bytes done, parts not yet written
        self._saved_at = 0.0
        self._stored: dict[str, tuple[str, str | None]] = {}  # path -> (state, hash) as read

    def plan(self, files: list[SourceFile], part_size: int) -> dict[str, FileState]:
        rows = self.store.upload_plan(
            self.workflow_id,
            self.node,
            token=self.token,
            host=self.host,
            destination=self.destination,
            files=[
                {
                    "path": f.path,
                    "key": f.key,
                    "size": f.size,
                    "mtime_ns": f.mtime_ns,
                    "part_size": part_size,
                }
                for f in files
            ],
        )
        states: dict[str, FileState] = {}
        for path, row in rows.items():
            states[path] = FileState(
                path=path,
                key=str(row["key"]),
                size=int(row["size"]),
                mtime_ns=int(row["mtime_ns"]),
                state=str(row["state"]),
                hash=row["hash"],
                bytes_done=int(row["bytes_done"]),
                parts=dict(row["parts"]),
                upload_id=row["upload_id"],
                part_size=int(row["part_size"]),
            )
            self._parts[path] = dict(row["parts"])
            self._stored[path] = (str(row["state"]), row["hash"])
        return states

    def settle(self, states: list[FileState]) -> None:
        """Only rows that change are written: a second upload of 10,000 unchanged files
        finds them recorded as they are."""
        self.store.upload_files_update(
            self.workflow_id,
            self.node,
            [
                {"path": s.path, "state": s.state, "hash": s.hash, "bytes_done": s.bytes_done}
                for s in states
                if self._stored.get(s.path) != (s.state, s.hash)
            ],
        )

    def begin(self, path: str, upload_id: str | None, kept: Mapping[int, str]) -> None:
        with self._lock:
            self._parts[path] = dict(kept)
        self.store.upload_files_update(
            self.workflow_id,
            self.node,
            [{"path": path, "state": SENDING, "upload_id": upload_id, "parts": dict(kept)}],
        )

    def part_done(self, path: str, number: int, part_hash: str, bytes_done: int) -> None:
        """Parts are written at most every PARTS_EVERY seconds (and by the progress tick):
        a commit per 8 MiB part cost the copy of a part on SQLite. A kill loses at most that
        much of the record; those parts are sent again on resume."""
        with self._lock:  # parts of one file finish in several threads: one writer at a time
            self._parts.setdefault(path, {})[number] = part_hash
            self._unsaved[path] = bytes_done
            if time.monotonic() - self._saved_at >= PARTS_EVERY:
                self._save_parts()

    def _save_parts(self) -> None:
        """Under the lock: the parts recorded since the last write, in one update."""
        self._saved_at = time.monotonic()
        if not self._unsaved:
            return
        rows = [
            {"path": p, "parts": dict(self._parts[p]), "bytes_done": n}
            for p, n in self._unsaved.items()
        ]
        self._unsaved.clear()
        self.store.upload_files_update(self.workflow_id, self.node, rows, sending_only=True)

    def file_done(self, path: str, file_hash: str, size: int | None = None) -> None:
        with self._lock:
            self._unsaved.pop(path, None)
            parts = dict(self._parts.get(path, {}))
        row: dict[str, Any] = {"path": path, "state": DONE, "hash": file_hash, "upload_id": None}
        if parts:
            row["parts"] = parts  # the record stays whole, in the same write
        row["error"] = None
        if size is not None:
            row["bytes_done"] = size
        self.store.upload_files_update(self.workflow_id, self.node, [row])

    def file_failed(self, path: str, error: str) -> None:
        with self._lock:  # its stored parts still count for the next attempt
            self._save_parts()
        self.store.upload_files_update(
            self.workflow_id, self.node, [{"path": path, "state": FAILED, "error": error[:2000]}]
        )

    def progress(self, snapshot: Mapping[str, Any], files: Mapping[str, int]) -> None:
        with self._lock:
            self._save_parts()
        self.store.upload_progress(self.workflow_id, self.node, snapshot, str(snapshot["state"]))
        if files:
            self.store.upload_files_update(
                self.workflow_id,
                self.node,
                [{"path": p, "bytes_done": n} for p, n in files.items()],
                sending_only=True,
            )

    def paused(self) -> bool:
        return self.store.upload_paused(self.workflow_id, self.node)

    def finished(self, snapshot: Mapping[str, Any], error: str | None) -> None:
        self.store.upload_progress(
            self.workflow_id, self.node, snapshot, str(snapshot["state"]), error
        )

    def stopped(self, reason: str) -> None:
        """The attempt stopped (cancel, skip, kill): figures stay, the state says so."""
        with contextlib.suppress(Exception), self._lock:
            self._save_parts()
        with contextlib.suppress(Exception):
            self.store.upload_progress(self.workflow_id, self.node, {}, "stopped", reason)
