"""Every failure becomes `{"error": {"code", "message", "where", "details"}}` (docs/api.md)."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from stormflow.core import ActionRefused, LifecycleError, UnknownNode
from stormflow.store import TemplateExists, UnknownDraft, UnknownTemplate, UnknownWorkflow
from stormflow.store.busy import is_busy

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer other than success, raised anywhere below a route."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        where: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.where = where
        self.details = details
        self.headers = headers


def not_found(what: str, name: str) -> ApiError:
    return ApiError(404, f"unknown-{what}", f"unknown {what} {name!r}", where=name)


def error_body(
    code: str, message: str, where: str | None = None, details: Any = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "where": where, "details": details}}


def error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(err.code, err.message, err.where, err.details),
        status_code=err.status,
        headers=err.headers,
    )


#: Seconds a client should wait before retrying a request the store was too busy for.
RETRY_AFTER = 1


def busy() -> ApiError:
    return ApiError(
        503,
        "busy",
        "the store is busy (a lock or a connection was not free in time); retry shortly",
        headers={"Retry-After": str(RETRY_AFTER)},
    )


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "selection", "glob") -> "selection.glob": the client knows it sent a body
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts)


def _validation(exc: RequestValidationError) -> ApiError:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return ApiError(400, "malformed-json", "the request body is not valid JSON")
    reduced = [{"loc": _loc(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in errors]
    first = reduced[0] if reduced else {"loc": "", "msg": "invalid input"}
    more = f" (and {len(reduced) - 1} more)" if len(reduced) > 1 else ""
    return ApiError(
        422,
        "invalid-input",
        f"{first['loc'] or 'request'}: {first['msg']}{more}",
        where=first["loc"] or None,
        details=reduced,
    )


def _unreadable_body(exc: StarletteHTTPException) -> ApiError | None:
    """The framework's "error parsing the body", said in our words from its cause."""
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None:
        return None
    if isinstance(cause, RecursionError):
        message = "the request body nests lists and objects too deeply to be read"
        return ApiError(400, "malformed-json", message)
    if isinstance(cause, UnicodeDecodeError):
        byte = cause.object[cause.start : cause.start + 1].hex()
        message = f"the request body is not UTF-8 text (byte 0x{byte} at offset {cause.start})"
        return ApiError(400, "malformed-json", message)
    return None


def _not_json(request: Request, exc: RequestValidationError) -> ApiError | None:
    """A body sent as something else than JSON (curl -d sends a form): name the header."""
    if not any(tuple(e.get("loc", ())) == ("body",) for e in exc.errors()):
        return None
    sent = request.headers.get("content-type")
    if sent is None:
        return None  # read as JSON all the same: the answer is about its content
    media = sent.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return None
    got = f"it was {sent!r}" if sent.strip() else "it was empty"
    message = f"send the body as JSON with the header Content-Type: application/json ({got})"
    return ApiError(415, "unsupported-media-type", message, where="Content-Type")


def as_api_error(exc: Exception) -> ApiError:
    """Map an exception to its answer; unknown ones are the server's fault (500)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        return _validation(exc)
    if isinstance(exc, UnknownWorkflow):
        return not_found("workflow", exc.workflow_id)
    if isinstance(exc, UnknownDraft):
        return not_found("draft", exc.draft_id)
    if isinstance(exc, UnknownTemplate):
        return not_found("template", exc.name)
    if isinstance(exc, TemplateExists):
        message = f"{exc} (send replace: true to replace it)"
        return ApiError(409, "template-exists", message, where=exc.name)
    if isinstance(exc, UnknownNode):
        where = exc.names[0] if len(exc.names) == 1 else None
        return ApiError(404, "unknown-node", str(exc), where=where, details={"names": exc.names})
    if isinstance(exc, ActionRefused):
        ineligible = [
            {"node": i.node, "status": i.status.value, "reason": i.reason} for i in exc.ineligible
        ]
        return ApiError(409, "action-refused", str(exc), details=ineligible)
    if isinstance(exc, LifecycleError | ValueError):
        return ApiError(422, "invalid-input", str(exc).splitlines()[0] if str(exc) else "invalid")
    if isinstance(exc, DataError | OverflowError):  # NUL characters on PostgreSQL, huge ints
        message = "the database cannot store this input (a NUL character? a huge number?)"
        return ApiError(422, "unstorable-input", message)
    if is_busy(exc):
        log.warning("busy store: %s", str(exc).splitlines()[0] if str(exc) else type(exc))
        return busy()
    if isinstance(exc, StarletteHTTPException):
        unreadable = _unreadable_body(exc)
        if unreadable is not None:
            return unreadable
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return ApiError(exc.status_code, code, str(exc.detail))
    log.exception("internal error")
    return ApiError(500, "internal", f"internal error: {type(exc).__name__}")


def install(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, RequestValidationError):
            media = _not_json(request, exc)
            if media is not None:
                return error_response(media)
        return error_response(as_api_error(exc))

    for kind in (
        ApiError,
        RequestValidationError,
        StarletteHTTPException,
        UnknownWorkflow,
        UnknownDraft,
        UnknownTemplate,
        LifecycleError,
        ValueError,
        DataError,
        OverflowError,
        # a busy store (503): handled here, not as a server error (which Starlette re-raises)
        DBAPIError,
        PoolTimeout,
        sqlite3.Error,  # raised by the store's driver SQL, unwrapped
        psycopg.Error,
        Exception,
    ):
        app.add_exception_handler(kind, handle)
