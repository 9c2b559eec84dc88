"""`create_app`: the v1 HTTP API (docs/api.md) over a store, with an optional embedded scheduler.

Layers, outermost first: the token check, the body size limit, the check that a
JSON body holds only text a database can store, FastAPI's routes under /api/v1.
Every failure, ours or the framework's, leaves as the JSON error body (see `errors`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import stormflow
from stormflow import web

from . import errors, observe, schemas
from .auth import TokenAuth
from .bodies import TextCheck
from .context import ApiContext, Ctx, OutcomeSink
from .errors import ApiError, error_response
from .observe import RequestFigures, RequestMetrics
from .routes import (
    actions,
    drafts,
    events,
    limits,
    nodes,
    previews,
    providers,
    validation,
    workflows,
)
from .scheduler_process import SchedulerProcess
from .tables import NodeTables
from .validators import ReadCache

PREFIX = "/api/v1"
MAX_BODY = 64 * 1024 * 1024


class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 for a body over the limit: by Content-Length up front, else while it streams in."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = ApiError(
            413, "too-large", f"the request body is larger than {self.limit // 2**20} MiB"
        )
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > self.limit:
                await error_response(too_large)(scope, receive, send)
                return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started |= message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracking)
        except _TooLarge:
            if not started:
                await error_response(too_large)(scope, receive, send)


def _health_router() -> APIRouter:
    router = APIRouter(tags=["server"])

    @router.get("/health", response_model=schemas.Health)
    def health(ctx: Ctx) -> dict[str, Any]:
        """The only request that needs no token."""
        sink = ctx.scheduler
        running = sink is not None and bool(getattr(sink, "alive", True))
        stats = sink.figures() if isinstance(sink, SchedulerProcess) else None
        if stats is None:
            found = getattr(getattr(sink, "scheduler", None), "stats", None)
            stats = vars(found) if found is not None else {}
        stuck = running and bool(getattr(sink, "stuck", False))
        process = sink.health() if isinstance(sink, SchedulerProcess) else None
        return {
            "status": "ok",
            "version": stormflow.__version__,
            "scheduler": running and not stuck,
            "scheduler_stuck": stuck,
            "scheduler_errors": int(stats.get("errors", 0)),
            "scheduler_busy": int(stats.get("busy", 0)),
            "scheduler_last_error": stats.get("last_error"),
            "scheduler_process": process,
        }

    return router


def create_app(
    store: Any,
    *,
    data_dir: Path,
    token: str,
    scheduler: OutcomeSink | None = None,
    keepalive: float = 15.0,
) -> FastAPI:
    """The API over `store`. `scheduler`: an embedded one, told about every outcome made here."""
    app = FastAPI(
        title="Storm",
        version=stormflow.__version__,
        description="Workflows for render farms. Send `Authorization: Bearer <token>`.",
        responses={
            code: {"model": schemas.ErrorBody, "description": text}
            for code, text in (
                (400, "malformed JSON"),
                (401, "missing or wrong token"),
                (404, "unknown workflow, node, draft or attempt"),
                (413, "body too large"),
                (415, "body not sent as JSON"),
                (422, "invalid input"),
                (503, "the store is busy: retry after the Retry-After header's seconds"),
            )
        },
    )
    app.state.storm = ApiContext(
        store=store, data_dir=Path(data_dir), token=token, scheduler=scheduler
    )
    app.state.keepalive = keepalive
    app.state.read_cache = ReadCache()
    app.state.node_tables = NodeTables()
    app.state.request_figures = RequestFigures()
    errors.install(app)
    app.include_router(_health_router(), prefix=PREFIX)
    for module in (
        workflows,
        nodes,
        actions,
        events,
        validation,
        drafts,
        limits,
        previews,
        providers,
    ):
        app.include_router(module.router, prefix=PREFIX)
    app.include_router(observe.router)

    _mount_ui(app)

    app.add_middleware(RequestMetrics, figures=app.state.request_figures)
    app.add_middleware(TextCheck)  # inside BodyLimit: it reads bodies already limited
    app.add_middleware(BodyLimit)
    app.add_middleware(TokenAuth, token=token)
    _declare_bearer(app)
    return app


def _mount_ui(app: FastAPI) -> None:
    """The built web UI at /ui/ (an SPA: every non-asset path gets index.html); / goes there.

    Behind the same token check as the API: the first page load carries `?token=`,
    which sets the cookie that then authorises the assets and the EventSource.
    """
    assets = web.static_dir() / "assets"

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> RedirectResponse:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/ui/{query}", status_code=307)

    @app.get("/ui", include_in_schema=False)
    @app.get("/ui/{path:path}", include_in_schema=False)
    def ui(path: str = "") -> FileResponse:
        if path.startswith("assets/"):
            wanted = (assets / path.removeprefix("assets/")).resolve()
            # Only files inside the built assets: no path from a request leaves them.
            if wanted.is_file() and wanted.is_relative_to(assets.resolve()):
                return FileResponse(wanted)
            raise ApiError(404, "not-found", f"no UI asset {path!r}")
        index = web.index_html()
        if not index.is_file():
            raise ApiError(404, "ui-not-built", "the web UI is not built (make ui)")
        return FileResponse(index, headers={"Cache-Control": "no-cache"})


def _declare_bearer(app: FastAPI) -> None:
    """Put the bearer token in the OpenAPI schema, so generated clients and docs send it."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = plain()
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}
            }
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
