"""The `workflow` kind: a node that is a whole workflow of its own (a sub-workflow).

Its `template` is a document (a file relative to the document, a stored template's name,
or inline) and its `params` the values the child is instantiated with. Before validation
the template is resolved to an inline document (`spec.templates.resolve`), so the node's
stored config (`{"template": {...}, "params": {...}}`) is all the runtime needs:
`spec.params.instantiate(config["template"], config["params"])` is the child document.

`for_each` (a list of param sets, or a CSV/JSON file of them relative to the document)
with `key` makes one node per item, named `<node>.<item[key]>` (`shots.sh010`); each
item's values are laid over the node's `params`. Edges to and from the node connect all of
them, as they do a chunked task's chunks.

The scheduler waits for the child without a slot (runs="wait").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from stormflow.kinds.base import RETRIES, RETRY_DELAY, Kind, Param, params
from stormflow.kinds.registry import register_kind
from stormflow.spec import limits
from stormflow.spec.entries import Entry, Severity, error, warning
from stormflow.spec.templates import is_file_reference
from stormflow.spec.validate import RawNode, RuleContext

#: A for_each item's key value becomes part of a node name: `shots.sh010`.
ITEM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: Entries one node may report from its children (100 shots with one mistake each).
MAX_CHILD_ENTRIES = 20

Scalar = str | int | float | bool

#: How deep inside sub-workflows validation is (a child is validated by its parent's rule).
_DEPTH: ContextVar[int] = ContextVar("workflow_depth", default=0)


def items_of(config: Mapping[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(name suffix, params) per child a node makes: one per for_each item (named by its
    key), else one with the node's own params. Assumes a validated node."""
    base = dict(config.get("params") or {})
    for_each = config.get("for_each")
    if not isinstance(for_each, list):
        return [(None, base)]
    key = str(config.get("key"))
    return [(str(item[key]), {**base, **item}) for item in for_each]


def child_config(config: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A planned node's config: the template and the child's params (no for_each)."""
    out = {k: v for k, v in config.items() if k not in ("for_each", "key")}
    out["params"] = dict(values)
    return out


def workflow_nodes(ctx: RuleContext) -> Iterator[Entry]:
    """Templates resolved; for_each items well formed; each child valid with its params
    (entries prefixed with the parent node's name); nesting within the limit."""
    for node in ctx.nodes:
        if node.kind is None or node.kind.name != "workflow":
            continue
        yield from _check_node(node)


def _check_node(node: RawNode) -> Iterator[Entry]:
    label = node.label
    template = node.params.get("template")
    if isinstance(template, str):
        if is_file_reference(template):
            yield error(
                "unresolved-template",
                f"node {label!r}: template {template!r} is a file that was not read: files "
                f"are read where the document is (storm validate, storm run, storm submit)",
                nodes=node.names,
                field="template",
            )
        else:  # the server (or `storm run`'s store) resolves it before anything is stored
            yield warning(
                "stored-template",
                f"node {label!r}: template {template!r} names a stored template; it is checked "
                f"where it is stored, when the workflow is submitted",
                nodes=node.names,
                field="template",
            )
        return
    for_each = node.params.get("for_each")
    if isinstance(for_each, str):
        yield error(
            "bad-for-each",
            f"node {label!r}: for_each {for_each!r} is not resolved: files are read where the "
            f"document is (storm run, storm submit)",
            nodes=node.names,
            field="for_each",
        )
        return
    problems = list(_items(node))
    yield from problems
    if problems or not isinstance(template, Mapping):
        return
    depth = _DEPTH.get()
    most = limits.current().max_workflow_depth
    if depth + 1 > most:
        yield error(
            "workflow-too-deep",
            f"node {label!r}: sub-workflows nest more than {most} deep "
            f"({limits.how_to_raise('max_workflow_depth')})",
            nodes=node.names,
            field="template",
        )
        return
    yield from _children(node, dict(template))


def _items(node: RawNode) -> Iterator[Entry]:
    p, label = node.params, node.label
    for_each, key = p.get("for_each"), p.get("key")
    if for_each is None:
        if key is not None:
            yield error(
                "needs-for-each",
                f"node {label!r}: key names the for_each param that names each node; "
                f"it has no for_each",
                nodes=node.names,
                field="key",
            )
        return
    if not isinstance(for_each, list):
        return  # the param's type check reports it
    if not isinstance(key, str):
        yield error(
            "missing-key",
            f"node {label!r}: for_each needs key: the param whose value names each node",
            nodes=node.names,
            field="key",
        )
        return
    if not for_each:
        yield error(
            "empty-for-each",
            f"node {label!r}: for_each has no items",
            nodes=node.names,
            field="for_each",
        )
    seen: set[str] = set()
    for index, item in enumerate(for_each):
        value = item.get(key) if isinstance(item, Mapping) else None
        text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
        if not ITEM_NAME.match(text):
            yield error(
                "bad-for-each-key",
                f"node {label!r}: for_each[{index}] needs {key!r}, a name part of letters, "
                f"digits, '_' or '-' (it names node {label}.<{key}>), got {value!r}",
                nodes=node.names,
                field="for_each",
            )
        elif text in seen:
            yield error(
                "duplicate-for-each-key",
                f"node {label!r}: two for_each items have {key} {text!r}; each names a node",
                nodes=node.names,
                field="for_each",
            )
        seen.add(text)


def _children(node: RawNode, template: dict[str, Any]) -> Iterator[Entry]:
    from stormflow.spec.validate import validate

    token = _DEPTH.set(_DEPTH.get() + 1)
    try:
        out: list[Entry] = []
        seen: set[tuple[str, str]] = set()
        config = dict(node.params)
        for suffix, values in items_of(config):
            label = node.label if suffix is None else f"{node.label}.{suffix}"
            for entry in validate(template, values):
                if entry.severity is Severity.INFO or (entry.code, entry.message) in seen:
                    continue
                seen.add((entry.code, entry.message))  # one report for all items alike
                out.append(
                    replace(
                        entry,
                        message=f"{label} > {entry.message}",
                        nodes=node.names,
                        field="params" if entry.code.endswith("param-value") else "template",
                        fixers=(),
                        line=None,
                    )
                )
        if len(out) > MAX_CHILD_ENTRIES:
            rest = len(out) - MAX_CHILD_ENTRIES
            out = out[:MAX_CHILD_ENTRIES]
            out.append(
                error(
                    "more-child-entries",
                    f"{node.label} > {rest} more problems (storm validate the template)",
                    nodes=node.names,
                    field="template",
                )
            )
        yield from out
    finally:
        _DEPTH.reset(token)


WORKFLOW = register_kind(
    Kind(
        name="workflow",
        description="a whole workflow of its own (a sub-workflow), from a template",
        runs="wait",
        rules=(workflow_nodes,),
        params=params(
            Param(
                "template",
                str | dict[str, Any],
                "a file path, a stored template's name or a document mapping",
                "the child workflow's document",
                required=True,
            ),
            Param(
                "params",
                dict[str, Scalar],
                "a mapping of param names to strings or numbers",
                "values of the template's params",
                default={},
            ),
            Param(
                "for_each",
                list[dict[str, Scalar]] | str,
                "a list of param sets (mappings) or a .csv/.json file of them",
                "one node per item, named <node>.<item[key]>",
            ),
            Param("key", str, "a string", "the for_each param whose value names each node"),
            RETRIES,
            RETRY_DELAY,
        ),
    )
)
