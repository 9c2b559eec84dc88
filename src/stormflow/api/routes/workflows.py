"""Workflows: submit, list, read, archive, and the compact graph a UI draws."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse

from stormflow.api import schemas, shapes
from stormflow.api.context import Actor, Ctx, IdempotencyKey, now
from stormflow.api.schemas import MAX_INT
from stormflow.api.submission import submit_document
from stormflow.api.validators import cache_of, etag, headers, not_modified

router = APIRouter(tags=["workflows"])

#: Workflows read per query while filtering by derived status (not a column).
_BATCH = 200


@router.post("/workflows", status_code=201, response_model=schemas.Submitted)
def submit(
    ctx: Ctx,
    request: Request,
    actor: Actor,
    document: Annotated[schemas.Document, Body()],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    return submit_document(ctx, request, document, actor=actor, key=key)


@router.get("/workflows", response_model=schemas.WorkflowPage)
def list_workflows(
    ctx: Ctx,
    status: schemas.WorkflowStatusName | None = None,
    name: Annotated[str | None, Query(max_length=1000, description="glob")] = None,
    archived: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> dict[str, Any]:
    """Newest first. `status` is derived from the nodes, so it is filtered here, in batches."""
    items: list[dict[str, Any]] = []
    if status is None:
        rows = ctx.store.workflows(archived=archived, limit=limit, offset=offset, name_glob=name)
        items = [shapes.workflow_summary(ctx.store, r) for r in rows]
    else:
        skip, at = offset, 0
        while len(items) < limit:
            rows = ctx.store.workflows(archived=archived, limit=_BATCH, offset=at, name_glob=name)
            at += len(rows)
            for row in rows:
                summary = shapes.workflow_summary(ctx.store, row)
                if summary["status"] != status:
                    continue
                if skip:
                    skip -= 1
                elif len(items) < limit:
                    items.append(summary)
            if len(rows) < _BATCH:
                break
    return {"items": items, "limit": limit, "offset": offset}


@router.get(
    "/workflows/{workflow_id}",
    response_model=schemas.WorkflowDetail,
    responses={304: {"description": "unchanged since the ETag sent in If-None-Match"}},
)
def get_workflow(ctx: Ctx, request: Request, workflow_id: str) -> Response:
    """With `ETag`; `If-None-Match` with the current one answers 304 (docs/api.md)."""
    cache = cache_of(request.app.state)
    seq = ctx.store.last_seq(workflow_id)
    body = cache.summary(workflow_id, seq)
    if body is None:
        row = ctx.store.workflow(workflow_id)
        body = shapes.workflow_summary(ctx.store, row) | {"metadata": row.metadata}
        if ctx.store.last_seq(workflow_id) == seq:  # else it may hold later changes
            cache.keep_summary(workflow_id, seq, body)
    expires = body["expires_at"]
    body["expired"] = expires is not None and expires <= now()
    tag = etag(workflow_id, seq, body["expired"])
    return not_modified(request, tag) or JSONResponse(body, headers=headers(tag))


@router.post("/workflows/{workflow_id}/archive", response_model=schemas.WorkflowSummary)
def archive(ctx: Ctx, workflow_id: str, actor: Actor, key: IdempotencyKey = None) -> dict[str, Any]:
    """Archiving twice changes nothing the second time (so the key needs no record)."""
    row = ctx.store.workflow(workflow_id)
    if not row.archived:
        ctx.store.archive(workflow_id, actor=actor, at=now())
        row = ctx.store.workflow(workflow_id)
    return shapes.workflow_summary(ctx.store, row)


@router.get("/workflows/{workflow_id}/graph", response_model=schemas.CompactGraph)
def graph(
    ctx: Ctx,
    workflow_id: str,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    limit: Annotated[int, Query(ge=1, le=200_000)] = 200_000,
) -> dict[str, Any]:
    """Column arrays and index pairs: 100,000 nodes without an object per node, in natural
    order of names. `seq`: the last event seq the statuses reflect (read with them)."""
    with ctx.store.read() as conn:
        seq = ctx.store.last_seq_in(conn, workflow_id)
        total = ctx.store.node_count(conn, workflow_id)
        rows = ctx.store.nodes_in(conn, workflow_id, limit=limit, offset=offset)
    index = {r.name: i for i, r in enumerate(rows)}
    edges = [
        (index[u], index[d]) for u, d in ctx.store.edges(workflow_id) if u in index and d in index
    ]
    starts = shapes.node_starts(ctx.store, workflow_id, rows)
    return {
        "total": total,
        "offset": offset,
        "limit": limit,
        "nodes": {
            "name": [r.name for r in rows],
            "kind": [r.kind for r in rows],
            "status": [r.status.value for r in rows],
            "group": [r.group for r in rows],
            "frames": [r.frames for r in rows],
            "phase": [shapes.phase(r.status.value == "running", starts.get(r.name)) for r in rows],
        },
        "edges": edges,
        "seq": seq,
    }
