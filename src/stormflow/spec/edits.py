"""Checked edits: a stored node's resulting configuration, judged by the document rules.

An update (API, CLI, UI, client) must leave every selected node with a configuration a
submitted document could have given it (spec: Updates). Rather than a second validator,
the node is put back into a one-node document and run through `validate`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from stormflow.spec import limits
from stormflow.spec.entries import Entry, Severity, error
from stormflow.spec.frames import FrameSpecError, parse_frames
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


#: Entries that depend on a node's own frames: checked per node (see `check_configs`).
_FRAME_CODES = frozenset({"bad-frames", "scout-outside-range"})


def check_configs(items: Iterable[tuple[str, str, Mapping[str, Any]]]) -> list[Entry]:
    """`check_config` for many (kind, name, config) at once. The chunks of one render share
    their configuration but for their frames: it is validated once per distinct rest, and
    each node's frames on their own (a 20,000-chunk update: 3 s of checks -> a few ms)."""
    entries: list[Entry] = []
    seen: dict[tuple[str, str, bool], tuple[str, list[Entry]]] = {}
    longest = limits.current().max_string
    for kind, name, config in items:
        frames = config.get("frames")
        try:
            rest = json.dumps({k: v for k, v in config.items() if k != "frames"}, sort_keys=True)
        except (TypeError, ValueError):
            rest = None
        unusual = "scout" in config or (isinstance(frames, str) and len(frames) > longest)
        if rest is None or unusual:
            entries.extend(check_config(kind, name, config))
            continue
        key = (kind, rest, frames is not None)
        known = seen.get(key)
        if known is None:
            found = check_config(kind, name, config)
            seen[key] = (name, [e for e in found if e.code not in _FRAME_CODES])
            entries.extend(found)
            continue
        first, shared = known
        entries.extend(_renamed(e, first, name) for e in shared)
        if frames is not None:
            try:
                parse_frames(frames)
            except FrameSpecError as exc:
                entries.append(
                    error("bad-frames", f"node {name!r}: {exc}", nodes=(name,), field="frames")
                )
    return entries


def _renamed(entry: Entry, old: str, new: str) -> Entry:
    message = entry.message.replace(repr(old), repr(new))
    return Entry(entry.severity, entry.code, message, (new,), entry.field)
