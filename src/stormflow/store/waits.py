"""External waits: providers, what each waiting attempt waits for, inbound webhook events.

A waiting attempt keeps its row in `attempts` (running, owed a result) and gets a row in
`waits` saying what it waits for. Its lease is handed to `WAITING_OWNER` until its give-up
horizon: no scheduler holds it, none renews it, and a dead scheduler's recovery does not
touch it; any scheduler polls it when its `next_poll` comes, taking the row with a
conditional update (`take`), so two schedulers never poll one job at the same moment.

Results (webhook, poll, give-up) are written by `engine.waits.finish` in the workflow's
transaction, which ends the row there too (`end_wait` on the transaction's connection).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from .db import Database
from .schema import attempts, hook_events, limit_usage, limits, providers, waits

#: The lease owner of every waiting attempt: not a process, so never found dead.
WAITING_OWNER = "storm:waits"

#: States of a wait whose job may still be running at the provider.
LIVE = ("submitting", "waiting")

#: The named limit standing for a provider's `max_concurrent` (claims count against it).
LIMIT_PREFIX = "provider:"

#: A webhook event stored before any wait knew its job id.
UNMATCHED = "unknown-job"
#: Such an event, applied when the submit's answer (or a webhook's second look) found its wait.
LATE_RESULT = "late-result"


def provider_limit(name: str) -> str:
    return f"{LIMIT_PREFIX}{name}"


@dataclass(frozen=True, slots=True)
class ProviderRow:
    name: str
    kind: str
    config: dict[str, Any]
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class WaitRow:
    workflow_id: str
    token: str
    node: str
    kind: str
    provider: str
    state: str
    external_id: str | None
    idempotency_key: str
    request: Any
    created_at: float
    submitted_at: float | None
    polled_at: float | None
    next_poll: float
    polls: int
    deadline: float
    progress: float | None
    outputs: dict[str, Any] | None
    ended_at: float | None
    ended_by: str | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id,
            "node": self.node,
            "token": self.token,
            "provider": self.provider,
            "state": self.state,
            "external_id": self.external_id,
            "submitted_at": self.submitted_at,
            "polled_at": self.polled_at,
            "next_poll": self.next_poll if self.state in LIVE else None,
            "polls": self.polls,
            "deadline": self.deadline,
            "progress": self.progress,
            "outputs": self.outputs,
            "ended_at": self.ended_at,
            "ended_by": self.ended_by,
            "error": self.error,
        }


def _wait(row: Any) -> WaitRow:
    return WaitRow(*(row._mapping[c.name] for c in waits.columns))


def _key(workflow_id: str, token: str) -> Any:
    return and_(waits.c.workflow_id == workflow_id, waits.c.token == token)


def end_wait(
    conn: Connection,
    workflow_id: str,
    token: str,
    *,
    at: float,
    by: str,
    state: str = "done",
    progress: float | None = None,
    outputs: dict[str, Any] | None = None,
    error: str | None = None,
) -> bool:
    """End a live wait inside the caller's transaction; False when it was no longer live."""
    values: dict[str, Any] = {"state": state, "ended_at": at, "ended_by": by, "error": error}
    if progress is not None:
        values["progress"] = progress
    if outputs is not None:
        values["outputs"] = outputs
    result = conn.execute(
        update(waits).where(_key(workflow_id, token), waits.c.state.in_(LIVE)).values(**values)
    )
    return bool(result.rowcount)


def confirm_submit(
    conn: Connection,
    workflow_id: str,
    token: str,
    external_id: str,
    at: float,
    next_poll: float,
) -> bool:
    """The submit's answer: the wait now waits for this job; False when no longer submitting."""
    result = conn.execute(
        update(waits)
        .where(_key(workflow_id, token), waits.c.state == "submitting")
        .values(state="waiting", external_id=external_id, submitted_at=at, next_poll=next_poll)
    )
    return bool(result.rowcount)


def unmatched_events(conn: Connection, provider: str, external_id: str) -> list[tuple[int, str]]:
    """(id, body) of this job's webhook events stored before any wait knew its id, oldest
    first."""
    query = (
        select(hook_events.c.id, hook_events.c.body)
        .where(
            hook_events.c.provider == provider,
            hook_events.c.external_id == external_id,
            hook_events.c.outcome == UNMATCHED,
        )
        .order_by(hook_events.c.id)
    )
    return [(int(i), str(b)) for i, b in conn.execute(query).all()]


def match_event(conn: Connection, event_id: int, outcome: str = LATE_RESULT) -> bool:
    """Take an unmatched event for its job (once: False when another writer took it)."""
    result = conn.execute(
        update(hook_events)
        .where(hook_events.c.id == event_id, hook_events.c.outcome == UNMATCHED)
        .values(outcome=outcome)
    )
    return bool(result.rowcount)


