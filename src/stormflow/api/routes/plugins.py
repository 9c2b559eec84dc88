"""The plugins page's data: installed plugins with what each adds and their health, and the
DCC integrations with version, download, install steps and "update available"."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel

from stormflow.api.context import Ctx
from stormflow.api.errors import ApiError
from stormflow.api.scheduler_process import SchedulerProcess
from stormflow.plugins import loader, report

router = APIRouter(tags=["plugins"])

DOWNLOAD = report.DOWNLOAD


class PluginAdds(BaseModel):
    kinds: list[str]
    rules: list[str]
    providers: list[str]
    notifications: list[str]
    integrations: list[str]


class PluginOut(BaseModel):
    name: str
    entry_point: str
    distribution: str | None
    version: str | None
    api_version: int | None
    description: str
    status: str  # "loaded" | "failed"
    failed_in: str | None
    error: str | None
    builtin: bool
    adds: PluginAdds
    about: dict[str, str]


class ClientSeenOut(BaseModel):
    client: str
    version: str
    seen_at: float


class IntegrationOut(BaseModel):
    name: str
    title: str
    version: str
    description: str
    plugin: str
    plugin_ok: bool
    client: str | None
    dcc_versions: str
    install: list[str]
    download_url: str | None
    filename: str | None
    last_seen: ClientSeenOut | None
    update_available: bool


class PluginsOut(BaseModel):
    api_version: int
    plugins: list[PluginOut]
    integrations: list[IntegrationOut]


class KindParamOut(BaseModel):
    name: str
    expected: str
    description: str
    required: bool
    default: Any
    field: str | None  # "text" | "int" | "number" | "list" | "kv" | "select" | null
    options: list[Any]


class KindOut(BaseModel):
    name: str
    description: str
    provider: str
    runs: str
    frame_ranged: bool
    params: list[KindParamOut]


@router.get("/kinds", response_model=list[KindOut])
def list_kinds() -> list[dict[str, Any]]:
    """Every node kind (built-in and plugins') with its parameters and a form field each."""
    return report.kinds()


@router.get("/plugins", response_model=PluginsOut)
def list_plugins(ctx: Ctx) -> dict[str, Any]:
    """Installed plugins (the built-in one first) and every DCC integration."""
    sink = ctx.scheduler
    elsewhere = sink.figures().get("plugins_failed") if isinstance(sink, SchedulerProcess) else None
    return report.report(ctx.store.clients_seen(), elsewhere)


@router.get(
    "/plugins/integrations/{name}/download",
    response_class=FileResponse,
    response_model=None,
    responses={200: {"content": {"application/octet-stream": {}}}, 307: {}, 424: {}},
)
def download_integration(
    name: Annotated[str, Path(min_length=1, max_length=64)],
) -> FileResponse | RedirectResponse:
    """The integration's file (an add-on zip, a script), or a redirect to where it is."""
    found = loader.integration(name)
    if found is None:
        known = ", ".join(entry.name for _owner, entry in loader.integrations()) or "none"
        raise ApiError(
            404,
            "unknown-integration",
            f"no DCC integration {name!r} (known: {known})",
            where="name",
        )
    entry = found[1]
    try:
        download = loader.download_file(name)
    except loader.PluginError as exc:
        raise ApiError(424, "plugin-failed", str(exc), where="name") from None
    if download is None:
        raise ApiError(404, "no-download", f"integration {name!r} offers no download", where="name")
    if isinstance(download, str):
        if download == DOWNLOAD.format(name=name):
            raise ApiError(404, "no-download", f"integration {name!r} offers no file", where="name")
        return RedirectResponse(download, status_code=307)
    path = FilePath(download)
    if not path.is_file():
        raise ApiError(
            404,
            "download-missing",
            f"integration {name!r}: its file {path.name} is missing (reinstall the plugin)",
            where="name",
        )
    return FileResponse(
        path,
        filename=entry.filename or path.name,
        media_type="application/octet-stream",
    )
