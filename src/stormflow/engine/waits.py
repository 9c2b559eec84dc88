"""Waiting without a slot: attempts of runs="wait" kinds, handed to something outside.

The scheduler claims such an attempt like any other, then hands it here (`Waits.hand`)
instead of to its executor: one transaction records what the attempt waits for (the
`waits` row: provider, request, idempotency key, when to look next, the give-up horizon)
and hands its lease to `WAITING_OWNER`. From then on no process and no thread belongs to
the job: the row is the whole state, so any scheduler carries the wait on after a crash.

Off the scheduler's loop, a small thread pool
- submits the job (`WaitKind.submit`, with an idempotency key derived from the attempt
  token: a scheduler that died mid-submit is followed by a resubmit with the same key,
  which the provider answers with the same job);
- polls due waits (the configured backoff, jittered; each row taken by a conditional
  update, so two schedulers never poll one job at once; a per-provider rate limit);
- gives up at the horizon (the attempt fails: its retries apply);
- stops the job outside when its attempt was stopped (cancel, skip, update, retry, expiry):
  once, recorded as an event.

A result, from a poll here or from a webhook (engine/hooks.py), is written by `finish`: in
the workflow's one transaction, the core's succeed/fail by attempt token and the end of the
`waits` row. The first writer wins; a second finds the token no longer live and the core
records it as a stale result: a no-op event. A webhook's result ends the row, so the next
poll never happens.

`WaitKind` is the small interface a waiting kind implements; `ExternalJobs` is the one for
`external` nodes (providers). Sub-workflows can plug in the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from stormflow import core
from stormflow.core import Event, Outcome
from stormflow.engine.jobs import Job
from stormflow.engine.providers import (
    Provider,
    ProviderError,
    Report,
    parse_config,
    read_report,
)
from stormflow.engine.render import log_path
from stormflow.store import Store, StoreView
from stormflow.store.waits import (
    WaitRow,
    confirm_submit,
    end_wait,
    match_event,
    unmatched_events,
)

log = logging.getLogger(__name__)

#: A submit not confirmed after this long is made again (same idempotency key): its
#: scheduler died or hung half way. External jobs: twice the provider's call timeout, + 1 s.
RESUBMIT_AFTER = 60.0

#: The lease of a waiting attempt outlives its give-up horizon by this much: if every
#: scheduler was gone at the horizon, the lease's expiry still ends the attempt (lost).
LEASE_MARGIN = 3600.0

#: How often the pool looks for stopped attempts whose jobs must be cancelled outside (at
#: once when this scheduler is told of a stop: `Waits.stopped`).
STOPPED_EVERY = 5.0

#: Providers are read from the store again after this long (added, changed, removed).
PROVIDERS_EVERY = 5.0


def idempotency_key(workflow_id: str, token: str) -> str:
    """The attempt's key for the provider: the same for every submit of this attempt, new for
    every attempt (a retry submits a new job)."""
    return "storm-" + hashlib.sha256(f"{workflow_id}/{token}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Plan:
    """What a kind decided for a new wait, in the loop's thread, without I/O."""

    provider: str
    request: Mapping[str, Any]
    deadline: float
    resubmit_after: float = RESUBMIT_AFTER  # see RESUBMIT_AFTER


class WaitKind(Protocol):
    """How one runs="wait" kind starts, watches and stops its outside work. Every method
    except `plan` runs in the pool (blocking I/O allowed); all may raise ProviderError."""

    def plan(self, job: Job, now: float) -> Plan: ...

    def submit(self, wait: WaitRow) -> str: ...

    def poll(self, wait: WaitRow) -> Report: ...

    def cancel(self, wait: WaitRow) -> bool: ...

    def next_poll(self, wait: WaitRow, now: float) -> float: ...

    def resubmit_after(self, wait: WaitRow) -> float: ...

    def may_call(self, wait: WaitRow) -> bool: ...

    def refresh(self) -> None: ...

    def limited(self, provider: str) -> bool: ...

    def early_reader(self, wait: WaitRow) -> EarlyReader | None: ...


