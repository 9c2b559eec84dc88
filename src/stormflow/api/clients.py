"""`X-Storm-Client: <client>/<version>`: which version of a DCC integration talks to us.

The Blender add-on (and any integration a plugin declares with a `client` name) sends it
on every request. The last version seen per integration is kept in the store, written only
when it changes (or an hour after the last write), so the header costs a dictionary lookup
per request. The plugins page compares it with the version the server offers. Only
requests that passed the token check are recorded (the open health check is not).
"""

from __future__ import annotations

import logging
import re
import threading
import time

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from stormflow.plugins import loader
from stormflow.store.clients import ClientVersions

from .auth import OPEN_PATHS

HEADER = b"x-storm-client"
_VALUE = re.compile(r"^([a-z0-9][a-z0-9._-]{0,63})/([0-9A-Za-z][0-9A-Za-z.+-]{0,63})$")
#: A sighting of the same version is written again after this long (the "last seen" time).
REFRESH_SECONDS = 3600.0

log = logging.getLogger(__name__)


def parse_client(value: str) -> tuple[str, str] | None:
    """("blender-addon", "1.2.0") from "blender-addon/1.2.0"; None when malformed."""
    found = _VALUE.match(value.strip())
    return (found.group(1), found.group(2)) if found else None


def integration_for(client: str) -> str | None:
    for _plugin, integration in loader.integrations():
        if integration.client == client:
            return integration.name
    return None


class ClientSightings:
    """Per-process memory of what was written last, to keep the store out of most requests."""

    def __init__(self, store: ClientVersions | None) -> None:
        self.store = store
        self._written: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def due(self, integration: str, version: str, now: float) -> bool:
        with self._lock:
            last = self._written.get(integration)
            if last is not None and last[0] == version and now - last[1] < REFRESH_SECONDS:
                return False
            self._written[integration] = (version, now)
            return True

    def write(self, integration: str, client: str, version: str, now: float) -> None:
        if self.store is None:
            return
        try:
            self.store.record_client(integration, client, version, at=now)
        except Exception as exc:  # a courtesy record: the request itself goes on
            with self._lock:
                self._written.pop(integration, None)  # try again with the next request
            log.warning("could not record %s/%s: %s", client, version, exc)


class ClientVersionMiddleware:
    def __init__(self, app: ASGIApp, sightings: ClientSightings) -> None:
        self.app = app
        self.sightings = sightings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") not in OPEN_PATHS:
            for key, raw in scope["headers"]:
                if key == HEADER:
                    await self._seen(raw.decode("latin-1"))
                    break
        await self.app(scope, receive, send)

    async def _seen(self, value: str) -> None:
        parsed = parse_client(value)
        if parsed is None:
            return  # a malformed header is ignored, never an error for the request
        client, version = parsed
        integration = integration_for(client)
        if integration is None:
            return
        now = time.time()
        if self.sightings.due(integration, version, now):
            await anyio.to_thread.run_sync(self.sightings.write, integration, client, version, now)
