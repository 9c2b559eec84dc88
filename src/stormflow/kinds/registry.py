"""The kinds registry: built-in kinds, then the installed plugins' (entry points), then any
registered by tests.

Built-ins and plugins are loaded on first use, not at import time: their modules use `spec`
for their validation rules, and `spec` looks kinds up here. Loading is done once per process
under a lock; a thread asking meanwhile waits for it rather than seeing half a registry.
"""

from __future__ import annotations

import importlib
import logging
import threading

from stormflow.kinds.base import Kind, Runs

#: Modules of the built-in kinds; each registers its kind(s) when imported.
BUILTINS = (
    "stormflow.kinds.task",
    "stormflow.kinds.email",
    "stormflow.kinds.workflow",
    "stormflow.kinds.upload",
    "stormflow.kinds.webhook",
    "stormflow.kinds.external",
)

_KINDS: dict[str, Kind] = {}
_loaded = False
_loading = False
_lock = threading.RLock()
log = logging.getLogger(__name__)


def _load() -> None:
    global _loaded, _loading
    if _loaded:
        return
    with _lock:
        if _loaded or _loading:  # done by another thread, or this one is loading (re-entry)
            return
        _loading = True
        try:
            for module in BUILTINS:
                importlib.import_module(module)
            try:
                loader = importlib.import_module("stormflow.plugins.loader")
                loader.load_plugins()
            except Exception:  # plugins fail alone (see plugins/loader.py); this is a bug
                log.exception("loading plugins failed")
        finally:
            _loaded = True
            _loading = False


def register_kind(kind: Kind) -> Kind:
    """Add (or replace) a node kind; documents may then use `kind: <name>`."""
    _load()
    _KINDS[kind.name] = kind
    return kind


def unregister_kind(name: str) -> None:
    _KINDS.pop(name, None)


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