def result_outcome(
    view: StoreView, wait: WaitRow, report: Report, *, source: str, at: float
) -> Outcome:
    """Inside the workflow's transaction: succeed/fail by attempt token (a token no longer
    live: a stale result, changing nothing), the wait's end and the `external-result` event."""
    live = view.has(wait.node) and view.node(wait.node).live_token == wait.token
    if report.state == "succeeded":
        out = core.succeed(view, wait.node, wait.token, at=at, exit_code=0)
    else:
        out = core.fail(view, wait.node, wait.token, at=at, error=report.error)
    ended = end_wait(
        view.conn,
        wait.workflow_id,
        wait.token,
        at=at,
        by=source,
        progress=1.0 if report.state == "succeeded" else report.progress,
        outputs=dict(report.outputs) if report.outputs is not None else None,
        error=report.error,
    )
    out.events.append(
        Event(
            "external-result",
            wait.node,
            actor=source,
            at=at,
            why=None if live else "the attempt had finished already: nothing changed",
            payload={
                "token": wait.token,
                "provider": wait.provider,
                "external_id": report.external_id or wait.external_id,
                "state": report.state,
                "source": source,
                "applied": live and ended,
                "outputs": dict(report.outputs) if report.outputs is not None else None,
                "error": report.error,
            },
        )
    )
    return out


def finish(
    store: Store,
    wait: WaitRow,
    report: Report,
    *,
    source: str,
    at: float,
    hook_event: dict[str, Any] | None = None,
    matched: int | None = None,
) -> Outcome | None:
    """Write the result in the workflow's one transaction: succeed/fail by attempt token (a
    token no longer live: a stale result, recorded and changing nothing) and the wait's end.
    `hook_event`: the webhook event to store in the same transaction; None is returned, and
    nothing written, when its event id was stored already (a duplicate callback).
    `matched`: the id of a stored unknown-job event this result comes from; None is
    returned, and nothing written, when another writer applied it already."""
    duplicate: list[bool] = []

    def decide(view: core.GraphView) -> Outcome:
        assert isinstance(view, StoreView)
        duplicate.clear()
        if hook_event is not None:
            if store.seen_hook_event(view.conn, hook_event["provider"], hook_event["event_id"]):
                duplicate.append(True)
                return Outcome(action="hook", actor="provider", at=at)
            store.insert_hook_event(view.conn, hook_event)
        if matched is not None and not match_event(view.conn, matched):
            duplicate.append(True)
            return Outcome(action="hook", actor="provider", at=at)
        return result_outcome(view, wait, report, source=source, at=at)

    applied = store.transact(wait.workflow_id, decide)
    if duplicate:
        return None
    return applied.outcome


#: Reads a stored webhook body for a wait: its report if it says the job finished, else None.
EarlyReader = Callable[[str], Report | None]


@dataclass(frozen=True)
class Confirmed:
    """What `confirm` wrote: whether the wait waits now (False: stopped meanwhile), and the
    outcome when an early webhook's result was applied with it."""

    waiting: bool
    outcome: Outcome | None = None


def confirm(
    store: Store,
    wait: WaitRow,
    external_id: str,
    *,
    at: float,
    next_poll: float,
    read: EarlyReader,
) -> Confirmed:
    """The submit's answer when webhook events for the job came before it: in the workflow's
    one transaction, record the job id, and apply the earliest stored event saying the job
    finished (the fast path wins even so: no wait for the next poll). The event is taken
    conditionally: a webhook taking it at the same moment applies it once, not twice."""
    waiting: list[bool] = []
    applied_event: list[bool] = []

    def decide(view: core.GraphView) -> Outcome:
        assert isinstance(view, StoreView)
        waiting.clear()
        applied_event.clear()
        conn = view.conn
        out = Outcome(action="external", actor="engine", at=at)
        if not confirm_submit(conn, wait.workflow_id, wait.token, external_id, at, next_poll):
            return out
        waiting.append(True)
        out.events.append(
            Event(
                "external-submitted",
                wait.node,
                at=at,
                payload={
                    "token": wait.token,
                    "provider": wait.provider,
                    "external_id": external_id,
                },
            )
        )
        placed = replace(wait, state="waiting", external_id=external_id, submitted_at=at)
        for event_id, body in unmatched_events(conn, wait.provider, external_id):
            report = read(body)
            if report is None or not match_event(conn, event_id):
                continue
            applied_event.append(True)
            result = result_outcome(view, placed, report, source="webhook", at=at)
            out.absorb(result)
            break
        return out

    applied = store.transact(wait.workflow_id, decide)
    return Confirmed(bool(waiting), applied.outcome if applied_event else None)


