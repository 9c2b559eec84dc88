"""The event log: a page as JSON, or a Server-Sent Events stream that resumes without gaps.

The stream polls the store (every ~0.2 s) rather than listening in-process: events
written by another scheduler or replica sharing the database arrive the same way.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from stormflow.api import schemas, shapes
from stormflow.api.context import Ctx
from stormflow.api.errors import ApiError
from stormflow.api.schemas import MAX_INT

router = APIRouter(tags=["events"])

POLL = 0.2
BATCH = 500


@router.get("/workflows/{workflow_id}/events", response_model=schemas.EventPage)
def list_events(
    ctx: Ctx,
    workflow_id: str,
    after: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Events with seq > after, oldest first; `last_seq` is the next `after` (the last seq sent)."""
    ctx.store.workflow(workflow_id)
    rows = ctx.store.events(workflow_id, after_seq=after, limit=limit)
    return {
        "items": [shapes.event_out(r) for r in rows],
        "last_seq": rows[-1].seq if rows else after,
    }


def _resume_point(after: int | None, last_event_id: str | None) -> int:
    """`Last-Event-ID` (a reconnecting browser sends it) wins over `?after`."""
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        if not text.isdigit() or int(text) > MAX_INT:
            raise ApiError(
                422, "invalid-input", "Last-Event-ID must be an event seq", where="Last-Event-ID"
            )
        return int(text)
    return after or 0


@router.get(
    "/workflows/{workflow_id}/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
def stream_events(
    ctx: Ctx,
    request: Request,
    workflow_id: str,
    after: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
) -> StreamingResponse:
    ctx.store.workflow(workflow_id)
    seq = _resume_point(after, last_event_id)
    keepalive: float = request.app.state.keepalive

    async def events() -> AsyncIterator[str]:
        nonlocal seq
        quiet_since = time.monotonic()
        yield "retry: 1000\n\n"
        while True:
            rows = await run_in_threadpool(ctx.store.events, workflow_id, seq, BATCH)
            for row in rows:
                data = json.dumps(shapes.event_out(row), separators=(",", ":"))
                yield f"id: {row.seq}\nevent: {row.type}\ndata: {data}\n\n"
                seq = row.seq
            if rows:
                quiet_since = time.monotonic()
                if len(rows) == BATCH:
                    continue
            elif time.monotonic() - quiet_since >= keepalive:
                quiet_since = time.monotonic()
                yield ": keepalive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
