"""Drafts: documents being composed, kept with their entries until submitted."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from starlette.concurrency import run_in_threadpool

from stormflow.api import schemas, shapes
from stormflow.api.context import Actor, ApiContext, Ctx, IdempotencyKey, base_url, now
from stormflow.api.errors import ApiError
from stormflow.api.submission import invalid_document, submit_document
from stormflow.spec import read_text, validate
from stormflow.spec.text import unstorable
from stormflow.store import DraftRow

router = APIRouter(tags=["drafts"])


def composer_url(ctx: ApiContext, request: Request, draft_id: str) -> str:
    return f"{base_url(request)}/ui/composer/{draft_id}?token={ctx.token}"


def draft_out(row: DraftRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "document": row.document,
        "entries": shapes.entries_out(validate(row.document)),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "workflow_id": row.workflow_id,
    }


@router.post("/drafts", status_code=201, response_model=schemas.DraftCreated)
def create_draft(
    ctx: Ctx, request: Request, document: Annotated[schemas.Document, Body()]
) -> dict[str, Any]:
    draft_id = ctx.store.create_draft(document, at=now())
    return {
        "id": draft_id,
        "url": composer_url(ctx, request, draft_id),
        "entries": shapes.entries_out(validate(document)),
    }


@router.post(
    "/drafts/import",
    status_code=201,
    response_model=schemas.DraftCreated,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/yaml": {"schema": {"type": "string"}}},
        }
    },
)
async def import_draft(ctx: Ctx, request: Request) -> dict[str, Any]:
    """A draft from a document's text, YAML or JSON, parsed as `storm validate` parses files
    (a file dropped on the web UI): syntax errors answer 422 with the line."""
    raw = await request.body()
    return await run_in_threadpool(_import, ctx, request, raw)  # parsing and the store block


def _import(ctx: ApiContext, request: Request, raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "invalid-document", "the document is not UTF-8 text") from None
    data, entries, _lines = read_text(text)
    if entries:
        raise invalid_document(entries)
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "empty"
        message = f"a workflow document is a mapping at the top level, not {kind}"
        raise ApiError(422, "invalid-document", message)
    found = unstorable(data)  # YAML escapes (`"\0"`) reach here past the JSON body check
    if found is not None:
        path, what = found
        message = f"{path} {what}, which cannot be stored"
        raise ApiError(422, "unstorable-text", message, where=path)
    return create_draft(ctx, request, data)


@router.get("/drafts/{draft_id}", response_model=schemas.DraftOut)
def get_draft(ctx: Ctx, draft_id: str) -> dict[str, Any]:
    return draft_out(ctx.store.draft(draft_id))


@router.put("/drafts/{draft_id}", response_model=schemas.DraftOut)
def put_draft(
    ctx: Ctx, draft_id: str, document: Annotated[schemas.Document, Body()]
) -> dict[str, Any]:
    return draft_out(ctx.store.update_draft(draft_id, document=document, at=now()))


@router.post("/drafts/{draft_id}/submit", status_code=201, response_model=schemas.Submitted)
def submit_draft(
    ctx: Ctx, request: Request, draft_id: str, actor: Actor, key: IdempotencyKey = None
) -> dict[str, Any]:
    """422 with the entries while the draft has errors; the draft remembers its workflow."""
    draft = ctx.store.draft(draft_id)
    answer = submit_document(ctx, request, draft.document, actor=actor, key=key)
    ctx.store.update_draft(draft_id, workflow_id=answer["id"], at=now())
    return answer


@router.delete("/drafts/{draft_id}", status_code=204, response_class=Response)
def delete_draft(ctx: Ctx, draft_id: str) -> Response:
    ctx.store.delete_draft(draft_id)
    return Response(status_code=204)
