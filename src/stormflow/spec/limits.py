"""Hard limits on what one workflow may hold: errors, not warnings, each naming the flag and
the environment variable that raise it (issue 11, finding 4: a workflow of 1,000,000 frames
took minutes and gigabytes to submit and made every other request wait).

The limits are read from the environment once (`STORM_MAX_NODES`, ...); `storm server
--max-nodes N` and the like change them for the process with `configure`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Limits:
    max_nodes: int = 200_000  # nodes of one workflow, after frame expansion
    max_edges: int = 1_000_000  # edges of one workflow, after expansion
    max_depth: int = 32  # nesting of lists and mappings in a document or a patch
    max_string: int = 100_000  # characters of any one string (a command, an env value...)
    max_workflow_depth: int = 8  # sub-workflows inside sub-workflows (`workflow` nodes)

    @classmethod
    def from_env(cls) -> Limits:
        values = {}
        for f in fields(cls):
            raw = os.environ.get(ENV[f.name])
            if raw is not None and raw.strip().isdigit() and int(raw) > 0:
                values[f.name] = int(raw)
        return cls(**values)


#: The environment variable and the `storm server` flag of each limit.
ENV = {
    "max_nodes": "STORM_MAX_NODES",
    "max_edges": "STORM_MAX_EDGES",
    "max_depth": "STORM_MAX_DEPTH",
    "max_string": "STORM_MAX_STRING",
    "max_workflow_depth": "STORM_MAX_WORKFLOW_DEPTH",
}
FLAG = {name: "--" + name.replace("_", "-") for name in ENV}

_current = Limits.from_env()


def current() -> Limits:
    return _current


def configure(**changes: int | None) -> Limits:
    """Change limits for this process (None leaves one as it is); returns the new limits."""
    global _current
    _current = replace(_current, **{k: v for k, v in changes.items() if v is not None})
    return _current


def how_to_raise(name: str) -> str:
    return f"raise it with {FLAG[name]} or {ENV[name]}"


def depth_and_longest(value: object, stop_depth: int) -> tuple[int, int]:
    """The nesting depth of JSON data (0 for a scalar; stops counting past `stop_depth`) and
    its longest string (keys included); iterative, so no data is too deep to measure."""
    deepest, longest = 0, 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            longest = max(longest, len(item))
        elif isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if depth > stop_depth:
                continue
            if isinstance(item, dict):
                for key, child in item.items():
                    if isinstance(key, str):
                        longest = max(longest, len(key))
                    stack.append((child, depth))
            else:
                stack.extend((child, depth) for child in item)
    return deepest, longest
