"""Providers (the systems external nodes hand work to) and their inbound webhooks.

`/providers` needs the server token like every route; the configuration shown holds
environment variable names, never a secret. `POST /hooks/{provider}` needs no token
(providers cannot hold one): its body must carry the provider's HMAC signature instead.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from stormflow.api.context import Ctx, now
from stormflow.api.errors import ApiError, error_response, not_found
from stormflow.engine.hooks import HookError, HookFigures, receive
from stormflow.engine.providers import parse_config
from stormflow.signing import HEADER
from stormflow.store.waits import ProviderRow

router = APIRouter(tags=["providers"])

ProviderName = Annotated[str, Path(min_length=1, max_length=64)]

#: Webhook bodies larger than this are refused before anything is read into the store.
MAX_HOOK_BODY = 1 << 20


def _shape(row: ProviderRow, waiting: int) -> dict[str, Any]:
    return {
        "name": row.name,
        "kind": row.kind,
        "config": row.config,
        "waiting": waiting,
        "webhook": f"/api/v1/hooks/{row.name}" if row.config.get("webhook") else None,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


@router.get("/providers")
def list_providers(ctx: Ctx) -> list[dict[str, Any]]:
    waiting = ctx.store.live_wait_count()
    return [_shape(row, waiting.get(row.name, 0)) for row in ctx.store.providers()]


@router.get("/providers/{name}")
def get_provider(ctx: Ctx, name: ProviderName) -> dict[str, Any]:
    row = ctx.store.provider(name)
    if row is None:
        raise not_found("provider", name)
    return _shape(row, ctx.store.live_wait_count().get(name, 0))


@router.put("/providers/{name}")
def put_provider(
    ctx: Ctx, name: ProviderName, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Add or replace a provider; the body is its configuration (docs/external.md)."""
    data = {"name": name, **body}
    if data["name"] != name:
        raise ApiError(422, "invalid", f"the body names {data['name']!r}, the path {name!r}")
    try:
        config = parse_config(data)
    except ValueError as exc:
        raise ApiError(422, "invalid-provider", str(exc), where=name) from None
    ctx.store.put_provider(
        name, config.kind, config.public(), at=now(), max_concurrent=config.max_concurrent
    )
    ctx.forget_providers()
    return get_provider(ctx, name)


@router.delete("/providers/{name}")
def delete_provider(ctx: Ctx, name: ProviderName) -> dict[str, Any]:
    if not ctx.store.remove_provider(name):
        raise not_found("provider", name)
    ctx.forget_providers()
    return {"name": name, "removed": True}


def hook_figures(request: Request) -> HookFigures:
    figures: HookFigures | None = getattr(request.app.state, "hook_figures", None)
    if figures is None:
        figures = HookFigures()
        request.app.state.hook_figures = figures
    return figures


@router.post("/hooks/{provider}", responses={401: {"description": "bad signature"}})
async def hook(request: Request, provider: ProviderName) -> JSONResponse:
    """A provider's signed event about one of its jobs (`X-Storm-Signature`)."""
    ctx = request.app.state.storm
    figures = hook_figures(request)
    body = await request.body()
    if len(body) > MAX_HOOK_BODY:
        return error_response(ApiError(413, "too-large", "the webhook body is over 1 MiB"))
    signature = request.headers.get(HEADER)

    def handle() -> dict[str, Any]:
        row = ctx.store.provider(provider)
        if row is None:
            raise ApiError(404, "unknown-provider", f"unknown provider {provider!r}")
        try:
            config = parse_config(row.config)
        except ValueError as exc:
            raise ApiError(503, "bad-provider", f"provider {provider!r}: {exc}") from None
        try:
            got = receive(ctx.store, config, body, signature, at=now(), figures=figures)
        except HookError as exc:
            raise ApiError(exc.status, exc.code, exc.message, where=provider) from None
        ctx.told(got.workflow_id or "", got.applied)
        return got.answer()

    try:
        answer = await run_in_threadpool(handle)
    except ApiError as err:
        return error_response(err)
    return JSONResponse(answer)
