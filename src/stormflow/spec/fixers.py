"""Fixer factories: named edits of raw document data (applied to a copy by Fixer.apply).

Edits are tolerant: if the document changed since validation and the target is gone,
they change nothing.
"""

from __future__ import annotations

import re
from typing import Any

from stormflow.spec.entries import Fixer, RawDocument


def _nodes(doc: RawDocument) -> list[Any]:
    nodes = doc.get("nodes")
    return nodes if isinstance(nodes, list) else []


def _edges(doc: RawDocument) -> list[Any]:
    edges = doc.get("edges")
    return edges if isinstance(edges, list) else []


def _node(doc: RawDocument, index: int, name: str | None) -> dict[str, Any] | None:
    """The node at index if it still has this name, else the first node with the name."""
    nodes = _nodes(doc)
    if (
        0 <= index < len(nodes)
        and isinstance(nodes[index], dict)
        and (name is None or nodes[index].get("name") == name)
    ):
        found: dict[str, Any] = nodes[index]
        return found
    for node in nodes:
        if isinstance(node, dict) and name is not None and node.get("name") == name:
            return node
    return None


def _endpoints(edge: object) -> tuple[object, object]:
    if isinstance(edge, list) and len(edge) == 2:
        return edge[0], edge[1]
    if isinstance(edge, dict):
        return edge.get("from"), edge.get("to")
    return None, None


def drop_edge(upstream: str, downstream: str) -> Fixer:
    def edit(doc: RawDocument) -> None:
        if isinstance(doc.get("edges"), list):
            doc["edges"] = [e for e in doc["edges"] if _endpoints(e) != (upstream, downstream)]

    return Fixer(
        f"drop-edge:{upstream}:{downstream}",
        f"remove the edge {upstream} -> {downstream}",
        edit,
    )


def drop_edge_at(index: int) -> Fixer:
    def edit(doc: RawDocument) -> None:
        edges = _edges(doc)
        if 0 <= index < len(edges):
            del edges[index]

    return Fixer(f"drop-edge-at:{index}", f"remove edges[{index}]", edit)


def drop_node_at(index: int) -> Fixer:
    def edit(doc: RawDocument) -> None:
        nodes = _nodes(doc)
        if 0 <= index < len(nodes):
            del nodes[index]

    return Fixer(f"drop-node-at:{index}", f"remove nodes[{index}]", edit)


def dedupe_edges() -> Fixer:
    def edit(doc: RawDocument) -> None:
        seen: set[tuple[str, str]] = set()
        kept = []
        for edge in _edges(doc):
            up, down = _endpoints(edge)
            if isinstance(up, str) and isinstance(down, str):
                if (up, down) in seen:
                    continue
                seen.add((up, down))
            kept.append(edge)
        if isinstance(doc.get("edges"), list):
            doc["edges"] = kept

    return Fixer("dedupe-edges", "keep the first of each repeated edge", edit)


def _rename_in_edges(doc: RawDocument, old: str, new: str) -> None:
    for edge in _edges(doc):
        if isinstance(edge, list) and len(edge) == 2:
            edge[:] = [new if x == old else x for x in edge]
        elif isinstance(edge, dict):
            for key in ("from", "to"):
                if edge.get(key) == old:
                    edge[key] = new


def rename_node(index: int, old: str, new: str) -> Fixer:
    """Rename a node and the edges that name it."""

    def edit(doc: RawDocument) -> None:
        node = _node(doc, index, old)
        if node is not None:
            node["name"] = new
            _rename_in_edges(doc, old, new)

    return Fixer(f"rename:{old}:{new}", f"rename node {old!r} to {new!r} (and its edges)", edit)


def name_node(index: int, new: str) -> Fixer:
    def edit(doc: RawDocument) -> None:
        node = _node(doc, index, None)
        if node is not None:
            node["name"] = new

    return Fixer(f"name-node-at:{index}:{new}", f"name nodes[{index}] {new!r}", edit)


def rename_duplicates(name: str, taken: set[str]) -> Fixer:
    """Give the second and later nodes called `name` free names (edges keep the first)."""

    def edit(doc: RawDocument) -> None:
        names = {n.get("name") for n in _nodes(doc) if isinstance(n, dict)}
        seen = False
        for node in _nodes(doc):
            if isinstance(node, dict) and node.get("name") == name:
                if seen:
                    node["name"] = free_name(name, {x for x in names if isinstance(x, str)})
                    names.add(node["name"])
                seen = True

    return Fixer(
        f"rename-duplicate:{name}",
        f"rename the later nodes called {name!r} to free names like {free_name(name, taken)!r}",
        edit,
    )


def set_key(index: int, node_name: str | None, key: str, value: Any, fixer_name: str) -> Fixer:
    def edit(doc: RawDocument) -> None:
        node = _node(doc, index, node_name)
        if node is not None:
            node[key] = value

    label = node_name or f"nodes[{index}]"
    return Fixer(fixer_name, f"set {key} of {label} to {value!r}", edit)


def drop_key(index: int, node_name: str | None, key: str) -> Fixer:
    def edit(doc: RawDocument) -> None:
        node = _node(doc, index, node_name)
        if node is not None:
            node.pop(key, None)

    label = node_name or f"nodes[{index}]"
    return Fixer(f"drop-param:{label}:{key}", f"remove {key} from {label}", edit)


def rename_key(index: int, node_name: str | None, old: str, new: str) -> Fixer:
    def edit(doc: RawDocument) -> None:
        node = _node(doc, index, node_name)
        if node is not None and old in node and new not in node:
            # Rebuild to keep the key's position, so dumps stay readable.
            items = [(new if k == old else k, v) for k, v in node.items()]
            node.clear()
            node.update(items)

    label = node_name or f"nodes[{index}]"
    return Fixer(f"rename-param:{label}:{old}:{new}", f"rename {old} to {new} in {label}", edit)


def set_top(key: str, value: Any, fixer_name: str) -> Fixer:
    def edit(doc: RawDocument) -> None:
        doc[key] = value

    return Fixer(fixer_name, f"set the workflow's {key} to {value!r}", edit)


def drop_top(key: str) -> Fixer:
    def edit(doc: RawDocument) -> None:
        doc.pop(key, None)

    return Fixer(f"drop-field:{key}", f"remove the top-level field {key!r}", edit)


def rename_top(old: str, new: str) -> Fixer:
    def edit(doc: RawDocument) -> None:
        if old in doc and new not in doc:
            items = [(new if k == old else k, v) for k, v in doc.items()]
            doc.clear()
            doc.update(items)

    return Fixer(f"rename-field:{old}:{new}", f"rename the top-level field {old} to {new}", edit)


def edit_node(index: int, node_name: str, fixer_name: str, description: str, fn: Any) -> Fixer:
    """A fixer running fn(node_dict) on one node."""

    def edit(doc: RawDocument) -> None:
        node = _node(doc, index, node_name)
        if node is not None:
            fn(node)

    return Fixer(fixer_name, description, edit)


_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


def sanitize_name(name: str) -> str:
    """A valid name close to `name`: bad characters become '_', must start with a letter."""
    clean = _BAD_CHARS.sub("_", name).strip("_") or "node"
    if not clean[0].isalpha():
        clean = "n" + clean if clean[0] in "_-" else "n_" + clean
    return clean[:64]


def free_name(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = f"_{n}"
        candidate = base[: 64 - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        n += 1
