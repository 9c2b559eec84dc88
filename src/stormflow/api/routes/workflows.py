"""Workflows: submit, list, read, archive, and the compact graph a UI draws."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse

from stormflow.api import pages, schemas, shapes
from stormflow.api.context import Actor, ApiContext, Ctx, IdempotencyKey, now
from stormflow.api.schemas import MAX_INT
from stormflow.api.submission import submit_document
from stormflow.api.tables import SUMMARY_NODES, tables_of
from stormflow.api.validators import cache_of, etag, headers, not_modified

router = APIRouter(tags=["workflows"])


@router.post("/workflows", status_code=201, response_model=schemas.Submitted)
def submit(
    ctx: Ctx,
    request: Request,
    actor: Actor,
    document: Annotated[schemas.Document, Body()],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    return submit_document(ctx, request, document, actor=actor, key=key)


@router.get(
    "/workflows",
    response_model=schemas.WorkflowPage,
    responses={304: {"description": "the page is the one the `If-None-Match` ETag names"}},
)
def list_workflows(
    ctx: Ctx,
    request: Request,
    status: schemas.WorkflowStatusName | None = None,
    name: Annotated[str | None, Query(max_length=1000, description="glob")] = None,
    archived: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page")
    ] = None,
    children: Annotated[
        bool, Query(description="false: leave out sub-workflows (started by workflow nodes)")
    ] = True,
) -> Any:
    """Newest first, with their summaries (kept on each workflow's row, so any filter is one
    read along an index). Pages: `next_cursor` (keyset: stable while workflows are
    submitted, and as fast on the last page as on the first); `offset` still works."""
    after = pages.decode_cursor(cursor) if cursor is not None else None
    rows = ctx.store.workflows(
        archived=archived,
        limit=limit + 1,  # one more: whether there is a next page
        offset=offset,
        name_glob=name,
        status=status,
        after=after,
        metadata=False,
        children=children,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    parents = ctx.store.parents_of([r.id for r in rows])
    body = {
        "items": [
            shapes.workflow_summary(ctx.store, r) | {"parent": parents.get(r.id)} for r in rows
        ],
        "limit": limit,
        "offset": offset,
        "next_cursor": pages.encode_cursor(rows[-1]) if more and rows else None,
    }
    return pages.with_etag(request, body)


@router.get(
    "/workflows/{workflow_id}",
    response_model=schemas.WorkflowDetail,
    responses={304: {"description": "unchanged since the ETag sent in If-None-Match"}},
)
def get_workflow(ctx: Ctx, request: Request, workflow_id: str) -> Response:
    """With `ETag`; `If-None-Match` with the current one answers 304 (docs/api.md)."""
    if not tables_of(request.app.state).loaded(workflow_id):
        # counted by the database; a small workflow is then read into memory for what follows
        cache = cache_of(request.app.state)
        body = cache.summary(workflow_id, ctx.store.last_seq(workflow_id))
        if body is None:
            row = ctx.store.workflow(workflow_id)
            body = shapes.workflow_summary(ctx.store, row) | {"metadata": row.metadata}
            cache.keep_summary(workflow_id, body["seq"], body)  # the seq read with the counts
        if body["total"] > SUMMARY_NODES:
            return _answer(ctx, request, workflow_id, body["seq"], body)
    return _fresh(ctx, request, workflow_id)


def _fresh(ctx: ApiContext, request: Request, workflow_id: str) -> Response:
    """The summary from the workflow's in-memory table (read now if need be)."""
    cache = cache_of(request.app.state)
    table = tables_of(request.app.state).at_least(
        ctx.store, workflow_id, ctx.store.last_seq(workflow_id)
    )
    with table.lock:
        seq = table.seq
        body = cache.summary(workflow_id, seq)
        if body is None:
            row = replace(table.workflow, archived=table.archived)
            counts = table.status_counts()
            status = table.status(ctx.store)
            body = shapes.summary_of(row, counts, status, table.phases(), seq)
            body["metadata"] = row.metadata
            cache.keep_summary(workflow_id, seq, body)
    return _answer(ctx, request, workflow_id, seq, body)


def _answer(
    ctx: ApiContext, request: Request, workflow_id: str, seq: int, body: dict[str, Any]
) -> Response:
    expires = body["expires_at"]
    body = dict(body)  # the cached one stays as it was: links are read fresh below
    body["expired"] = expires is not None and expires <= now()
    # Children change without an event of this workflow: their seqs are part of the tag.
    children = ctx.store.children(workflow_id)
    link = ctx.store.parent_of(workflow_id)
    body["parent"] = shapes.parent_out(link)
    body["children"] = [c.as_dict() for c in children]
    counts = body["counts"]
    body["rollup"] = (
        {s.value: n for s, n in ctx.store.rollup(workflow_id, children).items()}
        if children
        else counts
    )
    tag = etag(workflow_id, seq, body["expired"], [(c.child_id, c.last_seq) for c in children])
    return not_modified(request, tag) or JSONResponse(body, headers=headers(tag))


@router.get("/workflows/{workflow_id}/children", response_model=list[schemas.ChildOut])
def children_of(ctx: Ctx, workflow_id: str) -> list[dict[str, Any]]:
    """The workflows its `workflow` nodes started, oldest first, each with its live status
    and counts (the Monitor's status bars); `current`: followed by its node's current run."""
    ctx.store.workflow(workflow_id)  # 404 for an unknown one
    return [c.as_dict() for c in ctx.store.children(workflow_id)]


@router.post("/workflows/{workflow_id}/archive", response_model=schemas.WorkflowSummary)
def archive(ctx: Ctx, workflow_id: str, actor: Actor, key: IdempotencyKey = None) -> dict[str, Any]:
    """Archive and stop: its running nodes are canceled (their processes killed) and nothing
    more of it is claimed. Archiving twice changes nothing the second time (so the key
    needs no record)."""
    outcome = ctx.store.archive(workflow_id, actor=actor, at=now())
    ctx.told(workflow_id, outcome)
    return shapes.workflow_summary(ctx.store, ctx.store.workflow(workflow_id))


@router.post("/workflows/{workflow_id}/unarchive", response_model=schemas.WorkflowSummary)
def unarchive(
    ctx: Ctx, workflow_id: str, actor: Actor, key: IdempotencyKey = None
) -> dict[str, Any]:
    """Back in the list; nothing resumes by itself (retry what the archive canceled)."""
    ctx.store.unarchive(workflow_id, actor=actor, at=now())
    return shapes.workflow_summary(ctx.store, ctx.store.workflow(workflow_id))


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
        edited = ctx.store.edited_in(conn, workflow_id)
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
        "patched": sorted(index[n] for n, (patched, _) in edited.items() if patched and n in index),
        "snapshots": sorted(
            (index[n], count) for n, (_, count) in edited.items() if count and n in index
        ),
    }
