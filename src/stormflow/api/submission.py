"""Submitting a document: validate, expand, store; shared by POST /workflows and drafts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from sqlalchemy import select

from stormflow.core import Outcome
from stormflow.kinds.external import known_providers
from stormflow.spec import DocumentError, Severity, expand, limits, validate
from stormflow.spec.entries import error
from stormflow.spec.params import instantiate_checked, is_template
from stormflow.spec.templates import resolve_checked
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


def is_instantiation(body: Mapping[str, Any]) -> bool:
    """`{"template": NAME | document, "params": {...}}` (or `"document"` for `"template"`)
    rather than a document: a document has nodes, and neither field is one of its own."""
    return "nodes" not in body and ("template" in body or "document" in body)


def instantiated(ctx: ApiContext, body: Mapping[str, Any]) -> dict[str, Any]:
    """The document a submit body stands for: a template instantiated with its params, its
    `workflow` nodes' stored templates inlined. 422 with every entry when it cannot be."""
    source = None
    if is_instantiation(body):
        extra = sorted(set(body) - {"template", "document", "params"})
        if extra:
            raise ApiError(
                422,
                "invalid-input",
                f"unknown field {extra[0]!r}: an instantiation has template (a stored "
                f"template's name or a document) and params",
                where=extra[0],
            )
        template = body.get("template", body.get("document"))
        values = body.get("params", {})
        if not isinstance(values, Mapping):
            raise ApiError(422, "invalid-input", "params must be a mapping of name to value")
        if isinstance(template, str):
            found = ctx.store.find_template(template)
            if found is None:
                message = f"no stored template named {template!r}"
                raise ApiError(404, "unknown-template", message, where=template)
            source, template = f"template:{template}", found
        if not isinstance(template, Mapping):
            message = "template must be a stored template's name or a document (a mapping)"
            raise ApiError(422, "invalid-input", message, where="template")
        document, entries = instantiate_checked(template, values)
    elif is_template(body):
        document, entries = instantiate_checked(body, {})
    else:
        document, entries = dict(body), []
    if document is None:
        raise invalid_document(entries)
    resolved, entries = resolve_checked(document, lookup=ctx.store.find_template, source=source)
    if entries:
        raise invalid_document(entries)
    out: dict[str, Any] = resolved
    return out


def entries_of(ctx: ApiContext, body: Mapping[str, Any]) -> list[Any]:
    """Every entry for a submit body (a document, or a template with params) without
    storing anything: what POST /validate answers."""
    values: Mapping[str, Any] | None = None
    source = None
    document: Any = body
    if is_instantiation(body):
        document = body.get("template", body.get("document"))
        raw_values = body.get("params", {})
        if not isinstance(raw_values, Mapping):
            raise ApiError(422, "invalid-input", "params must be a mapping of name to value")
        values = raw_values
        if isinstance(document, str):
            found = ctx.store.find_template(document)
            if found is None:
                message = f"no stored template named {document!r}"
                raise ApiError(404, "unknown-template", message, where=document)
            source, document = f"template:{document}", found
    resolved, entries = resolve_checked(document, lookup=ctx.store.find_template, source=source)
    if entries:
        return entries
    return validate(resolved, values)


def _store(ctx: ApiContext, document: dict[str, Any], *, actor: str, key: str | None) -> str:
    document = instantiated(ctx, document)
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
