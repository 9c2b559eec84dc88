"""Uploads of a workflow: each upload node's figures and files, pause and resume, and a live
stream of progress (SSE) for the Monitor's bars.

Progress is not in the event log (it changes several times a second): the stream reads the
upload tables every half second and sends a frame when something moved.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from stormflow.api.context import Ctx
from stormflow.api.errors import ApiError
from stormflow.store import Store

router = APIRouter(tags=["uploads"])

NodeName = Annotated[str, Path(min_length=1, max_length=200)]
WorkflowId = Annotated[str, Path(min_length=1, max_length=32)]
#: Seconds between two looks at the upload tables for the stream.
STREAM_EVERY = 0.5
ACTIVE = ("waiting", "checking", "sending", "paused")


def _node_figures(row: dict[str, Any]) -> dict[str, Any]:
    total, done, rate = int(row["bytes_total"]), int(row["bytes_done"]), float(row["rate"])
    state = str(row["state"])
    if row["paused"] and state in ACTIVE:
        state = "paused"
    return {
        "node": row["node"],
        "state": state,
        "paused": bool(row["paused"]),
        "host": row["host"],
        "destination": row["destination"],
        "files_total": int(row["files_total"]),
        "files_done": int(row["files_done"]),
        "files_skipped": int(row["files_skipped"]),
        "bytes_total": total,
        "bytes_done": done,
        "bytes_saved": int(row["bytes_saved"]),
        "rate": rate,
        "eta": (total - done) / rate if rate > 0 and total > done else None,
        "error": row["error"],
        "updated_at": float(row["updated_at"]),
    }


def _file_figures(row: dict[str, Any], rate: float) -> dict[str, Any]:
    size, done = int(row["size"]), int(row["bytes_done"])
    sending = row["state"] == "sending"
    return {
        "path": row["path"],
        "key": row["key"],
        "size": size,
        "bytes_done": size if row["state"] in ("done", "skipped") else done,
        "state": row["state"],
        "hash": row["hash"],
        "parts": len(row["parts"]),
        "eta": (size - done) / rate if sending and rate > 0 else None,
        "error": row["error"],
    }


def uploads_of(store: Store, workflow_id: str) -> list[dict[str, Any]]:
    store.workflow(workflow_id)  # 404 for an unknown workflow
    return [_node_figures(r) for r in store.uploads(workflow_id)]


@router.get("/workflows/{workflow_id}/uploads")
def list_uploads(ctx: Ctx, workflow_id: WorkflowId) -> dict[str, Any]:
    """Every upload node of the workflow that started: bytes done/total, rate, ETA."""
    return {"uploads": uploads_of(ctx.store, workflow_id)}


@router.get("/workflows/{workflow_id}/uploads/{node}/files")
def list_upload_files(
    ctx: Ctx,
    workflow_id: WorkflowId,
    node: NodeName,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> dict[str, Any]:
    """The node's files (path order) with their own bytes done, state and hash."""
    ups = {u["node"]: u for u in uploads_of(ctx.store, workflow_id)}
    if node not in ups:
        raise ApiError(404, "unknown-upload", f"no upload of node {node!r}", where=node)
    rate = float(ups[node]["rate"])
    rows = ctx.store.uploaded_files(workflow_id, node, limit=limit, offset=offset)
    return {"files": [_file_figures(r, rate) for r in rows]}


def _set_paused(ctx: Any, workflow_id: str, node: str, paused: bool) -> dict[str, Any]:
    ctx.store.workflow(workflow_id)
    if not ctx.store.set_upload_paused(workflow_id, node, paused):
        raise ApiError(404, "unknown-upload", f"{node!r} is not an upload node", where=node)
    return {"node": node, "paused": paused}


@router.post("/workflows/{workflow_id}/uploads/{node}/pause")
def pause_upload(ctx: Ctx, workflow_id: WorkflowId, node: NodeName) -> dict[str, Any]:
    """Hold the transfer between two parts (its lease is kept); `resume` goes on."""
    return _set_paused(ctx, workflow_id, node, True)


@router.post("/workflows/{workflow_id}/uploads/{node}/resume")
def resume_upload(ctx: Ctx, workflow_id: WorkflowId, node: NodeName) -> dict[str, Any]:
    return _set_paused(ctx, workflow_id, node, False)


def _frame(store: Store, workflow_id: str) -> tuple[float, dict[str, Any]]:
    nodes = uploads_of(store, workflow_id)
    files: dict[str, list[dict[str, Any]]] = {}
    for n in nodes:
        if n["state"] in ("sending", "paused"):
            rows = store.uploaded_files(workflow_id, n["node"], limit=10000)
            files[n["node"]] = [
                _file_figures(r, n["rate"]) for r in rows if r["state"] == "sending"
            ]
    stamp = max((n["updated_at"] for n in nodes), default=0.0)
    return stamp, {"uploads": nodes, "sending": files, "at": time.time()}


@router.get(
    "/workflows/{workflow_id}/uploads/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def stream_uploads(ctx: Ctx, request: Request, workflow_id: WorkflowId) -> StreamingResponse:
    """`event: uploads` frames (the list answer plus the files in flight) whenever an upload
    of the workflow moved; a keepalive comment otherwise."""
    await run_in_threadpool(ctx.store.workflow, workflow_id)  # 404 before the stream starts
    keepalive: float = request.app.state.keepalive

    async def frames() -> AsyncIterator[str]:
        last = -1.0
        quiet = 0.0
        yield "retry: 1000\n\n"
        while True:
            if await request.is_disconnected():
                return
            stamp, frame = await run_in_threadpool(_frame, ctx.store, workflow_id)
            if stamp != last:
                last, quiet = stamp, 0.0
                yield f"event: uploads\ndata: {json.dumps(frame)}\n\n"
            else:
                quiet += STREAM_EVERY
                if quiet >= keepalive:
                    quiet = 0.0
                    yield ": keepalive\n\n"
            await asyncio.sleep(STREAM_EVERY)

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
