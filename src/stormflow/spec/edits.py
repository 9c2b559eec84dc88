"""Checked edits: a stored node's resulting configuration, judged by the document rules.

An update (API, CLI, UI, client) must leave every selected node with a configuration a
submitted document could have given it (spec: Updates). Rather than a second validator,
the node is put back into a one-node document and run through `validate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stormflow.spec.entries import Entry, Severity, error
from stormflow.spec.kinds import NODE_KEYS
from stormflow.spec.validate import validate

#: Keys the expansion adds to every chunk's configuration (not authorable parameters).
EXPANSION_KEYS = ("step",)

#: Entries about the stand-in document, not about the node's configuration: chunk names
#: ("render.1-4") are not authorable node names, the document's own name is ours, and a
#: stored node is one node whatever its frames (the workflow's size was checked at submit).
_DOCUMENT_CODES = frozenset(
    {"bad-node-name", "bad-workflow-name", "missing-node-name", "too-many-nodes", "too-many-edges"}
)


def check_config(kind: str, name: str, config: Mapping[str, Any]) -> list[Entry]:
    """The errors in `config` as the configuration of a node `name` of `kind` (warnings are
    left out: they never refused a submit either). Never raises."""
    entries: list[Entry] = []
    params: dict[str, Any] = {}
    for key, value in config.items():
        if key in NODE_KEYS:
            entries.append(
                error(
                    "fixed-key",
                    f"node {name!r}: {key!r} is not a parameter and cannot be changed by an update",
                    nodes=(name,),
                    field=key,
                )
            )
        elif key not in EXPANSION_KEYS:
            params[key] = value
    document = {"schema": 1, "name": "edit", "nodes": [{"name": name, "kind": kind, **params}]}
    for entry in validate(document):
        if entry.severity is Severity.ERROR and entry.code not in _DOCUMENT_CODES:
            # fixers edit documents, not stored nodes: an update is corrected by another update
            entries.append(Entry(entry.severity, entry.code, entry.message, (name,), entry.field))
    return entries
