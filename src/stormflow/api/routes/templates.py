"""Stored templates: workflow documents with params, kept by name and instantiated later
(POST /workflows with {"template": NAME, "params": {...}}, `workflow` nodes naming them).

A template is checked before it is stored: its params declaration, the document with its
defaults (and stand-ins for params without one), the stored templates it names (recursion
refused). Nothing is stored while it has errors.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import Field

from stormflow.api import schemas
from stormflow.api.context import ApiContext, Ctx, now
from stormflow.api.errors import ApiError
from stormflow.api.submission import invalid_document
from stormflow.spec import Severity, validate
from stormflow.spec.document import NAME_PATTERN
from stormflow.spec.params import declarations
from stormflow.spec.templates import resolve_checked
from stormflow.store import TemplateRow

router = APIRouter(tags=["templates"])
_NAME = re.compile(NAME_PATTERN)
TemplateName = Annotated[str, Field(min_length=1, max_length=64)]


def template_summary(row: TemplateRow) -> dict[str, Any]:
    specs, _entries = declarations(row.document)
    metadata = row.document.get("metadata")
    description = metadata.get("description") if isinstance(metadata, dict) else None
    return {
        "name": row.name,
        "workflow_name": row.document.get("name"),
        "description": description if isinstance(description, str) else None,
        "params": [{"name": s.name, **s.to_dict()} for s in specs.values()],
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def template_out(row: TemplateRow) -> dict[str, Any]:
    return {**template_summary(row), "document": row.document}


def check_template(ctx: ApiContext, name: str, document: dict[str, Any]) -> None:
    """422 naming what is wrong with the name or the document."""
    if not _NAME.match(name):
        raise ApiError(
            422,
            "invalid-input",
            f"template name {name!r} must start with a letter and hold up to 64 letters, "
            f"digits, '_' or '-'",
            where="name",
        )
    resolved, entries = resolve_checked(
        document, lookup=ctx.store.find_template, source=f"template:{name}"
    )
    if not entries:
        entries = validate(resolved)
    if any(e.severity is Severity.ERROR for e in entries):
        raise invalid_document(entries)


@router.get("/templates", response_model=schemas.TemplateList)
def list_templates(ctx: Ctx) -> dict[str, Any]:
    return {"templates": [template_summary(row) for row in ctx.store.templates()]}


@router.post("/templates", status_code=201, response_model=schemas.TemplateOut)
def add_template(
    ctx: Ctx, body: Annotated[schemas.TemplateIn, Body()], response: Response
) -> dict[str, Any]:
    """Store a template (201), or replace one (200, with `replace: true`; else 409)."""
    name = body.name if body.name is not None else body.document.get("name")
    if not isinstance(name, str):
        raise ApiError(422, "invalid-input", "the template needs a name", where="name")
    check_template(ctx, name, body.document)
    row, created = ctx.store.put_template(name, body.document, at=now(), replace=body.replace)
    if not created:
        response.status_code = 200
    return template_out(row)


@router.get("/templates/{name}", response_model=schemas.TemplateOut)
def get_template(ctx: Ctx, name: str) -> dict[str, Any]:
    return template_out(ctx.store.template(name))


@router.delete("/templates/{name}", status_code=204, response_class=Response)
def delete_template(ctx: Ctx, name: str) -> Response:
    ctx.store.delete_template(name)
    return Response(status_code=204)
