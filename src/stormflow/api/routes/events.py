"""The event log: a page as JSON, or a Server-Sent Events stream that resumes without gaps.

Streams are fed by the server's one event pump (`api/pump.py`), which follows the
database, so events written by the scheduler child, another scheduler or a replica
sharing the database arrive the same way; a stream itself makes no query once live.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from stormflow.api import schemas, shapes
from stormflow.api.context import Ctx
from stormflow.api.errors import ApiError
from stormflow.api.pump import pump_of, reconnect_text, sse_text
from stormflow.api.schemas import MAX_INT
from stormflow.api.validators import etag, headers, not_modified

router = APIRouter(tags=["events"])

BATCH = 500


@router.get(
    "/workflows/{workflow_id}/events",
    response_model=schemas.EventPage,
    responses={304: {"description": "unchanged since the ETag sent in If-None-Match"}},
)
def list_events(
    ctx: Ctx,
    request: Request,
    workflow_id: str,
    after: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    """Events with seq > after, oldest first; `last_seq` is the next `after` (the last seq
    sent). With `ETag`; `If-None-Match` with the current one answers 304 (docs/api.md)."""
    seq = ctx.store.last_seq(workflow_id)
    tag = etag(workflow_id, seq, "events", after, limit)
    unchanged = not_modified(request, tag)
    if unchanged is not None:
        return unchanged
    rows = ctx.store.events(workflow_id, after_seq=after, limit=limit)
    page = {
        "items": [shapes.event_out(r) for r in rows],
        "last_seq": rows[-1].seq if rows else after,
    }
    return JSONResponse(page, headers=headers(tag))


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
async def stream_events(
    ctx: Ctx,
    request: Request,
    workflow_id: str,
    after: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
) -> StreamingResponse:
    """Catch up from the database to where the live stream stands, then follow it live."""
    seq = _resume_point(after, last_event_id)
    last = await run_in_threadpool(ctx.store.last_seq, workflow_id)  # 404 if unknown
    keepalive: float = request.app.state.keepalive
    pump = pump_of(request.app.state, ctx.store)

    async def events() -> AsyncIterator[str | bytes]:
        sub = pump.subscribe(workflow_id, last)  # here: a stream never started never joins
        sent = seq
        try:
            yield "retry: 1000\n\n"
            while sent < sub.live_from:
                rows = await run_in_threadpool(ctx.store.events, workflow_id, sent, BATCH)
                rows = [r for r in rows if r.seq <= sub.live_from]
                if not rows:
                    break
                yield b"".join(sse_text(r) for r in rows)
                sent = rows[-1].seq
            while True:
                if not sub.queue and not sub.dropped:
                    try:
                        await asyncio.wait_for(sub.wake.wait(), keepalive)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                if sub.dropped:
                    yield reconnect_text(sent, "too far behind: reconnect with Last-Event-ID")
                    return
                items = sub.take()
                text = b"".join(t for s, t in items if s > sent)
                if items:
                    sent = max(sent, items[-1][0])
                if text:
                    yield text
        finally:
            pump.unsubscribe(sub)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
