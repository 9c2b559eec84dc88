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
from stormflow.core.actions import UPDATE_FAMILY
from stormflow.spec.edits import check_configs
from stormflow.store import StoreView

router = APIRouter(tags=["actions"])

#: Validation entries sent back with a refused update at most (the rest are counted).
MAX_ENTRIES = 1000


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
    """One action on a selection, all or nothing. With `dry_run` the same answer (or the same
    refusal) for the workflow as it is now, and nothing is stored: no event, no snapshot, no
    idempotency record, no attempt stopped."""
    sel = body.selection
    selection = Selection(
        names=None if sel.names is None else tuple(sel.names),
        glob=sel.glob,
        status=None if sel.status is None else tuple(sel.status),
        kind=None if sel.kind is None else tuple(sel.kind),
    )
    selected: list[str] = []

    def decide(view: GraphView) -> Outcome:
        # resolved in the action's own transaction (under the workflow's lock when it is
        # applied), so "every failed chunk" means at this moment; and only on a first
        # request: a replay answers before this runs
        assert isinstance(view, StoreView)
        row = ctx.store.workflow_in(view.conn, workflow_id)
        if row.archived:
            message = f"workflow {workflow_id} is archived: it runs nothing (unarchive it first)"
            raise ApiError(409, "workflow-archived", message, where=workflow_id)
        expires = row.expires_at
        if expires is not None and expires <= now():
            when = datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds")
            message = f"workflow {workflow_id} expired at {when}: it runs nothing more"
            raise ApiError(409, "workflow-expired", message, where=workflow_id)
        try:
            selected.extend(resolve(ctx.store, workflow_id, selection, view.conn))
        except SelectionError as exc:
            raise ApiError(422, "empty-selection", str(exc), where="selection") from None
        outcome = core.act(
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
        if core.Action(body.action) in UPDATE_FAMILY:
            check_edits(view, outcome, selected)
        return outcome

    if body.dry_run:
        outcome, seq = ctx.store.preview(workflow_id, decide)
        return shapes.action_answer(outcome, len(selected)) | {
            "first_seq": None,
            "last_seq": None,
            "replayed": False,
            "dry_run": True,
            "seq": seq,
        }
    applied = ctx.store.transact(
        workflow_id,
        decide,
        # per workflow and endpoint: a key reused elsewhere cannot answer this request
        idempotency_key=None if key is None else f"api:action:{workflow_id}:{key}",
        response=lambda outcome: shapes.action_answer(outcome, len(selected)),
    )
    ctx.told(workflow_id, applied.outcome)
    answer = dict(applied.response)
    if "counts" not in answer:  # a first answer stored before answers had counts
        answer["counts"] = shapes.counts_of(answer)
    return answer | {
        "first_seq": applied.first_seq,
        "last_seq": applied.last_seq,
        "replayed": applied.replayed,
        "dry_run": False,
        "seq": applied.last_seq,
    }


def check_edits(view: StoreView, outcome: Outcome, selected: list[str]) -> None:
    """Refuse the whole action (422, nothing stored) when a selected node's resulting
    configuration breaks the rules of a submitted node of its kind (spec: Updates)."""
    changed = [name for name in selected if name in outcome.nodes]
    kinds = view.kinds(changed)
    entries = check_configs(
        (kinds.get(name, "task"), name, outcome.nodes[name].current) for name in changed
    )
    if entries:
        first = entries[0].message
        more = f" (and {len(entries) - 1} more)" if len(entries) > 1 else ""
        raise ApiError(
            422,
            "invalid-update",
            f"{first}{more}",
            where=entries[0].field,
            # the same mistake on 200,000 chunks: the first MAX_ENTRIES say it all
            details={
                "entries": shapes.entries_out(entries[:MAX_ENTRIES]),
                "omitted": max(0, len(entries) - MAX_ENTRIES),
            },
        )
