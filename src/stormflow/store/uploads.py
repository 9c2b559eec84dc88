"""Uploads in the store: each upload node's figures and each file's stored parts.

Written by whoever moves the files (the local executor's action, `storm uploader`), read by
the API, `storm uploads` and the Monitor. Keyed by (workflow, node), not by attempt: a retry
after a kill resumes from the parts the previous attempt stored.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, bindparam, delete, select, update

from .db import Database
from .schema import attempts, nodes, upload_files, upload_nodes

NODE_FIGURES = (
    "files_total",
    "files_done",
    "files_skipped",
    "bytes_total",
    "bytes_done",
    "bytes_saved",
    "rate",
)


def _parts(value: object) -> dict[int, str]:
    if not isinstance(value, dict):
        return {}
    return {int(k): str(v) for k, v in value.items() if str(k).isdigit()}


class Uploads(Database):
    def upload_plan(
        self,
        workflow_id: str,
        node: str,
        *,
        token: str,
        host: str | None,
        destination: str,
        files: list[Mapping[str, Any]],
    ) -> dict[str, dict[str, Any]]:
        """Record the files an attempt moves; returns the stored row of each (its parts kept
        when the source's size, mtime and part size did not change since it was stored)."""
        now = time.time()
        wanted = {str(f["path"]): f for f in files}
        with self.write() as conn:
            conn.execute(  # the node's row locked, as set_upload_paused does: one insert wins
                select(nodes.c.kind)
                .where(nodes.c.workflow_id == workflow_id, nodes.c.name == node)
                .with_for_update()
            ).first()
            where = and_(upload_nodes.c.workflow_id == workflow_id, upload_nodes.c.node == node)
            head = conn.execute(select(upload_nodes.c.paused).where(where)).first()
            figures = {
                "token": token,
                "host": host,
                "destination": destination,
                "state": "checking",
                "files_total": len(files),
                "files_done": 0,
                "files_skipped": 0,
                "bytes_total": sum(int(f["size"]) for f in files),
                "bytes_done": 0,
                "bytes_saved": 0,
                "rate": 0.0,
                "error": None,
                "updated_at": now,
            }
            if head is None:
                conn.execute(
                    upload_nodes.insert().values(
                        workflow_id=workflow_id, node=node, paused=False, **figures
                    )
                )
            else:
                conn.execute(update(upload_nodes).where(where).values(**figures))
            fwhere = and_(upload_files.c.workflow_id == workflow_id, upload_files.c.node == node)
            # Parts (JSON) only of files not finished: 10,000 finished files read fast.
            plain = [c for c in upload_files.c if c.name != "parts"]
            stored = {
                row.path: dict(row._mapping, parts={})
                for row in conn.execute(select(*plain).where(fwhere))
            }
            unfinished = conn.execute(
                select(upload_files.c.path, upload_files.c.parts).where(
                    fwhere, upload_files.c.state.not_in(("done", "skipped"))
                )
            )
            for path, parts in unfinished:
                stored[path]["parts"] = parts
            gone = [p for p in stored if p not in wanted]
            for start in range(0, len(gone), 500):
                conn.execute(
                    delete(upload_files).where(
                        fwhere, upload_files.c.path.in_(gone[start : start + 500])
                    )
                )
            fresh: list[dict[str, Any]] = []
            for path, f in wanted.items():
                old = stored.get(path)
                same = old is not None and all(
                    int(old[k]) == int(f[k]) for k in ("size", "mtime_ns", "part_size")
                )
                if same and old is not None:
                    old["parts"] = _parts(old["parts"])
                    continue
                row = {
                    "workflow_id": workflow_id,
                    "node": node,
                    "path": path,
                    "key": str(f["key"]),
                    "size": int(f["size"]),
                    "mtime_ns": int(f["mtime_ns"]),
                    "part_size": int(f["part_size"]),
                    "state": "pending",
                    "hash": None,
                    "bytes_done": 0,
                    "parts": {},
                    "upload_id": None,
                    "error": None,
                    "updated_at": now,
                }
                if old is not None:
                    conn.execute(delete(upload_files).where(fwhere, upload_files.c.path == path))
                fresh.append(row)
                stored[path] = dict(row, parts={})
            if fresh:
                conn.execute(upload_files.insert(), fresh)
        return {p: stored[p] for p in wanted}

    def upload_files_update(
        self,
        workflow_id: str,
        node: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        sending_only: bool = False,
    ) -> None:
        """Update some files' columns (each mapping: path plus the columns to set);
        `sending_only`: leave files no longer being sent alone (a late progress tick)."""
        items = list(rows)
        if not items:
            return
        now = time.time()
        # One executemany per shape of row: settling 10,000 unchanged files is one statement
        # sent with 10,000 parameter sets, not 10,000 round trips.
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for item in items:
            values = {k: v for k, v in item.items() if k != "path"}
            if "parts" in values:
                values["parts"] = {str(k): v for k, v in dict(values["parts"]).items()}
            params = {f"v_{k}": v for k, v in values.items()}
            params["v_path"] = str(item["path"])
            shapes.setdefault(tuple(sorted(values)), []).append(params)
        with self.write() as conn:
            for columns, batch in shapes.items():
                statement = (
                    update(upload_files)
                    .where(
                        upload_files.c.workflow_id == workflow_id,
                        upload_files.c.node == node,
                        upload_files.c.path == bindparam("v_path"),
                        *([upload_files.c.state == "sending"] if sending_only else []),
                    )
                    .values(updated_at=now, **{c: bindparam(f"v_{c}") for c in columns})
                )
                conn.execute(statement, batch)

    def upload_progress(
        self,
        workflow_id: str,
        node: str,
        figures: Mapping[str, Any],
        state: str,
        error: str | None = None,
    ) -> None:
        values = {k: figures[k] for k in NODE_FIGURES if k in figures}
        with self.write() as conn:
            conn.execute(
                update(upload_nodes)
                .where(upload_nodes.c.workflow_id == workflow_id, upload_nodes.c.node == node)
                .values(state=state, error=error, updated_at=time.time(), **values)
            )

    def upload_paused(self, workflow_id: str, node: str) -> bool:
        with self.read() as conn:
            found = conn.execute(
                select(upload_nodes.c.paused).where(
                    upload_nodes.c.workflow_id == workflow_id, upload_nodes.c.node == node
                )
            ).scalar_one_or_none()
        return bool(found)

    def set_upload_paused(self, workflow_id: str, node: str, paused: bool) -> bool:
        """Pause or resume an upload node; False when the workflow has no such upload node.

        An upload node not started yet gets its row now, so it starts paused."""
        with self.write() as conn:
            # the node's row locked: concurrent first pauses (PostgreSQL) insert one row
            kind = conn.execute(
                select(nodes.c.kind)
                .where(nodes.c.workflow_id == workflow_id, nodes.c.name == node)
                .with_for_update()
            ).scalar_one_or_none()
            if kind != "upload":
                return False
            where = and_(upload_nodes.c.workflow_id == workflow_id, upload_nodes.c.node == node)
            done = conn.execute(update(upload_nodes).where(where).values(paused=paused))
            if done.rowcount == 0:
                conn.execute(
                    upload_nodes.insert().values(
                        workflow_id=workflow_id,
                        node=node,
                        destination="",
                        state="waiting",
                        paused=paused,
                        updated_at=time.time(),
                    )
                )
        return True

    def uploads(
        self, workflow_id: str | None = None, host: str | None = None
    ) -> list[dict[str, Any]]:
        query = select(upload_nodes).order_by(upload_nodes.c.workflow_id, upload_nodes.c.node)
        if workflow_id is not None:
            query = query.where(upload_nodes.c.workflow_id == workflow_id)
        if host is not None:
            query = query.where(upload_nodes.c.host == host)
        with self.read() as conn:
            return [row._asdict() for row in conn.execute(query)]

    def uploaded_files(
        self, workflow_id: str, node: str, limit: int = 1000, offset: int = 0
    ) -> list[dict[str, Any]]:
        query = (
            select(upload_files)
            .where(upload_files.c.workflow_id == workflow_id, upload_files.c.node == node)
            .order_by(upload_files.c.path)
            .limit(limit)
            .offset(offset)
        )
        with self.read() as conn:
            rows = [row._asdict() for row in conn.execute(query)]
        for row in rows:
            row["parts"] = _parts(row["parts"])
        return rows

    def pending_uploads(self, now: float, limit: int = 50) -> list[tuple[str, str, str]]:
        """(workflow, node, token) of upload attempts due and leased to no one: the uploader
        daemons' queue (each claims those bound to its host)."""
        query = (
            select(attempts.c.workflow_id, attempts.c.node, attempts.c.token)
            .join(
                nodes,
                and_(
                    nodes.c.workflow_id == attempts.c.workflow_id, nodes.c.name == attempts.c.node
                ),
            )
            .where(
                attempts.c.result.is_(None),
                attempts.c.lease_owner.is_(None),
                attempts.c.snapshot.is_(None),
                attempts.c.not_before <= now,
                nodes.c.kind == "upload",
            )
            .order_by(attempts.c.not_before, attempts.c.id)
            .limit(limit)
        )
        with self.read() as conn:
            return [(str(w), str(n), str(t)) for w, n, t in conn.execute(query)]

    def upload_attempts_of(self, owner: str) -> list[tuple[str, str, str, str | None]]:
        """(workflow, node, token, log) of live upload attempts leased to `owner`."""
        query = (
            select(attempts.c.workflow_id, attempts.c.node, attempts.c.token, attempts.c.log)
            .join(
                nodes,
                and_(
                    nodes.c.workflow_id == attempts.c.workflow_id, nodes.c.name == attempts.c.node
                ),
            )
            .where(
                attempts.c.lease_owner == owner,
                attempts.c.result.is_(None),
                nodes.c.kind == "upload",
            )
        )
        with self.read() as conn:
            return [(str(w), str(n), str(t), lg) for w, n, t, lg in conn.execute(query)]
