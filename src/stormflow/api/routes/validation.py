"""Validation and fixers for documents that are not stored (the Composer, a DCC)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from stormflow.api import schemas, shapes
from stormflow.api.context import Ctx
from stormflow.api.errors import ApiError
from stormflow.api.submission import entries_of
from stormflow.kinds.external import known_providers
from stormflow.spec import validate

router = APIRouter(tags=["validation"])


@router.post("/validate", response_model=schemas.Validation)
def validate_document(ctx: Ctx, document: Annotated[schemas.Document, Body()]) -> dict[str, Any]:
    """A document, or `{"template": NAME | document, "params": {...}}`: its entries (a
    template's `workflow` nodes' stored templates are resolved and checked too)."""
    with known_providers(ctx.provider_names()):
        return shapes.validation(entries_of(ctx, document))


@router.post("/fix", response_model=schemas.Fixed)
def fix(ctx: Ctx, body: schemas.FixRequest) -> dict[str, Any]:
    with known_providers(ctx.provider_names()):
        return _fix(body)


def _fix(body: schemas.FixRequest) -> dict[str, Any]:
    entries = validate(body.document)
    fixer = next((f for e in entries for f in e.fixers if f.name == body.fixer), None)
    if fixer is None:
        available = sorted({f.name for e in entries for f in e.fixers})
        listed = ", ".join(available) if available else "none for this document"
        raise ApiError(
            422,
            "unknown-fixer",
            f"no fixer named {body.fixer!r} (available: {listed})",
            where="fixer",
            details={"available": available},
        )
    fixed = fixer.apply(body.document)
    return {"document": fixed, "entries": shapes.entries_out(validate(fixed))}
