"""The document's view of node kinds: node-level keys, and the kinds registry (`kinds/`)."""

from __future__ import annotations

from stormflow.kinds import Kind, Param, get_kind, kind_names, register_kind

#: Kept for plugins and tests written against the first registry.
NodeKind = Kind

#: Node-level keys shared by every kind; everything else in a node is a parameter.
NODE_KEYS = ("name", "kind", "status")

__all__ = ["NODE_KEYS", "Kind", "NodeKind", "Param", "get_kind", "kind_names", "register_kind"]
