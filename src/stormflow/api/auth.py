"""The server token: created once in `<data dir>/token` (0600), checked on every request.

A browser opens the URL the server prints (`/?token=...`); the answer then sets
the `storm_token` cookie so the page's own requests carry it. Only
`GET /api/v1/health` is open, so a client can find out whether a server is there.
"""

from __future__ import annotations

import os
import secrets
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stormflow.paths import private_dir

from .errors import ApiError, error_response

COOKIE = "storm_token"
OPEN_PATHS = frozenset({"/api/v1/health"})
#: Inbound webhooks: signed by the provider, no token (routes/providers.py checks them).
HOOKS = "/api/v1/hooks/"


def token_path(data_dir: Path) -> Path:
    return Path(data_dir) / "token"


def read_token(data_dir: Path) -> str | None:
    try:
        text = token_path(data_dir).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def ensure_token(data_dir: Path) -> str:
    """The existing token, or a new one written with mode 0600 (never readable by others)."""
    existing = read_token(data_dir)
    if existing is not None:
        return existing
    data_dir = private_dir(data_dir)
    token = secrets.token_urlsafe(32)
    path = token_path(data_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)  # O_CREAT's mode is filtered by the umask; be explicit
    return token


def _presented(scope: Scope) -> tuple[str | None, bool]:
    """The token the request carries, and whether it came in the query string."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip(), False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0], True
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed cookie header is just no cookie
        return None, False
    morsel = cookie.get(COOKIE)
    return (morsel.value if morsel is not None else None), False


def matches(presented: str | None, token: str) -> bool:
    if presented is None:
        return False
    return secrets.compare_digest(presented.encode("utf-8", "replace"), token.encode("utf-8"))


class TokenAuth:
    """ASGI middleware: 401 without the token; sets the cookie when it came as `?token=`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or (scope["path"] in OPEN_PATHS and scope["method"] in ("GET", "HEAD"))
            or (scope["path"].startswith(HOOKS) and scope["method"] == "POST")
        ):
            # webhooks carry the provider's HMAC signature instead (checked by their route)
            await self.app(scope, receive, send)
            return
        presented, from_query = _presented(scope)
        if not matches(presented, self.token):
            err = ApiError(401, "unauthorized", "missing or wrong token (see <data dir>/token)")
            await error_response(err)(scope, receive, send)
            return
        if not from_query:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append(
                    "set-cookie", f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)