class Waits(Database):
    # -- providers ---------------------------------------------------------------------------
    def put_provider(
        self, name: str, kind: str, config: dict[str, Any], *, at: float, max_concurrent: int | None
    ) -> bool:
        """Add or replace a provider (and its concurrency limit); True when it is new."""
        limit = provider_limit(name)
        with self.write() as conn:
            found = conn.execute(
                update(providers)
                .where(providers.c.name == name)
                .values(kind=kind, config=config, updated_at=at)
            ).rowcount
            if not found:
                conn.execute(
                    providers.insert().values(
                        name=name, kind=kind, config=config, created_at=at, updated_at=at
                    )
                )
            if max_concurrent is None:
                conn.execute(delete(limit_usage).where(limit_usage.c.limit == limit))
                conn.execute(delete(limits).where(limits.c.name == limit))
            elif not conn.execute(
                update(limits).where(limits.c.name == limit).values(capacity=max_concurrent)
            ).rowcount:
                conn.execute(limits.insert().values(name=limit, capacity=max_concurrent))
        return not found

    def providers(self) -> list[ProviderRow]:
        with self.read() as conn:
            rows = conn.execute(select(providers).order_by(providers.c.name)).all()
        return [ProviderRow(r.name, r.kind, r.config, r.created_at, r.updated_at) for r in rows]

    def provider(self, name: str) -> ProviderRow | None:
        with self.read() as conn:
            r = conn.execute(select(providers).where(providers.c.name == name)).first()
        return (
            None if r is None else ProviderRow(r.name, r.kind, r.config, r.created_at, r.updated_at)
        )

    def provider_names(self) -> list[str]:
        with self.read() as conn:
            return [str(n) for n in conn.execute(select(providers.c.name)).scalars()]

    def remove_provider(self, name: str) -> bool:
        limit = provider_limit(name)
        with self.write() as conn:
            gone = conn.execute(delete(providers).where(providers.c.name == name)).rowcount
            conn.execute(delete(limit_usage).where(limit_usage.c.limit == limit))
            conn.execute(delete(limits).where(limits.c.name == limit))
        return bool(gone)

    # -- waits ---------------------------------------------------------------------------------
    def begin_wait(self, row: dict[str, Any], *, lease_until: float) -> bool:
        """Record what the attempt will wait for and hand its lease to WAITING_OWNER, in one
        transaction; False when the attempt is no longer live (stopped meanwhile)."""
        with self.write() as conn:
            moved = conn.execute(
                update(attempts)
                .where(
                    attempts.c.workflow_id == row["workflow_id"],
                    attempts.c.token == row["token"],
                    attempts.c.result.is_(None),
                    attempts.c.snapshot.is_(None),
                )
                .values(lease_owner=WAITING_OWNER, lease_expires=lease_until)
            ).rowcount
            if not moved:
                return False
            conn.execute(waits.insert().values(polls=0, **row))
        return True

    def wait(self, workflow_id: str, token: str) -> WaitRow | None:
        with self.read() as conn:
            row = conn.execute(select(waits).where(_key(workflow_id, token))).first()
        return None if row is None else _wait(row)

    def waits_of(self, workflow_id: str, node: str | None = None) -> list[WaitRow]:
        query = select(waits).where(waits.c.workflow_id == workflow_id)
        if node is not None:
            query = query.where(waits.c.node == node)
        with self.read() as conn:
            return [_wait(r) for r in conn.execute(query.order_by(waits.c.created_at)).all()]

    def wait_for_job(self, provider: str, external_id: str) -> WaitRow | None:
        """The wait for this provider's job (the newest, if a job id came back twice)."""
        query = (
            select(waits)
            .where(waits.c.provider == provider, waits.c.external_id == external_id)
            .order_by(waits.c.created_at.desc())
            .limit(1)
        )
        with self.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _wait(row)

    def due_waits(
        self, now: float, limit: int, workflow_ids: Iterable[str] | None = None
    ) -> list[WaitRow]:
        """Live waits whose next step (poll, repeated submit, giving up) is due, oldest first."""
        query = (
            select(waits)
            .where(waits.c.state.in_(LIVE), waits.c.next_poll <= now)
            .order_by(waits.c.next_poll)
            .limit(limit)
        )
        if workflow_ids is not None:
            query = query.where(waits.c.workflow_id.in_(list(workflow_ids)))
        with self.read() as conn:
            return [_wait(r) for r in conn.execute(query).all()]

    def take(self, wait: WaitRow, next_poll: float, polled: bool) -> bool:
        """Claim the wait's due step by moving its next_poll (conditional on nobody else having
        done so): True for exactly one scheduler."""
        values: dict[str, Any] = {"next_poll": next_poll}
        if polled:
            values["polls"] = wait.polls + 1
        with self.write() as conn:
            return bool(
                conn.execute(
                    update(waits)
                    .where(
                        _key(wait.workflow_id, wait.token),
                        waits.c.state == wait.state,
                        waits.c.next_poll == wait.next_poll,
                    )
                    .values(**values)
                ).rowcount
            )

    def release_wait(self, wait: WaitRow) -> None:
        """Make a row this scheduler took but could not act on due again now."""
        with self.write() as conn:
            conn.execute(
                update(waits)
                .where(
                    _key(wait.workflow_id, wait.token),
                    waits.c.state == wait.state,
                    waits.c.next_poll == wait.next_poll,
                )
                .values(next_poll=0.0)
            )

    def submitted(
        self,
        workflow_id: str,
        token: str,
        provider: str,
        external_id: str,
        *,
        at: float,
        next_poll: float,
    ) -> bool | None:
        """Record the submit's answer; False when the wait is no longer submitting (stopped
        meanwhile). None, and nothing written, when webhook events for this job came before
        it (stored as unknown-job): the caller records the answer and applies the earliest
        in the workflow's transaction (`engine.waits.confirm`). One write transaction: on
        SQLite a webhook's event is stored either before (found here) or after it (the
        webhook then finds the job id)."""
        with self.write() as conn:
            if unmatched_events(conn, provider, external_id):
                return None
            return confirm_submit(conn, workflow_id, token, external_id, at, next_poll)

    def polled(self, workflow_id: str, token: str, *, at: float, progress: float | None) -> None:
        values: dict[str, Any] = {"polled_at": at}
        if progress is not None:
            values["progress"] = progress
        with self.write() as conn:
            conn.execute(
                update(waits)
                .where(_key(workflow_id, token), waits.c.state.in_(LIVE))
                .values(**values)
            )

    def stopped_waits(self, limit: int, workflow_ids: Iterable[str] | None = None) -> list[WaitRow]:
        """Live waits whose attempt ended without them (a person's cancel, skip, update or
        retry; the workflow's expiry; a lost lease): their jobs must be stopped outside."""
        ended = or_(attempts.c.result.is_not(None), attempts.c.snapshot.is_not(None))
        query = (
            select(waits)
            .join(
                attempts,
                and_(
                    attempts.c.workflow_id == waits.c.workflow_id,
                    attempts.c.token == waits.c.token,
                ),
            )
            .where(waits.c.state.in_(LIVE), ended)
            .limit(limit)
        )
        if workflow_ids is not None:
            query = query.where(waits.c.workflow_id.in_(list(workflow_ids)))
        with self.read() as conn:
            return [_wait(r) for r in conn.execute(query).all()]

    def begin_cancel(self, wait: WaitRow, *, at: float) -> bool:
        """Take the wait's cancel: True for exactly one caller (the provider is asked once)."""
        with self.write() as conn:
            return bool(
                conn.execute(
                    update(waits)
                    .where(_key(wait.workflow_id, wait.token), waits.c.state.in_(LIVE))
                    .values(state="cancelling", ended_at=at, ended_by="cancel")
                ).rowcount
            )

    def end_cancel(self, wait: WaitRow, *, error: str | None) -> None:
        with self.write() as conn:
            conn.execute(
                update(waits)
                .where(_key(wait.workflow_id, wait.token), waits.c.state == "cancelling")
                .values(state="canceled", error=error)
            )

    def live_wait_count(self) -> dict[str, int]:
        """Waiting jobs per provider (for /metrics and `storm providers ls`)."""
        query = (
            select(waits.c.provider, func.count())
            .where(waits.c.state.in_(LIVE))
            .group_by(waits.c.provider)
        )
        with self.read() as conn:
            return {str(p): int(n) for p, n in conn.execute(query).all()}

    # -- inbound webhook events ----------------------------------------------------------------
    def record_hook_event(
        self,
        provider: str,
        event_id: str,
        body: str,
        *,
        at: float,
        external_id: str | None,
        outcome: str,
    ) -> bool:
        """Store the event as received; False when this provider's event id was seen already."""
        try:
            with self.write() as conn:
                conn.execute(
                    hook_events.insert().values(
                        provider=provider,
                        event_id=event_id,
                        received_at=at,
                        body=body,
                        external_id=external_id,
                        outcome=outcome,
                    )
                )
        except IntegrityError:
            return False
        return True

    def hook_events(self, provider: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = select(hook_events).order_by(hook_events.c.id.desc()).limit(limit)
        if provider is not None:
            query = query.where(hook_events.c.provider == provider)
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def hook_event_id(self, provider: str, event_id: str) -> int | None:
        with self.read() as conn:
            found = conn.execute(
                select(hook_events.c.id).where(
                    hook_events.c.provider == provider, hook_events.c.event_id == event_id
                )
            ).first()
        return None if found is None else int(found[0])

    def seen_hook_event(self, conn: Connection, provider: str, event_id: str) -> bool:
        found = conn.execute(
            select(hook_events.c.id).where(
                hook_events.c.provider == provider, hook_events.c.event_id == event_id
            )
        ).first()
        return found is not None

    @staticmethod
    def insert_hook_event(conn: Connection, values: dict[str, Any]) -> None:
        conn.execute(hook_events.insert().values(**values))


def tokens_of(rows: Sequence[WaitRow]) -> list[tuple[str, str]]:
    return [(r.workflow_id, r.token) for r in rows]
