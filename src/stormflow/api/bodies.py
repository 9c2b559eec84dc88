"""What every JSON request body passes at the door: text a database can hold.

A NUL character or a lone surrogate can only reach JSON as a `\\u` escape (raw ones are
not valid JSON text), so a body without such an escape is passed on after one byte
search; one with it is parsed and searched for the field that holds it. Either way
nothing behind this layer ever sees such text: no route stores it, on any backend.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stormflow.spec.text import unstorable

from .errors import ApiError, error_response

#: `\u0000` or a surrogate escape (`\ud800`-`\udfff`); a valid pair also matches and
#: is then found harmless by the search.
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_METHODS = {"POST", "PUT", "PATCH"}


def _is_json(scope: Scope) -> bool:
    """JSON by its Content-Type, or no Content-Type at all (the framework reads it as JSON)."""
    for key, value in scope["headers"]:
        if key == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return bool(media == b"application/json" or media.endswith(b"+json"))
    return True


def body_problem(body: bytes) -> ApiError | None:
    """422 naming the first field whose text cannot be stored; None for a fine body
    (or one that is not JSON at all: the route reports that)."""
    if not _SUSPECT.search(body):
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    found = unstorable(data)
    if found is None:
        return None
    path, what = found
    return ApiError(422, "unstorable-text", f"{path} {what}, which cannot be stored", where=path)


class TextCheck:
    """ASGI middleware: a JSON body with unstorable text is answered 422 before any route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = body_problem(body)
        if problem is not None:
            await error_response(problem)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
