"""The ledger in the store: a transfer killed mid-way resumes from the parts stored.

Every stored part is one small write (a part is 8 MiB by default: 128 writes per GB); the
node's figures and the bytes of files in flight are written at most every half second.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import Any

from stormflow.store import Store
from stormflow.uploads.ledger import DONE, FAILED, SENDING, FileState
from stormflow.uploads.manifest import SourceFile


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
        with self._lock:  # parts of one file finish in several threads: one writer at a time
            parts = self._parts.setdefault(path, {})
            parts[number] = part_hash
            self.store.upload_files_update(
                self.workflow_id,
                self.node,
                [{"path": path, "parts": dict(parts), "bytes_done": bytes_done}],
            )

    def file_done(self, path: str, file_hash: str, size: int | None = None) -> None:
        row: dict[str, Any] = {"path": path, "state": DONE, "hash": file_hash, "upload_id": None}
        row["error"] = None
        if size is not None:
            row["bytes_done"] = size
        self.store.upload_files_update(self.workflow_id, self.node, [row])

    def file_failed(self, path: str, error: str) -> None:
        self.store.upload_files_update(
            self.workflow_id, self.node, [{"path": path, "state": FAILED, "error": error[:2000]}]
        )

    def progress(self, snapshot: Mapping[str, Any], files: Mapping[str, int]) -> None:
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
        with contextlib.suppress(Exception):
            self.store.upload_progress(self.workflow_id, self.node, {}, "stopped", reason)
