"""Submitting a document: validate, expand, store; shared by POST /workflows and drafts."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select

from stormflow.core import Outcome
from stormflow.kinds.external import known_providers
from stormflow.spec import DocumentError, Severity, expand, limits, validate
from stormflow.spec.entries import error
from stormflow.store.schema import requests

from . import shapes
from .context import ApiContext, now, workflow_url
from .errors import ApiError


def invalid_document(entries: list[Any]) -> ApiError:
    errors = [e for e in entries if e.severity is Severity.ERROR]
    first = errors[0].message if errors else "invalid document"
    more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
    return ApiError(
        422,
        "invalid-document",
        f"{first}{more}",
        where=(errors[0].field if errors else None),
        details={"entries": shapes.entries_out(entries)},
    )


def _seen(ctx: ApiContext, key: str) -> str | None:
    with ctx.store.read() as conn:
        row = conn.execute(
            select(requests.c.workflow_id).where(requests.c.idempotency_key == key)
        ).first()
    return None if row is None else str(row.workflow_id)


def submit_document(
    ctx: ApiContext, request: Request, document: dict[str, Any], *, actor: str, key: str | None
) -> dict[str, Any]:
    """Store a valid document as a workflow; 422 with every entry while it has errors."""
    # Keys are namespaced per endpoint: one reused for an action cannot answer a submit.
    stored_key = None if key is None else f"api:submit:{key}"
    seen = None if stored_key is None else _seen(ctx, stored_key)
    workflow_id = seen if seen is not None else _store(ctx, document, actor=actor, key=stored_key)
    row = ctx.store.workflow(workflow_id)
    return {
        "id": workflow_id,
        "name": row.name,
        "status": ctx.store.status(workflow_id).value,
        "url": workflow_url(request, workflow_id),
        "replayed": seen is not None,
    }


def _store(ctx: ApiContext, document: dict[str, Any], *, actor: str, key: str | None) -> str:
    with known_providers(ctx.provider_names()):
        entries = validate(document)
    if any(e.severity is Severity.ERROR for e in entries):
        raise invalid_document(entries)
    try:
        plan = expand(document)
    except DocumentError as exc:
        raise invalid_document(exc.entries) from None
    most = limits.current().max_edges
    if len(plan.edges) > most:  # validation estimated them; this is the exact count
        entry = error(
            "too-many-edges",
            f"the workflow expands to {len(plan.edges)} edges, more than the limit of {most} "
            f"per workflow ({limits.how_to_raise('max_edges')})",
            field="edges",
        )
        raise invalid_document([entry])
    at = now()
    workflow_id = ctx.store.submit(
        plan.nodes,
        plan.edges,
        name=plan.name,
        metadata=plan.metadata,
        actor=actor,
        at=at,
        idempotency_key=key,
        expires_at=None if plan.ttl is None else at + plan.ttl,
    )
    # the embedded scheduler would find the new roots at its next rescan; tell it now
    roots = ctx.store.runnable_nodes(workflow_id)
    ctx.told(workflow_id, Outcome(action="submit", actor=actor, at=at, check=set(roots)))
    return workflow_id
