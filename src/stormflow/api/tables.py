"""In-memory copies of watched workflows' node statuses, kept current from the event log.

A poller asking for a running workflow's summary or node list finds it changed every
time (a 2,000-node workflow at 60 tasks/s moves its `last_seq` every few ms), so a
cache by `last_seq` alone would recompute every answer: a query of every node row and
its serialization, ~40 ms for 2,000 nodes. Instead a `NodeTable` is read once (one
snapshot: the workflow, its `last_seq`, its rows) and then follows the log: the events
after its seq name each node whose status changed and its new status (every status
change is an event, spec: event log), so catching up is one indexed read of a few rows.
Counts and node pages come from memory; a row's JSON is two pre-built halves around
its status.

The node order is the store's (natural order of names, `Store.nodes_in`), kept as read,
so pages and cursors agree with the database path. A running node's phase follows the
log too: a new attempt (`run`, an automatic retry) is queued, `attempt-started` (whose
time is the attempt's `started_at`) makes it executing.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable

from stormflow.core import Status, derive_status
from stormflow.store import EventRow, NodeRow, Store, WorkflowRow

#: Nodes kept over all tables (~300 bytes each: a 2,000-node table is ~0.6 MB).
MAX_NODES = 200_000
#: A summary alone reads a table for workflows up to this size (beyond, counting the rows
#: in the database per change costs less than reading them all).
SUMMARY_NODES = 20_000
#: Further behind than this many events, a table is read again rather than caught up.
RELOAD_AFTER = 20_000
BATCH = 5_000


def _halves(row: NodeRow) -> tuple[str, str]:
    """The JSON of a node row (shapes.node_row) before its status and after it, up to its
    phase: `head + status + middle + phase and start + "}"`."""
    head = json.dumps({"name": row.name, "kind": row.kind}, separators=(",", ":"))
    middle = json.dumps({"group": row.group, "frames": row.frames}, separators=(",", ":"))
    return head[:-1] + ',"status":"', '",' + middle[1:-1] + ',"phase":'


def _phase_json(running: bool, started_at: float | None) -> str:
    if not running:
        return 'null,"started_at":null}'
    if started_at is None:
        return '"queued","started_at":null}'
    return '"executing","started_at":' + json.dumps(started_at) + "}"


class NodeTable:
    """One workflow at `seq`. Use under `lock`: `advance` and the readers must not overlap."""

    def __init__(
        self,
        workflow: WorkflowRow,
        seq: int,
        rows: list[NodeRow],
        starts: dict[str, float | None],
    ) -> None:
        self.lock = threading.Lock()
        self.workflow = workflow
        self.archived = workflow.archived
        self.seq = seq
        self.names = [r.name for r in rows]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.kinds = [r.kind for r in rows]
        # `workflow` nodes follow children: a child left holding makes this one holding
        self.follows_children = "workflow" in self.kinds
        self.statuses = [r.status.value for r in rows]
        halves = [_halves(r) for r in rows]
        self.heads = [h for h, _ in halves]
        self.tails = [t for _, t in halves]
        self.counts: Counter[str] = Counter(self.statuses)
        running = Status.RUNNING.value
        # running nodes (by index) -> their live attempt's start (None: queued)
        self.started: dict[int, float | None] = {
            i: starts.get(r.name) for i, r in enumerate(rows) if r.status.value == running
        }

    def __len__(self) -> int:
        return len(self.names)

    def advance(self, events: Iterable[EventRow]) -> None:
        for ev in events:
            if ev.seq <= self.seq:
                continue
            self.seq = ev.seq
            if ev.type == "archive":
                self.archived = True
            i = self.index.get(ev.node) if ev.node is not None else None
            if i is None:
                continue
            if ev.type == "attempt-started":
                if i in self.started:
                    self.started[i] = ev.at
                continue
            if ev.new is None or ev.type == "stale-result":
                continue
            new = ev.new.value
            self.counts[self.statuses[i]] -= 1
            self.counts[new] += 1
            self.statuses[i] = new
            if ev.new is Status.RUNNING:
                self.started[i] = None  # a new attempt (run, or an automatic retry): queued
            else:
                self.started.pop(i, None)

    def phases(self) -> dict[str, int]:
        executing = sum(at is not None for at in self.started.values())
        return {"queued": len(self.started) - executing, "executing": executing}

    def row_json(self, i: int) -> str:
        status = self.statuses[i]
        phase = _phase_json(i in self.started, self.started.get(i))
        return self.heads[i] + status + self.tails[i] + phase

    def status_counts(self) -> dict[Status, int]:
        return {s: self.counts.get(s.value, 0) for s in Status}

    def status(self, store: Store) -> str:
        """The derived status; only with nothing running and some node open does it depend on
        whether an open node could run, which the database answers."""
        counts = self.status_counts()
        if not counts[Status.RUNNING] and counts[Status.OPEN]:
            return store.status(self.workflow.id).value
        if counts[Status.RUNNING] and self.follows_children:
            return store.status(self.workflow.id).value  # reported: children may be holding
        return derive_status(counts, 0).value

    def page(
        self,
        statuses: Iterable[str] | None,
        kinds: Iterable[str] | None,
        limit: int | None,
        offset: int,
        after: str | None,
    ) -> tuple[str, str | None] | None:
        """(the items' JSON array, the last name if the page is full) or None when `after` is
        not a node of the workflow (the database path answers that)."""
        start = 0
        if after is not None:
            found = self.index.get(after)
            if found is None:
                return None
            start = found + 1
        wanted_s = set(statuses) if statuses is not None else None
        wanted_k = set(kinds) if kinds is not None else None
        picked: list[int] = []
        skip = offset
        for i in range(start, len(self.names)):
            if wanted_s is not None and self.statuses[i] not in wanted_s:
                continue
            if wanted_k is not None and self.kinds[i] not in wanted_k:
                continue
            if skip:
                skip -= 1
                continue
            picked.append(i)
            if limit is not None and len(picked) == limit:
                break
        items = ",".join(self.row_json(i) for i in picked)
        full = limit is not None and len(picked) == limit
        return "[" + items + "]", (self.names[picked[-1]] if full and picked else None)


class NodeTables:
    """The tables of recently read workflows, least recently used dropped first."""

    def __init__(self, max_nodes: int = MAX_NODES) -> None:
        self._lock = threading.Lock()
        self._tables: OrderedDict[str, NodeTable] = OrderedDict()
        self._max_nodes = max_nodes
        self._nodes = 0
        self.loads = 0

    def loaded(self, workflow_id: str) -> bool:
        with self._lock:
            return workflow_id in self._tables

    def at_least(self, store: Store, workflow_id: str, seq: int) -> NodeTable:
        """The workflow's table at `seq` or later; hold its lock while reading it."""
        with self._lock:
            table = self._tables.get(workflow_id)
            if table is not None:
                self._tables.move_to_end(workflow_id)
        if table is not None:
            with table.lock:
                if table.seq >= seq:
                    return table
                if seq - table.seq <= RELOAD_AFTER:
                    while table.seq < seq:
                        events = store.events(workflow_id, table.seq, BATCH)
                        if not events:
                            break
                        table.advance(events)
                    return table
        return self._load(store, workflow_id)

    def _load(self, store: Store, workflow_id: str) -> NodeTable:
        workflow, seq, rows, starts = store.node_table(workflow_id)
        table = NodeTable(workflow, seq, rows, starts)
        self.loads += 1
        with self._lock:
            old = self._tables.pop(workflow_id, None)
            if old is not None:
                self._nodes -= len(old)
            if len(table) > self._max_nodes:
                return table  # too big to keep: served once
            self._tables[workflow_id] = table
            self._nodes += len(table)
            while self._nodes > self._max_nodes:
                _, dropped = self._tables.popitem(last=False)
                self._nodes -= len(dropped)
        return table


def tables_of(state: object) -> NodeTables:
    """The app's tables (`app.state.node_tables`)."""
    tables: NodeTables = getattr(state, "node_tables")  # noqa: B009 - set by create_app
    return tables
