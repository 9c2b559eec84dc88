"""The plugins page's data as plain JSON-able values, shared by the API and `storm plugins`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from stormflow.plugins import loader
from stormflow.plugins.api import API_VERSION

#: Where the server serves an integration's file (an add-on zip, a script).
DOWNLOAD = "/api/v1/plugins/integrations/{name}/download"


class Seen(Protocol):
    @property
    def client(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def seen_at(self) -> float: ...


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Order versions part by part, numbers as numbers: 1.10.0 > 1.9.2, 1.2 < 1.2.1."""
    parts = re.split(r"[.+-]", version)
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in parts)


def is_older(seen: str, offered: str) -> bool:
    return version_key(seen) < version_key(offered)


def download_url(name: str, download: object) -> str | None:
    if download is None:
        return None
    if isinstance(download, str):
        return download
    return DOWNLOAD.format(name=name)


def report(seen: Mapping[str, Seen] | None = None) -> dict[str, Any]:
    """Every plugin's health and what it adds, and every DCC integration; `seen`: the last
    client version per integration (the server's record), for "update available"."""
    seen = seen or {}
    states = {s.name: s for s in loader.plugins()}
    integrations = []
    for owner, entry in loader.integrations():
        last = seen.get(entry.name)
        state = states.get(owner)
        integrations.append(
            {
                "name": entry.name,
                "title": entry.title,
                "version": entry.version,
                "description": entry.description,
                "plugin": owner,
                "plugin_ok": state is None or state.ok,
                "client": entry.client,
                "dcc_versions": entry.dcc_versions,
                "install": list(entry.install),
                "download_url": download_url(entry.name, entry.download),
                "filename": entry.filename,
                "last_seen": (
                    {"client": last.client, "version": last.version, "seen_at": last.seen_at}
                    if last is not None
                    else None
                ),
                "update_available": last is not None and is_older(last.version, entry.version),
            }
        )
    return {
        "api_version": API_VERSION,
        "plugins": [s.to_dict() for s in states.values()],
        "integrations": integrations,
    }
