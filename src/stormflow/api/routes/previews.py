"""Frame previews: the images a node's `output` holds, a group's contact sheet, thumbnails
and full images (docs/api.md, "Frame previews")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from stormflow.api import images, previews, schemas
from stormflow.api.context import ApiContext, Ctx
from stormflow.api.errors import ApiError
from stormflow.api.routes.nodes import load_node
from stormflow.api.schemas import MAX_INT
from stormflow.core import Node
from stormflow.engine.render import safe_name
from stormflow.spec.frames import FrameSpecError, parse_frames
from stormflow.store.view import load_nodes

router = APIRouter(tags=["previews"])

PREFIX = "/api/v1"
THUMB = 256
#: Images listed for one node at most (a node that writes 100,000 frames lists the first).
MAX_IMAGES = 20_000

_IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        }
    },
    304: {"description": "not modified (If-None-Match)"},
}


def _cache(ctx: ApiContext, workflow_id: str) -> Path:
    return Path(ctx.data_dir) / "thumbs" / safe_name(workflow_id)


def _image_out(workflow_id: str, found: previews.Found) -> dict[str, Any]:
    where = f"{PREFIX}/workflows/{quote(workflow_id, safe='')}"
    path = quote(found.path, safe="/")
    version = f"{found.mtime:.6f}"
    return {
        "path": found.path,
        "frame": found.frame,
        "format": found.format,
        "bytes": found.size,
        "mtime": found.mtime,
        "thumb": f"{where}/thumbs?path={path}&size={THUMB}&v={version}",
        "image": f"{where}/images?path={path}&v={version}",
    }


def _attempt(node: Node) -> dict[str, Any] | None:
    att = node.attempt
    if att is None:
        return None
    return {
        "number": att.number,
        "started_at": att.started_at,
        "ended_at": att.ended_at,
        "result": att.result,
    }


_SIMPLE_RANGE = re.compile(r"^(-?\d+)(?:-(-?\d+))?$")


def _frames(node: Node, fallback: str | None) -> Sequence[int] | None:
    spec = node.current.get("frames", fallback)
    if spec is None:
        return None
    simple = _SIMPLE_RANGE.match(str(spec).strip())
    if simple is not None:  # "5-8" or "12": what chunks are named with, without fileseq
        first = int(simple.group(1))
        last = int(simple.group(2)) if simple.group(2) is not None else first
        if first <= last and last - first < 1_000_000:
            return range(first, last + 1)
    try:
        return parse_frames(spec).frames
    except FrameSpecError:
        return None


@router.get("/workflows/{workflow_id}/nodes/{name}/previews", response_model=schemas.NodePreviews)
def node_previews(ctx: Ctx, workflow_id: str, name: str) -> dict[str, Any]:
    """The images under the node's `output` (a chunk: those of its frames), in natural order,
    and the newest of them (`latest`: what a running render wrote last)."""
    node = load_node(ctx, workflow_id, name)
    rows = [r for r in ctx.store.nodes(workflow_id, glob=name) if r.name == name]
    row = rows[0] if rows else None
    output = node.current.get("output")
    scanner = previews.Scanner(previews.root_of(ctx.data_dir, workflow_id))
    found = scanner.images(output, _frames(node, row.frames if row else None))
    latest = max(found, key=lambda f: f.mtime, default=None)
    return {
        "node": name,
        "group": row.group if row else None,
        "frames": row.frames if row else None,
        "status": node.status.value,
        "attempt": _attempt(node),
        "output": output if isinstance(output, str) else None,
        "images": [_image_out(workflow_id, f) for f in found[:MAX_IMAGES]],
        "latest": None if latest is None else _image_out(workflow_id, latest),
        "truncated": len(found) > MAX_IMAGES,
    }


@router.get("/workflows/{workflow_id}/groups/{group}/previews", response_model=schemas.ContactSheet)
def contact_sheet(
    ctx: Ctx,
    workflow_id: str,
    group: str,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    limit: Annotated[int, Query(ge=1, le=200_000)] = 10_000,
) -> dict[str, Any]:
    """Every frame of a frame-ranged node (its chunks' frames, by frame number) with the
    chunk that renders it, that chunk's status and attempt, and its image if there is one."""
    ctx.store.workflow(workflow_id)
    rows = [r for r in ctx.store.nodes(workflow_id, glob=f"{group}.*") if r.group == group]
    if not rows:
        raise ApiError(
            404,
            "unknown-group",
            f"no frame-ranged node {group!r} in workflow {workflow_id}",
            where=group,
        )
    with ctx.store.read() as conn:
        nodes = load_nodes(conn, workflow_id, [r.name for r in rows])
    scanner = previews.Scanner(previews.root_of(ctx.data_dir, workflow_id))
    # frame -> (chunk, status, attempt number, image); a frame two chunks share: the first's
    sheet: dict[int, tuple[str, str, int | None, previews.Found | None]] = {}
    for row in rows:
        node = nodes.get(row.name)
        if node is None:
            continue
        current = node.current
        frames = _frames(node, row.frames) or ()
        by_frame: dict[int, previews.Found] = {}
        for found in scanner.images(current.get("output"), frames):
            if found.frame is not None:
                by_frame.setdefault(found.frame, found)
        number = None if node.attempt is None else node.attempt.number
        for frame in frames:
            if frame not in sheet:
                sheet[frame] = (row.name, node.status.value, number, by_frame.get(frame))
    ordered = sorted(sheet)
    return {
        "group": group,
        "total": len(ordered),
        "with_image": sum(1 for entry in sheet.values() if entry[3] is not None),
        "offset": offset,
        "limit": limit,
        "frames": [_frame_out(workflow_id, f, *sheet[f]) for f in ordered[offset : offset + limit]],
    }


def _frame_out(
    workflow_id: str,
    frame: int,
    node: str,
    status: str,
    attempt: int | None,
    image: previews.Found | None,
) -> dict[str, Any]:
    return {
        "frame": frame,
        "node": node,
        "status": status,
        "attempt": attempt,
        "image": None if image is None else _image_out(workflow_id, image),
    }


def _send(request: Request, made: images.Made, version: str | None) -> Response:
    etag = f'"{made.etag}"'
    cache = "private, max-age=3600" if version else "private, no-cache"
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": cache})
    return FileResponse(
        made.path, media_type=made.media_type, headers={"ETag": etag, "Cache-Control": cache}
    )


PathQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=1000,
        description="the file, relative to the workflow's directory (as listed in previews)",
    ),
]
VersionQuery = Annotated[
    str | None,
    Query(max_length=40, description="ignored by the server: changes when the file does"),
]


