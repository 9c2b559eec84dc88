"""The kinds registry: built-in kinds, then any registered by plugins or tests.

Built-ins are imported on first use, not at import time: their modules use `spec` for their
validation rules, and `spec` looks kinds up here.
"""

from __future__ import annotations

import importlib

from stormflow.kinds.base import Kind, Runs

#: Modules of the built-in kinds; each registers its kind(s) when imported.
BUILTINS = (
    "stormflow.kinds.task",
    "stormflow.kinds.email",
    "stormflow.kinds.webhook",
    "stormflow.kinds.external",
)

_KINDS: dict[str, Kind] = {}
_loaded = False


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTINS:
        importlib.import_module(module)


def register_kind(kind: Kind) -> Kind:
    """Add (or replace) a node kind; documents may then use `kind: <name>`."""
    _load()
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> Kind | None:
    if not _loaded:
        _load()
    return _KINDS.get(name)


def kind_names() -> list[str]:
    _load()
    return sorted(_KINDS)


def all_kinds() -> list[Kind]:
    _load()
    return [_KINDS[name] for name in sorted(_KINDS)]


def runs(name: str) -> Runs:
    """How attempts of the kind named run; unknown kinds are treated as commands (task)."""
    kind = get_kind(name)
    return kind.runs if kind is not None else "commands"
