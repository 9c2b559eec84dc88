"""Nodes: filtered rows, detail with allowed actions, history, diff, attempts, logs."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from stormflow import core
from stormflow.api import logs, schemas, shapes
from stormflow.api.context import ApiContext, Ctx
from stormflow.api.errors import ApiError
from stormflow.api.schemas import MAX_INT
from stormflow.api.tables import tables_of
from stormflow.api.validators import (
    cache_of,
    decode_cursor,
    encode_cursor,
    etag,
    headers,
    not_modified,
)
from stormflow.core import Node
from stormflow.spec.natural import natural_sorted
from stormflow.store import NodeRow, StoredAttempt

router = APIRouter(tags=["nodes"])


def load_node(ctx: ApiContext, workflow_id: str, name: str) -> Node:
    try:
        return ctx.store.node(workflow_id, name)
    except KeyError:
        raise ApiError(404, "unknown-node", f"unknown node {name!r}", where=name) from None


def _row(ctx: ApiContext, workflow_id: str, name: str) -> NodeRow:
    # the name as a glob matches itself (and maybe more, if it holds * or ?): keep the exact one
    for row in ctx.store.nodes(workflow_id, glob=name):
        if row.name == name:
            return row
    raise ApiError(404, "unknown-node", f"unknown node {name!r}", where=name)


@router.get(
    "/workflows/{workflow_id}/nodes",
    response_model=schemas.NodePage,
    responses={304: {"description": "unchanged since the ETag sent in If-None-Match"}},
)
def list_nodes(
    ctx: Ctx,
    request: Request,
    workflow_id: str,
    status: Annotated[list[schemas.StatusName] | None, Query()] = None,
    kind: Annotated[list[str] | None, Query()] = None,
    glob: Annotated[str | None, Query(min_length=1, max_length=1000)] = None,
    limit: Annotated[int | None, Query(ge=1, le=200_000)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    cursor: Annotated[
        str | None, Query(max_length=4000, description="`next` of the previous page")
    ] = None,
) -> Response:
    """In natural order of names (render.2 before render.10). `status` and `kind` repeat
    (`?status=failed&status=canceled`). With `limit`,
    `next` is the cursor of the following page (null on the last one). With `ETag`;
    `If-None-Match` with the current one answers 304 (docs/api.md)."""
    after = decode_cursor(cursor) if cursor is not None else None
    statuses = tuple(sorted({str(getattr(s, "value", s)) for s in status})) if status else None
    kinds = tuple(sorted(set(kind))) if kind else None
    key = ("nodes", workflow_id, statuses, kinds, glob, limit, offset, after)
    seq = ctx.store.last_seq(workflow_id)
    cache = cache_of(request.app.state)
    if glob is None:  # from the in-memory copy (matching a glob is the database's)
        table = tables_of(request.app.state).at_least(ctx.store, workflow_id, seq)
        with table.lock:
            seq = table.seq
            tag = etag(workflow_id, seq, *key)
            unchanged = not_modified(request, tag)
            if unchanged is not None:
                return unchanged
            body = cache.page(key, seq)
            if body is None:
                page = table.page(statuses, kinds, limit, offset, after)
                if page is not None:
                    items, last = page
                    body = _page_json(items, limit, offset, last, seq)
                    cache.keep_page(key, seq, body)
        if body is not None:
            return Response(body, media_type="application/json", headers=headers(tag))
    tag = etag(workflow_id, seq, *key)
    unchanged = not_modified(request, tag)
    if unchanged is not None:
        return unchanged
    body = cache.page(key, seq)
    if body is None:
        with ctx.store.read() as conn:  # the rows and the seq they reflect, of one moment
            seq = ctx.store.last_seq_in(conn, workflow_id)
            rows = ctx.store.nodes_in(
                conn,
                workflow_id,
                statuses=statuses,
                kinds=kinds,
                glob=glob,
                limit=limit,
                offset=offset,
                after=after,
            )
        tag = etag(workflow_id, seq, *key)
        starts = shapes.node_starts(ctx.store, workflow_id, rows)
        items = json.dumps([shapes.node_row(r, starts) for r in rows], separators=(",", ":"))
        full = limit is not None and len(rows) == limit
        body = _page_json(items, limit, offset, rows[-1].name if full and rows else None, seq)
        cache.keep_page(key, seq, body)
    return Response(body, media_type="application/json", headers=headers(tag))


def _page_json(items: str, limit: int | None, offset: int, last: str | None, seq: int) -> bytes:
    """A NodePage around the items' JSON array; `next` from the page's last name if full."""
    tail = json.dumps(
        {
            "limit": limit,
            "offset": offset,
            "next": encode_cursor(last) if last else None,
            "seq": seq,
        },
        separators=(",", ":"),
    )
    return ('{"items":' + items + "," + tail[1:]).encode()


def allowed_actions(node: Node) -> list[str]:
    """The core's answer, in a stable order: revert only with a patch, replay only with a
    snapshot."""
    return [a.value for a in core.allowed_actions(node)]


@router.get("/workflows/{workflow_id}/nodes/{name}", response_model=schemas.NodeDetail)
def node_detail(ctx: Ctx, workflow_id: str, name: str) -> dict[str, Any]:
    node = load_node(ctx, workflow_id, name)
    row = _row(ctx, workflow_id, name)
    with ctx.store.read() as conn:
        adjacency = ctx.store.adjacency(conn, workflow_id)
    started_at = node.attempt.started_at if node.live_token is not None and node.attempt else None
    return shapes.node_row(row, {name: started_at}) | {
        "submitted": node.submitted.value,
        "base": dict(node.base),
        "patch": dict(node.patch),
        "current": node.current,
        "snapshot_count": node.snapshot_count,
        "attempts": [shapes.attempt_out(a, None) for a in node.attempts],
        "upstream": natural_sorted(adjacency.up.get(name, ())),
        "downstream": natural_sorted(adjacency.down.get(name, ())),
        "allowed_actions": allowed_actions(node),
        "wait": _wait(ctx, workflow_id, name, node.attempt.token if node.attempt else None),
    }


def _wait(ctx: ApiContext, workflow_id: str, name: str, token: str | None) -> dict[str, Any] | None:
    """What the node's current attempt waits for outside (external jobs), if anything."""
    if token is None:
        return None
    wait = next((w for w in ctx.store.waits_of(workflow_id, name) if w.token == token), None)
    if wait is None:
        return None
    out = wait.as_dict()
    del out["workflow_id"], out["node"]
    out["phase"] = wait_phase(wait.state, wait.external_id, wait.progress)
    return out


