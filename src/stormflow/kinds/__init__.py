"""Node kinds, one module per kind: what its parameters are, how it is checked, how it runs.

`spec` validates and expands documents through the registry; `engine` runs attempts through
it. Built-in kinds and plugin kinds use the same `Kind` interface (see base.py).
"""

from __future__ import annotations

from stormflow.kinds.base import ActionContext, ActionError, Kind, Param, Runs, bound_host
from stormflow.kinds.registry import all_kinds, get_kind, kind_names, register_kind, runs

__all__ = [
    "ActionContext",
    "ActionError",
    "Kind",
    "Param",
    "Runs",
    "all_kinds",
    "bound_host",
    "get_kind",
    "kind_names",
    "register_kind",
    "runs",
]
