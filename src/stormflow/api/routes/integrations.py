"""DCC integrations a user downloads from the server: the Blender add-on's zip."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from stormflow import integrations
from stormflow.api.errors import ApiError

router = APIRouter(tags=["integrations"])


@router.get(
    "/integrations/blender/addon.zip",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "the add-on's zip"}},
)
async def blender_addon(request: Request) -> Response:
    """The Blender add-on (Edit > Preferences > Add-ons > Install from Disk), with Storm's
    client inside; `X-Storm-Addon-Version` says which version it is."""
    try:
        source = integrations.blender_addon_source()
        data = await run_in_threadpool(integrations.blender_addon_zip, source)
        version = integrations.blender_addon_version(source)
    except (integrations.IntegrationMissing, OSError, SyntaxError, ValueError) as exc:
        message = f"the Blender add-on is not available: {exc}"
        raise ApiError(404, "no-integration", message) from None
    tag = integrations.etag(data)
    headers = {
        "ETag": tag,
        "X-Storm-Addon-Version": version,
        "Content-Disposition": f'attachment; filename="{integrations.BLENDER_ZIP_NAME}"',
    }
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="application/zip", headers=headers)
