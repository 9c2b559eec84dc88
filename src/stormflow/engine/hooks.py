"""Inbound webhooks: a provider says a job finished (the fast path beside polling).

`receive` is what `POST /api/v1/hooks/{provider}` does: verify `X-Storm-Signature` with the
provider's secret (from the environment variable its configuration names; HMAC-SHA256 over
timestamp and body, constant-time, 5 minutes of tolerance against replays), find the wait
by the provider's job id, then store the raw event and apply it through the core in one
transaction (`waits.finish`): the first writer wins, a later result for the same attempt
is recorded as a no-op, and a repeated event id (a duplicate callback) changes nothing.

A request with a bad signature is refused (401), counted, and never stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stormflow.core import Outcome
from stormflow.engine.providers import ProviderConfig, Report, read_report, resolve
from stormflow.engine.waits import finish
from stormflow.signing import HEADER, SignatureError, verify
from stormflow.store import Store
from stormflow.store.waits import UNMATCHED

#: The raw body kept per event at most (bigger bodies are refused before this).
MAX_BODY = 1 << 20


class HookError(Exception):
    """Refused: `status` is the HTTP status, `code` and `message` the JSON error's."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class HookFigures:
    """Counters for /metrics (this process)."""

    received: int = 0
    applied: int = 0
    no_op: int = 0
    duplicates: int = 0
    unknown: int = 0
    progress: int = 0
    bad_signatures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)


@dataclass(frozen=True)
class Received:
    outcome: str  # applied | no-op | duplicate | unknown-job | progress
    workflow_id: str | None = None
    node: str | None = None
    applied: Outcome | None = None

    def answer(self) -> dict[str, str | None]:
        return {"outcome": self.outcome, "workflow_id": self.workflow_id, "node": self.node}


def receive(
    store: Store,
    config: ProviderConfig,
    body: bytes,
    signature: str | None,
    *,
    at: float,
    figures: HookFigures,
    environ: Mapping[str, str] | None = None,
) -> Received:
    env = os.environ if environ is None else environ
    hook = config.webhook
    if hook is None:
        raise HookError(404, "no-webhook", f"provider {config.name!r} has no webhook configured")
    secret = env.get(hook.secret_env, "")
    if not secret:
        raise HookError(
            503,
            "webhook-secret-missing",
            f"the webhook secret of provider {config.name!r} is not set on this server "
            f"(environment variable {hook.secret_env})",
        )
    try:
        verify(secret, signature, body, now=at)
    except SignatureError as exc:
        figures.count("bad_signatures")
        raise HookError(401, "bad-signature", str(exc)) from None
    figures.count("received")
    try:
        document = json.loads(body)
    except ValueError:
        raise HookError(400, "malformed-json", "the webhook body is not JSON") from None
    if not isinstance(document, dict):
        raise HookError(422, "invalid", "the webhook body must be a JSON object")
    report = read_report(document, hook)
    event = resolve(document, hook.event_id) if hook.event_id else None
    event_id = str(event) if event is not None else hashlib.sha256(body).hexdigest()
    row: dict[str, Any] = {
        "provider": config.name,
        "event_id": event_id[:200],
        "received_at": at,
        "body": body.decode("utf-8", "replace")[:MAX_BODY],
        "external_id": report.external_id,
    }
    wait = store.wait_for_job(config.name, report.external_id) if report.external_id else None
    if wait is None:
        fresh = _record(store, row, UNMATCHED)
        if not fresh:
            figures.count("duplicates")
            return Received("duplicate")
        # The submit's answer may have been recorded meanwhile, having looked for stored
        # events before this one was: look once more (it applies stored events itself,
        # `waits.confirm`; whichever takes the event first applies it, once)
        late = _late(store, config, document, report, row)
        if late is not None:
            figures.count("applied" if late.outcome == "applied" else "no_op")
            return late
        figures.count("unknown")
        return Received("unknown-job")
    if not report.finished:
        fresh = _record(store, row, "progress")
        if fresh:
            figures.count("progress")
            store.polled(wait.workflow_id, wait.token, at=at, progress=report.progress)
        return Received("progress" if fresh else "duplicate", wait.workflow_id, wait.node)
    outputs = wait.request.get("outputs") if isinstance(wait.request, dict) else None
    if outputs:
        report = read_report(document, hook, outputs)
    outcome = finish(
        store, wait, report, source="webhook", at=at, hook_event={**row, "outcome": "result"}
    )
    if outcome is None:
        figures.count("duplicates")
        return Received("duplicate", wait.workflow_id, wait.node)
    what = "applied" if was_applied(outcome, wait.node) else "no-op"
    figures.count("applied" if what == "applied" else "no_op")
    return Received(what, wait.workflow_id, wait.node, outcome)


def _late(
    store: Store,
    config: ProviderConfig,
    document: dict[str, Any],
    report: Report,
    row: dict[str, Any],
) -> Received | None:
    """An event stored as unknown-job whose wait appeared since: applied now (None: still no
    wait, not a result, or the submit's answer applied it first)."""
    assert report.external_id is not None
    wait = store.wait_for_job(config.name, report.external_id)
    if wait is None or not report.finished or config.webhook is None:
        return None
    outputs = wait.request.get("outputs") if isinstance(wait.request, dict) else None
    if outputs:
        report = read_report(document, config.webhook, outputs)
    found = store.hook_event_id(config.name, str(row["event_id"]))
    if found is None:
        return None
    outcome = finish(
        store, wait, report, source="webhook", at=float(row["received_at"]), matched=found
    )
    if outcome is None:
        return None
    what = "applied" if was_applied(outcome, wait.node) else "no-op"
    return Received(what, wait.workflow_id, wait.node, outcome)


def _record(store: Store, row: dict[str, Any], outcome: str) -> bool:
    return store.record_hook_event(
        str(row["provider"]),
        str(row["event_id"]),
        str(row["body"]),
        at=float(row["received_at"]),
        external_id=row["external_id"],
        outcome=outcome,
    )


def was_applied(outcome: Outcome, node: str) -> bool:
    """Whether an outcome of `finish` wrote the result (not a no-op for a finished attempt)."""
    return any(
        e.type == "external-result" and e.node == node and e.payload.get("applied")
        for e in outcome.events
    )


__all__ = ["HEADER", "HookError", "HookFigures", "Received", "receive"]
