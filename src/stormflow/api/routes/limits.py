"""Named limits (licenses, shared resources): capacity and how much is in use."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from stormflow.api import schemas
from stormflow.api.context import Ctx

router = APIRouter(tags=["limits"])


@router.get("/limits", response_model=list[schemas.LimitOut])
def list_limits(ctx: Ctx) -> list[dict[str, Any]]:
    return [{"name": r.name, "capacity": r.capacity, "used": r.used} for r in ctx.store.limits()]


@router.put("/limits/{name}", response_model=schemas.LimitOut)
def put_limit(
    ctx: Ctx, name: Annotated[str, Path(min_length=1, max_length=200)], body: schemas.LimitIn
) -> dict[str, Any]:
    ctx.store.set_limit(name, body.capacity)
    row = next(r for r in ctx.store.limits() if r.name == name)
    return {"name": row.name, "capacity": row.capacity, "used": row.used}