def note(store: Store, wait: WaitRow, type_: str, at: float, **payload: Any) -> None:
    """An event about the wait in its workflow's log (submitted, cancelled outside)."""
    notes(store, wait.workflow_id, [(wait, type_, at, payload)])


Note = tuple[WaitRow, str, float, dict[str, Any]]


def notes(store: Store, workflow_id: str, items: list[Note]) -> None:
    """Several such events of one workflow in one transaction."""

    def decide(_view: core.GraphView) -> Outcome:
        out = Outcome(action="external", actor="engine", at=items[-1][2])
        for wait, type_, at, payload in items:
            out.events.append(
                Event(
                    type_,
                    wait.node,
                    at=at,
                    payload={"token": wait.token, "provider": wait.provider, **payload},
                )
            )
        return out

    store.transact(workflow_id, decide)


class ExternalJobs:
    """`WaitKind` of `external` nodes: the configured providers (engine/providers.py)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._providers: dict[str, Provider] = {}
        self._configs: dict[str, Any] = {}
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def provider(self, name: str) -> Provider:
        now = time.monotonic()
        with self._lock:
            if now - self._read_at > PROVIDERS_EVERY or name not in self._providers:
                self._refresh(now)
            found = self._providers.get(name)
        if found is None:
            raise ProviderError(f"unknown provider {name!r} (storm providers ls)")
        return found

    def refresh(self) -> None:
        """Read the providers again if the last read is older than PROVIDERS_EVERY."""
        now = time.monotonic()
        with self._lock:
            if now - self._read_at > PROVIDERS_EVERY:
                self._refresh(now)

    def limited(self, name: str) -> bool:
        """Whether claims of this provider's jobs must count its `max_concurrent` (from what
        was read last: no I/O, callable inside a transaction). Unknown: True (the claim
        checks)."""
        found = self._providers.get(name)
        return found is None or found.config.max_concurrent is not None

    def _refresh(self, now: float) -> None:
        self._read_at = now
        rows = {row.name: row for row in self.store.providers()}
        for name in list(self._providers):
            if name not in rows:
                del self._providers[name]
                self._configs.pop(name, None)
        for name, row in rows.items():
            if self._configs.get(name) == row.config:
                continue  # unchanged: keep its rate limit's state
            try:
                self._providers[name] = Provider(parse_config(row.config))
                self._configs[name] = row.config
            except ValueError as exc:
                log.error("provider %s has a bad stored configuration: %s", name, exc)

    def plan(self, job: Job, now: float) -> Plan:
        name = str(job.payload.get("provider", ""))
        provider = self.provider(name)
        config = provider.config
        return Plan(name, dict(job.payload), now + config.give_up_after, 2 * config.timeout + 1)

    def resubmit_after(self, wait: WaitRow) -> float:
        try:
            return 2 * self.provider(wait.provider).config.timeout + 1
        except ProviderError:
            return RESUBMIT_AFTER

    def _tokens(self, wait: WaitRow) -> dict[str, str]:
        return {
            "idempotency-key": wait.idempotency_key,
            "workflow-id": wait.workflow_id,
            "node-name": wait.node,
            "attempt": wait.token,
        }

    def submit(self, wait: WaitRow) -> str:
        return self.provider(wait.provider).submit(
            wait.request.get("request", {}), self._tokens(wait)
        )

    def poll(self, wait: WaitRow) -> Report:
        assert wait.external_id is not None
        outputs = wait.request.get("outputs") or None
        return self.provider(wait.provider).status(wait.external_id, self._tokens(wait), outputs)

    def cancel(self, wait: WaitRow) -> bool:
        if wait.external_id is None:
            return False
        return self.provider(wait.provider).cancel(wait.external_id, self._tokens(wait))

    def next_poll(self, wait: WaitRow, now: float) -> float:
        config = self.provider(wait.provider).config
        delay = config.poll[min(wait.polls, len(config.poll) - 1)]
        delay *= 1 + random.uniform(-config.jitter, config.jitter)
        return min(now + delay, wait.deadline)

    def early_reader(self, wait: WaitRow) -> EarlyReader | None:
        """How to read a webhook body stored before the submit answered (None: the provider
        has no webhook)."""
        hook = self.provider(wait.provider).config.webhook
        if hook is None:
            return None
        outputs = wait.request.get("outputs") if isinstance(wait.request, dict) else None

        def read(body: str) -> Report | None:
            try:
                document = json.loads(body)
            except ValueError:
                return None
            if not isinstance(document, dict):
                return None
            report = read_report(document, hook, outputs or None)
            return report if report.finished else None

        return read

    def may_call(self, wait: WaitRow) -> bool:
        """Per-provider rate limit (calls per second, per scheduler)."""
        try:
            return self.provider(wait.provider).limit.take()
        except ProviderError:
            return True  # unknown provider: the call fails at once, and says why


@dataclass
class WaitStats:
    submitted: int = 0
    polls: int = 0
    results: int = 0
    gave_up: int = 0
    cancelled: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Waits:
    """The scheduler's side of waiting: hands attempts over, and keeps a bounded thread pool
    submitting, polling, giving up and cancelling. `apply(workflow_id, outcome)` tells the
    scheduler what a result changed (it runs what became ready); it is called from the
    pool's threads."""

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        apply: Callable[[str, Outcome], None],
        *,
        kinds: Mapping[str, WaitKind] | None = None,
        workflows: set[str] | None = None,
        threads: int = 4,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.data_dir = data_dir
        self.apply = apply
        self.clock = clock
        self.workflows = workflows
        self.kinds: dict[str, WaitKind] = dict(kinds or {"external": ExternalJobs(store, clock)})
        self.stats = WaitStats()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="storm-wait")
        # At most this many calls queued or running: the pool never holds 10,000 polls.
        self._capacity = threads * 4
        self._busy: set[tuple[str, str]] = set()  # waits with a call queued or running here
        self._lock = threading.Lock()
        self._sweeping = False
        self._more = False  # the last sweep left due rows for want of room
        self._next_stopped = 0.0
        self._closed = False
        # "external-submitted" events waiting to be written, a transaction per workflow per
        # sweep (10,000 submits are not 10,000 transactions on their workflow)
        self._notes: list[tuple[str, Note]] = []

    def handles(self, kind: str) -> bool:
        return kind in self.kinds

    def refresh(self) -> None:
        """Let the kinds re-read their configuration when it is stale (before a transaction)."""
        for kind in self.kinds.values():
            kind.refresh()

    def limited(self, provider: str) -> bool:
        """Whether claiming a job of this provider counts a limit (see ExternalJobs.limited)."""
        return any(kind.limited(provider) for kind in self.kinds.values())

    # -- the loop's side ---------------------------------------------------------------------
    def hand(self, job: Job) -> bool:
        """Record the attempt's wait and start its submit off the loop; False when the attempt
        was stopped meanwhile. Raises (ProviderError...) when it cannot wait at all: the
        scheduler records the attempt as not started."""
        from stormflow.engine.scheduler import split_job_token

        workflow_id, token = split_job_token(job.token)
        kind = self.kinds[job.kind]
        now = self.clock()
        plan = kind.plan(job, now)
        # No room in the pool now: the row is due at once, and a sweep submits it when there
        # is room (a submit is never dropped; the pool never queues more than its capacity).
        room = self._room() > 0
        row = {
            "workflow_id": workflow_id,
            "token": token,
            "node": job.node,
            "kind": job.kind,
            "provider": plan.provider,
            "state": "submitting",
            "idempotency_key": idempotency_key(workflow_id, token),
            "request": dict(plan.request),
            "created_at": now,
            "next_poll": now + plan.resubmit_after if room else now,
            "deadline": plan.deadline,
        }
        if not self.store.begin_wait(row, lease_until=plan.deadline + LEASE_MARGIN):
            return False
        if room:
            wait = self.store.wait(workflow_id, token)
            if wait is not None and not self._start(self._submit, wait):
                self.store.release_wait(wait)  # the room went meanwhile: the sweep takes it
        return True

    def tick(self) -> None:
        """From the loop's housekeeping: look for due work in the pool (never blocks)."""
        with self._lock:
            if self._sweeping or self._closed:
                return
            self._sweeping = True
        try:
            self._pool.submit(self._sweep)
        except RuntimeError:  # shut down meanwhile
            with self._lock:
                self._sweeping = False

    def close(self, wait: bool = False) -> None:
        """Stop taking work; calls under way finish (or are left to their rows: a submit not
        confirmed is made again by the next scheduler with the same key)."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)
        try:
            self._flush_notes()
        except Exception as exc:  # closing goes on: these events are a courtesy
            log.warning("external events left unwritten at close: %s", exc)

    # -- the pool's side ---------------------------------------------------------------------
    def _start(self, fn: Callable[[WaitRow], None], wait: WaitRow) -> bool:
        key = (wait.workflow_id, wait.token)
        with self._lock:
            if self._closed or key in self._busy or len(self._busy) >= self._capacity:
                return False
            self._busy.add(key)

        def run() -> None:
            try:
                fn(wait)
            except Exception as exc:
                self.stats.errors += 1
                log.error("external wait %s/%s: %s", wait.workflow_id, wait.node, exc, exc_info=exc)
            finally:
                with self._lock:
                    self._busy.discard(key)
                    more = self._more
                if more:
                    self.tick()  # due rows were left for want of room: take them now

        try:
            self._pool.submit(run)
        except RuntimeError:
            with self._lock:
                self._busy.discard(key)
            return False
        return True

    def _start_taken(self, fn: Callable[[WaitRow], None], wait: WaitRow) -> None:
        """Start a call for a row this scheduler took; if the pool filled up meanwhile, the
        row is due again at once (for the next sweep, here or elsewhere)."""
        if not self._start(fn, wait):
            taken = self.store.wait(wait.workflow_id, wait.token)
            if taken is not None:
                self.store.release_wait(taken)

    def _room(self) -> int:
        with self._lock:
            return self._capacity - len(self._busy)

    def stopped(self) -> None:
        """This scheduler was told an attempt was stopped: look for jobs to cancel now."""
        self._next_stopped = 0.0

    def _flush_notes(self) -> None:
        with self._lock:
            pending, self._notes = self._notes, []
        by_workflow: dict[str, list[Note]] = {}
        for workflow_id, item in pending:
            by_workflow.setdefault(workflow_id, []).append(item)
        for workflow_id, items in by_workflow.items():
            try:
                notes(self.store, workflow_id, items)
            except Exception as exc:  # an event is a courtesy: the waits row holds the facts
                log.warning(
                    "recording %d external events of %s failed: %s", len(items), workflow_id, exc
                )

    def _sweep(self) -> None:
        try:
            self._flush_notes()
            now = self.clock()
            if now >= self._next_stopped:
                self._next_stopped = now + STOPPED_EVERY
                for wait in self.store.stopped_waits(64, self.workflows):
                    if self.store.begin_cancel(wait, at=now):
                        self._start(self._cancel, wait)
            room = self._room()
            self._more = room <= 0
            if room <= 0:
                return
            due = self.store.due_waits(now, room * 2, self.workflows)
            self._more = len(due) == room * 2
            for wait in due:
                if self._room() <= 0:
                    self._more = True
                    break
                if (wait.workflow_id, wait.token) in self._busy:
                    continue
                self._take(wait, now)
        except Exception as exc:
            self.stats.errors += 1
            log.error("looking for due external waits failed: %s", exc, exc_info=exc)
        finally:
            with self._lock:
                self._sweeping = False

    def _take(self, wait: WaitRow, now: float) -> None:
        kind = self.kinds.get(wait.kind)
        if kind is None:
            return  # a kind this scheduler does not know (a plugin elsewhere): left to others
        later = now + kind.resubmit_after(wait)  # the row's next look if this one dies
        if now >= wait.deadline:
            if self.store.take(wait, later, polled=False):
                self._start_taken(self._give_up, wait)
            return
        if not kind.may_call(wait):
            return  # over the provider's rate: next sweep
        if wait.state == "submitting":
            if self.store.take(wait, later, polled=False):
                self._start_taken(self._submit, wait)
            return
        try:
            due = kind.next_poll(wait, now)
        except ProviderError:
            due = later
        if self.store.take(wait, due, polled=True):
            self._start_taken(self._poll, wait)

    def _log(self, wait: WaitRow, line: str) -> None:
        path = log_path(self.data_dir, wait.workflow_id, wait.token)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as out:
                out.write(f"storm: {time.strftime('%H:%M:%S')} {line}\n")
        except OSError as exc:  # the log is a courtesy: events hold the facts
            log.warning("could not write %s: %s", path, exc)

    def _finish(self, wait: WaitRow, report: Report, source: str) -> None:
        outcome = finish(self.store, wait, report, source=source, at=self.clock())
        self.stats.results += 1
        if outcome is not None:
            self.apply(wait.workflow_id, outcome)

    def _submit(self, wait: WaitRow) -> None:
        kind = self.kinds[wait.kind]
        self._log(wait, f"submitting to {wait.provider} (idempotency key {wait.idempotency_key})")
        try:
            external_id = kind.submit(wait)
        except ProviderError as exc:
            self._log(wait, f"submit failed: {exc}")
            self._finish(wait, Report("failed", error=f"submit failed: {exc}"), "submit")
            return
        now = self.clock()
        self.stats.submitted += 1
        placed = replace(wait, external_id=external_id, polls=0)
        next_poll = kind.next_poll(placed, now)
        recorded = self.store.submitted(
            wait.workflow_id, wait.token, wait.provider, external_id, at=now, next_poll=next_poll
        )
        early = recorded is None  # webhook events came before this answer: apply the earliest
        if early:
            recorded = self._confirm(kind, wait, external_id, now, next_poll)
        if not recorded:
            self._stop_late(placed)
            return
        self._log(wait, f"waiting for {wait.provider} job {external_id}")
        if early:
            return  # its external-submitted event was written with the answer
        with self._lock:
            item = (wait, "external-submitted", now, {"external_id": external_id})
            self._notes.append((wait.workflow_id, item))

    def _confirm(
        self, kind: WaitKind, wait: WaitRow, external_id: str, now: float, next_poll: float
    ) -> bool:
        read = kind.early_reader(wait)
        confirmed = confirm(
            self.store,
            wait,
            external_id,
            at=now,
            next_poll=next_poll,
            read=read or (lambda _body: None),
        )
        if confirmed.outcome is not None:
            self._log(wait, f"{wait.provider} job {external_id}: its webhook came first, applied")
            self.stats.results += 1
            self.apply(wait.workflow_id, confirmed.outcome)
        return confirmed.waiting

    def _stop_late(self, placed: WaitRow) -> None:
        """Stopped while the submit was under way: the new job is stopped outside too."""
        current = self.store.wait(placed.workflow_id, placed.token)
        if current is not None and current.state in ("cancelling", "canceled"):
            self._cancel(placed)

    def _poll(self, wait: WaitRow) -> None:
        kind = self.kinds[wait.kind]
        self.stats.polls += 1
        try:
            report = kind.poll(wait)
        except ProviderError as exc:
            # the provider had a hiccup: the job may be fine; the next poll (or the horizon) tells
            self._log(wait, f"poll failed: {exc}")
            return
        if report.finished:
            self._log(wait, f"poll: {wait.provider} job {wait.external_id} {report.state}")
            self._finish(wait, report, "poll")
        else:
            self.store.polled(
                wait.workflow_id, wait.token, at=self.clock(), progress=report.progress
            )

    def _give_up(self, wait: WaitRow) -> None:
        horizon = wait.deadline - wait.created_at
        self.stats.gave_up += 1
        error = f"gave up after {horizon:g}s without a result from {wait.provider}"
        self._log(wait, error)
        current = self.store.wait(wait.workflow_id, wait.token) or wait
        self._finish(
            current, Report("failed", external_id=wait.external_id, error=error), "give-up"
        )
        if current.external_id is not None:
            try:
                self.kinds[wait.kind].cancel(current)
            except ProviderError as exc:
                self._log(wait, f"cancel after giving up failed: {exc}")

    def _cancel(self, wait: WaitRow) -> None:
        kind = self.kinds[wait.kind]
        error: str | None = None
        try:
            asked = kind.cancel(wait)
        except ProviderError as exc:
            asked, error = True, str(exc)
        self.stats.cancelled += 1
        self.store.end_cancel(wait, error=error)
        what = "cancel failed" if error else ("cancelled" if asked else "no cancel call configured")
        self._log(wait, f"{wait.provider} job {wait.external_id}: {what}")
        note(
            self.store,
            wait,
            "external-cancel",
            self.clock(),
            external_id=wait.external_id,
            asked=asked,
            error=error,
        )
