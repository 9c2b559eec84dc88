"""Archive, unarchive, and retention: archived workflows removed after a while.

Archiving stops a workflow: in the archiving transaction its running nodes are canceled
(their attempts stopped, as a person's cancel would), and from then on nothing of it is
claimed or run (the scheduler reads `archived` with the workflow's lock). Unarchiving
only shows it in the list again: canceled nodes stay canceled until someone retries them.

`prune` deletes archived workflows whose archiving is older than a cutoff, with every row
that belongs to them, a few workflows per transaction: the scheduler never touches an
archived workflow, so the deletes wait on none of its locks and it waits on none of theirs.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from stormflow.core import Event, Outcome, Status, cancel

from .db import Database
from .driver import driver
from .persist import append_events, persist
from .view import StoreView

#: Tables holding a workflow's rows, children first (foreign keys).
_OWNED = ("limit_usage", "events", "attempts", "snapshots", "edges", "nodes", "requests")

#: A prune transaction deletes whole workflows of at most this many nodes together (a
#: larger one goes alone): short transactions, so SQLite's writer lock is held briefly.
PRUNE_BATCH_NODES = 5000
PRUNE_BATCH_WORKFLOWS = 50


class Archive(Database):
    def archive(self, workflow_id: str, *, actor: str = "user", at: float = 0.0) -> Outcome | None:
        """Archive the workflow and cancel its running nodes, in one transaction; returns the
        outcome (its `stop`: the attempts to kill), or None if it was archived already."""
        with self.locked(workflow_id) as (conn, head, _found):
            if head.archived:
                return None
            db = driver(conn)
            running = [
                name
                for (name,) in db.rows(
                    "SELECT name FROM nodes WHERE workflow_id = ? AND status = ?",
                    (workflow_id, Status.RUNNING.value),
                )
            ]
            view = StoreView(conn, workflow_id, self.adjacency(conn, workflow_id))
            view.head = head
            outcome = (
                cancel(view, sorted(running), at=at, actor=actor)
                if running
                else Outcome(action="archive", actor=actor, at=at)
            )
            outcome.events.append(
                Event("archive", None, actor=actor, at=at, payload={"canceled": len(running)})
            )
            db.run(
                "UPDATE workflows SET archived = ?, archived_at = ? WHERE id = ?",
                (True, at, workflow_id),
            )
            persist(conn, view, outcome, last_seq=head.last_seq)
        return outcome

    def unarchive(self, workflow_id: str, *, actor: str = "user", at: float = 0.0) -> bool:
        """Show the workflow in the list again; nothing resumes by itself (retry what the
        archive canceled). Returns whether it was archived."""
        with self.locked(workflow_id) as (conn, head, _found):
            if not head.archived:
                return False
            db = driver(conn)
            db.run(
                "UPDATE workflows SET archived = ?, archived_at = NULL WHERE id = ?",
                (False, workflow_id),
            )
            append_events(
                conn,
                workflow_id,
                [Event("unarchive", None, actor=actor, at=at)],
                last_seq=head.last_seq,
            )
        return True

    def prunable(self, before: float, limit: int = 1000) -> list[tuple[str, int]]:
        """(workflow, nodes) of archived workflows archived before `before`, oldest first."""
        with self.read() as conn:
            rows = driver(conn).rows(
                "SELECT id, count_open + count_holding + count_running + count_succeeded"
                " + count_skipped + count_failed + count_canceled FROM workflows"
                " WHERE archived_at < ? AND archived ORDER BY archived_at, id LIMIT ?",
                (before, limit),
            )
        return [(str(w), int(n)) for w, n in rows]

    def prune(
        self,
        before: float,
        *,
        on_batch: Callable[[list[str]], None] | None = None,
        pause: Callable[[], None] | None = None,
    ) -> list[str]:
        """Delete archived workflows archived before `before`, with their nodes, edges,
        snapshots, attempts, events and recorded requests; returns their ids.

        A few workflows per transaction (PRUNE_BATCH_*). `on_batch` gets each committed
        batch's ids (the caller removes their log files); `pause` runs between batches."""
        removed: list[str] = []
        while True:
            found = self.prunable(before)
            if not found:
                return removed
            for batch in _batches(found):
                with self.write() as conn:
                    gone = self._delete(conn, batch, before)
                removed += gone
                if on_batch is not None and gone:
                    on_batch(gone)
                if pause is not None:
                    pause()
            if len(found) < 1000:
                return removed

    @staticmethod
    def _delete(conn: Connection, batch: list[str], before: float) -> list[str]:
        db = driver(conn)
        lock = " FOR UPDATE SKIP LOCKED" if db.postgres else ""
        among, params = db.among("id", batch)
        # still archived, still old: an unarchive meanwhile keeps it
        ids = [
            str(w)
            for (w,) in db.rows(
                f"SELECT id FROM workflows WHERE {among} AND archived AND archived_at < ?{lock}",
                (*params, before),
            )
        ]
        if not ids:
            return []
        # links to or from a pruned workflow go with it (the other side keeps its history)
        for column in ("parent_id", "child_id"):
            among, params = db.among(column, ids)
            db.run(f"DELETE FROM workflow_links WHERE {among}", params)
        among, params = db.among("workflow_id", ids)
        for table in _OWNED:
            db.run(f"DELETE FROM {table} WHERE {among}", params)
        among, params = db.among("id", ids)
        db.run(f"DELETE FROM workflows WHERE {among}", params)
        return ids


def _batches(found: list[tuple[str, int]]) -> list[list[str]]:
    batches: list[list[str]] = []
    current: list[str] = []
    size = 0
    for workflow_id, count in found:
        if current and (size + count > PRUNE_BATCH_NODES or len(current) >= PRUNE_BATCH_WORKFLOWS):
            batches.append(current)
            current, size = [], 0
        current.append(workflow_id)
        size += count
    if current:
        batches.append(current)
    return batches
