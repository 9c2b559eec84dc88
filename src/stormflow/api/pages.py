"""Keyset cursors and ETags for the workflow list."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from typing import Any

from fastapi import Request, Response

from stormflow.store import WorkflowRow

from .errors import ApiError


def encode_cursor(row: WorkflowRow) -> str:
    """The position right after `row` in the list's order (created_at, id; newest first)."""
    raw = json.dumps([row.created_at, row.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """`encode_cursor`'s (created_at, id); a 422 naming the parameter for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, workflow_id = json.loads(raw)
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise ValueError
        if not isinstance(workflow_id, str) or len(workflow_id) > 32:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            422, "invalid-cursor", "cursor: not a next_cursor of this list", where="cursor"
        ) from None
    return float(at), workflow_id


def with_etag(request: Request, body: dict[str, Any]) -> Response:
    """The JSON answer with a strong ETag (a hash of its bytes); 304 without a body when the
    request's `If-None-Match` names it: a poller re-reads nothing that did not change."""
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    tag = f'"{hashlib.sha256(content).hexdigest()[:32]}"'
    wanted = request.headers.get("if-none-match", "")
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if tag in tags or "*" in tags:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)