def wait_phase(state: str, external_id: str | None, progress: float | None) -> str:
    """One line for people: "submitted", "waiting (external id j1, 40%)", "done"..."""
    if state == "submitting":
        return "submitted"
    if state == "waiting":
        done = f", {progress:.0%}" if progress is not None else ""
        return f"waiting (external id {external_id}{done})"
    return state


@router.get("/workflows/{workflow_id}/nodes/{name}/history", response_model=schemas.History)
def history(ctx: Ctx, workflow_id: str, name: str) -> dict[str, Any]:
    """Current, then the snapshots newest first, then base."""
    node = load_node(ctx, workflow_id, name)
    snaps = ctx.store.snapshots(workflow_id, name)
    return {
        "current": {"patch": dict(node.patch), "config": node.current},
        "snapshots": [
            {
                "number": s.number,
                "status": s.status.value,
                "patch": dict(s.patch),
                "config": core.current_config(node.base, s.patch),
                "at": s.at,
                "actor": s.actor,
                "why": s.why,
                "caused_by": s.caused_by,
                "attempts": [shapes.attempt_out(a, s.number) for a in s.attempts],
            }
            for s in reversed(snaps)
        ],
        "base": {"config": dict(node.base)},
    }


def _config(ctx: ApiContext, workflow_id: str, node: Node, which: str) -> dict[str, Any]:
    if which == "current":
        return node.current
    if which == "base":
        return dict(node.base)
    if not which.isdigit() or not 0 < int(which) < 10**9:
        raise ApiError(
            422, "invalid-input", f"{which!r}: expected current, base or a snapshot number"
        )
    snaps = ctx.store.snapshots(workflow_id, node.name)
    snap = next((s for s in snaps if s.number == int(which)), None)
    if snap is None:
        raise ApiError(404, "unknown-snapshot", f"{node.name} has no snapshot {which}")
    return core.current_config(node.base, snap.patch)


