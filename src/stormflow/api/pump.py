"""One reader of the event log per server process, fanning events out to every SSE subscriber.

A subscriber costs no thread and no query: it is a bounded queue of ready-made SSE
text on the event loop. One thread (the pump) follows the workflows someone watches:

- PostgreSQL: it LISTENs on `storm_events`; every commit that appends events notifies
  the workflow's id (store/persist.py), so the pump reads only what changed, when it
  changed. A check of every watched workflow's `last_seq` each FALLBACK seconds covers
  a lost connection.
- SQLite (no notifications): one query of the watched workflows' `last_seq` every POLL
  seconds, and the new events of those that moved.

Each event is read once and formatted once, whatever the number of subscribers. A
subscriber that falls BACKLOG events behind (a stalled client: the socket does not
drain) is dropped with a `reconnect` event, not buffered without bound; its browser
reconnects with `Last-Event-ID` and catches up from the database like any resume.

Loop-side state (topics, subscribers) is touched only on the event loop's thread; the
pump hands batches over with `call_soon_threadsafe`. A topic delivers only events newer
than its last one, so a batch read twice (a topic recreated meanwhile) changes nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

from stormflow.store import EventRow, Store
from stormflow.store.persist import EVENTS_CHANNEL
from stormflow.store.schema import workflows

from . import shapes

log = logging.getLogger(__name__)

POLL = 0.1
FALLBACK = 1.0
BATCH = 500
BACKLOG = 10_000
#: The pump thread ends after this long with nobody watching (a new subscriber restarts it).
IDLE_EXIT = 5.0


def sse_text(row: EventRow) -> bytes:
    """The SSE form of an event, encoded once: the same bytes for every stream, live or
    catching up (a stream joins them; Starlette sends bytes as they are)."""
    data = json.dumps(shapes.event_out(row), separators=(",", ":"))
    return f"id: {row.seq}\nevent: {row.type}\ndata: {data}\n\n".encode()


def reconnect_text(seq: int, reason: str) -> str:
    data = json.dumps({"last_seq": seq, "reason": reason}, separators=(",", ":"))
    return f"event: reconnect\ndata: {data}\n\n"


@dataclass(eq=False)
class Subscriber:
    workflow_id: str
    live_from: int  # the live queue holds events after this seq
    queue: collections.deque[tuple[int, bytes]] = field(default_factory=collections.deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: bool = False

    def take(self) -> list[tuple[int, bytes]]:
        items = list(self.queue)
        self.queue.clear()
        self.wake.clear()
        return items


@dataclass(eq=False)
class Topic:
    seq: int  # the last event delivered to its subscribers
    subscribers: set[Subscriber] = field(default_factory=set)


@dataclass
class PumpStats:
    reads: int = 0  # queries the pump made
    delivered: int = 0  # events handed to subscribers (counted once per event)
    dropped: int = 0  # subscribers dropped for falling behind
    wakeups: int = 0  # PostgreSQL notifications received


class EventPump:
    def __init__(
        self,
        store: Store,
        *,
        poll: float = POLL,
        fallback: float = FALLBACK,
        backlog: int = BACKLOG,
        listen: bool = True,
    ) -> None:
        self.store = store
        self.poll = poll
        self.fallback = fallback
        self.backlog = backlog
        self.listen = listen and store.dialect == "postgresql"
        self.stats = PumpStats()
        self.topics: dict[str, Topic] = {}  # loop thread only
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._follow: dict[str, int] = {}  # workflow -> last seq read (the pump's cursors)
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    # -- the loop's side -------------------------------------------------------------
    @property
    def subscribers(self) -> int:
        return sum(len(t.subscribers) for t in self.topics.values())

    def subscribe(self, workflow_id: str, last_seq: int) -> Subscriber:
        """Join the workflow's topic (on the event loop). `last_seq`: the workflow's last
        seq read just before, where a new topic starts; the caller catches up from the
        database to the subscriber's `live_from`, then reads its queue."""
        loop = asyncio.get_running_loop()
        topic = self.topics.get(workflow_id)
        if topic is None:
            topic = self.topics[workflow_id] = Topic(last_seq)
            with self._lock:
                self._follow.setdefault(workflow_id, last_seq)
        sub = Subscriber(workflow_id, topic.seq)
        topic.subscribers.add(sub)
        self._ensure_running(loop)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        topic = self.topics.get(sub.workflow_id)
        if topic is None:
            return
        topic.subscribers.discard(sub)
        if not topic.subscribers:
            del self.topics[sub.workflow_id]
            with self._lock:
                self._follow.pop(sub.workflow_id, None)

    def _fan_out(self, workflow_id: str, batch: list[tuple[int, bytes]]) -> None:
        topic = self.topics.get(workflow_id)
        if topic is None:
            return
        fresh = [item for item in batch if item[0] > topic.seq]
        if not fresh:
            return
        topic.seq = fresh[-1][0]
        self.stats.delivered += len(fresh)
        for sub in topic.subscribers:
            if sub.dropped:
                continue
            if len(sub.queue) + len(fresh) > self.backlog:
                sub.dropped = True
                sub.queue.clear()
                self.stats.dropped += 1
            else:
                sub.queue.extend(fresh)
            sub.wake.set()

    # -- the pump thread --------------------------------------------------------------
    def _ensure_running(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._loop = loop
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="storm-event-pump", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        listener = None
        idle_since: float | None = None
        next_check = 0.0
        while True:
            with self._lock:
                following = dict(self._follow)
                if not following:
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since >= IDLE_EXIT:
                        self._thread = None
                        break
                else:
                    idle_since = None
            try:
                if self.listen and listener is None:
                    listener = self._listener()
                notified = self._wait(listener)
                now = time.monotonic()
                if not following:
                    continue
                if listener is None or now >= next_check:
                    next_check = now + self.fallback
                    changed = self._moved(following)
                else:
                    changed = {w: following[w] for w in notified if w in following}
                for workflow_id, seq in changed.items():
                    self._read(workflow_id, seq)
            except Exception:  # the database went away: try again shortly
                log.exception("the event pump failed; retrying")
                if listener is not None:
                    listener.close()
                    listener = None
                time.sleep(min(1.0, self.fallback))
        if listener is not None:
            listener.close()

    def _listener(self) -> Any:
        import psycopg

        url = make_url(self.store.url).set(drivername="postgresql")
        conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        conn.execute(f"LISTEN {EVENTS_CHANNEL}")
        return conn

    def _wait(self, listener: Any) -> set[str]:
        if listener is None:
            self._wake.wait(self.poll)
            return set()
        notified: set[str] = set()
        for note in listener.notifies(timeout=self.fallback, stop_after=1):
            notified.add(note.payload)
        # what else is queued already, without waiting
        for note in listener.notifies(timeout=0.0):
            notified.add(note.payload)
        self.stats.wakeups += len(notified)
        return notified

    def _moved(self, following: dict[str, int]) -> dict[str, int]:
        """The watched workflows whose last_seq moved past the pump's cursor (one query)."""
        ids = list(following)
        rows: list[Any] = []
        with self.store.read() as conn:
            for i in range(0, len(ids), 500):  # SQLite allows 999 parameters
                self.stats.reads += 1
                chosen = workflows.c.id.in_(ids[i : i + 500])
                rows += conn.execute(select(workflows.c.id, workflows.c.last_seq).where(chosen))
        return {w: following[w] for w, last in rows if last > following[w]}

    def _read(self, workflow_id: str, seq: int) -> None:
        while True:
            self.stats.reads += 1
            rows = self.store.events(workflow_id, seq, BATCH)
            if not rows:
                return
            batch = [(r.seq, sse_text(r)) for r in rows]
            with self._lock:
                if self._follow.get(workflow_id) != seq:
                    return  # unwatched, or watched anew from elsewhere, meanwhile
                self._follow[workflow_id] = rows[-1].seq
            self._deliver(workflow_id, batch)
            seq = rows[-1].seq
            if len(rows) < BATCH:
                return

    def _deliver(self, workflow_id: str, batch: list[tuple[int, bytes]]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._fan_out, workflow_id, batch)


def pump_of(state: Any, store: Store) -> EventPump:
    """The app's pump (`app.state.pump`), made on first use."""
    pump: EventPump | None = getattr(state, "pump", None)
    if pump is None:
        pump = state.pump = EventPump(store)
    return pump