async def _made(ctx: ApiContext, workflow_id: str, path: str, make: Any, *args: Any) -> Any:
    await run_in_threadpool(ctx.store.workflow, workflow_id)
    root = previews.root_of(ctx.data_dir, workflow_id)
    source = previews.checked_file(root, path)
    try:
        return await run_in_threadpool(make, source, path, _cache(ctx, workflow_id), *args)
    except images.ImageError as exc:
        raise ApiError(422, "unreadable-image", str(exc), where=path) from None
    except FileNotFoundError:  # deleted meanwhile
        raise ApiError(404, "unknown-file", "no such file", where=path) from None


@router.get(
    "/workflows/{workflow_id}/thumbs",
    response_class=Response,
    response_model=None,
    responses=_IMAGE_RESPONSES,
)
async def thumb(
    ctx: Ctx,
    request: Request,
    workflow_id: str,
    path: PathQuery,
    size: Annotated[int, Query(ge=16, le=1024, description="longest side, pixels")] = THUMB,
    v: VersionQuery = None,
) -> Response:
    """A JPEG thumbnail of an image under the workflow's directory, made once and cached."""
    made = await _made(ctx, workflow_id, path, images.thumbnail, size)
    return _send(request, made, v)


@router.get(
    "/workflows/{workflow_id}/images",
    response_class=Response,
    response_model=None,
    responses={
        **_IMAGE_RESPONSES,
        200: {
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("image/png", "image/jpeg", "image/tiff", "image/x-exr")
            }
        },
    },
)
async def image(
    ctx: Ctx,
    request: Request,
    workflow_id: str,
    path: PathQuery,
    raw: bool = False,
    v: VersionQuery = None,
) -> Response:
    """The full image: PNG and JPEG as they are, TIFF and OpenEXR as a PNG a browser shows
    (made once, cached); `raw=true` sends the file itself."""
    if raw:
        await run_in_threadpool(ctx.store.workflow, workflow_id)
        source = previews.checked_file(previews.root_of(ctx.data_dir, workflow_id), path)
        fmt = images.image_format(source) or "png"
        return FileResponse(
            source,
            media_type=images.RAW_TYPES[fmt],
            filename=source.name,
            headers={"Cache-Control": "private, no-cache"},
        )
    made = await _made(ctx, workflow_id, path, images.display)
    return _send(request, made, v)
