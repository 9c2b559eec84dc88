"""The plugins page's data as plain JSON-able values, shared by the API and `storm plugins`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import TypeAdapter

from stormflow.kinds.base import Param
from stormflow.kinds.registry import all_kinds
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


def report(
    seen: Mapping[str, Seen] | None = None,
    elsewhere: Mapping[str, Mapping[str, Any]] | None = None,
    where: str = "the scheduler",
) -> dict[str, Any]:
    """Every plugin's health and what it adds, and every DCC integration.

    `seen`: the last client version per integration (the server's record), for "update
    available". `elsewhere`: plugins that failed in another process (the server's scheduler
    child, named `where`), {name: {"failed_in", "error"}}: failed there is failed.
    """
    seen = seen or {}
    states = {s.name: s for s in loader.plugins()}
    plugins = [s.to_dict() for s in states.values()]
    for item in plugins:
        failed = (elsewhere or {}).get(item["name"])
        if item["status"] == "loaded" and isinstance(failed, Mapping):
            item["status"] = "failed"
            item["failed_in"] = f"{failed.get('failed_in')} (in {where})"
            item["error"] = str(failed.get("error"))
    integrations = []
    for owner, entry in loader.integrations():
        last = seen.get(entry.name)
        state = next((p for p in plugins if p["name"] == owner), None)
        integrations.append(
            {
                "name": entry.name,
                "title": entry.title,
                "version": entry.version,
                "description": entry.description,
                "plugin": owner,
                "plugin_ok": state is None or state["status"] == "loaded",
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
        "plugins": plugins,
        "integrations": integrations,
    }


def _field(param: Param) -> tuple[str, list[Any]] | None:
    """How a form edits the parameter ("text", "int", "number", "list", "kv", "select" with
    its options), from its JSON schema; None when a form cannot (edited in the document)."""
    try:
        schema = TypeAdapter(param.type).json_schema()
    except Exception:  # an exotic type: no form field, the document still takes it
        return None
    if isinstance(schema.get("enum"), list):
        return "select", list(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return "text", []
    if kind == "integer":
        return "int", []
    if kind == "number":
        return "number", []
    items = schema.get("items")
    if kind == "array" and isinstance(items, dict) and items.get("type") == "string":
        return "list", []
    # additionalProperties may be a bool (`dict[str, Any]`: any JSON, e.g. an external
    # node's request): no form field for that
    values = schema.get("additionalProperties")
    if kind == "object" and isinstance(values, dict) and values.get("type") == "string":
        return "kv", []
    return None


def kinds() -> list[dict[str, Any]]:
    """Every node kind with its parameters, for forms (the Composer) and documentation."""
    out = []
    for kind in all_kinds():
        params = []
        for param in kind.params.values():
            field = _field(param)
            params.append(
                {
                    "name": param.name,
                    "expected": param.expected,
                    "description": param.description,
                    "required": param.required,
                    "default": param.default,
                    "field": field[0] if field else None,
                    "options": field[1] if field else [],
                }
            )
        out.append(
            {
                "name": kind.name,
                "description": kind.description,
                "provider": kind.provider,
                "runs": kind.runs,
                "frame_ranged": kind.frame_ranged,
                "params": params,
            }
        )
    return out
