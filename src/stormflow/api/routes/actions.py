"""Manual actions on a selection: one `Store.transact` around `core.act`, all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from stormflow import core
from stormflow.api import schemas, shapes
from stormflow.api.context import Actor, Ctx, IdempotencyKey, now
from stormflow.api.errors import ApiError
from stormflow.api.selection import Selection, SelectionError, resolve
from stormflow.core import GraphView, Outcome

router = APIRouter(tags=["actions"])


@router.post(
    "/workflows/{workflow_id}/actions",
    response_model=schemas.ActionAnswer,
    responses={
        409: {
            "model": schemas.ErrorBody,
            "description": "strict action refused, or the workflow expired",
        }
    },
)
def act(
    ctx: Ctx,
    workflow_id: str,
    body: schemas.ActionRequest,
    actor: Actor,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    sel = body.selection
    selection = Selection(
        names=None if sel.names is None else tuple(sel.names),
        glob=sel.glob,
        status=None if sel.status is None else tuple(sel.status),
        kind=None if sel.kind is None else tuple(sel.kind),
    )
    selected: list[str] = []

    def decide(view: GraphView) -> Outcome:
        # resolved under the workflow's lock, so "every failed chunk" means at this moment;
        # and only on a first request: a replay answers before this runs
        row = ctx.store.workflow(workflow_id)
        if row.archived:
            message = f"workflow {workflow_id} is archived: it runs nothing (unarchive it first)"
            raise ApiError(409, "workflow-archived", message, where=workflow_id)
        expires = row.expires_at
        if expires is not None and expires <= now():
            when = datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds")
            message = f"workflow {workflow_id} expired at {when}: it runs nothing more"
            raise ApiError(409, "workflow-expired", message, where=workflow_id)
        try:
            selected.extend(resolve(ctx.store, workflow_id, selection))
        except SelectionError as exc:
            raise ApiError(422, "empty-selection", str(exc), where="selection") from None
        return core.act(
            view,
            body.action,
            selected,
            at=now(),
            actor=actor,
            patch=body.patch,
            target=body.target,
            snapshot=body.snapshot,
            strict=body.strict,
        )

    applied = ctx.store.transact(
        workflow_id,
        decide,
        # per workflow and endpoint: a key reused elsewhere cannot answer this request
        idempotency_key=None if key is None else f"api:action:{workflow_id}:{key}",
        response=lambda outcome: shapes.action_answer(outcome, len(selected)),
    )
    ctx.told(workflow_id, applied.outcome)
    return applied.response | {
        "first_seq": applied.first_seq,
        "last_seq": applied.last_seq,
        "replayed": applied.replayed,
    }