def changes(a: Any, b: Any, path: str = "") -> list[dict[str, Any]]:
    """Leaf differences between two JSON values, with dotted paths (`env.A`)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(a.keys() | b.keys()):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a:
                out.append({"path": sub, "a": None, "b": b[key]})
            elif key not in b:
                out.append({"path": sub, "a": a[key], "b": None})
            else:
                out.extend(changes(a[key], b[key], sub))
        return out
    return [] if a == b else [{"path": path, "a": a, "b": b}]


@router.get("/workflows/{workflow_id}/nodes/{name}/diff", response_model=schemas.Diff)
def diff(
    ctx: Ctx,
    workflow_id: str,
    name: str,
    a: Annotated[str, Query(max_length=20)] = "current",
    b: Annotated[str, Query(max_length=20)] = "base",
) -> dict[str, Any]:
    node = load_node(ctx, workflow_id, name)
    left, right = _config(ctx, workflow_id, node, a), _config(ctx, workflow_id, node, b)
    return {"a": a, "b": b, "changes": changes(left, right)}


@router.get(
    "/workflows/{workflow_id}/nodes/{name}/attempts", response_model=list[schemas.AttemptOut]
)
def attempts(ctx: Ctx, workflow_id: str, name: str) -> list[dict[str, Any]]:
    """Every attempt, oldest first, including those kept in snapshots."""
    load_node(ctx, workflow_id, name)
    return [shapes.stored_attempt(s) for s in ctx.store.attempts(workflow_id, name)]


def _pick(found: list[StoredAttempt], attempt: str, name: str) -> StoredAttempt:
    if not found:
        raise ApiError(404, "unknown-attempt", f"{name} has no attempts yet", where=name)
    if attempt == "latest":
        return found[-1]
    if not attempt.isdigit() or not 1 <= int(attempt) <= len(found):
        raise ApiError(
            404,
            "unknown-attempt",
            f"{name} has attempts 1-{len(found)} (or latest); got {attempt!r}",
            where=name,
        )
    return found[int(attempt) - 1]


@router.get(
    "/workflows/{workflow_id}/nodes/{name}/log",
    response_class=PlainTextResponse,
    response_model=None,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def log(
    ctx: Ctx,
    request: Request,
    workflow_id: str,
    name: str,
    attempt: Annotated[str, Query(max_length=20, description="latest or a 1-based index")] = (
        "latest"
    ),
    tail: Annotated[int, Query(ge=0, le=1_000_000, description="lines; 0: all")] = 200,
    follow: bool = False,
) -> PlainTextResponse | StreamingResponse:
    load_node(ctx, workflow_id, name)
    chosen = _pick(ctx.store.attempts(workflow_id, name), attempt, name)
    token = chosen.attempt.token
    if not follow:
        if chosen.attempt.log is None:
            return PlainTextResponse("")
        data, _size = logs.tail(logs.checked_path(chosen.attempt.log, ctx.data_dir), tail)
        return PlainTextResponse(data.decode("utf-8", "replace"))
    if chosen.attempt.log is not None:
        logs.checked_path(chosen.attempt.log, ctx.data_dir)  # refuse before the stream starts

    def current() -> tuple[str | None, bool]:
        for s in ctx.store.attempts(workflow_id, name):
            if s.attempt.token == token:
                return s.attempt.log, s.attempt.ended
        return None, True  # gone: nothing more will come

    stream = logs.follow(current, ctx.data_dir, tail, request.is_disconnected)
    return StreamingResponse(stream, media_type="text/plain; charset=utf-8")
